// `changegate check KEY` agrees with the note on the ticket, for every demo
// change: the service (the app `serve` runs: demo simulators, sync, assessment
// runner, outbox worker) writes its notes to the simulators' tickets; for each
// change the newest changegate note is read back from the ticket (a ServiceNow
// work note, a Jira comment rendered to HTML) and compared with `check`'s
// answer, run in-process at the instant the service judged: the same decision
// (allowed or blocked), and the same blocking reasons, each said once. The
// notes are also looked at as a reader sees them: no rule ids or policy advice
// before the part for administrators, and states by the site's own names.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdfDoc } from '../../connectors/jira/simulator/sim-types.ts';
import type { ChangegateApp } from '../../src/app/changegate-app.ts';
import { runCheck } from '../../src/cli/check-command.ts';
import type { LoadedConfig } from '../../src/config/load-config.ts';
import type { CanonicalState, Change } from '../../src/domain/change.ts';
import { isTerminal, MAIN_PATH } from '../../src/policy/lifecycle.ts';
import { adfToHtml, visibleItems, visibleText } from '../support/adf-html.ts';
import { registry } from '../../src/app/registry.ts';
import { createLogger } from '../../src/log.ts';
import { startSyncedDemo, type SyncedDemo } from '../support/synced-demo.ts';

interface CheckJson {
  exitCode: number;
  change: { state: CanonicalState };
  assessment: {
    next: { to: CanonicalState; allowed: boolean; blockers: string[] }[];
    violations: { gate: string; reason: string }[];
    gates: { id: string; into: string; result: string; reason: string }[];
  };
}

/** A note as a reader sees it: the title, the body before the part for administrators, and its list items. */
interface SeenNote {
  title: string;
  body: string;
  items: string[];
}

let app: ChangegateApp;
let loaded: LoadedConfig;
let drained: { failed: number; written: number };
const changes: Change[] = [];

let world: SyncedDemo;

beforeAll(async () => {
  world = await startSyncedDemo('cg-notes-');
  ({ app, loaded } = world);
  // Everything the assessments queued, written to the tickets.
  drained = await app.outboxWorker.drain();
  changes.push(...(await world.changes()));
}, 120_000);

afterAll(async () => {
  await world.close();
});

const isVerdictNote = (text: string): boolean => text.includes('[changegate-series:verdict:');

/** The newest verdict note on the ticket, as its reader sees it; null when changegate wrote none (a change first seen finished). */
function noteOnTicket(change: Change): SeenNote | null {
  const demo = app.demo;
  if (demo === null) throw new Error('the demo is not running');
  if (change.system === 'servicenow') {
    const ours = demo.simulators.servicenow
      .journalFor(change.nativeId)
      .filter((r) => r['element'] === 'work_notes' && isVerdictNote(String(r['value'])))
      .map((r) => String(r['value']));
    const text = ours.at(-1);
    if (text === undefined) return null;
    const body = text.slice(0, text.indexOf('-- Details for administrators --'));
    const items = body.split('\n').filter((l) => l.startsWith('* ')).map((l) => l.slice(2));
    return { title: (body.split('\n')[0] ?? '').replace(/^changegate: /, ''), body, items };
  }
  const comments = demo.simulators.jira.issue(change.key).comments.filter((c) => c.properties?.some((p) => p.key === 'changegate'));
  const html = comments.map((c) => adfToHtml(c.body as AdfDoc)).filter(isVerdictNote).at(-1);
  if (html === undefined) return null;
  const body = visibleText(html);
  return { title: (body.split('\n')[0] ?? '').replace(/^changegate: /, ''), body, items: visibleItems(html) };
}

/** `changegate check KEY --json --at AT` in-process; its exit code goes with the answer. */
async function check(change: Change, at: string): Promise<{ code: number; answer: CheckJson }> {
  let out = '';
  const io = { stdout: { write: (t: string) => (out += t) }, stderr: { write: () => true } };
  const code = await runCheck(registry, { key: change.key, instance: change.instance, explain: false, json: true, at }, io, {
    loaded,
    instances: app.instances,
    logger: createLogger({ level: 'silent' }),
  });
  return { code, answer: JSON.parse(out) as CheckJson };
}

