// Freeze and maintenance windows in their own time zones: across midnight and
// across both daylight-saving changes, plus the two scheduling conflicts.

import { describe, expect, it } from 'vitest';
import { activeWindows, conflicts, occurrences, overlaps, type Calendar, type OnceWindow, type RecurringWindow } from '../../../src/policy/calendar.ts';
import { parseCron } from '../../../src/policy/cron-spec.ts';
import { buildChange } from '../../support/change-builder.ts';

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
const span = (o: { start: number; end: number }) => [iso(o.start), iso(o.end)];
const ms = (text: string) => Date.parse(text);

function weekly(overrides: Partial<RecurringWindow> = {}): RecurringWindow {
  return {
    id: 'sat-night',
    name: 'Saturday night',
    kind: 'freeze',
    timeZone: 'Europe/Berlin',
    services: [],
    schedule: 'recurring',
    days: ['sat'],
    start: '22:00',
    cron: null,
    end: '02:00',
    durationMs: null,
    validFrom: null,
    validUntil: null,
    ...overrides,
  };
}

const once = (overrides: Partial<OnceWindow> = {}): OnceWindow => ({
  id: 'us-freeze',
  name: 'US freeze',
  kind: 'freeze',
  timeZone: 'America/New_York',
  services: [],
  schedule: 'once',
  start: '2026-03-07T00:00',
  end: '2026-03-09T00:00',
  ...overrides,
});

const freeze = (services: string[]): Calendar => ({
  windows: [{ id: 'q1', name: 'Quarter close', kind: 'freeze', timeZone: 'UTC', services, schedule: 'once', start: '2026-03-10T23:00', end: '2026-03-11T06:00' }],
});

const other = (o: Parameters<typeof buildChange>[0]) => buildChange({ nativeId: String(o?.key), plannedStart: '2026-03-10T23:00:00Z', plannedEnd: '2026-03-11T00:30:00Z', ...o });

describe('recurring windows in Europe/Berlin', () => {
  it('runs Saturday 22:00 to Sunday 02:00 local, an hour earlier in UTC once summer time starts', () => {
    const found = occurrences(weekly(), ms('2026-03-21T00:00:00Z'), ms('2026-04-06T00:00:00Z')).map(span);
    expect(found).toEqual([
      ['2026-03-21T21:00:00Z', '2026-03-22T01:00:00Z'], // CET
      ['2026-03-28T21:00:00Z', '2026-03-29T01:00:00Z'], // 02:00 on 29 March does not exist: the clock jumps to 03:00 CEST = 01:00Z
      ['2026-04-04T20:00:00Z', '2026-04-05T00:00:00Z'], // CEST
    ]);
  });

  it('keeps the repeated hour inside the window when summer time ends', () => {
    const [october] = occurrences(weekly(), ms('2026-10-24T00:00:00Z'), ms('2026-10-26T00:00:00Z'));
    // 22:00 CEST = 20:00Z; 02:00 happens twice, the window ends at the later one (02:00 CET = 01:00Z).
    expect(october && span(october)).toEqual(['2026-10-24T20:00:00Z', '2026-10-25T01:00:00Z']);
    const calendar: Calendar = { windows: [weekly()] };
    const change = buildChange();
    expect(activeWindows(change, calendar, 'freeze', ms('2026-10-25T00:30:00Z'))).toHaveLength(1); // 02:30 CEST
    expect(activeWindows(change, calendar, 'freeze', ms('2026-10-25T01:00:00Z'))).toHaveLength(0); // 02:00 CET, the end
    const [next] = occurrences(weekly(), ms('2026-10-31T00:00:00Z'), ms('2026-11-02T00:00:00Z'));
    expect(next && span(next)).toEqual(['2026-10-31T21:00:00Z', '2026-11-01T01:00:00Z']);
  });

  it('finds the Saturday occurrence from an instant early on Sunday (across midnight)', () => {
    const calendar: Calendar = { windows: [weekly()] };
    const sundayNight = ms('2026-03-22T00:30:00Z'); // 01:30 CET on Sunday
    expect(activeWindows(buildChange(), calendar, 'freeze', sundayNight).map(span)).toEqual([['2026-03-21T21:00:00Z', '2026-03-22T01:00:00Z']]);
    expect(activeWindows(buildChange(), calendar, 'freeze', ms('2026-03-22T01:00:00Z'))).toEqual([]);
  });

  it('measures a duration in elapsed time, unlike a wall-clock end', () => {
    const cron = weekly({ days: null, start: null, cron: '0 22 * * sat', end: null, durationMs: 4 * 3_600_000 });
    const [october] = occurrences(cron, ms('2026-10-24T00:00:00Z'), ms('2026-10-26T00:00:00Z'));
    expect(october && span(october)).toEqual(['2026-10-24T20:00:00Z', '2026-10-25T00:00:00Z']);
  });

  it('moves a start inside the spring-forward gap to after it', () => {
    const gap = weekly({ days: ['sun'], start: '02:30', end: '04:00' });
    const [found] = occurrences(gap, ms('2026-03-29T00:00:00Z'), ms('2026-03-29T12:00:00Z'));
    expect(found && span(found)).toEqual(['2026-03-29T01:30:00Z', '2026-03-29T02:00:00Z']); // 03:30 – 04:00 CEST
  });

  it('honours validFrom and validUntil as local dates', () => {
    const bounded = weekly({ validFrom: '2026-03-28', validUntil: '2026-04-04' });
    expect(occurrences(bounded, ms('2026-03-01T00:00:00Z'), ms('2026-05-01T00:00:00Z')).map((o) => iso(o.start))).toEqual(['2026-03-28T21:00:00Z', '2026-04-04T20:00:00Z']);
  });
});

