// A Jira mapping that keys a status by its id (`"10203": scheduled`, for sites
// whose status names are translated or not unique), written back through the
// outbox worker and the connector as the service opens it, against the Jira
// simulator: the `changegate.verdict` property must name the status as the site
// does, because the shipped Forge validator compares the transition's target
// name with `toStatus` (evaluated here as test/support/jira-validator.ts does).

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TicketVerdict } from '../../src/kit/connector.ts';
import { jira } from '../../connectors/jira/index.ts';
import { DEFAULT_JIRA_MAPPING } from '../../connectors/jira/jira-mapping.ts';
import { VERDICT_PROPERTY } from '../../connectors/jira/jira-writer.ts';
import { createLogger } from '../../src/log.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { SqliteOutboxStore } from '../../src/store/sqlite/sqlite-outbox-store.ts';
import { OutboxWorker } from '../../src/sync/outbox-worker.ts';
import { evaluateValidator } from '../support/jira-validator.ts';
import { jiraOutboxSite, OUTBOX_T0 } from '../support/jira-outbox-site.ts';

const server = setupServer();
let dir = '';
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => {
  server.resetHandlers();
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
  dir = '';
});
afterAll(() => server.close());

// The site's clock.
const T0 = OUTBOX_T0;

/** The shipped mapping with `Awaiting implementation` (10203 on the simulated site) keyed by `statusKey` instead of its name. */
function mappingFile(statusKey: string): string {
  dir = mkdtempSync(join(tmpdir(), 'cg-jira-status-ids-'));
  const text = readFileSync(DEFAULT_JIRA_MAPPING, 'utf8');
  const edited = text.replace('  Awaiting implementation: scheduled\n', `  "${statusKey}": scheduled\n`);
  expect(edited).not.toBe(text);
  const file = join(dir, 'jira.acme.yaml');
  writeFileSync(file, edited);
  return file;
}

function world(statusKey: string, flavor: 'cloud' | 'datacenter' = 'cloud') {
  const { sim, instance } = jiraOutboxSite(flavor, {}, { writeBack: true, mapping: mappingFile(statusKey) });
  server.resetHandlers(...sim.handlers());
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  const logger = createLogger({ level: 'warn', destination });
  const connector = jira.open(instance, { logger, onRequest: () => {} });
  const writer = connector.writer;
  if (writer === undefined) throw new Error('the Jira connector opened without a writer');
  const outbox = SqliteOutboxStore.open(':memory:');
  const worker = new OutboxWorker({ outbox, writerFor: () => writer, logger: createLogger({ level: 'silent' }), metrics: createMetrics({ defaultMetrics: false }), clock: () => new Date(T0) });
  const issue = sim.createIssue({ summary: 'Rotate the payments HSM keys', 'Change type': 'Normal' }, { issueType: '[System] Change' });
  for (const status of ['Planning', 'Awaiting CAB approval']) sim.transitionIssue(issue.key, status);
  /** Writes `verdict` through the outbox and answers the property as Jira stores it. */
  const write = async (verdict: TicketVerdict, key: string) => {
    await outbox.enqueue([{ instance: 'jsm', changeId: `jira:jsm:${issue.id}`, nativeId: issue.id, source: 'assessment', idempotencyKey: key, payload: { action: 'set-verdict', verdict } }], new Date(T0));
    expect(await worker.drain()).toMatchObject({ written: 1, failed: 0 });
    return sim.issue(issue.key).properties.get(VERDICT_PROPERTY) as { allowedTransitions: Record<string, unknown>[] };
  };
  const warnings = () => lines.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.level === 40);
  return { sim, write, warnings };
}

/** CAB approved: the move to scheduled is allowed, implement is not yet. */
const approved: TicketVerdict = {
  verdict: 'allowed',
  state: 'authorize',
  transitions: [
    { to: 'scheduled', toName: 'Awaiting implementation', gates: ['scheduled.approvals'], allowed: true, reasons: [] },
    { to: 'canceled', toName: 'Canceled', gates: [], allowed: true, reasons: [] },
  ],
  reasons: [],
  breaches: [],
  policyVersion: '2026.1+3f9a2c1b',
  assessedAt: '2026-04-09T10:00:00.000Z',
};
const blocked: TicketVerdict = {
  ...approved,
  verdict: 'blocked',
  transitions: [{ to: 'scheduled', toName: 'Awaiting implementation', gates: ['scheduled.approvals'], allowed: false, reasons: ['CAB approval missing (scheduled.approvals)'] }],
};

describe('Jira write-back with a status keyed by its id in the mapping', () => {
  it.each(['cloud', 'datacenter'] as const)('names the status as the site does, so the Forge validator lets an allowed move into it through (%s)', async (flavor) => {
    const w = world('10203', flavor);
    const stored = await w.write(approved, 'v-1');
    expect(stored.allowedTransitions.find((t) => t['to'] === 'scheduled')).toMatchObject({ toStatus: 'Awaiting implementation', toStatusId: '10203', allowed: true });
    expect(evaluateValidator(stored, 'Awaiting implementation')).toBe(true);
    // Still refused when the verdict refuses it, with the policy's reasons.
    const refused = await w.write(blocked, 'v-2');
    expect(evaluateValidator(refused, 'Awaiting implementation')).toBe('changegate: moving to Awaiting implementation is not allowed: CAB approval missing (scheduled.approvals) (policy 2026.1+3f9a2c1b).');
    // The site's statuses are read once, not per write.
    expect(w.sim.requests.filter((r) => r.path.endsWith('/statuses'))).toHaveLength(1);
    expect(w.warnings()).toEqual([]);
  });

  it('writes the id as the mapping gives it for a status the site no longer has, and says so once', async () => {
    const w = world('10999');
    const first = await w.write(approved, 'v-1');
    const entry = first.allowedTransitions.find((t) => t['to'] === 'scheduled');
    expect(entry).toMatchObject({ toStatus: '10999', allowed: true });
    expect(entry).not.toHaveProperty('toStatusId');
    await w.write(blocked, 'v-2');
    const said = w.warnings();
    expect(said).toHaveLength(1);
    expect(said[0]?.msg).toContain('10999');
  });
});
