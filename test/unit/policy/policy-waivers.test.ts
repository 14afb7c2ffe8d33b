// Waivers granted in the policy file: which change and gate they lift, and the
// load-time errors an ops team gets for one that could never apply.

import { describe, expect, it } from 'vitest';
import { ChangegateError } from '../../../src/errors.ts';
import { validateTransition } from '../../../src/policy/assess.ts';
import { parsePolicy, waiversFor, type Policy } from '../../../src/policy/policy-config.ts';
import { buildChange } from '../../support/change-builder.ts';
import { context, mirrored } from './policy-fixtures.ts';

const WAIVER = `waivers:
  - change: chg0030001
    gate: authorize.lead-time
    by: Dana Whitfield (change manager)
    reason: vendor hotfix must ship before the weekend
    until: "2026-03-07T18:00:00+01:00"
`;

function loadError(text: string): ChangegateError {
  try {
    parsePolicy(text, 'waivers.yaml');
  } catch (err) {
    if (err instanceof ChangegateError) return err;
    throw err;
  }
  throw new Error('the policy loaded');
}

describe('waivers in the policy file', () => {
  const policy: Policy = parsePolicy(`version: 1\n${WAIVER}`, 'waivers.yaml');

  it('apply to the change they name, by key in any case or by id, with the until normalised to UTC', () => {
    const change = buildChange({ key: 'CHG0030001' });
    const expected = [{ gate: 'authorize.lead-time', changeId: change.id, by: 'Dana Whitfield (change manager)', reason: 'vendor hotfix must ship before the weekend', until: '2026-03-07T17:00:00.000Z', grantedAt: null }];
    expect(waiversFor(policy, change)).toEqual(expected);
    const byId = parsePolicy(`version: 1\n${WAIVER.replace('chg0030001', change.id)}`, 'waivers.yaml');
    expect(waiversFor(byId, change)).toEqual(expected);
    expect(waiversFor(policy, buildChange({ key: 'CHG0030002' }))).toEqual([]);
  });

  it('apply only on the instance they name', () => {
    const scoped = parsePolicy(`version: 1\n${WAIVER.replace('    gate:', '    instance: sn-prod\n    gate:')}`, 'waivers.yaml');
    expect(waiversFor(scoped, buildChange({ key: 'CHG0030001', instance: 'sn-prod' }))).toHaveLength(1);
    expect(waiversFor(scoped, buildChange({ key: 'CHG0030001', instance: 'sn-test' }))).toEqual([]);
  });

  it('lift the gate until the instant, then it judges again, and change the policy version', () => {
    // Planned 23 h ahead: inside the 48 h lead time of a normal change.
    const mc = mirrored({ key: 'CHG0030001', plannedStart: '2026-03-07T09:00:00Z', plannedEnd: '2026-03-07T10:00:00Z' });
    const waivers = waiversFor(policy, mc.change);
    const before = validateTransition(mc, 'authorize', context('2026-03-06T10:00:00Z', { policy, waivers }));
    expect(before.allow).toBe(true);
    expect(before.conditions).toEqual([expect.stringMatching(/^authorize\.lead-time: waived by Dana Whitfield \(change manager\) until .*: vendor hotfix must ship before the weekend \(was: .*48 h lead time/)]);
    const after = validateTransition(mc, 'authorize', context('2026-03-07T17:00:00Z', { policy, waivers }));
    expect(after.allow).toBe(false);
    expect(policy.version).not.toBe(parsePolicy('version: 1\n', 'waivers.yaml').version);
  });

  it.each([
    [WAIVER.replace('authorize.lead-time', 'authorize.leadtime'), /waivers\.yaml:4:\d+ waivers\[0\]\.gate: unknown rule "authorize\.leadtime"; did you mean "authorize\.lead-time"\?/],
    [`rules:\n  authorize.lead-time: { waivable: false }\n${WAIVER}`, /waivers\.yaml:6:\d+ waivers\[0\]\.gate: rule "authorize\.lead-time" is not waivable/],
    [WAIVER.replace('"2026-03-07T18:00:00+01:00"', '"2026-03-07T18:00"'), /waivers\.yaml:7:\d+ waivers\[0\]\.until: expected an ISO-8601 instant with its zone/],
    [`${WAIVER}    grantedAt: "2026-03-08T00:00:00Z"\n`, /waivers\[0\]\.until: the waiver ends \(2026-03-07T17:00:00\.000Z\) before it is granted/],
    [WAIVER.replace('    reason: vendor hotfix must ship before the weekend\n', ''), /waivers\[0\]\.reason/],
  ])('refuses a waiver that could never apply, naming file, line and field (%#)', (body, message) => {
    const err = loadError(`version: 1\n${body}`);
    expect(err.code).toBe('CG_POLICY_INVALID');
    expect(err.message).toMatch(message);
  });

  it('refuses an until on a day the calendar does not have, rather than rolling it into the next month', () => {
    // 30 February read as 2 March would keep the gate lifted two days longer than anyone granted.
    const err = loadError(`version: 1\n${WAIVER.replace('"2026-03-07T18:00:00+01:00"', '"2026-02-30T18:00:00Z"')}`);
    expect(err.code).toBe('CG_POLICY_INVALID');
    expect(err.message).toMatch(/waivers\.yaml:7:\d+ waivers\[0\]\.until: expected an ISO-8601 instant with its zone/);
  });
});
