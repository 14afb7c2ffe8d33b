// Gates into Implement and Review: the clock is inside the planned window and
// outside freezes; the linked commit is green, tested, scanned and promoted
// through the lower environments in order (seed §3.3, §6.2, §8.3); after the
// production deploy, a smoke test proves it (seed §8.7).

import type { EvidenceRef } from '../../domain/assessment.ts';
import type { CiEvent, Severity } from '../../domain/events.ts';
import { activeWindows } from '../calendar.ts';
import { ciRef, commitEvents, deployIn, eventTime, inEnvironment, latest, changeCommit, nameMatches, shortSha, verificationAfter } from '../evidence.ts';
import { formatDuration, formatUtc } from '../zoned-time.ts';
import { defineGate, fail, listText, pass, pending, plannedWindow, plural, type GateInput, type Verdict } from './gate.ts';
import { windowRef, windowText } from './planning-gates.ts';

const NO_COMMIT: Verdict = {
  result: 'pending',
  reason: 'waiting for a CI run of a commit for this change (none is linked, and no CI event has named the change or come from its services yet)',
  // For whoever edits the policy, not for the ticket's readers.
  hint: 'a service that deploys no code can have the implement/review readiness rules switched off in the policy',
  evidence: [],
};

function withCommit(input: GateInput, check: (commit: string) => Verdict): Verdict {
  const commit = changeCommit(input.change, input.ctx.events.ci, input.now);
  return commit === null ? { ...NO_COMMIT, evidence: [] } : check(commit);
}

function when(event: CiEvent): string {
  const t = eventTime(event);
  return Number.isFinite(t) ? ` at ${formatUtc(t)}` : '';
}

export const insidePlannedWindow = defineGate({
  id: 'implement.window',
  check({ change, now }, params) {
    const planned = plannedWindow(change);
    if ('problem' in planned) return fail(planned.problem);
    const grace = params.graceMinutes * 60_000;
    const span = `${formatUtc(planned.start)} – ${formatUtc(planned.end)}`;
    if (now < planned.start - grace) {
      return fail(`planned start ${formatUtc(planned.start)} is ${formatDuration(planned.start - now)} away; implementation may begin ${params.graceMinutes} min before it`);
    }
    if (now > planned.end + grace) return fail(`the planned window ${span} ended ${formatDuration(now - planned.end)} ago`);
    return pass(`now (${formatUtc(now)}) is inside the planned window ${span}`);
  },
});

export const outsideFreeze = defineGate({
  id: 'implement.freeze',
  check({ change, ctx, now }, params) {
    const active = activeWindows(change, ctx.calendar, 'freeze', now);
    if (params.exemptTypes.includes(change.type)) {
      const note = active.length > 0 ? ` (inside ${listText(active.map(windowText))})` : '';
      return pass(`${change.type} changes are exempt from freeze windows${note}`, active.map(windowRef));
    }
    if (active.length > 0) return fail(`now is inside freeze ${listText(active.map(windowText))}`, active.map(windowRef));
    return pass('no freeze window is in force now');
  },
});

export const ciGreen = defineGate({
  id: 'implement.ci-green',
  check(input, params) {
    return withCommit(input, (commit) => {
      const run = latest(commitEvents(input.ctx.events.ci, commit, input.now, params.kinds));
      const sha = shortSha(commit);
      if (run === null) return pending(`waiting for a CI run of commit ${sha}`);
      const evidence = [ciRef(run)];
      switch (run.status) {
        case 'success':
          return pass(`latest CI run for ${sha}${when(run)} is green`, evidence);
        case 'failure':
          return fail(`latest CI run for ${sha}${when(run)} failed`, evidence);
        case 'queued':
        case 'running':
          return pending(`latest CI run for ${sha} is still ${run.status}`, evidence);
        default:
          return fail(`latest CI run for ${sha} was ${run.status}; a green run is needed`, evidence);
      }
    });
  },
});

export const testsPassed = defineGate({
  id: 'implement.tests',
  check(input, params) {
    return withCommit(input, (commit) => {
      const run = latest(commitEvents(input.ctx.events.ci, commit, input.now).filter((e) => e.tests !== null));
      const sha = shortSha(commit);
      if (run === null || run.tests === null) return pending(`no test results reported yet for commit ${sha}`);
      const t = run.tests;
      const counts = `${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped`;
      if (t.failed > params.maxFailed) return fail(`${plural(t.failed, 'test')} failed in the latest run for ${sha} (${counts})`, [ciRef(run)]);
      return pass(`latest test run for ${sha}: ${counts}`, [ciRef(run)]);
    });
  },
});

