// The calendar's decisions at their edges: which windows count as a freeze or as
// maintenance for a change, when two planned windows overlap, and the wall-clock
// arithmetic of recurring windows. Each case is one a CAB would see go wrong.

import { describe, expect, it } from 'vitest';
import { activeWindows, conflicts, maintenanceFit, occurrences, overlaps, type Calendar, type CalendarWindow, type OnceWindow, type RecurringWindow } from '../../../src/policy/calendar.ts';
import { buildChange } from '../../support/change-builder.ts';

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
const ms = (text: string) => Date.parse(text);
const HOUR = 3_600_000;

// buildChange plans 2026-03-10 22:00–23:30 UTC on "Payments API" and CI "pay-gw-cluster-01".
const window = (overrides: Partial<OnceWindow> = {}): OnceWindow => ({
  id: 'w',
  name: 'window',
  kind: 'freeze',
  timeZone: 'UTC',
  services: [],
  schedule: 'once',
  start: '2026-03-10T20:00',
  end: '2026-03-11T02:00',
  ...overrides,
});

function daily(overrides: Partial<RecurringWindow> = {}): RecurringWindow {
  return {
    id: 'daily',
    name: 'daily',
    kind: 'maintenance',
    timeZone: 'UTC',
    services: [],
    schedule: 'recurring',
    days: null,
    start: '09:00',
    cron: null,
    end: '17:00',
    durationMs: null,
    validFrom: null,
    validUntil: null,
    ...overrides,
  };
}

const cal = (...windows: CalendarWindow[]): Calendar => ({ windows });
const other = (key: string, overrides: Parameters<typeof buildChange>[0] = {}) => buildChange({ nativeId: key, key, ...overrides });
const lengths = (w: RecurringWindow) => occurrences(w, ms('2026-06-03T00:00:00Z'), ms('2026-06-04T00:00:00Z')).map((o) => [iso(o.start), (o.end - o.start) / 60_000]);

describe('freeze conflicts', () => {
  it('counts only freeze windows: a maintenance window over the planned window is no conflict', () => {
    expect(conflicts(buildChange(), cal(window({ kind: 'maintenance' })))).toEqual([]);
    expect(conflicts(buildChange(), cal(window({ kind: 'maintenance' }), window({ id: 'f' }))).map((o) => o.windowId)).toEqual(['f']);
  });

  it('finds no conflict for a change without a usable planned window', () => {
    const freeze = cal(window());
    expect(conflicts(buildChange({ plannedEnd: null }), freeze)).toEqual([]);
    expect(conflicts(buildChange({ plannedStart: null }), freeze)).toEqual([]);
    expect(conflicts(buildChange({ plannedStart: 'not a date' }), freeze)).toEqual([]);
    expect(conflicts(buildChange({ plannedEnd: 'not a date' }), freeze)).toEqual([]);
    expect(conflicts(buildChange({ plannedStart: '2026-03-10T23:30:00Z', plannedEnd: '2026-03-10T22:00:00Z' }), freeze)).toEqual([]);
    expect(conflicts(buildChange({ plannedStart: '2026-03-10T22:00:00Z', plannedEnd: '2026-03-10T22:00:00Z' }), freeze)).toEqual([]);
  });

  it('applies a window naming several services when the change touches any one of them, ignoring case and spaces', () => {
    expect(conflicts(buildChange(), cal(window({ services: ['Billing', '  payments api '] })))).toHaveLength(1);
    expect(conflicts(buildChange(), cal(window({ services: ['Billing', 'Ledger'] })))).toEqual([]);
  });

  it('matches a CI that has no display name by its id', () => {
    const change = buildChange({ services: [], cis: [{ id: 'ci-42', name: null }] });
    expect(conflicts(change, cal(window({ services: ['CI-42'] })))).toHaveLength(1);
  });

  it('lists conflicts by start, then by window id', () => {
    const found = conflicts(buildChange(), cal(window({ id: 'late', start: '2026-03-10T23:00' }), window({ id: 'b' }), window({ id: 'a' })));
    expect(found.map((o) => o.windowId)).toEqual(['a', 'b', 'late']);
  });
});

describe('maintenance fit', () => {
  it('is not applicable when only freeze windows exist, however they lie', () => {
    expect(maintenanceFit(buildChange(), cal(window()))).toEqual({ applicable: false, covering: null });
  });

  it('fits a planned window that fills an occurrence exactly, and not one that runs a minute over', () => {
    const exact = window({ kind: 'maintenance', start: '2026-03-10T22:00', end: '2026-03-10T23:30' });
    expect(maintenanceFit(buildChange(), cal(exact)).covering).toMatchObject({ windowId: 'w', start: ms('2026-03-10T22:00:00Z'), end: ms('2026-03-10T23:30:00Z') });
    expect(maintenanceFit(buildChange({ plannedEnd: '2026-03-10T23:31:00Z' }), cal(exact))).toEqual({ applicable: true, covering: null });
    expect(maintenanceFit(buildChange({ plannedStart: '2026-03-10T21:59:00Z' }), cal(exact))).toEqual({ applicable: true, covering: null });
  });

  it('is applicable but uncovered when the change has no planned window', () => {
    expect(maintenanceFit(buildChange({ plannedEnd: null }), cal(window({ kind: 'maintenance' })))).toEqual({ applicable: true, covering: null });
  });
});

