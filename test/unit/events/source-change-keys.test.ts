import { describe, expect, it } from 'vitest';
import { extractChangeKeys } from '../../../src/events/sources/change-keys.ts';

describe('change keys in commit messages, branches and titles', () => {
  it('finds ServiceNow and Jira keys in order of appearance, once each', () => {
    expect(extractChangeKeys('feature/ITSM-42-timeout', 'Fix timeout\n\nRefs CHG0030001, ITSM-42 and OPS_2-7')).toEqual(['ITSM-42', 'CHG0030001', 'OPS_2-7']);
  });

  it('normalises a lower-case ServiceNow number and accepts longer numbering', () => {
    expect(extractChangeKeys('hotfix/chg0030001', 'CHG12345678')).toEqual(['CHG0030001', 'CHG12345678']);
  });

  it('does not take versions, encodings, short numbers or embedded tokens for keys', () => {
    expect(extractChangeKeys('UTF-8 SHA-256 ISO-8601 CVE-2024-1234 CHG123456 XCHG0030001 ITSM-0 itsm-42 build-7 ABCITSM-42x')).toEqual([]);
  });

  it('skips nulls and non-strings', () => {
    expect(extractChangeKeys(null, undefined, 42, { text: 'ITSM-1' }, 'ITSM-1')).toEqual(['ITSM-1']);
  });
});
