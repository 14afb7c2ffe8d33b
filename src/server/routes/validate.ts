// POST /v1/validate: the synchronous check an ITSM plugin makes before a state
// change. Every well-formed request gets 200 with a decision (stale mirror and
// unknown change included, decided by the instance's fail mode), so a plugin
// never has to interpret an error; only a malformed request or an instance
// changegate does not know gets a 4xx, naming the field.

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { acceptedStates, resolveState } from '../../assess/resolve-state.ts';
import { validateChangeTransition, type ValidationDeps, type ValidationInstance } from '../../assess/transition-validation.ts';
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

// Unknown keys are ignored, not refused: a newer plugin may send more than this version reads.
const validateBody = (systems: readonly string[]) =>
  z.object({
  system: z.enum(systems as [string, ...string[]]),
  instance: z.string().min(1).max(100),
  key: text(200),
  from: StateValue.meta({ description: 'Canonical state or the instance\'s native value (a ServiceNow choice value may be a number).' }),
  to: StateValue.meta({ description: 'Canonical state or the instance\'s native value.' }),
});

const ValidationAnswerSchema = z.object({
  allow: z.boolean(),
  reasons: z.array(z.string()),
  conditions: z.array(z.string()),
  policyVersion: z.string(),
  change: z.object({ id: z.string(), key: z.string(), revision: z.number() }).nullable(),
  stale: z.boolean(),
  failMode: z.enum(['open', 'closed']).optional().meta({ description: 'Present when the instance\'s fail mode, not the policy, decided.' }),
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

export function registerValidateRoute(app: FastifyInstance, deps: ValidateRouteDeps): void {
  const clock = deps.clock ?? (() => new Date());
  registerRoute(app, validateRoute(deps.systems), async ({ body }) => {
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
    const { answer, basis } = await validateChangeTransition(deps, { instance, key: body.key, from, to }, clock());
    deps.metrics.validations.inc({ instance: instance.id, decision: answer.allow ? 'allow' : 'deny', reason: basis });
    return answer;
  });
}
