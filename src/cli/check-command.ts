// `changegate check KEY [--to STATE] [--explain] [--json]`: a dry run of the
// policy on one mirrored change, read from the store the configuration names
// (or the demo's store). It judges on the facts the service judges on: the
// same context builder (policy calendar, waivers, neighbours), the ITSM
// schedules read through the same connector capability (the demo's simulators
// are started in-process for that), and the same view of the journal. So what
// it prints is what the assessment on the ticket and /v1/validate decide.
//
// Exit 0: allowed (without --to: assessed); 1: not allowed; 2: usage,
// configuration, unknown key or state; 3: the instance's ITSM schedules could
// not be read, so the policy calendar was used alone and an "allowed" may miss
// a freeze ("not allowed" stays 1: a missing calendar only hides blockers).

import { existsSync } from 'node:fs';
import { changeAsOf, type ChangeAsOf } from '../assess/change-as-of.ts';
import { buildPolicyContext, judgedChange } from '../assess/policy-context.ts';
import { acceptedStates, resolveState } from '../assess/resolve-state.ts';
import { ruleProvenance } from '../assess/rule-provenance.ts';
import { configuredPolicy } from '../app/configured-policy.ts';
import { itsmCalendarsFor } from '../app/itsm-calendars-for.ts';
import { correlatorFor, eventSourceOf } from '../app/event-correlator-for.ts';
import { loadDemo } from '../app/load-demo.ts';
import { validationInstances } from '../app/validation-instances.ts';
import { loadConfig, type LoadedConfig } from '../config/load-config.ts';
import type { InstanceConfig } from '../config/schema.ts';
import type { ConnectorRegistry } from '../kit/connector-registry.ts';
import type { Logger } from '../log.ts';
import { createLogger } from '../log.ts';
import { createMetrics } from '../observability/metrics.ts';
import { assess, gatesForTransition, validateTransition } from '../policy/assess.ts';
import { nextStates } from '../policy/lifecycle.ts';
import { openStores } from '../store/open-stores.ts';
import { checkJson, type CalendarBasis } from './check-json.ts';
import { renderAssessment, renderCalendars, renderExplain, renderHeader, renderTransition } from './check-report.ts';
import { asOfJson, instantOf, renderAsOf } from './check-as-of.ts';
import { colorFor } from './terminal-log.ts';
import { terminalJson, terminalText, terminalValues } from './terminal-text.ts';

