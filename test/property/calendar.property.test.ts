// Properties of wall-clock conversion and window occurrences in real zones,
// including every daylight-saving change between 2024 and 2030.

import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { occurrences, type RecurringWindow } from '../../src/policy/calendar.ts';
import { WEEKDAYS } from '../../src/policy/cron-spec.ts';
import { fromWall, toWall } from '../../src/policy/zoned-time.ts';

const ZONES = ['Europe/Berlin', 'America/New_York', 'Australia/Sydney', 'Asia/Kolkata', 'UTC', 'America/St_Johns', 'Pacific/Chatham'];
const zone = fc.constantFrom(...ZONES);
const minuteInstant = fc.integer({ min: Date.parse('2024-01-01T00:00:00Z') / 60_000, max: Date.parse('2030-12-31T00:00:00Z') / 60_000 }).map((m) => m * 60_000);

describe('zoned time', () => {
  it('maps an instant to a wall time that maps back to the same instant (earlier or later reading)', () => {
    fc.assert(
      fc.property(minuteInstant, zone, (t, tz) => {
        const wall = toWall(t, tz);
        expect([fromWall(wall, tz, 'earlier'), fromWall(wall, tz, 'later')]).toContain(t);
      }),
      { numRuns: 2000 },
    );
  });

  it('never produces a weekly occurrence that starts anywhere but on its day and time, locally', () => {
    fc.assert(
      fc.property(minuteInstant, zone, fc.constantFrom(...WEEKDAYS), fc.integer({ min: 0, max: 23 }), (t, tz, day, hour) => {
        const window: RecurringWindow = {
          id: 'w', name: 'w', kind: 'freeze', timeZone: tz, services: [], schedule: 'recurring',
          days: [day], start: `${String(hour).padStart(2, '0')}:30`, cron: null, end: null, durationMs: 2 * 3_600_000, validFrom: null, validUntil: null,
        };
        const found = occurrences(window, t, t + 15 * 86_400_000);
        expect(found.length).toBeGreaterThanOrEqual(2);
        for (const o of found) {
          const wall = toWall(o.start, tz);
          const weekday = new Date(Date.UTC(wall.year, wall.month - 1, wall.day)).getUTCDay();
          expect(WEEKDAYS[weekday]).toBe(day);
          // A start inside a spring-forward gap moves forward by the gap (an hour in these zones); otherwise it is exact.
          expect([0, 60]).toContain(wall.hour * 60 + wall.minute - (hour * 60 + 30));
          expect(o.end - o.start).toBe(2 * 3_600_000);
          expect(o.end > t && o.start < t + 15 * 86_400_000).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});