describe('overlapping changes', () => {
  it('ignores the change itself, changes on other services, and windows that only touch', () => {
    const self = buildChange();
    const found = overlaps(self, [
      self,
      other('CHG0030010', { services: [{ id: 'x', name: 'Billing' }], cis: [] }),
      other('CHG0030011', { plannedStart: '2026-03-10T21:00:00Z', plannedEnd: '2026-03-10T22:00:00Z' }),
      other('CHG0030012', { plannedStart: '2026-03-10T23:30:00Z', plannedEnd: '2026-03-11T01:00:00Z' }),
      other('CHG0030013', { plannedStart: '2026-03-11T00:00:00Z', plannedEnd: '2026-03-11T01:00:00Z' }),
      other('CHG0030014', { plannedStart: null }),
      other('CHG0030015', { state: 'canceled' }),
      other('CHG0030016', { state: 'failed' }),
      other('CHG0030017', { plannedStart: '2026-03-10T23:29:00Z', plannedEnd: '2026-03-11T01:00:00Z' }),
    ]);
    expect(found.map((o) => o.key)).toEqual(['CHG0030017']);
  });

  it('reports nothing for a change without a planned window', () => {
    expect(overlaps(buildChange({ plannedEnd: null }), [other('CHG0030020')])).toEqual([]);
  });

  it('orders by key, then by change id for the same key on two instances', () => {
    const found = overlaps(buildChange(), [
      other('CHG0030031', { nativeId: 'a' }),
      other('CHG0030030', { nativeId: 'z', instance: 'sn-two' }),
      other('CHG0030030', { nativeId: 'b' }),
    ]);
    expect(found.map((o) => o.key)).toEqual(['CHG0030030', 'CHG0030030', 'CHG0030031']);
    expect(found[0]!.changeId < found[1]!.changeId).toBe(true);
  });
});

describe('recurring wall-clock windows', () => {
  it('ends the same day when the end time is later, the next day when it is earlier or the same', () => {
    expect(lengths(daily({ start: '09:00', end: '09:30' }))).toContainEqual(['2026-06-03T09:00:00Z', 30]);
    expect(lengths(daily({ start: '09:30', end: '09:10' }))).toContainEqual(['2026-06-03T09:30:00Z', 23 * 60 + 40]);
    expect(lengths(daily({ start: '22:00', end: '22:00' }))).toContainEqual(['2026-06-03T22:00:00Z', 24 * 60]);
  });

  it('finds a multi-day window from an instant days after it started', () => {
    const long = daily({ kind: 'freeze', days: null, start: null, end: null, cron: '0 0 1 6 *', durationMs: 72 * HOUR });
    expect(activeWindows(buildChange(), cal(long), 'freeze', ms('2026-06-03T12:00:00Z')).map((o) => iso(o.start))).toEqual(['2026-06-01T00:00:00Z']);
  });

  it('is not active in the instant before it starts', () => {
    const w = daily({ kind: 'freeze' });
    expect(activeWindows(buildChange(), cal(w), 'freeze', ms('2026-06-03T08:59:59.999Z'))).toEqual([]);
    expect(activeWindows(buildChange(), cal(w), 'freeze', ms('2026-06-03T09:00:00Z'))).toHaveLength(1);
  });

  it('starts at the first 02:30 of the night summer time ends', () => {
    const w = daily({ timeZone: 'Europe/Berlin', days: ['sun'], start: '02:30', end: '04:00' });
    const [found] = occurrences(w, ms('2026-10-25T00:00:00Z'), ms('2026-10-25T12:00:00Z'));
    expect(found && iso(found.start)).toBe('2026-10-25T00:30:00Z'); // 02:30 CEST, not 02:30 CET
  });

  it('lists one occurrence when two cron times land on the same instant in the spring-forward gap', () => {
    const w = daily({ timeZone: 'Europe/Berlin', days: null, start: null, end: null, cron: '30 2,3 29 3 *', durationMs: HOUR });
    expect(occurrences(w, ms('2026-03-29T00:00:00Z'), ms('2026-03-29T12:00:00Z')).map((o) => iso(o.start))).toEqual(['2026-03-29T01:30:00Z']);
  });
});
