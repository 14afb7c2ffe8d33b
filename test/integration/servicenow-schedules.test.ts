// ServiceNow blackout and maintenance schedules, read through the Table API from
// the simulator, reach the policy: a blackout blocks Implement through the
// freeze gate, a maintenance schedule becomes a maintenance window for the CIs
// that name it, both candidate date formats parse, the schedule's zone is
// honoured, an unreadable table leaves the policy calendar alone, a table
// with more rows than the reader takes is not read in part, and the instance's
// page size applies to these reads as to its sync.

import { Writable } from 'node:stream';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createServiceNowClient, type ServiceNowClient } from '../../connectors/servicenow/servicenow-client.ts';
import { readServiceNowSchedules } from '../../connectors/servicenow/servicenow-schedules.ts';
import { ServiceNowSimulator } from '../../connectors/servicenow/simulator/servicenow-simulator.ts';
import { servicenow } from '../../connectors/servicenow/index.ts';
import { createItsmCalendars } from '../../src/assess/itsm-calendar.ts';
import { buildPolicyContext } from '../../src/assess/policy-context.ts';
import { renderCalendars } from '../../src/cli/check-report.ts';
import { ServiceNowInstance } from '../../connectors/servicenow/servicenow-config.ts';
import { createLogger } from '../../src/log.ts';
import { validateTransition } from '../../src/policy/assess.ts';
import { maintenanceFit } from '../../src/policy/calendar.ts';
import type { Policy } from '../../src/policy/policy-config.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { DEFAULT_POLICY, mirrored, readinessEvents } from '../unit/policy/policy-fixtures.ts';

const BASE = 'https://acme.service-now.com';
// Inside the fixture change's planned window (2026-03-10 22:00–23:30 UTC).
const NOW = new Date('2026-03-10T22:05:00Z');
const CI = { id: 'b0c25d1bc0a800090168be1bfcdcd759', name: 'pay-gw-cluster-01' };

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

function captureLogs(): { logger: ReturnType<typeof createLogger>; lines: () => Array<{ level: number; msg: string; schedule?: string }> } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { logger: createLogger({ level: 'debug', destination }), lines: () => lines.join('').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { level: number; msg: string }) };
}

let sim: ServiceNowSimulator;
let client: ServiceNowClient;
let logs: ReturnType<typeof captureLogs>;

beforeEach(() => {
  sim = new ServiceNowSimulator({ baseUrl: BASE, clock: () => NOW });
  server.resetHandlers(...sim.handlers());
  logs = captureLogs();
  const instance = ServiceNowInstance.parse({ id: 'sn-prod', system: 'servicenow', baseUrl: BASE, auth: { kind: 'basic', username: 'admin', password: 'admin' }, retries: 0 });
  client = createServiceNowClient(instance, { logger: logs.logger, retry: { baseMs: 1, maxMs: 2, random: () => 0.5 } });
});

function schedule(name: string, type: 'blackout' | 'maintenance', timeZone: string, spans: Array<Record<string, string>>): string {
  const row = sim.insertRecord('cmn_schedule', { name, type, time_zone: timeZone, sys_class_name: type === 'blackout' ? 'cmn_schedule_blackout' : 'cmn_schedule' });
  for (const span of spans) sim.insertRecord('cmn_schedule_span', { schedule: row.sys_id, type, ...span });
  return row.sys_id ?? '';
}

/** The sys_id of the entry in force now: last in sys_id order. */
const IN_FORCE = 'ffffffffffffffffffffffffffffffff';
/** `n` past quarter-end entries of the freeze, each its own page at one row a page, all ordered before the entry in force now. */
function pastEntries(scheduleId: string, n: number, from = 0): void {
  for (let i = from; i < from + n; i++) {
    const day = new Date(Date.UTC(2020, 0, 1) + i * 86_400_000).toISOString().slice(0, 10);
    sim.insertRecord('cmn_schedule_span', { sys_id: i.toString(16).padStart(32, '0'), schedule: scheduleId, type: 'blackout', name: `Past ${i}`, start_date_time: `${day} 22:00:00`, end_date_time: `${day} 23:00:00` });
  }
}

/** The verdict on scheduled → implement with every readiness fact green, so only the calendar can say no. */
async function implementVerdict(calendars: (instance: string) => ReturnType<ReturnType<typeof createItsmCalendars>['calendarFor']>, policy: Policy = DEFAULT_POLICY) {
  const store = SqliteChangeStore.open(':memory:');
  const mc = mirrored({ state: 'scheduled' });
  const ctx = await buildPolicyContext({ store, policy, events: async () => ({ ci: readinessEvents(), monitor: [] }), calendars }, mc, NOW, { states: ['implement'] });
  return { verdict: validateTransition(mc, 'implement', ctx), ctx };
}