export interface CheckOptions {
  key: string;
  /** Canonical state, or a native state value or label of the change's instance. */
  to?: string;
  explain: boolean;
  json?: boolean;
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

/** For tests and embedders: judge against instances already running (an app's demo) instead of starting the demo's simulators. */
export interface CheckDeps {
  loaded?: LoadedConfig;
  instances?: readonly InstanceConfig[];
  logger?: Logger;
}

export const EXIT_CALENDAR_UNREAD = 3;

/** A dry run should answer in seconds: one attempt, a short timeout, for the schedule read. */
const CHECK_READ_TIMEOUT_MS = 10_000;

function usageError(out: CheckOutput, message: string): number {
  // A message may quote the change's key as its ticket holds it, or the states a mapping file names.
  out.stderr.write(`${terminalText(`changegate check: ${message}`)}\n`);
  return 2;
}

async function calendarsOf(registry: ConnectorRegistry, instance: InstanceConfig | undefined, logger: Logger): Promise<{ basis: CalendarBasis; calendar: ReturnType<ReturnType<typeof itsmCalendarsFor>['calendarFor']> }> {
  if (instance === undefined) return { basis: { itsm: 'unreachable', error: 'the change\'s instance is not in the configuration' }, calendar: null };
  const quick = { ...instance, retries: 0, timeout: Math.min(instance.timeout, CHECK_READ_TIMEOUT_MS) };
  const calendars = itsmCalendarsFor([quick], registry, { logger, metrics: createMetrics({ defaultMetrics: false }) });
  await calendars.refresh(instance.id);
  const status = calendars.status(instance.id);
  const basis: CalendarBasis = status.itsm === 'unread' ? { itsm: 'unreachable', ...(status.error === undefined ? {} : { error: status.error }) } : { itsm: status.itsm };
  return { basis, calendar: calendars.calendarFor(instance.id) };
}

export async function runCheck(registry: ConnectorRegistry, options: CheckOptions, out: CheckOutput, deps: CheckDeps = {}): Promise<number> {
  const now = options.at === undefined ? new Date() : instantOf(options.at, new Date());
  if (now === null) return usageError(out, `--at ${JSON.stringify(options.at)} is neither an ISO-8601 instant (2026-12-01T09:00:00Z) nor a time back from now (30m, 36h, 7d)`);
  const loaded = deps.loaded ?? loadConfig(registry, { path: options.config });
  const { config } = loaded;
  // A dry run must not create an empty database where the operator expected a mirror.
  if (config.store.kind === 'sqlite' && config.store.path !== ':memory:' && !existsSync(config.store.path)) {
    return usageError(out, `no mirror at ${config.store.path}: run \`changegate sync\` (or \`changegate demo\`) first, or name the configuration with --config`);
  }
  // As `serve` and `config validate` load it, and with the same warnings (an override or waiver on an instance the
  // configuration lacks never applies), on stderr so that the answer on stdout stays as it is.
  const policy = configuredPolicy(loaded);
  for (const warning of [...(loaded.warnings ?? []), ...(policy.warnings ?? [])]) out.stderr.write(`${terminalText(`changegate check: warning: ${warning}`)}\n`);
  // Only failures the operator must see: the calendar basis is reported in the answer itself.
  const logger = deps.logger ?? createLogger({ level: 'error', destination: process.stderr });
  const stores = await openStores(config.store);
  const store = stores.changes;
  let demo: { close(): Promise<void> } | null = null;
  try {
    const mirrored = await store.getChange(options.key, options.instance === undefined ? {} : { instance: options.instance });
    if (mirrored === null) {
      return usageError(out, `no mirrored change "${options.key}"${options.instance === undefined ? '' : ` on instance ${options.instance}`}`);
    }
    let asOf: ChangeAsOf | null = null;
    if (options.at !== undefined) {
      // The change as it stood then (its revision current at --at), not today's record against a past clock.
      const revisions = await store.listRevisions(mirrored.change.id);
      asOf = changeAsOf(mirrored, revisions, now);
      if (asOf === null) {
        const first = revisions[0];
        return usageError(out, `--at ${now.toISOString()} is before the first revision changegate mirrored of ${mirrored.change.key}${first === undefined ? '' : ` (revision 1, updated ${first.updatedAt})`}: how the change stood then is not known`);
      }
    }
    const mc = judgedChange(asOf === null ? mirrored : asOf.mc);
    let instances = deps.instances ?? config.instances;
    if (deps.instances === undefined && loaded.file === null) {
      // The demo's instances live in its simulators: started here, seeded as `changegate demo` seeds them.
      const started = await (await loadDemo()).startDemoInstances({ logger });
      demo = started;
      instances = started.instances;
    }
    const instance = instances.find((i) => i.id === mc.change.instance);
    const { basis, calendar } = await calendarsOf(registry, instance, logger);
    const correlator = correlatorFor(config, stores);
    const ctx = await buildPolicyContext({ store, policy, calendars: () => calendar, events: eventSourceOf(correlator) }, mc, now);
    const assessment = assess(mc, ctx);
    const next = nextStates(mc.change.type, mc.change.state);
    let transition: { to: ReturnType<typeof resolveState> & string; gates: ReturnType<typeof gatesForTransition>; verdict: ReturnType<typeof validateTransition> } | undefined;
    if (options.to !== undefined) {
      const states = instance === undefined ? new Map() : (validationInstances([instance], registry).get(instance.id)?.states ?? new Map());
      const to = resolveState(options.to, states);
      if (to === null) return usageError(out, `--to ${JSON.stringify(options.to)} is not a state ${mc.change.instance} knows; accepted are the ${acceptedStates(mc.change.instance, states)}`);
      transition = { to, gates: gatesForTransition(mc, to, ctx), verdict: validateTransition(mc, to, ctx) };
    }
    const explained = transition === undefined ? assessment.gates.map((g) => g.id) : transition.gates.map((g) => g.id);
    const provenance = options.explain ? ruleProvenance(policy, mc.change, assessment.classification, explained) : undefined;
    let code = transition === undefined || transition.verdict.allow ? 0 : 1;
    if (code === 0 && basis.itsm === 'unreachable') code = EXIT_CALENDAR_UNREAD;
    if (options.json === true) {
      const doc = checkJson({ mc, assessment, calendars: basis, next, exitCode: code, ...(transition ? { transition } : {}), ...(provenance ? { explain: provenance } : {}) }) as object;
      out.stdout.write(`${terminalJson(JSON.stringify(asOf === null ? doc : { ...doc, asOf: asOfJson(asOf, now) }, null, 2))}\n`);
      return code;
    }
    const color = colorFor(out.stdout);
    // A title, a name, a reason quoting a field: ticket text anyone who edits the ticket writes, escaped before it is laid out and coloured.
    const shown = terminalValues({ mc, assessment, basis, transition, asOf });
    const sections = [renderHeader(shown.mc, shown.assessment, color), ...(shown.asOf === null ? [] : [renderAsOf(shown.asOf, now)]), renderCalendars(shown.mc.change.instance, shown.basis, color)];
    sections.push(shown.transition === undefined ? renderAssessment(shown.assessment, next, color) : renderTransition(mc.change.state, shown.transition.to, shown.transition.gates, shown.transition.verdict, color));
    if (provenance) {
      sections.push(renderExplain(terminalValues(provenance), policy.file, color));
      // Which correlated events decided each gate, and the rule that tied each to the change.
      const rules = new Map((await correlator.eventsFor(mc.change, now)).events.map((e) => [e.event.id, e.rule]));
      const gates = transition === undefined ? assessment.gates : transition.gates;
      const lines = gates.flatMap((g) =>
        g.evidence.filter((e) => e.kind === 'ci' || e.kind === 'monitor').map((e) => terminalText(`  ${g.id}: ${e.summary} [${e.ref}, ${rules.get(e.ref) ?? 'not correlated'}]`)),
      );
      sections.push(`events behind the gates (${rules.size} correlated):\n${lines.length === 0 ? '  none decided a gate' : lines.join('\n')}`);
    }
    out.stdout.write(`${sections.join('\n\n')}\n`);
    if (basis.itsm === 'unreachable') {
      out.stderr.write(`changegate check: judged with the policy calendar only: the ITSM schedules of ${mc.change.instance} could not be read (${shown.basis.error ?? 'no answer'})\n`);
    }
    return code;
  } finally {
    await stores.close();
    if (demo) await demo.close();
  }
}
