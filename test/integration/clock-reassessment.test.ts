// Open changes re-assessed for the clock alone, over the real SQLite stores:
// the verdict on the ticket follows a planned window that opens, while ticks
// that only move a reason's wording ("3 h away" → "2 h away") store and write
// nothing, and finished changes are left alone.

import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AssessmentRunner } from '../../src/assess/assessment-runner.ts';
import { ClockReassessor } from '../../src/assess/clock-reassessor.ts';
import { ChangegateError } from '../../src/errors.ts';
import { createLogger } from '../../src/log.ts';
import { loadPolicy } from '../../src/policy/policy-config.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { SqliteAssessmentStore } from '../../src/store/sqlite/sqlite-assessment-store.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { SqliteOutboxStore } from '../../src/store/sqlite/sqlite-outbox-store.ts';
import { InProcessLeases } from '../../src/store/in-process-leases.ts';
import { LeaseKeeper } from '../../src/sync/lease-keeper.ts';
import { buildChange, changeNumber, sysId } from '../support/change-builder.ts';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-03-10T19:00:00Z');

let store: SqliteChangeStore;
let assessments: SqliteAssessmentStore;
let outbox: SqliteOutboxStore;
let now: number;
let reassessor: ClockReassessor;
let runner: AssessmentRunner;

beforeEach(() => {
  store = SqliteChangeStore.open(':memory:');
  assessments = SqliteAssessmentStore.open(':memory:');
  outbox = SqliteOutboxStore.open(':memory:');
  now = T0;
  const logger = createLogger({ level: 'silent' });
  runner = new AssessmentRunner({
    store,
    assessments,
    outbox,
    policy: loadPolicy(),
    modeOf: () => 'advisory',
    writesBack: () => true,
    logger,
    metrics: createMetrics({ defaultMetrics: false }),
    clock: () => new Date(now),
  });
  reassessor = new ClockReassessor({ store, runner, instances: ['sn-prod'], logger });
});
afterEach(async () => {
  await reassessor.stop();
  await store.close();
  await assessments.close();
  await outbox.close();
});

const queued = async (): Promise<string[]> => (await outbox.list({ limit: 100 })).map((i) => `${i.changeId === `servicenow:sn-prod:${sysId(1)}` ? 'open' : 'closed'}:${i.action}`);
const windowGate = async (id: string) => (await assessments.latestAssessment(id))?.assessment.gates.find((g) => g.id === 'implement.window');

