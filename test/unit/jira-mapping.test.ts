import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { adfToPlainText } from '../../connectors/jira/adf-text.ts';
import { resolveFieldRefs } from '../../connectors/jira/jira-fields.ts';
import { flagOf, optionOf, refOf, textListOf, textOf } from '../../connectors/jira/jira-field-value.ts';
import { mapJiraIssue, type JiraMapContext } from '../../connectors/jira/jira-issue-mapper.ts';
import { DEFAULT_JIRA_MAPPING, loadJiraMapping } from '../../connectors/jira/jira-mapping.ts';
import type { FieldInfo } from '../../connectors/jira/jira-client.ts';
import { isChangegateError } from '../../src/errors.ts';
import { validateMappingFiles } from '../../src/mapping/validate-mappings.ts';
import { registry } from '../../src/app/registry.ts';
import { mappingKindsOf } from '../../src/mapping/mapping-kinds.ts';

const field = (id: string, name: string, extra: Partial<FieldInfo> = {}): FieldInfo => ({ id, name, untranslatedName: null, custom: id.startsWith('customfield_'), schemaType: null, ...extra });

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to throw');
}

describe('jira-mapping files', () => {
  it('is a kind `mappings validate` knows through the registry, and the shipped default passes', () => {
    expect(mappingKindsOf(registry).map((k) => k.kind)).toContain('jira-mapping');
    expect(validateMappingFiles(DEFAULT_JIRA_MAPPING, mappingKindsOf(registry))).toEqual([{ file: DEFAULT_JIRA_MAPPING, ok: true, errors: [], warnings: [] }]);
  });

  it('names file, line and path of each mistake in an edited copy', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cg-jira-map-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'jira.acme.yaml');
    const text = readFileSync(DEFAULT_JIRA_MAPPING, 'utf8')
      .replace('  Implementing: implement', '  Implementing: implementing')
      .replace('  riskLevel: Change risk', '  riskLevel: Risk score')
      .replace('  testPlan: Test plan', '  testPlan: Test plan\n  tstPlan: Test plan');
    writeFileSync(file, text);
    const [result] = validateMappingFiles(file, mappingKindsOf(registry));
    expect(result?.ok).toBe(false);
    const lines = result?.errors ?? [];
    const lineOf = (needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;
    expect(lines).toEqual([
      expect.stringMatching(new RegExp(`^${file}:${lineOf('Implementing: implementing')}:\\d+ statuses\\.Implementing: expected one of new, assess`)),
      expect.stringMatching(new RegExp(`^${file}:${lineOf('riskLevel: Risk score')}:\\d+ fields\\.riskLevel: "Risk score" has no levels\\."Risk score" table`)),
      expect.stringMatching(new RegExp(`^${file}:${lineOf('tstPlan')}:\\d+ fields\\.tstPlan: unknown key "tstPlan"; did you mean "testPlan"\\?`)),
    ]);
  });

  it('refuses a stand-in for a field the mapping names, saying which to drop', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cg-jira-map-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'jira.team.yaml');
    writeFileSync(file, readFileSync(DEFAULT_JIRA_MAPPING, 'utf8').replace(/^  assignmentGroup: null .*$/m, '  assignmentGroup: Team'));
    const [result] = validateMappingFiles(file, mappingKindsOf(registry));
    expect(result?.errors).toEqual([expect.stringMatching(/standIns\.assignmentGroup: fields\.assignmentGroup names "Team", so nothing needs to stand in for it; write none here/)]);
  });

  it('loads the default mapping with every field it reads, by name or system id', () => {
    const mapping = loadJiraMapping();
    expect(mapping.fieldRefs).toEqual(expect.arrayContaining(['summary', 'Change type', 'Change risk', 'Impact', 'Change start date', 'Change completion date', 'Affected services', 'Implementation plan', 'Backout plan', 'Test plan', 'Approvers', 'Urgency']));
    expect(mapping.fieldRefs.some((ref) => /^customfield_\d+$/.test(ref))).toBe(false);
    expect(mapping.states.get('Awaiting CAB approval')).toBe('authorize');
    expect(mapping.defaultType).toBe('normal');
  });
});

describe('field references → site field ids', () => {
  const site = [field('summary', 'Summary'), field('customfield_20117', 'Change risk'), field('customfield_20001', 'Impact', { untranslatedName: 'Impact' }), field('customfield_30000', 'Auswirkung', { untranslatedName: 'Urgency' })];

  it('matches id, then name, then untranslated name, then name without case', () => {
    const r = resolveFieldRefs(['summary', 'Change risk', 'Urgency', 'impact', 'Test plan'], site);
    expect([...r.byRef].map(([ref, f]) => [ref, f?.id ?? null])).toEqual([
      ['summary', 'summary'],
      ['Change risk', 'customfield_20117'],
      ['Urgency', 'customfield_30000'],
      ['impact', 'customfield_20001'],
      ['Test plan', null],
    ]);
    expect(r.missing).toEqual(['Test plan']);
  });

  it('reports a name several fields share instead of picking one', () => {
    const r = resolveFieldRefs(['Change risk'], [...site, field('customfield_40000', 'Change risk')]);
    expect(r.byRef.get('Change risk')).toBeNull();
    expect([...r.ambiguous]).toEqual([['Change risk', ['customfield_20117', 'customfield_40000']]]);
  });
});

