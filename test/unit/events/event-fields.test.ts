// How an event time is read where a source sends RFC 3339 (GitHub, Alertmanager,
// the generic source): the instant it names whatever the host's zone, and
// nothing for a time without a zone, a date alone, a number or a day that does
// not exist.

import { describe, expect, it } from 'vitest';
import { instant } from '../../../src/events/event-fields.ts';

describe('instant', () => {
  it('reads an RFC 3339 date-time with Z or an offset as its UTC instant', () => {
    expect(instant('2020-10-05T16:33:49Z')).toBe('2020-10-05T16:33:49.000Z');
    expect(instant('2021-08-22T06:47:54.913Z')).toBe('2021-08-22T06:47:54.913Z');
    expect(instant('2026-03-14T08:45:20.1234567Z')).toBe('2026-03-14T08:45:20.123Z');
    expect(instant('2026-03-12T04:30:00-05:30')).toBe('2026-03-12T10:00:00.000Z');
    expect(instant('2026-03-01T00:30:00+01:00')).toBe('2026-02-28T23:30:00.000Z');
    expect(instant('2024-02-29T00:00:00z')).toBe('2024-02-29T00:00:00.000Z');
    // Alertmanager's "not ended".
    expect(instant('0001-01-01T00:00:00Z')).toBe('0001-01-01T00:00:00.000Z');
  });

  it('reads nothing else: no zone, a date alone, a number, another format, a day or hour that does not exist', () => {
    const refused = ['2026-03-12T10:00:00', '2026-03-12', '12', 12, '2026-03-12 10:00:00Z', '2026-03-12T10:00:00+0100', '2026-03-12T10:00Z', 'Thu, 12 Mar 2026 10:00:00 GMT', ' 2026-03-12T10:00:00Z'];
    const impossible = ['2100-02-29T00:00:00Z', '2026-04-31T00:00:00Z', '2026-13-01T00:00:00Z', '2026-03-12T24:00:00Z', '2026-03-12T23:59:60Z', '2026-03-12T10:00:00+24:00'];
    const values = [...refused, ...impossible, null, undefined, ''];
    expect(values.map((value) => [value, instant(value)])).toEqual(values.map((value) => [value, null]));
  });
});
