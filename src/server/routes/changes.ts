// GET /v1/changes (paged list) and GET /v1/changes/:key (one mirrored change
// with approvals, journal and revisions).

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { CANONICAL_STATES, type Change } from '../../domain/change.ts';
import { ChangegateError } from '../../errors.ts';
import type { ChangePage, ChangeQuery, ChangeStore } from '../../store/change-store.ts';
import { ApprovalSchema, ChangeSchema, decimalInteger, JournalEntrySchema, RevisionSchema } from '../api-schemas.ts';
import { defineRoute, registerRoute } from '../route-contract.ts';

/** A page stops growing past this many bytes of JSON (at least one change per page, so paging always moves on). */
export const LIST_PAGE_BUDGET = 1_048_576;

/** The list route for the registered systems (its `system` filter names them). */
export const listChangesRoute = (systems: readonly string[]) =>
  defineRoute({
  method: 'GET',
  url: '/v1/changes',
  operationId: 'listChanges',
  summary: 'Mirrored changes, oldest update first, a page at a time',
  description: `Pass \`nextCursor\` back as \`cursor\` for the next page; \`null\` means the last page. Items leave out \`raw\` (the source record) unless \`include=raw\`. A page holds at most \`limit\` changes and stops early once it passes ${LIST_PAGE_BUDGET} bytes of JSON; \`nextCursor\` then continues after the last change returned, so nothing is skipped.`,
  tags: ['changes'],
  access: 'token',
  query: z
    .object({
      system: z.enum(systems as [string, ...string[]]).optional(),
      instance: z.string().min(1).optional(),
      state: z.enum(CANONICAL_STATES).optional(),
      updatedSince: z.iso.datetime({ offset: true }).optional().meta({ description: 'ISO-8601 with offset; changes updated at or after.' }),
      limit: decimalInteger(1, 1000).default(100).meta({ description: 'Changes per page (default 100).' }),
      cursor: z.string().min(1).optional().meta({ description: 'The `nextCursor` of the previous page.' }),
      include: z.enum(['raw']).optional().meta({ description: '`raw` adds each change\'s source record.' }),
    })
    .strict(),
  answers: {
    200: {
      description: 'One page',
      schema: z.object({ items: z.array(ChangeSchema), nextCursor: z.string().nullable() }),
    },
  },
  errors: [],
  store: true,
});

const CorrelatedEventSchema = z.object({
  id: z.string(),
  type: z.enum(['ci', 'monitor']),
  source: z.string(),
  receivedAt: z.string(),
  rule: z.string().meta({ description: '`linked:<rule>`, `change-key`, `commit`, `service-repository:<service>` or `service:<service>`.' }),
  event: z.looseObject({}).meta({ description: 'The CiEvent or MonitorEvent.' }),
});

/** The events correlated with a change, with their rule; absent: none are known. */
export type ChangeEventsOf = (change: Change) => Promise<z.infer<typeof CorrelatedEventSchema>[]>;

export const GetChangeRoute = defineRoute({
  method: 'GET',
  url: '/v1/changes/:key',
  operationId: 'getChange',
  summary: 'One mirrored change with approvals, journal and revisions',
  tags: ['changes'],
  access: 'token',
  params: z.object({ key: z.string().min(1).max(200).meta({ description: 'Key (`CHG0030001`, `ITSM-42`) or id (`servicenow:sn-prod:<sys_id>`).' }) }),
  answers: {
    200: {
      description: 'The change, its source record included',
      schema: z.object({
        change: ChangeSchema,
        approvals: z.array(ApprovalSchema),
        journal: z.array(JournalEntrySchema),
        revisions: z.array(RevisionSchema),
        events: z.array(CorrelatedEventSchema).meta({ description: 'CI and monitoring events correlated with the change, each with the rule that matched it, oldest received first.' }),
      }),
    },
  },
  errors: ['CG_NOT_FOUND'],
  store: true,
});

function withoutRaw(change: Change): Omit<Change, 'raw'> {
  const { raw: _raw, ...rest } = change;
  return rest;
}

/** How many of `items` fit the budget (never fewer than one). */
function fitting(items: readonly object[]): number {
  let bytes = 0;
  for (const [i, item] of items.entries()) {
    bytes += Buffer.byteLength(JSON.stringify(item)) + 1;
    if (bytes > LIST_PAGE_BUDGET) return Math.max(1, i);
  }
  return items.length;
}

export function registerChangeRoutes(app: FastifyInstance, store: ChangeStore, systems: readonly string[], eventsOf?: ChangeEventsOf): void {
  registerRoute(app, listChangesRoute(systems), async ({ query: q }) => {
    const query: ChangeQuery = {
      limit: q.limit,
      ...(q.system ? { system: q.system } : {}),
      ...(q.instance ? { instance: q.instance } : {}),
      ...(q.state ? { state: q.state } : {}),
      ...(q.updatedSince ? { updatedSince: new Date(q.updatedSince).toISOString() } : {}),
      ...(q.cursor ? { cursor: q.cursor } : {}),
    };
    const shape = (page: ChangePage) => (q.include === 'raw' ? page.items : page.items.map(withoutRaw));
    const page = await store.listChanges(query);
    let items = shape(page);
    const fit = fitting(items);
    if (fit === items.length) return { items, nextCursor: page.nextCursor };
    // The store's cursor is opaque: asking again for the changes that fit yields the cursor right after them.
    const smaller = await store.listChanges({ ...query, limit: fit });
    items = shape(smaller);
    return { items, nextCursor: smaller.nextCursor };
  });

  registerRoute(app, GetChangeRoute, async ({ params: { key } }) => {
    const mirrored = await store.getChange(key);
    if (!mirrored) throw new ChangegateError('CG_NOT_FOUND', `no mirrored change "${key}"`, { details: { field: 'key', key } });
    const [revisions, events] = await Promise.all([store.listRevisions(mirrored.change.id), eventsOf?.(mirrored.change) ?? []]);
    return { ...mirrored, revisions, events };
  });
}