describe('field values of every shape', () => {
  it('reads ADF as plain text with lists and breaks kept', () => {
    const doc = {
      type: 'doc',
      version: 1,
      content: [
        { type: 'heading', attrs: { level: 2 }, content: [{ type: 'text', text: 'Backout' }] },
        { type: 'paragraph', content: [{ type: 'text', text: 'Stop ' }, { type: 'text', text: 'traffic', marks: [{ type: 'strong' }] }, { type: 'hardBreak' }, { type: 'mention', attrs: { id: 'x', text: '@Dan' } }] },
        { type: 'orderedList', content: [{ type: 'listItem', content: [{ type: 'paragraph', content: [{ type: 'text', text: 'restore' }] }] }, { type: 'listItem', content: [{ type: 'paragraph', content: [{ type: 'text', text: 'verify' }] }] }] },
      ],
    };
    expect(adfToPlainText(doc)).toBe('Backout\nStop traffic\n@Dan\n1. restore\n2. verify');
    expect(adfToPlainText({ type: 'doc', version: 1, content: [] })).toBeNull();
    expect(adfToPlainText('wiki *text*')).toBe('wiki *text*');
  });

  it('reads a checklist, decisions and layout columns one item a line', () => {
    const doc = {
      type: 'doc',
      version: 1,
      content: [
        { type: 'paragraph', content: [{ type: 'text', text: 'Backout:' }] },
        {
          type: 'taskList',
          attrs: { localId: 'backout' },
          content: [
            { type: 'taskItem', attrs: { localId: 'stop', state: 'DONE' }, content: [{ type: 'text', text: 'Stop the service' }] },
            { type: 'taskItem', attrs: { localId: 'restore', state: 'TODO' }, content: [{ type: 'text', text: 'Restore the backup' }] },
          ],
        },
        {
          type: 'decisionList',
          attrs: { localId: 'decisions' },
          content: [
            { type: 'decisionItem', attrs: { localId: 'd1', state: 'DECIDED' }, content: [{ type: 'text', text: 'Roll back above 2% errors' }] },
            { type: 'decisionItem', attrs: { localId: 'd2', state: 'DECIDED' }, content: [{ type: 'text', text: 'Keep the old schema a week' }] },
          ],
        },
        {
          type: 'layoutSection',
          content: [
            { type: 'layoutColumn', attrs: { width: 50 }, content: [{ type: 'paragraph', content: [{ type: 'text', text: 'Primary: eu-west-1' }] }] },
            { type: 'layoutColumn', attrs: { width: 50 }, content: [{ type: 'paragraph', content: [{ type: 'text', text: 'Standby: eu-central-1' }] }] },
          ],
        },
      ],
    };
    expect(adfToPlainText(doc)).toBe('Backout:\nStop the service\nRestore the backup\nRoll back above 2% errors\nKeep the old schema a week\nPrimary: eu-west-1\nStandby: eu-central-1');
  });

  it('reads options, users on Cloud and Data Center, groups and lists', () => {
    expect(optionOf({ self: 'x', value: 'Normal', id: '10010' }, 'Change type')).toBe('Normal');
    expect(textOf({ value: 'Hardware', child: { value: 'Disk' } })).toBe('Hardware / Disk');
    expect(refOf({ accountId: '5b10a2844c20165700ede21g', displayName: 'Mia Krystof' })).toEqual({ id: '5b10a2844c20165700ede21g', name: 'Mia Krystof' });
    expect(refOf({ name: 'mia', key: 'JIRAUSER10100', displayName: 'Mia Krystof' })).toEqual({ id: 'JIRAUSER10100', name: 'Mia Krystof' });
    expect(refOf({ groupId: '276f955c', name: 'jira-developers' })).toEqual({ id: '276f955c', name: 'jira-developers' });
    expect(textOf([{ displayName: 'Fred' }, { displayName: 'Mia' }])).toBe('Fred, Mia');
    expect(textListOf('acme/payments, acme/ledger')).toEqual(['acme/payments', 'acme/ledger']);
    expect(flagOf([{ value: 'Required' }])).toBe(true);
    expect(flagOf({ value: 'No' })).toBe(false);
    expect(isChangegateError(thrown(() => optionOf([{ value: 'A' }, { value: 'B' }], 'Change type')), 'CG_JIRA_RECORD_INVALID')).toBe(true);
  });
});

