import { describe, expect, it } from 'vitest';
import { findChangeKeys } from '../../../src/events/change-keys.ts';

describe('findChangeKeys', () => {
  it('finds ServiceNow numbers in any case and Jira keys as written, once each, in order', () => {
    expect(findChangeKeys('feature/chg0030001-retry', 'Fix ITSM-42 and CHG0030001', null, 'ITSM-42')).toEqual(['CHG0030001', 'ITSM-42']);
  });

  it('finds no key inside a longer word or number', () => {
    expect(findChangeKeys('XCHG0030001', 'sha ITSM-42a', 'abcITSM-4')).toEqual([]);
  });
});
