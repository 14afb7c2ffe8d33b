// POST /v1/validate: the synchronous check an ITSM plugin makes before a state
// change. Every well-formed request gets 200 with a decision (stale mirror and
// unknown change included, decided by the instance's fail mode), so a plugin
// never has to interpret an error; only a malformed request or an instance
// changegate does not know gets a 4xx, naming the field.

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { acceptedStates, resolveState } from '../../assess/resolve-state.ts';
import { PROPOSED_FIELDS, validateChangeTransition, type ProposedValues, type ValidationDeps, type ValidationInstance } from '../../assess/transition-validation.ts';
import type { CanonicalState } from '../../domain/change.ts';
import { ChangegateError } from '../../errors.ts';
import type { Metrics } from '../../observability/metrics.ts';
import { defineRoute, registerRoute } from '../route-contract.ts';

export interface ValidateRouteDeps extends ValidationDeps {
  /** The registered systems (the body's `system`). */
  systems: readonly string[];
  metrics: Metrics;
  instances: ReadonlyMap<string, ValidationInstance>;
  clock?: () => Date;
}

/** Up to `max` characters with something besides blanks; the value is trimmed. */
function text(max: number) {
  return z.string().max(max).regex(/\S/, 'must not be blank').transform((s) => s.trim());
}

// A ServiceNow script may send a choice value as a number (-1); it is the same value.
const StateValue = z.union([text(200), z.number().int().transform(String)]);

/** Text a user typed into a field that may be cleared in the same save (blank: cleared). */
const typedField = (max: number) => z.string().max(max);

// What the save carries besides the state. Strict, unlike the body: a key here is a value the
// decision would be judged on, and only these may be (never approvals, state or risk).
const Proposed = z
  .object({
    closeCode: typedField(200).optional().meta({ description: 'The close code this save sets (blank: cleared); replaces the mirrored one.' }),
    closeNotes: typedField(4000).optional().meta({ description: 'The close notes this save sets (blank: cleared); replace the mirrored ones.' }),
    workNote: text(4000).optional().meta({ description: 'A work note typed in this save; judged as a journal entry written now.' }),
    comment: text(4000).optional().meta({ description: 'An additional comment typed in this save; judged as a journal entry written now.' }),
    by: text(200).optional().meta({ description: 'Who saves (user name): the author of the typed note; absent, the note is unattributed.' }),
  })
  .strict();

// Unknown keys are ignored, not refused: a newer plugin may send more than this version reads.
const validateBody = (systems: readonly string[]) =>
  z.object({
  system: z.enum(systems as [string, ...string[]]),
  instance: z.string().min(1).max(100),
  key: text(200),
  from: StateValue.meta({ description: 'Canonical state or the instance\'s native value (a ServiceNow choice value may be a number).' }),
  to: StateValue.meta({ description: 'Canonical state or the instance\'s native value.' }),
  proposed: Proposed.optional().meta({
    description: 'What the same save proposes besides the state (a cancellation reason typed with the move): the transition is judged on the change with these applied.',
  }),
});

const ValidationAnswerSchema = z.object({
  allow: z.boolean(),
  reasons: z.array(z.string()),
  conditions: z.array(z.string()),
  policyVersion: z.string(),
  change: z.object({ id: z.string(), key: z.string(), revision: z.number() }).nullable(),
  stale: z.boolean(),
  failMode: z.enum(['open', 'closed']).optional().meta({ description: 'Present when the instance\'s fail mode, not the policy, decided.' }),
  proposed: z.array(z.enum(PROPOSED_FIELDS)).optional().meta({
    description: 'Present when the policy judged the change with proposed values: the fields it used. Absent: judged on the stored record (or decided by the fail mode).',
  }),
});

/** The validate route for the registered systems. */
export const validateRoute = (systems: readonly string[]) =>
  defineRoute({
  method: 'POST',
  url: '/v1/validate',
  operationId: 'validateTransition',
  summary: 'May this change move from one state to another now?',
  description:
    'The synchronous check an ITSM plugin makes before a state change. A well-formed call is answered 200 with a decision (a stale mirror or an unmirrored change included, decided by the instance\'s fail mode); an unknown instance 404, a state the instance does not know 400.',
  tags: ['validate'],
  access: 'token',
  body: validateBody(systems),
  answers: { 200: { description: 'The decision', schema: ValidationAnswerSchema } },
  // A busy or faulty store is decided by the fail mode (200); a store that fails otherwise is answered as such.
  errors: ['CG_INSTANCE_UNKNOWN', 'CG_INPUT_INVALID', 'CG_STORE_FAILED'],
  // On the plugins' critical path: fastify compiles a serializer for the answer.
  fastSerializer: true,
});

function stateOf(field: 'from' | 'to', value: string, instance: ValidationInstance): CanonicalState {
  const state = resolveState(value, instance.states);
  if (state !== null) return state;
  throw new ChangegateError(
    'CG_INPUT_INVALID',
    `body ${field}: ${JSON.stringify(value)} is not a state ${instance.id} knows; accepted are the ${acceptedStates(instance.id, instance.states)}`,
    { details: { field, where: 'body', value, instance: instance.id } },
  );
}

/** The parsed proposal without keys left undefined (exactOptionalPropertyTypes). */
function definedOnly(parsed: { [K in keyof ProposedValues]?: ProposedValues[K] | undefined }): ProposedValues {
  return Object.fromEntries(Object.entries(parsed).filter(([, v]) => v !== undefined)) as ProposedValues;
}

export function registerValidateRoute(app: FastifyInstance, deps: ValidateRouteDeps): void {
  const clock = deps.clock ?? (() => new Date());
  registerRoute(app, validateRoute(deps.systems), async ({ body }, request) => {
    const instance = deps.instances.get(body.instance);
    if (instance === undefined) {
      throw new ChangegateError('CG_INSTANCE_UNKNOWN', `body instance: no configured instance "${body.instance}" (known: ${[...deps.instances.keys()].join(', ') || 'none'})`, {
        details: { field: 'instance', where: 'body', instance: body.instance },
      });
    }
    if (instance.system !== body.system) {
      throw new ChangegateError('CG_INPUT_INVALID', `body system: instance ${instance.id} is a ${instance.system} instance, not ${body.system}`, {
        details: { field: 'system', where: 'body', instance: instance.id },
      });
    }
    const from = stateOf('from', body.from, instance);
    const to = stateOf('to', body.to, instance);
    const proposed = body.proposed === undefined ? {} : { proposed: definedOnly(body.proposed) };
    const { answer, basis } = await validateChangeTransition(deps, { instance, key: body.key, from, to, ...proposed }, clock());
    deps.metrics.validations.inc({ instance: instance.id, decision: answer.allow ? 'allow' : 'deny', reason: basis });
    // The record of a decision taken on typed text, not on the stored change: which fields, by whom, never the text.
    if (answer.proposed !== undefined) {
      request.log.info({ instance: instance.id, key: body.key, from, to, allow: answer.allow, proposed: answer.proposed, by: body.proposed?.by ?? null }, 'validate judged proposed values');
    }
    return answer;
  });
}