async function loaded(pageSize?: number) {
  const read = (signal?: AbortSignal) => readServiceNowSchedules(client, { logger: logs.logger, ...(signal ? { signal } : {}), ...(pageSize ? { pageSize } : {}) });
  const calendars = createItsmCalendars(new Map([['sn-prod', read]]), { logger: logs.logger, now: () => NOW.getTime() });
  await calendars.refreshAll();
  return calendars;
}

describe('ServiceNow schedules in the policy calendar', () => {
  it('blocks Implement inside a ServiceNow blackout stored in the schedule format and zone', async () => {
    // 23:00–01:00 Berlin (CET, UTC+1) is 22:00–00:00 UTC: now is inside it.
    schedule('Quarter-end freeze', 'blackout', 'Europe/Berlin', [{ name: 'Quarter end', start_date_time: '20260310T230000', end_date_time: '20260311T010000' }]);
    const calendars = await loaded();
    expect((await implementVerdict(() => null)).verdict.allow).toBe(true);
    const { verdict } = await implementVerdict((i) => calendars.calendarFor(i));
    expect(verdict.allow).toBe(false);
    expect(verdict.reasons).toEqual([expect.stringMatching(/^now is inside freeze .*Quarter-end freeze.*\(implement\.freeze\)$/)]);
  });

  it('reads the Table API UTC format too', async () => {
    schedule('DC move blackout', 'blackout', 'America/New_York', [{ start_date_time: '2026-03-10 22:00:00', end_date_time: '2026-03-10 23:00:00' }]);
    const { verdict } = await implementVerdict((await loaded()).calendarFor);
    expect(verdict.reasons).toEqual([expect.stringMatching(/DC move blackout.*\(implement\.freeze\)$/)]);
  });

  it("honours the schedule's time zone: the same wall times in New York are hours later", async () => {
    // 23:00 New York (EDT since 8 March, UTC−4) is 03:00 UTC on the 11th: not in force at 22:05 UTC.
    schedule('NY freeze', 'blackout', 'America/New_York', [{ start_date_time: '20260310T230000', end_date_time: '20260311T010000' }]);
    const calendars = await loaded();
    expect(calendars.calendarFor('sn-prod')?.windows).toMatchObject([{ kind: 'freeze', schedule: 'once', timeZone: 'America/New_York', start: '2026-03-10T23:00', end: '2026-03-11T01:00' }]);
    expect((await implementVerdict(calendars.calendarFor)).verdict.allow).toBe(true);
  });

  it('reads a weekly maintenance schedule as a maintenance window for the CIs that name it, and skips what the calendar cannot express', async () => {
    const id = schedule('Tuesday night maintenance', 'maintenance', 'Europe/London', [
      { name: 'Tuesday night', start_date_time: '20260106T220000', end_date_time: '20260106T234500', repeat_type: 'weekly', repeat_count: '1', days_of_week: '2' },
      { name: 'First of the month', start_date_time: '20260101T020000', end_date_time: '20260101T040000', repeat_type: 'monthly' },
    ]);
    sim.insertRecord('cmdb_ci', { sys_id: CI.id, name: CI.name, maintenance_schedule: id });
    sim.insertRecord('cmdb_ci', { name: 'unrelated-ci' });
    const calendar = (await loaded()).calendarFor('sn-prod');
    expect(calendar?.windows).toEqual([
      expect.objectContaining({ kind: 'maintenance', schedule: 'recurring', name: 'Tuesday night maintenance: Tuesday night', timeZone: 'Europe/London', days: ['tue'], start: '22:00', end: '23:45', validFrom: '2026-01-06', services: [CI.id, CI.name] }),
    ]);
    const warnings = logs.lines().filter((l) => l.level === 40);
    expect(warnings).toEqual([expect.objectContaining({ schedule: 'Tuesday night maintenance', msg: expect.stringContaining('repeats "monthly"') })]);
    // The fixture change (on that CI, Tuesday 10 March 22:00–23:30 UTC = GMT) fits the window; an hour later it would not.
    const { ctx } = await implementVerdict(() => calendar ?? null);
    expect(maintenanceFit(mirrored().change, ctx.calendar).covering).toMatchObject({ name: 'Tuesday night maintenance: Tuesday night' });
    const late = mirrored({ plannedStart: '2026-03-10T23:00:00Z', plannedEnd: '2026-03-11T00:30:00Z' }).change;
    expect(maintenanceFit(late, ctx.calendar)).toEqual({ applicable: true, covering: null });
  });

  it('reads an all-day weekday blackout with a repeat end as a daily freeze on weekdays', async () => {
    // Tuesday 10 March, 23:05 in Paris: inside Tuesday's all-day entry.
    schedule('Payroll run freeze', 'blackout', 'Europe/Paris', [
      { all_day: 'true', start_date_time: '20260302T000000', end_date_time: '20260302T235959', repeat_type: 'weekdays', repeat_until: '20260313' },
    ]);
    const calendars = await loaded();
    expect(calendars.calendarFor('sn-prod')?.windows).toMatchObject([
      { kind: 'freeze', schedule: 'recurring', days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '00:00', durationMs: 86_400_000, validFrom: '2026-03-02', validUntil: '2026-03-13' },
    ]);
    expect((await implementVerdict(calendars.calendarFor)).verdict.reasons).toEqual([expect.stringMatching(/Payroll run freeze.*\(implement\.freeze\)$/)]);
  });

  it('keeps the blackouts when the CMDB refuses the maintenance-schedule lookup', async () => {
    schedule('Weekend maintenance', 'maintenance', 'UTC', [{ start_date_time: '2026-03-07 22:00:00', end_date_time: '2026-03-08 04:00:00', repeat_type: 'weekly' }]);
    schedule('Quarter-end freeze', 'blackout', 'UTC', [{ start_date_time: '2026-03-10 22:00:00', end_date_time: '2026-03-10 23:00:00' }]);
    sim.faults.next({ kind: 'status', status: 403 }, { path: '/cmdb_ci' });
    const calendars = await loaded();
    expect(calendars.calendarFor('sn-prod')?.windows.map((w) => [w.kind, w.name])).toEqual([['freeze', 'Quarter-end freeze']]);
    expect(logs.lines().filter((l) => l.level === 40).map((l) => l.msg)).toEqual([expect.stringMatching(/maintenance schedules are left out .*HTTP 403/)]);
  });

  it('leaves the policy calendar alone when the schedule table is refused by an ACL, and says so once', async () => {
    schedule('Hidden freeze', 'blackout', 'UTC', [{ start_date_time: '2026-03-10 22:00:00', end_date_time: '2026-03-10 23:00:00' }]);
    sim.faults.times(2, { kind: 'status', status: 403 }, { path: '/cmn_schedule' });
    const calendars = await loaded();
    await calendars.refresh('sn-prod');
    expect(calendars.calendarFor('sn-prod')).toBeNull();
    const { verdict, ctx } = await implementVerdict(calendars.calendarFor);
    expect(ctx.calendar).toBe(DEFAULT_POLICY.calendar);
    expect(verdict.allow).toBe(true);
    const warnings = logs.lines().filter((l) => l.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toMatch(/^sn-prod: ITSM blackout\/maintenance schedules could not be read; the policy calendar applies without them .*HTTP 403/);
  });

  // sysparm_limit is applied before ACLs (reference §1.2): a page the API user may not see comes back empty while more rows follow.
  it('reads a blackout that sits after a page of schedules the API user may not see', async () => {
    sim.hidden = (row, table) => table === 'cmn_schedule' && String(row.name).startsWith('HR ');
    for (const [sysId, name] of [['00000000000000000000000000000001', 'HR blackout A'], ['00000000000000000000000000000002', 'HR blackout B'], ['00000000000000000000000000000003', 'Quarter-end freeze']] as const) {
      sim.insertRecord('cmn_schedule', { sys_id: sysId, name, type: 'blackout', time_zone: 'UTC', sys_class_name: 'cmn_schedule_blackout' });
      sim.insertRecord('cmn_schedule_span', { schedule: sysId, type: 'blackout', start_date_time: '2026-03-10 22:00:00', end_date_time: '2026-03-10 23:00:00' });
    }
    const calendars = await loaded(2);
    expect(calendars.calendarFor('sn-prod')?.windows.map((w) => w.name)).toEqual(['Quarter-end freeze']);
    expect((await implementVerdict(calendars.calendarFor)).verdict.reasons).toEqual([expect.stringMatching(/Quarter-end freeze.*\(implement\.freeze\)$/)]);
  });

  it('reads a blackout entry that sits after a page of entries the API user may not see', async () => {
    sim.hidden = (row, table) => table === 'cmn_schedule_span' && String(row.name).startsWith('HR ');
    schedule('Quarter-end freeze', 'blackout', 'UTC', [
      { sys_id: '00000000000000000000000000000001', name: 'HR entry A', start_date_time: '2026-02-10 22:00:00', end_date_time: '2026-02-10 23:00:00' },
      { sys_id: '00000000000000000000000000000002', name: 'HR entry B', start_date_time: '2026-02-11 22:00:00', end_date_time: '2026-02-11 23:00:00' },
      { sys_id: '00000000000000000000000000000003', name: 'Quarter end', start_date_time: '2026-03-10 22:00:00', end_date_time: '2026-03-10 23:00:00' },
    ]);
    const calendars = await loaded(2);
    expect(calendars.calendarFor('sn-prod')?.windows.map((w) => w.name)).toEqual(['Quarter-end freeze: Quarter end']);
    expect((await implementVerdict(calendars.calendarFor)).verdict.allow).toBe(false);
  });

  describe('a schedule with more entries than the reader takes (100 pages)', () => {
    it('is not read in part: the calendar says it could not be read, naming the schedule, and the freeze is not silently missing', async () => {
      const id = schedule('Quarter-end freeze', 'blackout', 'UTC', [{ sys_id: IN_FORCE, name: 'Quarter end', start_date_time: '2026-03-10 22:00:00', end_date_time: '2026-03-10 23:00:00' }]);
      pastEntries(id, 100);
      const calendars = await loaded(1);
      // A calendar missing the entry in force would let Implement through with the ITSM schedules reported as read.
      expect(calendars.status('sn-prod')).toEqual({ itsm: 'unread', error: expect.stringMatching(/cmn_schedule_span.*"Quarter-end freeze"/) });
      expect(calendars.calendarFor('sn-prod')).toBeNull();
      // `changegate check` answers on the policy calendar alone and says why (exit 3).
      expect(renderCalendars('sn-prod', { itsm: 'unreachable', error: calendars.status('sn-prod').error ?? '' }, false)).toMatch(/^calendars: THE POLICY CALENDAR ONLY: .*"Quarter-end freeze".*a freeze there is not seen$/);
      const warnings = logs.lines().filter((l) => l.level === 40);
      expect(warnings).toEqual([expect.objectContaining({ msg: expect.stringMatching(/^sn-prod: ITSM blackout\/maintenance schedules could not be read; the policy calendar applies without them .*"Quarter-end freeze"/) })]);
    });

    it('keeps the last calendar read in full when the schedule grows past the bound, so its freeze still blocks', async () => {
      const id = schedule('Quarter-end freeze', 'blackout', 'UTC', [{ sys_id: IN_FORCE, name: 'Quarter end', start_date_time: '2026-03-10 22:00:00', end_date_time: '2026-03-10 23:00:00' }]);
      pastEntries(id, 10);
      const calendars = await loaded(1);
      expect(calendars.status('sn-prod')).toEqual({ itsm: 'read' });
      pastEntries(id, 90, 10);
      await calendars.refresh('sn-prod');
      expect((await implementVerdict(calendars.calendarFor)).verdict.reasons).toEqual([expect.stringMatching(/Quarter-end freeze: Quarter end.*\(implement\.freeze\)$/)]);
      expect(logs.lines().filter((l) => l.level === 40).map((l) => l.msg)).toEqual([expect.stringMatching(/could not be read.*"Quarter-end freeze"/)]);
    });
  });
});

describe('ServiceNow schedules read by the configured connector', () => {
  it("pages with the instance's pageSize, so an instance that needs small pages gets them here too", async () => {
    const id = schedule('Quarter-end freeze', 'blackout', 'UTC', [{ sys_id: IN_FORCE, name: 'Quarter end', start_date_time: '2026-03-10 22:00:00', end_date_time: '2026-03-10 23:00:00' }]);
    pastEntries(id, 4);
    const limits: string[] = [];
    const listen = ({ request }: { request: Request }) => void limits.push(`${new URL(request.url).pathname} ${new URL(request.url).searchParams.get('sysparm_limit')}`);
    server.events.on('request:start', listen);
    try {
      const instance = ServiceNowInstance.parse({ id: 'sn-prod', system: 'servicenow', baseUrl: BASE, auth: { kind: 'basic', username: 'admin', password: 'admin' }, retries: 0, pageSize: 2 });
      const read = servicenow.capabilities?.calendars?.(instance, { logger: logs.logger, onRequest: () => undefined });
      const calendar = await read?.();
      expect(calendar?.windows.map((w) => w.name)).toHaveLength(5);
    } finally {
      server.events.removeListener('request:start', listen);
    }
    // One page of schedules, three of the five entries, each asking for 2 rows.
    expect(limits).toEqual(['/api/now/table/cmn_schedule 2', ...Array<string>(3).fill('/api/now/table/cmn_schedule_span 2')]);
  });
});
