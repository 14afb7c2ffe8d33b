// The verdict as the ServiceNow business rule reads it: the native states a
// change may move to, one line per blocked move, and a reasons field that never
// outgrows its column (4,000 characters), cut with an ellipsis.

import { describe, expect, it } from 'vitest';
import { loadServiceNowMapping } from '../../connectors/servicenow/servicenow-mapping.ts';
import { verdictFields, VERDICT_FIELDS } from '../../connectors/servicenow/servicenow-writer.ts';
import type { TicketVerdict } from '../../src/kit/connector.ts';

const mapping = loadServiceNowMapping();

function verdict(reasons: string[]): TicketVerdict {
  return {
    verdict: 'blocked',
    state: 'authorize',
    transitions: [
      { to: 'scheduled', toName: 'Scheduled', gates: ['scheduled.approvals'], allowed: false, reasons },
      { to: 'canceled', toName: 'Canceled', gates: [], allowed: true, reasons: [] },
    ],
    reasons: ['The record is missing a test plan — required while in Authorize, and not met now.', 'Scheduled is blocked.'],
    breaches: ['The record is missing a test plan'],
    policyVersion: '2026.1+abc',
    assessedAt: '2026-03-02T09:00:00.000Z',
  };
}

describe('verdict fields', () => {
  it('lists the allowed native states and one line per blocked move, then the current state\'s failing checks', () => {
    const fields = verdictFields(verdict(['no CAB approval', 'lead time too short']), mapping);
    expect(fields[VERDICT_FIELDS.allowed]).toBe('4');
    expect(fields[VERDICT_FIELDS.reasons]).toBe('-2 (Scheduled): no CAB approval; lead time too short\nNot met now: The record is missing a test plan');
    expect(fields[VERDICT_FIELDS.assessedAt]).toBe('2026-03-02 09:00:00');
  });

  it('cuts the reasons at 4,000 characters with an ellipsis, and leaves a field that fits alone', () => {
    const long = verdictFields(verdict(['x'.repeat(5000)]), mapping)[VERDICT_FIELDS.reasons] as string;
    expect(long).toHaveLength(4000);
    expect(long.endsWith('x…')).toBe(true);
    const prefix = '-2 (Scheduled): ';
    const fits = 'y'.repeat(4000 - prefix.length - '\nNot met now: The record is missing a test plan'.length);
    expect(verdictFields(verdict([fits]), mapping)[VERDICT_FIELDS.reasons]).toHaveLength(4000);
    expect((verdictFields(verdict([fits]), mapping)[VERDICT_FIELDS.reasons] as string).endsWith('test plan')).toBe(true);
  });

  it('writes a verdict queued by an older release (no site names, no breaches) with the canonical labels', () => {
    const { breaches: _b, ...old } = verdict(['no CAB approval']);
    const queued: TicketVerdict = { ...old, transitions: old.transitions.map(({ toName: _n, gates: _g, ...t }) => t) };
    expect(verdictFields(queued, mapping)[VERDICT_FIELDS.reasons]).toBe('-2 (Scheduled): no CAB approval');
  });
});