const issue = (fieldValues: Record<string, unknown>) => ({
  id: '10042',
  key: 'ITSM-42',
  fields: { summary: 'Patch', status: { id: '10204', name: 'Implementing' }, created: '2026-03-01T09:00:00.000+0000', updated: '2026-03-02T09:00:00.000+0000', ...fieldValues },
});
const move = (id: string, at: string, to: string) => ({ id, created: at, items: [{ field: 'status', fieldtype: 'jira', fieldId: 'status', from: null, fromString: null, to: '0', toString: to }] });

describe('issue → change, the cases that must not be guessed', () => {
  const mapping = loadJiraMapping();
  const fields = resolveFieldRefs(mapping.fieldRefs, [field('summary', 'Summary'), field('customfield_10005', 'Change type'), field('customfield_10006', 'Change risk')]);
  const ctx: JiraMapContext = { instance: 'jsm', siteUrl: 'https://acme.atlassian.net', mapping, fields, timeZone: 'UTC' };

  it('fails loudly on a status the mapping does not list, naming it and the file', () => {
    const err = thrown(() => mapJiraIssue(issue({ status: { id: '1', name: 'Waiting for vendor' } }), ctx));
    expect(isChangegateError(err, 'CG_MAPPING_UNKNOWN_VALUE')).toBe(true);
    expect((err as Error).message).toBe(`change ITSM-42 has status "Waiting for vendor", which ${DEFAULT_JIRA_MAPPING} does not map; add it under statuses:`);
  });

  it('fails loudly on an unknown option of a level field', () => {
    const err = thrown(() => mapJiraIssue(issue({ customfield_10006: { value: 'Catastrophic' } }), ctx));
    expect((err as Error).message).toContain('has "Change risk" "Catastrophic"');
    expect((err as Error).message).toContain('levels."Change risk"');
  });

  it('uses the default type only for an empty type field', () => {
    expect(mapJiraIssue(issue({ customfield_10005: null }), ctx).type).toBe('normal');
    expect(mapJiraIssue(issue({ customfield_10005: { value: 'Emergency' } }), ctx).type).toBe('emergency');
    const strict: JiraMapContext = { ...ctx, mapping: { ...mapping, defaultType: null } };
    expect(isChangegateError(thrown(() => mapJiraIssue(issue({}), strict)), 'CG_JIRA_RECORD_INVALID')).toBe(true);
  });

  it('reads the actual window off the status history, oldest first, and the revision off the changelog total', () => {
    // Newest first, as the search returns histories.
    const histories = [
      move('105', '2026-03-02T09:00:00.000+0000', 'Peer review'),
      move('104', '2026-03-01T16:00:00.000+0000', 'Implementing'),
      move('103', '2026-03-01T15:00:00.000+0000', 'Awaiting implementation'),
      move('102', '2026-03-01T12:00:00.000+0000', 'Implementing'),
    ];
    const change = mapJiraIssue({ ...issue({ status: { id: '10205', name: 'Peer review' } }), changelog: { startAt: 0, maxResults: 4, total: 31, histories } }, ctx);
    expect(change).toMatchObject({ state: 'review', actualStart: '2026-03-01T12:00:00Z', actualEnd: '2026-03-02T09:00:00Z', nativeRevision: 31 });
    const inside = mapJiraIssue({ ...issue({}), changelog: { startAt: 0, maxResults: 3, total: 3, histories: histories.slice(1) } }, ctx);
    expect(inside).toMatchObject({ state: 'implement', actualStart: '2026-03-01T12:00:00Z', actualEnd: null, nativeRevision: 3 });
  });

  it('lets the first affected service stand in for the assignment group JSM lacks, and records what stands in', () => {
    const withServices = resolveFieldRefs(mapping.fieldRefs, [field('summary', 'Summary'), field('customfield_10045', 'Affected services')]);
    const services = [
      { id: 'svc-1', name: 'Payments API' },
      { id: 'svc-2', name: 'Checkout Web' },
    ];
    const change = mapJiraIssue(issue({ customfield_10045: services }), { ...ctx, fields: withServices });
    expect(change).toMatchObject({ assignmentGroup: { id: 'svc-1', name: 'Payments API' }, closeNotes: null, standIns: { assignmentGroup: 'affected-service', closeNotes: 'last-comment' } });
    const none: JiraMapContext = { ...ctx, fields: withServices, mapping: { ...mapping, standIns: { assignmentGroup: 'none', closeNotes: 'none' } } };
    expect(mapJiraIssue(issue({ customfield_10045: services }), none)).toMatchObject({ assignmentGroup: null, standIns: { assignmentGroup: 'none', closeNotes: 'none' } });
  });
});
