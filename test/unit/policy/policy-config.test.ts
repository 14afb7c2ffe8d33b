// Loading policy files: the shipped default, overrides by instance, type and
// service, custom CEL rules, the version recorded in assessments, and errors
// that name file, line and rule.

import { describe, expect, it } from 'vitest';
import { ChangegateError } from '../../../src/errors.ts';
import { validateMappingFiles } from '../../../src/mapping/validate-mappings.ts';
import { evaluateState } from '../../../src/policy/assess.ts';
import { DEFAULT_POLICY_FILE, loadPolicy, parsePolicy, resolveRules, type Policy } from '../../../src/policy/policy-config.ts';
import { buildChange } from '../../support/change-builder.ts';
import { approved, context, DEFAULT_POLICY, gate, mirrored } from './policy-fixtures.ts';
import { registry } from '../../../src/app/registry.ts';
import { mappingKindsOf } from '../../../src/mapping/mapping-kinds.ts';

const FIXTURES = 'test/fixtures/policy';
const custom = loadPolicy(`${FIXTURES}/custom-and-overrides.yaml`);

function policyError(load: () => Policy): ChangegateError {
  try {
    load();
  } catch (err) {
    if (err instanceof ChangegateError) return err;
    throw err;
  }
  throw new Error('the policy loaded');
}

describe('the default policy', () => {
  it('loads from mappings/policy.default.yaml with a version and content hash', () => {
    expect(DEFAULT_POLICY.file).toBe(DEFAULT_POLICY_FILE);
    expect(DEFAULT_POLICY.version).toMatch(/^2026\.1\+[0-9a-f]{8}$/);
  });

  it('spells out exactly the built-in defaults, so an empty policy means the same', () => {
    const bare = parsePolicy('version: "2026.1"\n', 'bare.yaml');
    for (const change of [buildChange(), buildChange({ type: 'standard' }), buildChange({ type: 'emergency' }), buildChange({ risk: { impact: 'high', probability: null, level: null } })]) {
      expect(resolveRules(bare, change, 'major')).toEqual(resolveRules(DEFAULT_POLICY, change, 'major'));
    }
    const { version: _a, file: _b, rules: _r, overrides: fileOverrides, ...defaults } = DEFAULT_POLICY;
    const { version: _c, file: _d, rules: _s, overrides: bareOverrides, ...built } = bare;
    expect(built).toEqual(defaults);
    // The one thing the file adds: its per-system override for JSM's single approval step (mappings/README.md says so).
    expect(bareOverrides).toEqual([]);
    expect(fileOverrides.map((o) => o.match)).toEqual([{ system: 'jira', classification: 'emergency' }]);
  });

  it('keeps the version when only comments or layout change, and moves it when a value does', () => {
    const text = 'version: 3\nrules:\n  implement.window: { graceMinutes: 10 }\n';
    const same = parsePolicy(`# tuned for acme\n${text.replace('{ graceMinutes: 10 }', '\n    graceMinutes: 10')}`, 'b.yaml');
    const other = parsePolicy(text.replace('10', '20'), 'c.yaml');
    expect(same.version).toBe(parsePolicy(text, 'a.yaml').version);
    expect(other.version).not.toBe(same.version);
    expect(other.version.startsWith('3+')).toBe(true);
  });
});

const leadTime = (overrides: Parameters<typeof buildChange>[0]) => resolveRules(custom, buildChange(overrides), 'minor').builtIn['authorize.lead-time'].leadTime;

describe('overrides', () => {
  it('apply the most specific match last: instance + service over service over the file’s rules', () => {
    expect(leadTime({})).toEqual({ standard: 0, normal: 96 * 3_600_000, emergency: 0 });
    expect(leadTime({ instance: 'sn-test' }).normal).toBe(72 * 3_600_000);
    expect(leadTime({ services: [{ id: 'b1', name: 'Billing' }], cis: [] }).normal).toBe(24 * 3_600_000);
  });

  it('switch rules off per type and per policy', () => {
    const emergency = evaluateState(mirrored({ type: 'emergency' }), 'implement', context('2026-03-13T10:00:00Z', { policy: custom }));
    expect(emergency.map((g) => g.id)).not.toContain('custom.no-friday-deploys');
    const closing = evaluateState(mirrored(), 'closed', context('2026-03-13T10:00:00Z', { policy: custom }));
    expect(closing.map((g) => g.id)).not.toContain('closed.tasks');
    expect(closing.map((g) => g.id)).toContain('closed.close-fields');
  });

  it('reads the calendar the file declares', () => {
    expect(custom.calendar.windows.map((w) => [w.id, w.kind, w.schedule])).toEqual([
      ['year-end', 'freeze', 'once'],
      ['sat-night', 'maintenance', 'recurring'],
    ]);
  });
});