/** What check says blocks the change: the checks it fails where it is now, then those of the next move along the main path. */
function blockedBy(answer: CheckJson): { blocked: boolean; reasons: Set<string> } {
  const here = MAIN_PATH.indexOf(answer.change.state);
  const forward = answer.assessment.next.filter((n) => MAIN_PATH.indexOf(n.to) > here).toSorted((a, b) => MAIN_PATH.indexOf(a.to) - MAIN_PATH.indexOf(b.to))[0];
  const reasons = new Set(answer.assessment.violations.map((v) => v.reason));
  if (forward && !forward.allowed) {
    for (const blocker of forward.blockers) {
      const id = blocker.slice(0, blocker.indexOf(' ('));
      const gate = answer.assessment.gates.find((g) => g.id === id);
      if (gate) reasons.add(gate.reason);
    }
  }
  return { blocked: answer.assessment.violations.length > 0 || (forward !== undefined && !forward.allowed), reasons };
}

const RULE_ID = /\b(assess|authorize|scheduled|implement|review|closed|canceled|failed)\.[a-z][a-z-]+\b|\b(rule|approval|field):[\w.-]+/;
/** Canonical labels a JSM site calls otherwise ("Implementing", "Peer review", "Awaiting CAB approval"). */
const NOT_JIRA_NAMES = /\b(Assess|Authorize|Scheduled|Implement|Review|Closed)\b/;

describe('changegate check and the note on the ticket, on every demo change', () => {
  it('agree on the decision and on every blocking reason, each said once on the ticket', async () => {
    expect(drained.failed).toBe(0);
    expect(changes.length).toBeGreaterThan(400);
    const disagreements: string[] = [];
    let compared = 0;
    for (const change of changes) {
      const stored = await app.assessments.latestAssessment(change.id);
      const note = noteOnTicket(change);
      // Only a change first seen already finished gets no note: nothing is left to block.
      if (note === null || stored === null) {
        if (!isTerminal(change.state) || stored === null) disagreements.push(`${change.key}: no note on an open change, or no assessment`);
        continue;
      }
      const { code, answer } = await check(change, stored.assessment.evaluatedAt);
      if (code !== 0) disagreements.push(`${change.key}: check exited ${code}`);
      const { blocked, reasons } = blockedBy(answer);
      const noteBlocked = / cannot move to | does not meet the checks of |, but .* not met/.test(note.title);
      if (noteBlocked !== blocked) disagreements.push(`${change.key}: check says ${blocked ? 'blocked' : 'allowed'}, the note "${note.title}"`);
      // Each reason check gives is one list item of the note, and the note lists nothing else.
      if (note.items.length !== reasons.size) disagreements.push(`${change.key}: check gives ${reasons.size} reasons, the note lists ${note.items.length}`);
      for (const reason of reasons) {
        const said = note.items.filter((item) => item.toLowerCase().startsWith(reason.toLowerCase())).length;
        if (said !== 1) disagreements.push(`${change.key}: "${reason}" is said ${said} times on the ticket`);
      }
      compared++;
    }
    expect(disagreements).toEqual([]);
    expect(compared).toBeGreaterThan(250);
  }, 300_000);

  it('reads, as rendered, without rule ids or policy advice, and with the site\'s own state names', () => {
    const problems: string[] = [];
    let jira = 0;
    for (const change of changes) {
      const note = noteOnTicket(change);
      if (note === null) continue;
      if (RULE_ID.test(note.body)) problems.push(`${change.key}: a rule id: ${RULE_ID.exec(note.body)?.[0]}`);
      if (/in the policy|\(none: the change is in a final state\)|no further transitions/.test(note.body)) problems.push(`${change.key}: admin advice or "final state"`);
      if (change.system !== 'jira') continue;
      jira++;
      if (NOT_JIRA_NAMES.test(note.body)) problems.push(`${change.key}: a canonical state name: ${NOT_JIRA_NAMES.exec(note.body)?.[0]}`);
      if (!note.body.includes('▸ Details for administrators')) problems.push(`${change.key}: no closed part for administrators`);
    }
    expect(problems).toEqual([]);
    expect(jira).toBeGreaterThan(100);
  });
});