describe('one-off windows', () => {

  it('reads local start and end in the window’s zone, across the US change to summer time', () => {
    const [found] = occurrences(once(), ms('2026-03-01T00:00:00Z'), ms('2026-04-01T00:00:00Z'));
    expect(found && span(found)).toEqual(['2026-03-07T05:00:00Z', '2026-03-09T04:00:00Z']);
  });

  it('takes instants with an offset as they are', () => {
    const [found] = occurrences(once({ start: '2026-03-07T00:00:00+01:00', end: '2026-03-07T06:00:00Z' }), 0, ms('2027-01-01T00:00:00Z'));
    expect(found && span(found)).toEqual(['2026-03-06T23:00:00Z', '2026-03-07T06:00:00Z']);
  });
});

describe('conflicts and overlaps', () => {

  it('reports a freeze on the change’s service that overlaps the planned window, by name or id, any case', () => {
    expect(conflicts(buildChange(), freeze(['PAYMENTS API'])).map((o) => o.windowId)).toEqual(['q1']);
    expect(conflicts(buildChange(), freeze(['b0c25d1bc0a800090168be1bfcdcd759'])).map((o) => o.windowId)).toEqual(['q1']);
    expect(conflicts(buildChange(), freeze(['Billing']))).toEqual([]);
    expect(conflicts(buildChange({ plannedEnd: '2026-03-10T23:00:00Z' }), freeze([]))).toEqual([]); // touching is not overlapping
  });

  it('reports other live changes on a shared service or CI whose windows overlap', () => {
    const found = overlaps(buildChange(), [
      other({ key: 'CHG0030003', cis: [], services: [{ id: 'x', name: 'payments api' }] }),
      other({ key: 'CHG0030002', services: [], cis: [{ id: 'b0c25d1bc0a800090168be1bfcdcd759', name: 'pay-gw-cluster-01' }] }),
      other({ key: 'CHG0030004', state: 'closed' }),
      other({ key: 'CHG0030005', plannedStart: '2026-03-11T00:00:00Z', services: [{ id: 'y', name: 'Billing' }], cis: [] }),
    ]);
    expect(found.map((o) => [o.key, o.shared])).toEqual([
      ['CHG0030002', ['pay-gw-cluster-01']],
      ['CHG0030003', ['payments api']],
    ]);
  });
});

describe('cron expressions', () => {
  it('parses names, ranges, lists and steps', () => {
    const spec = parseCron('*/30 22-23 * jan,dec mon-fri');
    expect(spec.minutes).toEqual([0, 30]);
    expect(spec.hours).toEqual([22, 23]);
    expect([...spec.months]).toEqual([1, 12]);
    expect([...spec.weekdays]).toEqual([1, 2, 3, 4, 5]);
  });

  it.each([
    ['0 22 * *', /expected 5 fields/],
    ['60 22 * * *', /minute: 60 is outside 0-59/],
    ['0 22 * * funday', /day of week: "funday" is not a number/],
    ['0 23-22 * * *', /hour: range 23-22 runs backwards/],
  ])('rejects %s', (expression, message) => {
    expect(() => parseCron(expression)).toThrow(message);
  });
});