describe('clock re-assessment', () => {
  it('writes a new verdict once when the planned window opens, and nothing on the ticks before or after', async () => {
    // Scheduled for 22:00–23:30 UTC; T0 is 19:00, three hours before.
    const open = buildChange({ state: 'scheduled', plannedStart: '2026-03-10T22:00:00Z', plannedEnd: '2026-03-10T23:30:00Z' });
    const closed = buildChange({ nativeId: sysId(2), key: changeNumber(2), state: 'closed', closeCode: 'successful', closeNotes: 'done' });
    await store.applyPage('sn-prod', 'changes', [open, closed].map((change) => ({ kind: 'change', change })), null);
    await runner.onChangesWritten('sn-prod', [open.id, closed.id]);
    expect(await queued()).toEqual(['open:set-verdict', 'open:comment']);
    expect((await windowGate(open.id))?.reason).toMatch(/planned start 2026-03-10 22:00 UTC is 3 h away/);

    // An hour on: the reason would now say 2 h, the decision is the same. The finished change is not looked at.
    now = T0 + HOUR;
    expect(await reassessor.tick()).toEqual({ checked: 1, reassessed: 0, failed: 0 });
    expect(await queued()).toHaveLength(2);
    expect(await assessments.listAssessments(open.id)).toHaveLength(1);

    // 21:55, inside the 10 min grace before the window: the gate passes and the ticket hears it once.
    now = T0 + 3 * HOUR - 5 * 60_000;
    expect(await reassessor.tick()).toEqual({ checked: 1, reassessed: 1, failed: 0 });
    expect(await queued()).toEqual(['open:set-verdict', 'open:comment', 'open:set-verdict', 'open:comment']);
    expect((await windowGate(open.id))?.result).toBe('pass');

    now += 20 * 60_000;
    expect(await reassessor.tick()).toEqual({ checked: 1, reassessed: 0, failed: 0 });
    expect(await queued()).toHaveLength(4);
    expect(await assessments.listAssessments(open.id)).toHaveLength(2);
  });

  it('joins a pass already running instead of starting a second one', async () => {
    const change = buildChange({ state: 'assess' });
    await store.applyPage('sn-prod', 'changes', [{ kind: 'change', change }], null);
    const [a, b] = await Promise.all([reassessor.tick(), reassessor.tick()]);
    expect(a).toBe(b);
    expect(a).toEqual({ checked: 1, reassessed: 1, failed: 0 });
  });

  describe('when the store is at fault', () => {
    let lines: { level: number; msg: string; code?: string }[];
    let down: boolean;
    let faulty: ClockReassessor;

    beforeEach(async () => {
      await store.applyPage('sn-prod', 'changes', [{ kind: 'change', change: buildChange({ state: 'assess' }) }], null);
      lines = [];
      down = true;
      const logger = pino({ level: 'debug' }, new Writable({ write: (chunk, _enc, done) => void done(void lines.push(JSON.parse(String(chunk)))) }));
      const list = store.listChanges.bind(store);
      vi.spyOn(store, 'listChanges').mockImplementation((query) =>
        down ? Promise.reject(new ChangegateError('CG_STORE_UNAVAILABLE', 'the store file was replaced', { details: { reason: 'corrupt' } })) : list(query),
      );
      faulty = new ClockReassessor({ store, runner, instances: ['sn-prod'], logger });
    });
    afterEach(async () => {
      await faulty.stop();
    });

    const errors = () => lines.filter((l) => l.level >= 50).map((l) => l.msg);

    it('logs a fault lasting many ticks once, and once more when the ticks work again', async () => {
      await faulty.scheduledTick();
      await faulty.scheduledTick();
      await faulty.scheduledTick();
      expect(errors()).toEqual(['clock re-assessment failed: the store file was replaced; tried again at each tick, logged again once it works']);
      expect(lines.find((l) => l.level >= 50)?.code).toBe('CG_STORE_UNAVAILABLE');

      down = false;
      await faulty.scheduledTick();
      expect(lines.map((l) => l.msg)).toContain('clock re-assessment works again');
      expect(await assessments.listAssessments(`servicenow:sn-prod:${sysId(1)}`)).toHaveLength(1);

      // A second fault is a new episode: logged again.
      down = true;
      await faulty.scheduledTick();
      expect(errors()).toHaveLength(2);
    });

    it('keeps running on its schedule through the fault, without an unhandled rejection (vitest fails the run on one)', async () => {
      faulty.start('* * * * * *');
      await vi.waitFor(() => expect(lines.filter((l) => l.msg.startsWith('clock re-assessment still failing')).length).toBeGreaterThan(0), { timeout: 10_000, interval: 50 });
      expect(errors()).toHaveLength(1);
    });
  });

  it('runs on one replica at a time: the one holding the lease re-assesses, the others skip until it is gone', async () => {
    const change = buildChange({ state: 'assess' });
    await store.applyPage('sn-prod', 'changes', [{ kind: 'change', change }], null);
    const leases = new InProcessLeases();
    const logger = createLogger({ level: 'silent' });
    const keeper = (holder: string) => new LeaseKeeper({ leases, holder, ttlMs: 30_000, renewEveryMs: 10_000, logger, clock: () => new Date(now) });
    const [one, two] = [keeper('replica-1'), keeper('replica-2')];
    const replica = (k: LeaseKeeper) => new ClockReassessor({ store, runner, instances: ['sn-prod'], logger, lease: () => k.ensure('changegate:reassess') });
    const [first, second] = [replica(one), replica(two)];
    try {
      expect(await first.tick()).toEqual({ checked: 1, reassessed: 1, failed: 0 });
      expect(await second.tick()).toEqual({ checked: 0, reassessed: 0, failed: 0, skipped: true });
      // Replica 1 dies without releasing: its lease lapses and replica 2 takes the pass over.
      now += 30_000;
      expect(await second.tick()).toEqual({ checked: 1, reassessed: 0, failed: 0 });
      expect(await first.tick()).toMatchObject({ skipped: true });
    } finally {
      await Promise.all([first.stop(), second.stop(), one.stop(), two.stop()]);
    }
  });
});
