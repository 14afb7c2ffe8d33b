// POST /v1/validate: the synchronous check an ITSM plugin makes before a state
// change. Every well-formed request gets 200 with a decision (stale mirror and
// unknown change included, decided by the instance's fail mode), so a plugin
// never has to interpret an error; only a malformed request or an instance
// changegate does not know gets a 4xx, naming the field.

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { resolveState } from '../../assess/resolve-state.ts';
import { validateChangeTransition, type ValidationDeps, type ValidationInstance } from '../../assess/transition-validation.ts';
import { CANONICAL_STATES, type CanonicalState } from '../../domain/change.ts';
import { ChangegateError } from '../../errors.ts';
import type { Metrics } from '../../observability/metrics.ts';
import { parseInput } from '../validate-input.ts';

export interface ValidateRouteDeps extends ValidationDeps {
  /** The registered systems (the body's `system`). */
  systems: readonly string[];
  metrics: Metrics;
  instances: ReadonlyMap<string, ValidationInstance>;
  clock?: () => Date;
}

// A ServiceNow script may send a choice value as a number (-1); it is the same value.
const StateValue = z.union([z.string().trim().min(1).max(200), z.number().int().transform(String)]);

// Unknown keys are ignored, not refused: a newer plugin may send more than this version reads.
const validateBody = (systems: readonly string[]) => z.object({
  system: z.enum(systems as [string, ...string[]]),
  instance: z.string().min(1).max(100),
  key: z.string().trim().min(1).max(200),
  from: StateValue,
  to: StateValue,
});

function stateOf(field: 'from' | 'to', value: string, instance: ValidationInstance): CanonicalState {
  const state = resolveState(value, instance.states);
  if (state !== null) return state;
  const natives = [...instance.states.keys()].slice(0, 20);
  throw new ChangegateError(
    'CG_INPUT_INVALID',
    `body ${field}: ${JSON.stringify(value)} is neither a canonical state (${CANONICAL_STATES.join(', ')}) nor a state the mapping of ${instance.id} knows (${natives.join(', ')})`,
    { details: { field, where: 'body', value, instance: instance.id } },
  );
}

// The answer's shape, so fastify compiles a serializer for it (this route is on the plugins' critical path).
const AnswerSchema = {
  type: 'object',
  required: ['allow', 'reasons', 'conditions', 'policyVersion', 'change', 'stale'],
  properties: {
    allow: { type: 'boolean' },
    reasons: { type: 'array', items: { type: 'string' } },
    conditions: { type: 'array', items: { type: 'string' } },
    policyVersion: { type: 'string' },
    change: {
      type: ['object', 'null'],
      properties: { id: { type: 'string' }, key: { type: 'string' }, revision: { type: 'number' } },
    },
    stale: { type: 'boolean' },
    failMode: { type: 'string', enum: ['open', 'closed'] },
  },
} as const;

export function registerValidateRoute(app: FastifyInstance, deps: ValidateRouteDeps): void {
  const clock = deps.clock ?? (() => new Date());
  const ValidateBody = validateBody(deps.systems);
  app.post('/v1/validate', { schema: { response: { 200: AnswerSchema } } }, async (request) => {
    const body = parseInput(ValidateBody, request.body ?? {}, 'body');
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