describe('custom CEL rules', () => {
  it('fail with their message when the expression is false, and pass when true', () => {
    const friday = gate('custom.no-friday-deploys', mirrored(), context('2026-03-13T10:00:00Z', { policy: custom }));
    expect(friday).toMatchObject({ into: 'implement', result: 'fail', reason: 'no production changes on Fridays (Berlin time)' });
    expect(gate('custom.no-friday-deploys', mirrored(), context('2026-03-12T10:00:00Z', { policy: custom })).result).toBe('pass');
  });

  it('read the change with its approvals', () => {
    const hot = { risk: { impact: 'very_high', probability: 'low', level: 'high' } } as const;
    const at = context('2026-03-09T10:00:00Z', { policy: custom });
    expect(gate('custom.two-approvers-for-very-high', mirrored(hot, { approvals: [approved('CAB')] }), at)).toMatchObject({ result: 'fail', reason: 'very high impact changes need two approvals' });
    expect(gate('custom.two-approvers-for-very-high', mirrored(hot, { approvals: [approved('CAB'), approved('CAB', { id: 'second' })] }), at).result).toBe('pass');
  });

  it('fail closed, saying why, when the expression cannot be evaluated', () => {
    const at = context('2026-03-09T10:00:00Z', { policy: custom });
    expect(gate('custom.pci-ticket', mirrored(), at)).toMatchObject({ result: 'fail', reason: expect.stringMatching(/^PCI-scoped changes reference their PCI ticket \(rule custom.pci-ticket could not be evaluated: .*u_pci_ticket/) });
    expect(gate('custom.pci-ticket', mirrored({ custom: { u_pci_ticket: 'PCI-42' } }), at).result).toBe('pass');
  });
});

describe('invalid policy files', () => {
  it.each([
    ['unknown-rule.yaml', /unknown-rule\.yaml:5:3 rules\.authorize\.leadtime: unknown rule "authorize\.leadtime"; did you mean "authorize\.lead-time"\?/, 5],
    ['bad-cel.yaml', /bad-cel\.yaml:9:11 custom\[1\]\.expr: rule "custom\.broken": expression does not compile/, 9],
    ['bad-yaml.yaml', /bad-yaml\.yaml:5:3: invalid YAML/, 5],
    // The first problem in line order.
    ['bad-values.yaml', /bad-values\.yaml:4:19 rules\.implement\.window\.graceMinutes: rule "implement\.window": must be at least 0/, 4],
  ])('%s fails at load with CG_POLICY_INVALID naming file, line and rule', (file, message, line) => {
    const err = policyError(() => loadPolicy(`${FIXTURES}/${file}`));
    expect(err.code).toBe('CG_POLICY_INVALID');
    expect(err.kind).toBe('config');
    expect(err.message).toMatch(message);
    expect(err.details).toMatchObject({ file: `${FIXTURES}/${file}`, line });
  });

  it('lists every problem of a file at once, in line order and plain words', () => {
    const lines = policyError(() => loadPolicy(`${FIXTURES}/bad-values.yaml`)).details['issues'] as string[];
    expect(lines.map((l) => l.replace(/^.*?yaml:/, ''))).toEqual([
      '4:19 rules.implement.window.graceMinutes: rule "implement.window": must be at least 0, got -5',
      '6:25 rules.closed.hypercare.durations.major: rule "closed.hypercare": expected a duration such as 30m, 4h or 3d',
      '8:33 rules.scheduled.approvals.major.grups: rule "scheduled.approvals": unknown parameter "grups"',
      '12:15 calendar[0].timeZone: not an IANA time zone (e.g. Europe/Berlin, UTC)',
      '18:11 calendar[1].cron: invalid cron: hour: 25 is outside 0-23',
      '23:25 overrides[0].rules.review.smoketest: unknown rule "review.smoketest"; did you mean "review.smoke-test"?',
    ]);
  });

  it.each([
    ['custom:\n  - { id: custom.count, into: implement, expr: "size(events.ci)", message: m }\n', /custom\[0\]\.expr: rule "custom\.count": expression must yield a bool, not int/],
    ['custom:\n  - { id: custom.ghost, into: review, expr: "ghost == 1", message: m }\n', /custom\[0\]\.expr: rule "custom\.ghost": expression does not compile/],
    ['custom:\n  - { id: implement.window, into: implement, expr: "true", message: m }\n', /custom\[0\]\.id: rule "implement\.window" is a built-in rule id/],
    ['custom:\n  - { id: custom.a, into: new, expr: "true", message: m }\n', /custom\[0\]\.into: no gate guards the way back to new/],
    ['calendar:\n  - { id: w, kind: freeze, timeZone: UTC, days: [sat], start: "22:00" }\n', /calendar\[0\]\.end: a recurring window needs either end \(HH:MM\) or duration/],
    ['overrides:\n  - { match: {}, rules: {} }\n', /overrides\[0\]\.match: match needs at least one of system, instance, type, service, classification/],
    ['rules:\n  implement.window: { graceMinutes: 5 }\n  bogus: 1\n', /inline\.yaml:4:\d+ rules\.bogus/],
    // 31 April is not 1 May: a freeze must not silently start a day late.
    ['calendar:\n  - { id: w, kind: freeze, timeZone: UTC, start: "2026-04-31T00:00:00Z", end: "2026-05-04T00:00:00Z" }\n', /calendar\[0\]\.start: a one-off window needs start as/],
    // A recurring freeze that can never be in force would load and never block anything.
    ['calendar:\n  - { id: w, kind: freeze, timeZone: UTC, days: [sat], start: "22:00", end: "02:00", validFrom: "2027-01-01", validUntil: "2026-12-31" }\n', /inline\.yaml:3:\d+ calendar\[0\]\.validUntil: validUntil 2026-12-31 is before validFrom 2027-01-01/],
    ['calendar:\n  - { id: w, kind: freeze, timeZone: UTC, days: [sat], start: "22:00", duration: 0m }\n', /calendar\[0\]\.duration: a window needs a duration above zero/],
    // Named where it is written: this window has no duration.
    ['calendar:\n  - { id: w, kind: freeze, timeZone: UTC, start: "2026-12-19T00:00", end: "2027-01-04T00:00", validUntil: "2026-12-31" }\n', /calendar\[0\]\.validUntil: duration, validFrom and validUntil apply to recurring windows/],
  ])('rejects %j', (body, message) => {
    const err = policyError(() => parsePolicy(`version: 1\n${body}`, 'inline.yaml'));
    expect(err.code).toBe('CG_POLICY_INVALID');
    expect(err.message).toMatch(message);
  });

  it('says which file it could not read', () => {
    const err = policyError(() => loadPolicy(`${FIXTURES}/absent.yaml`));
    expect(err.message).toMatch(/absent\.yaml: cannot read policy file \(ENOENT\)/);
  });
});

describe('changegate mappings validate', () => {
  it('accepts the shipped policy and reports a broken one by file, line and rule', () => {
    expect(validateMappingFiles(DEFAULT_POLICY_FILE, mappingKindsOf(registry))).toEqual([{ file: DEFAULT_POLICY_FILE, ok: true, errors: [], warnings: [] }]);
    const file = `${FIXTURES}/mappings-dir/policy.acme.yaml`;
    expect(validateMappingFiles(`${FIXTURES}/mappings-dir`, mappingKindsOf(registry))).toEqual([
      { file, ok: false, errors: [`${file}:7:36 rules.closed.hypercare.durations.minor: rule "closed.hypercare": expected a duration such as 30m, 4h or 3d`], warnings: [] },
    ]);
  });

  it('refuses an override matching a system this build does not have, which would never apply', () => {
    const file = `${FIXTURES}/unknown-system.yaml`;
    expect(validateMappingFiles(file, mappingKindsOf(registry))).toEqual([
      { file, ok: false, errors: [`${file}:5:22 overrides[0].match.system: unknown system "JSM"; the systems are servicenow and jira`], warnings: [] },
    ]);
    const err = policyError(() => loadPolicy(file, { systems: registry.systems }));
    expect(err.code).toBe('CG_POLICY_INVALID');
    expect(err.message).toContain('overrides[0].match.system: unknown system "JSM"');
  });
});