export const scanClean = defineGate({
  id: 'implement.scan',
  check(input, params) {
    return withCommit(input, (commit) => {
      const scan = latest(commitEvents(input.ctx.events.ci, commit, input.now, ['scan']));
      const sha = shortSha(commit);
      const blocking = listText(params.blockingSeverities, 'or');
      if (scan === null) return pending(`no security scan seen yet for commit ${sha}`);
      if (scan.status === 'queued' || scan.status === 'running') return pending(`security scan for ${sha} is still ${scan.status}`, [ciRef(scan)]);
      if (scan.findings === null) {
        return scan.status === 'success'
          ? pass(`security scan for ${sha} passed and reports no findings`, [ciRef(scan)])
          : fail(`security scan for ${sha} ${scan.status} without reporting findings`, [ciRef(scan)]);
      }
      const findings = scan.findings;
      const open = params.blockingSeverities.map((s: Severity) => [s, findings[s] ?? 0] as const).filter(([, n]) => n > 0);
      if (open.length > 0) return fail(`security scan for ${sha} reports ${listText(open.map(([s, n]) => `${n} ${s}`))} ${open.length === 1 && open[0]?.[1] === 1 ? 'finding' : 'findings'} open`, [ciRef(scan)]);
      return pass(`security scan for ${sha}: no ${blocking} finding open`, [ciRef(scan)]);
    });
  },
});

export const lowerEnvironments = defineGate({
  id: 'implement.lower-environments',
  check(input, params) {
    return withCommit(input, (commit) => {
      const sha = shortSha(commit);
      const failures: string[] = [];
      const waiting: string[] = [];
      const evidence: EvidenceRef[] = [];
      const firstDeploy: { env: string; at: number }[] = [];
      for (const env of params.order) {
        const deploys = commitEvents(input.ctx.events.ci, commit, input.now, ['deploy']).filter((e) => inEnvironment(e, [env]));
        const good = deploys.filter((e) => e.status === 'success');
        const first = good[0];
        if (first === undefined) {
          const last = latest(deploys);
          if (last && last.status === 'failure') {
            failures.push(`deploy of ${sha} to ${env} failed${when(last)}`);
            evidence.push(ciRef(last));
          } else waiting.push(`${sha} is not yet deployed to ${env}`);
          continue;
        }
        firstDeploy.push({ env, at: eventTime(first) });
        const check = good.find((d) => d.verified === true) ?? verificationAfter(input.ctx.events.ci, first, [env], input.now);
        evidence.push(ciRef(check ?? first));
        if (params.requireVerified && !check) waiting.push(`${sha} is deployed to ${env} but not verified there (no healthy deploy or green test run since)`);
      }
      for (let i = 1; i < firstDeploy.length; i++) {
        const [prev, next] = [firstDeploy[i - 1], firstDeploy[i]] as [{ env: string; at: number }, { env: string; at: number }];
        if (next.at < prev.at) failures.push(`${sha} reached ${next.env} (${formatUtc(next.at)}) before ${prev.env} (${formatUtc(prev.at)})`);
      }
      const order = params.order.join(' → ');
      if (failures.length > 0) return fail(`${failures.join('; ')}; promotion order is ${order}`, evidence);
      if (waiting.length > 0) return pending(waiting.join('; '), evidence);
      return pass(`${sha} deployed and verified in ${order}, in order`, evidence);
    });
  },
});

export const productionDeploy = defineGate({
  id: 'review.production-deploy',
  check(input) {
    return withCommit(input, (commit) => {
      const sha = shortSha(commit);
      const { success, last } = deployIn(input.ctx.events.ci, commit, input.ctx.policy.productionEnvironments, input.now);
      if (success) return pass(`${sha} deployed to production${when(success)}`, [ciRef(success)]);
      if (last && last.status === 'failure') return fail(`production deploy of ${sha} failed${when(last)}`, [ciRef(last)]);
      if (last) return pending(`production deploy of ${sha} is ${last.status}`, [ciRef(last)]);
      return pending(`no production deploy of ${sha} seen yet`);
    });
  },
});

export const smokeTest = defineGate({
  id: 'review.smoke-test',
  check(input, params) {
    return withCommit(input, (commit) => {
      const sha = shortSha(commit);
      const prod = input.ctx.policy.productionEnvironments;
      const { success } = deployIn(input.ctx.events.ci, commit, prod, input.now);
      if (!success) return pending(`no production deploy of ${sha} yet, so no smoke test to check`);
      const since = eventTime(success);
      const run = latest(commitEvents(input.ctx.events.ci, commit, input.now, ['test']).filter((e) => inEnvironment(e, prod) && eventTime(e) >= since && nameMatches(e, params.names)));
      if (run) {
        const label = `smoke test${run.name ? ` "${run.name}"` : ''}`;
        const failed = run.tests?.failed ?? 0;
        if (run.status === 'success' && failed === 0) return pass(`${label} passed in production${when(run)}`, [ciRef(run), ciRef(success)]);
        if (run.status === 'queued' || run.status === 'running') return pending(`${label} in production is still ${run.status}`, [ciRef(run)]);
        return fail(`${label} in production ${failed > 0 ? `failed (${plural(failed, 'test')} failed)` : run.status}${when(run)}`, [ciRef(run)]);
      }
      return pending(`no smoke test result in production since the deploy${when(success)}`, [ciRef(success)]);
    });
  },
});

export const DELIVERY_GATES = [insidePlannedWindow, outsideFreeze, ciGreen, testsPassed, scanClean, lowerEnvironments, productionDeploy, smokeTest];
