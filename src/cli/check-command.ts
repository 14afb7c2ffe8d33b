// `changegate check KEY [--to STATE] [--explain]`: a dry run of the policy on
// one mirrored change, read from the store the configuration names (or the
// default demo store). It uses the same context builder and policy calls as
// the validate endpoint and the assessment runner, so what it prints is what
// they decide. Exit 0: allowed (or, without --to, the change was found);
// 1: not allowed; 2: usage, configuration, unknown key or state.

import { existsSync } from 'node:fs';
import { buildPolicyContext } from '../assess/policy-context.ts';
import { resolveState } from '../assess/resolve-state.ts';
import { ruleProvenance } from '../assess/rule-provenance.ts';
import { validationInstances } from '../app/validation-instances.ts';
import { loadConfig } from '../config/load-config.ts';
import type { ConnectorRegistry } from '../kit/connector-registry.ts';
import type { CanonicalState } from '../domain/change.ts';
import { CANONICAL_STATES } from '../domain/change.ts';
import { assess, gatesForTransition, validateTransition } from '../policy/assess.ts';
import { nextStates } from '../policy/lifecycle.ts';
import { loadPolicy } from '../policy/policy-config.ts';
import { openStores } from '../store/open-stores.ts';
import { renderAssessment, renderExplain, renderHeader, renderTransition } from './check-report.ts';

export interface CheckOptions {
  key: string;
  /** Canonical state, or a native state value of the change's instance. */
  to?: string;
  explain: boolean;
  config?: string;
  /** Look the key up on this instance only. */
  instance?: string;
  /** Judge as of this instant instead of now (ISO-8601), e.g. to replay a past decision. */
  at?: string;
}

export interface CheckOutput {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown };
}

function usageError(out: CheckOutput, message: string): number {
  out.stderr.write(`changegate check: ${message}\n`);
  return 2;
}

export async function runCheck(registry: ConnectorRegistry, options: CheckOptions, out: CheckOutput): Promise<number> {
  const now = options.at === undefined ? new Date() : new Date(options.at);
  if (Number.isNaN(now.getTime())) return usageError(out, `--at ${JSON.stringify(options.at)} is not an ISO-8601 instant`);
  const loaded = loadConfig(registry, { path: options.config });
  const { config } = loaded;
  // A dry run must not create an empty database where the operator expected a mirror.
  if (config.store.kind === 'sqlite' && config.store.path !== ':memory:' && !existsSync(config.store.path)) {
    return usageError(out, `no mirror at ${config.store.path}: run \`changegate sync\` (or \`changegate demo\`) first, or name the configuration with --config`);
  }
  const policy = config.policy === undefined ? loadPolicy() : loadPolicy(config.policy);
  const stores = await openStores(config.store);
  const store = stores.changes;
  try {
    const mc = await store.getChange(options.key, options.instance === undefined ? {} : { instance: options.instance });
    if (mc === null) {
      return usageError(out, `no mirrored change "${options.key}"${options.instance === undefined ? '' : ` on instance ${options.instance}`}`);
    }
    const color = out.stdout.isTTY === true;
    const ctx = await buildPolicyContext({ store, policy }, mc, now);
    const assessment = assess(mc, ctx);
    const sections = [renderHeader(mc, assessment, color)];
    let code = 0;
    let explained: string[];
    if (options.to !== undefined) {
      const configured = config.instances.filter((i) => i.id === mc.change.instance);
      const states = validationInstances(configured, registry).get(mc.change.instance)?.states ?? new Map<string, CanonicalState>();
      const to = resolveState(options.to, states);
      if (to === null) {
        const native = states.size > 0 ? ` nor a state the mapping of ${mc.change.instance} knows (${[...states.keys()].join(', ')})` : '';
        return usageError(out, `--to ${JSON.stringify(options.to)} is neither a canonical state (${CANONICAL_STATES.join(', ')})${native}`);
      }
      const gates = gatesForTransition(mc, to, ctx);
      const verdict = validateTransition(mc, to, ctx);
      sections.push(renderTransition(mc.change.state, to, gates, verdict, color));
      explained = gates.map((g) => g.id);
      code = verdict.allow ? 0 : 1;
    } else {
      sections.push(renderAssessment(assessment, nextStates(mc.change.type, mc.change.state), color));
      explained = assessment.gates.map((g) => g.id);
    }
    if (options.explain) sections.push(renderExplain(ruleProvenance(policy, mc.change, assessment.classification, explained), policy.file, color));
    out.stdout.write(`${sections.join('\n\n')}\n`);
    return code;
  } finally {
    await stores.close();
  }
}
