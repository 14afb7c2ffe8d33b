// GET /v1/changes/:key/history: what an auditor reads about one change (see
// src/assess/change-history.ts), a page at a time, oldest or newest first.

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { HistoryDeps, HistoryEntry } from '../../assess/change-history.ts';
import { changeHistoryPage } from '../../assess/history-page.ts';
import { APPROVAL_STATES, CANONICAL_STATES } from '../../domain/change.ts';
import { ChangegateError } from '../../errors.ts';
import { OUTBOX_ACTIONS } from '../../store/outbox-store.ts';
import { decimalInteger } from '../api-schemas.ts';
import { defineRoute, registerRoute } from '../route-contract.ts';

const Actor = z.object({ id: z.string(), name: z.string().nullable() });
const State = z.enum(CANONICAL_STATES);

const base = {
  id: z.string().meta({ description: 'Stable within the change; what the cursor continues after.' }),
  at: z.string().meta({ description: 'When it happened, as it stands now (ISO-8601 UTC): a write-back\'s settling, an approval\'s decision.' }),
  firstAt: z.string().meta({ description: 'Its `at` when it first appeared in the history (ISO-8601 UTC); it never moves. Entries are in this order, then by `id`, so paging neither skips nor repeats an entry whose `at` moved.' }),
  by: z.union([Actor, z.literal('changegate')]).nullable().meta({ description: 'Who acted: a user of the ticket system, `changegate` for its own work, null when the source does not say (`byUnknown` says why).' }),
  byUnknown: z.string().optional(),
};

export const HistoryEntrySchema = z.discriminatedUnion('kind', [
  z.object({
    ...base,
    kind: z.literal('revision'),
    seq: z.number().int(),
    nativeRevision: z.number(),
    observedAt: z.string(),
    author: Actor.nullable().meta({ description: 'The source user who made the version (the integration user when `by` is `changegate`).' }),
    summary: z.array(z.string()),
    changedFields: z.number().int(),
  }),
  z.object({
    ...base,
    kind: z.literal('approval'),
    approver: Actor.nullable(),
    group: Actor.nullable(),
    decision: z.enum(APPROVAL_STATES),
    nativeState: z.string(),
    decidedAt: z.string().nullable(),
    requestedAt: z.string().nullable().meta({ description: 'When the approver was asked (ServiceNow `sys_created_on`, JSM `createdDate`); null when unknown.' }),
    comment: z.string().nullable(),
  }),
  z.object({
    ...base,
    kind: z.literal('assessment'),
    revision: z.number().int(),
    policyVersion: z.string(),
    state: State,
    recommendation: z.string(),
    allowed: z.array(State),
    blocked: z.array(z.object({ to: State, reasons: z.array(z.string()) })),
    violations: z.array(z.string()),
    wroteBack: z.boolean(),
  }),
  z.object({
    ...base,
    kind: z.literal('write-back'),
    action: z.enum(OUTBOX_ACTIONS),
    what: z.string(),
    ticket: z.string(),
    nativeId: z.string(),
    source: z.enum(['assessment', 'enforcement', 'evidence', 'hypercare']),
    status: z.enum(['pending', 'claimed', 'done', 'failed', 'superseded']),
    attempts: z.number().int(),
    createdAt: z.string(),
    postedAt: z.string().nullable(),
    result: z.string().nullable(),
    error: z.string().nullable(),
  }),
  z.object({
    ...base,
    kind: z.literal('enforcement'),
    action: z.enum(['revert', 'comment', 'own-revert']),
    outcome: z.enum(['pending', 'reverted', 'refused', 'superseded', 'commented', 'recognised']),
    mode: z.enum(['advisory', 'enforce']),
    from: State,
    to: State,
    fromNative: z.string().nullable(),
    toNative: z.string(),
    reasons: z.array(z.string()),
    observedAt: z.string(),
    detail: z.string().nullable(),
  }),
]);

// Compile-time: the schema accepts what the history produces.
const schemaAcceptsHistory: HistoryEntry extends z.input<typeof HistoryEntrySchema> ? true : never = true;
void schemaAcceptsHistory;

export const ChangeHistoryRoute = defineRoute({
  method: 'GET',
  url: '/v1/changes/:key/history',
  operationId: 'getChangeHistory',
  summary: 'What happened to one change: revisions, approvals, assessments, write-backs and enforcement, in time order',
  description:
    'Each entry says when (`at`), what (`kind`) and who (`by`: a user of the ticket system, `changegate` for its own writes, or null with `byUnknown`). Entries come in the order they first appeared (`firstAt`, then `id`), which never changes, while `at` shows each as it stands now. Pass `nextCursor` back as `cursor` for the next page, with the same `order`; a cursor given back with the other order, or to the change list, is refused 400.',
  tags: ['changes'],
  access: 'token',
  params: z.object({ key: z.string().min(1).max(200).meta({ description: 'Key (`CHG0030001`, `ITSM-42`) or id (`servicenow:sn-prod:<sys_id>`).' }) }),
  query: z
    .object({
      order: z.enum(['asc', 'desc']).default('desc').meta({ description: '`desc` (default) newest first, `asc` oldest first.' }),
      limit: decimalInteger(1, 1000).default(100).meta({ description: 'Entries per page (default 100).' }),
      cursor: z.string().min(1).optional().meta({ description: 'The `nextCursor` of the previous page.' }),
      instance: z.string().min(1).optional().meta({ description: 'Look the key up on this instance only.' }),
    })
    .strict(),
  answers: {
    200: {
      description: 'One page of the change\'s history',
      schema: z.object({
        change: z.object({ id: z.string(), key: z.string(), instance: z.string(), system: z.string(), url: z.string() }),
        items: z.array(HistoryEntrySchema),
        nextCursor: z.string().nullable(),
      }),
    },
  },
  errors: ['CG_NOT_FOUND'],
  store: true,
});

export function registerChangeHistoryRoute(app: FastifyInstance, deps: HistoryDeps): void {
  registerRoute(app, ChangeHistoryRoute, async ({ params: { key }, query: q }) => {
    const mirrored = await deps.store.getChange(key, { withoutRaw: true, children: { approvals: false, journal: false }, ...(q.instance ? { instance: q.instance } : {}) });
    if (!mirrored) throw new ChangegateError('CG_NOT_FOUND', `no mirrored change "${key}"`, { details: { field: 'key', key } });
    const page = await changeHistoryPage(deps, mirrored, { order: q.order, limit: q.limit, ...(q.cursor ? { cursor: q.cursor } : {}) });
    const c = mirrored.change;
    return { change: { id: c.id, key: c.key, instance: c.instance, system: c.system, url: c.url }, ...page };
  });
}
