import { describe, expect, it } from 'vitest';
import { instantKey } from '../../src/store/instant-key.ts';

describe('instantKey', () => {
  it('gives one sortable form for the same instant at any precision or offset', () => {
    const forms = ['2026-03-02T09:00:05Z', '2026-03-02T09:00:05.000Z', '2026-03-02T10:00:05+01:00', '2026-03-02T09:00:05.0Z'];
    expect(new Set(forms.map(instantKey))).toEqual(new Set(['2026-03-02T09:00:05.000Z']));
  });

  it('sorts as time sorts, where the raw text would not', () => {
    const earlier = '2026-03-02T09:00:05Z';
    const later = '2026-03-02T09:00:05.500Z';
    expect(earlier > later).toBe(true);
    expect(instantKey(earlier) < instantKey(later)).toBe(true);
  });

  it('leaves text that is not an instant unchanged', () => {
    expect(instantKey('not a date')).toBe('not a date');
  });
});
