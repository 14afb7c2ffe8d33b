import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DEFAULT_SERVICENOW_MAPPING } from '../../connectors/servicenow/servicenow-mapping.ts';
import { validateYamlSource, type YamlSource } from '../../src/config/yaml-source.ts';
import { validateMappingFiles } from '../../src/mapping/validate-mappings.ts';
import { registry } from '../../src/app/registry.ts';
import { mappingKindsOf } from '../../src/mapping/mapping-kinds.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cg-mappings-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const defaultText = () => readFileSync(DEFAULT_SERVICENOW_MAPPING, 'utf8');
/** 1-based line of the first non-comment line containing `needle`. */
const lineOf = (text: string, needle: string) => text.split('\n').findIndex((line) => !line.trimStart().startsWith('#') && line.includes(needle)) + 1;

describe('validateMappingFiles', () => {
  it('accepts the shipped ServiceNow mapping', () => {
    expect(validateMappingFiles(DEFAULT_SERVICENOW_MAPPING, mappingKindsOf(registry))).toEqual([{ file: DEFAULT_SERVICENOW_MAPPING, ok: true, errors: [], warnings: [] }]);
  });

  it('accepts the shipped Jira mapping without warnings', () => {
    const jira = DEFAULT_SERVICENOW_MAPPING.replace('servicenow.default.yaml', 'jira.default.yaml');
    expect(validateMappingFiles(jira, mappingKindsOf(registry))).toEqual([{ file: jira, ok: true, errors: [], warnings: [] }]);
  });

  it('warns, naming the value and what to add, when a standard ServiceNow state is left out (sync would reject every change in it)', () => {
    const file = join(dir, 'servicenow.acme.yaml');
    const text = defaultText().replace(/^ {2}"-1": implement.*\n/m, '');
    writeFileSync(file, text);
    const [result] = validateMappingFiles(file, mappingKindsOf(registry));
    expect(result).toMatchObject({ ok: true, errors: [] });
    expect(result?.warnings).toEqual([
      `${file}:${lineOf(text, '"-5": new')}:3 states: the standard state "-1" (Implement, an out-of-box ServiceNow change state) is not mapped, so sync rejects every change in it (CG_MAPPING_UNKNOWN_VALUE); add \`"-1": implement\` (or the canonical state your site means by it)`,
    ]);
  });

  it('warns when a status of the JSM change workflow is left out', () => {
    const file = join(dir, 'jira.acme.yaml');
    const text = readFileSync(DEFAULT_SERVICENOW_MAPPING.replace('servicenow.default.yaml', 'jira.default.yaml'), 'utf8').replace(/^ {2}Peer review: review\n/m, '');
    writeFileSync(file, text);
    const [result] = validateMappingFiles(file, mappingKindsOf(registry));
    expect(result?.ok).toBe(true);
    expect(result?.warnings).toHaveLength(1);
    expect(result?.warnings[0]).toContain('statuses: the standard state "Peer review" (Peer review, a status of the JSM change workflow) is not mapped');
  });

  it('checks every yaml file of a directory and reports each mistake as file:line:col path: message, in file order', () => {
    copyFileSync(DEFAULT_SERVICENOW_MAPPING, join(dir, 'a-good.yaml'));
    const text = defaultText()
      .replace('classes: [change_request]', 'clases: [change_request]')
      .replace('  cabRequired: cab_required', '  cabRequired: [cab_required]')
      .replace('"0": review', '"0": reviewed');
    const bad = join(dir, 'b-bad.yml');
    writeFileSync(bad, text);
    writeFileSync(join(dir, 'notes.md'), 'not a mapping');

    const results = validateMappingFiles(dir, mappingKindsOf(registry));
    expect(results.map((r) => [r.file, r.ok])).toEqual([
      [join(dir, 'a-good.yaml'), true],
      [bad, false],
    ]);
    expect(results[1]?.errors).toEqual([
      `${bad}:${lineOf(text, 'clases:')}:9 clases: unknown key "clases"; did you mean "classes"?`,
      `${bad}:${lineOf(text, '"0": reviewed')}:8 states.0: expected one of new, assess, authorize, scheduled, implement, review, closed, canceled, failed (got "reviewed")`,
      `${bad}:${lineOf(text, 'cabRequired:')}:16 fields.cabRequired: expected a ServiceNow field name`,
    ]);
  });

  it('reports every key given twice in a map, with the line of the first, beside the other mistakes (a state mapped to two canonical states)', () => {
    const file = join(dir, 'servicenow.acme.yaml');
    const text = defaultText()
      .replace('  "-4": assess       # Assess\n', '  "-4": assess       # Assess\n  "-4": authorize\n')
      // Unquoted, -2 is a number, yet it names the same ServiceNow value as "-2".
      .replace('  "-2": scheduled    # Scheduled\n', '  "-2": scheduled    # Scheduled\n  -2: implement\n')
      .replace('  title: short_description', '  title: short_description\n  asignee: assigned_to');
    writeFileSync(file, text);
    const [result] = validateMappingFiles(file, mappingKindsOf(registry));
    expect(result?.ok).toBe(false);
    expect(result?.errors).toEqual([
      `${file}:${lineOf(text, '"-4": authorize')}:3 states.-4: duplicate key "-4", already on line ${lineOf(text, '"-4": assess')}; a key may appear once in a map, remove one`,
      `${file}:${lineOf(text, '-2: implement')}:3 states.-2: duplicate key "-2", already on line ${lineOf(text, '"-2": scheduled')}; a key may appear once in a map, remove one`,
      `${file}:${lineOf(text, 'asignee:')}:12 fields.asignee: unknown key "asignee"; did you mean "assignee"?`,
    ]);
  });

  it('names a level field that has no levels table', () => {
    const file = join(dir, 'sn.yaml');
    const text = defaultText().replace('  probability: null', '  probability: u_probability');
    writeFileSync(file, text);
    expect(validateMappingFiles(file, mappingKindsOf(registry))[0]?.errors).toEqual([
      `${file}:${lineOf(text, 'probability: u_probability')}:16 fields.probability: u_probability has no levels.u_probability table; add one mapping its native values to very_high, high, medium, low`,
    ]);
  });

  it('reports an unknown or missing kind and a YAML syntax error with the line', () => {
    writeFileSync(join(dir, 'a.yaml'), '# acme\nkind: jira-mapp\nversion: 1\n');
    writeFileSync(join(dir, 'b.yaml'), 'version: 1\n');
    writeFileSync(join(dir, 'c.yaml'), 'kind: servicenow-mapping\nstates: {\n');
    const [unknown, missing, syntax] = validateMappingFiles(dir, mappingKindsOf(registry));
    expect(unknown?.errors).toEqual([`${join(dir, 'a.yaml')}:2:7 kind: unknown kind "jira-mapp"; expected one of jira-mapping, policy, servicenow-mapping, services-mapping`]);
    expect(missing?.errors[0]).toMatch(/b\.yaml:1:1 kind: missing/);
    expect(syntax?.ok).toBe(false);
    expect(syntax?.errors[0]).toMatch(/c\.yaml:\d+:\d+ \(root\): invalid YAML/);
  });

  it('validates any kind it is handed', () => {
    const Calendar = z.object({ kind: z.literal('calendar'), freezes: z.array(z.object({ from: z.iso.date(), to: z.iso.date() }).strict()) }).strict();
    const kinds = [...mappingKindsOf(registry), { kind: 'calendar', validate: (source: YamlSource) => validateYamlSource(source, Calendar, 'CG_MAPPING_INVALID') }];
    writeFileSync(join(dir, 'ok.yaml'), 'kind: calendar\nfreezes:\n  - { from: 2026-12-20, to: 2027-01-04 }\n');
    writeFileSync(join(dir, 'wrong.yaml'), 'kind: calendar\nfreezes:\n  - { from: 2026-12-20, to: soon }\n');
    const [ok, wrong] = validateMappingFiles(dir, kinds);
    expect(ok).toMatchObject({ ok: true, errors: [] });
    expect(wrong?.errors).toHaveLength(1);
    expect(wrong?.errors[0]).toMatch(new RegExp(`^${join(dir, 'wrong.yaml')}:3:\\d+ freezes\\[0\\]\\.to: `));
  });

  it('reports a path that does not exist instead of throwing', () => {
    const missing = join(dir, 'nope');
    expect(validateMappingFiles(missing, mappingKindsOf(registry))).toEqual([{ file: missing, ok: false, errors: [`${missing}:1:1 (root): cannot read (ENOENT)`], warnings: [] }]);
  });
});
