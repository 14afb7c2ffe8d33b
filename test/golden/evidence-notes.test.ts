// Golden tests of the evidence a ticket and an auditor see: the evidence
// summary as a ServiceNow work note (plain text, and HTML inside [code]) and as
// a Jira comment (the ADF sent, and as a reader sees it), and the bundle's page.
// The input is a ledger of thirteen entries (more than the note shows) around
// an assessment captured from the demo
// (test/golden/notes/approval-not-counted.input.json), signed with a fixed key
// so the page is the same on every run. Every ADF comment changegate
// writes, the evidence summary and the verdict notes, is validated against
// Atlassian's ADF JSON schema (@atlaskit/adf-schema, full.json). UPDATE_GOLDEN=1
// rewrites the golden files, and a reviewer reads the diff.

import { createPrivateKey } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import AjvDraft04 from 'ajv-draft-04';
import { describe, expect, it } from 'vitest';
import { noteToAdf } from '../../connectors/jira/jira-writer.ts';
import { htmlWorkNote } from '../../connectors/servicenow/work-note-html.ts';
import { evidenceNote } from '../../src/assess/evidence-note.ts';
import { assessmentNote, ticketVerdict } from '../../src/assess/verdict-text.ts';
import type { Assessment } from '../../src/domain/assessment.ts';
import type { ChangeType } from '../../src/domain/change.ts';
import { bundleHtml } from '../../src/evidence/bundle-html.ts';
import { buildBundle } from '../../src/evidence/evidence-bundle.ts';
import { chainEntry, type EvidenceDraft, type EvidenceEntry } from '../../src/evidence/evidence-entry.ts';
import { markersFor, plainText, stateLabel } from '../../src/kit/ticket-note.ts';
import { adfToHtml, visibleText } from '../support/adf-html.ts';
import { buildChange } from '../support/change-builder.ts';

const DIR = new URL('./evidence/', import.meta.url);
const NOTES = new URL('./notes/', import.meta.url);
const UPDATE = process.env['UPDATE_GOLDEN'] === '1';

const require = createRequire(import.meta.url);
const adfSchema = JSON.parse(readFileSync(require.resolve('@atlaskit/adf-schema/dist/json-schema/v1/full.json'), 'utf8')) as object;
// A CommonJS module whose types say `export default`: under Node's ESM the default import is the module, the class its `default`.
const Ajv = (AjvDraft04 as unknown as { default: typeof AjvDraft04.default }).default;
const validateAdf = new Ajv({ allErrors: true, strict: false }).compile(adfSchema);
const adfErrors = (doc: unknown): string[] => (validateAdf(doc) ? [] : (validateAdf.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`));

// A fixed Ed25519 key (PKCS#8 around a 32-byte seed): the signature, and so the page, is the same on every run.
const SIGNING_KEY = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.alloc(32, 7)]), format: 'der', type: 'pkcs8' });

const input = JSON.parse(readFileSync(new URL('approval-not-counted.input.json', NOTES), 'utf8')) as { type: ChangeType; assessment: Assessment };
const assessment = input.assessment;
const change = buildChange({ id: assessment.changeId, key: assessment.key, instance: 'sn-demo', title: 'Rotate TLS certificates for the Customer Portal' });

function ledger(): EvidenceEntry[] {
  const drafts: EvidenceDraft[] = [];
  const moves = ['new', 'assess', 'authorize', 'assess', 'authorize'];
  for (let i = 1; i < moves.length; i += 1) {
    const at = `2026-12-0${i}T09:00:00Z`;
    drafts.push({ kind: 'revision', at, actor: 'farid.haddad', source: 'servicenow:sn-demo', summary: `state ${moves[i - 1]} → ${moves[i]} by farid.haddad`, payload: { seq: i, diff: [{ path: 'state', from: moves[i - 1], to: moves[i] }] } });
    drafts.push({ kind: 'assessment', at: `2026-12-0${i}T09:00:05Z`, actor: null, source: 'changegate', summary: `${assessment.key} in ${moves[i]}: decision changed (policy ${assessment.policyVersion})`, payload: { ...assessment, state: moves[i] } });
  }
  drafts.push({ kind: 'enforcement', at: '2026-12-05T09:00:04Z', actor: null, source: 'changegate', summary: `revert of ${assessment.key}'s move assess → authorize (enforce, reverted): ${'the planned window overlaps another change on the Customer Portal; '.repeat(3)}`, payload: { action: 'revert', from: 'assess', to: 'authorize' } });
  drafts.push({ kind: 'assessment', at: assessment.evaluatedAt, actor: null, source: 'changegate', summary: `${assessment.key} in ${assessment.state}: <CAB> ${assessment.scorecard.recommendation} & more`, payload: assessment });
  drafts.push({ kind: 'event', at: '2026-12-06T08:00:00Z', actor: 'github-actions', source: 'github', summary: 'ci: tests of 9fceb02 passed (412 tests, 0 failed)', payload: { conclusion: 'success', sha: '9fceb02' } });
  drafts.push({ kind: 'approval', at: '2026-12-06T09:30:00Z', actor: 'Grace Okafor', source: 'servicenow:sn-demo', summary: 'approval by Grace Okafor (CAB Approval) approved: fine for Tuesday', payload: { decision: 'approved', approval: { id: 'a1b2', state: 'approved', nativeState: 'approved' } } });
  drafts.push({ kind: 'waiver', at: '2026-12-06T10:00:00Z', actor: 'grace.cab', source: 'policy', summary: 'waiver of authorize.no-overlap for CHG0030028 granted by grace.cab until 2026-12-20T00:00:00.000Z: the overlap is the same team\'s rehearsal', payload: { step: 'granted', waiver: { gate: 'authorize.no-overlap' } } });
  const out: EvidenceEntry[] = [];
  for (const draft of drafts) out.push(chainEntry(change.id, out.at(-1) ?? null, draft));
  return out;
}

const entries = ledger();
const bundle = buildBundle({ id: change.id, key: change.key, instance: change.instance, title: change.title }, entries, '2026-12-07T00:00:00Z', SIGNING_KEY);
const note = evidenceNote(change, entries);
const marker = markersFor(`evidence:${change.id}:${entries.at(-1)?.hash}`, { name: 'evidence', digest: (entries.at(-1)?.hash ?? '').slice(0, 16) });

function golden(file: string, actual: string): string {
  const url = new URL(file, DIR);
  if (UPDATE) writeFileSync(url, actual);
  return readFileSync(url, 'utf8');
}

describe('evidence, golden', () => {
  it('has a ledger longer than the note shows, so the note counts the rest', () => {
    expect(entries).toHaveLength(13);
    expect(note.table?.rows).toHaveLength(10);
  });

  it('renders the evidence summary as the golden ServiceNow work note', () => {
    const text = `${plainText(note, marker)}\n`;
    expect(text).toBe(golden('summary.servicenow.txt', text));
  });

  it('renders the evidence summary as the golden ServiceNow work note in HTML inside [code], the markers outside it', () => {
    const text = `${htmlWorkNote(note, marker)}\n`;
    expect(text).toBe(golden('summary.servicenow.html.txt', text));
    expect(text.startsWith('[code]<h3')).toBe(true);
    // The marker the writer searches for before posting, on its own last line as in a text note.
    expect(text.trimEnd().split('\n').at(-1)).toBe(marker);
    expect(text).toContain('<code>changegate evidence export CHG0030028</code>');
    expect(text).toContain('&lt;CAB&gt; Conditional Go &amp; more');
  });

  it('shows the backticked commands as code in Jira, not as backticks', () => {
    const adf = noteToAdf(note, marker);
    const json = JSON.stringify(adf);
    expect(json).toContain('{"type":"text","text":"changegate evidence export CHG0030028","marks":[{"type":"code"}]}');
    const footer = JSON.stringify((adf['content'] as unknown[]).filter((b) => (b as { type: string }).type === 'paragraph').slice(0, -1));
    expect(footer).not.toContain('`');
  });

  it('keeps a line with an unpaired backtick as text in Jira, and the comment valid', () => {
    const odd = { ...note, footer: ['a lone ` stays, `this` too'] };
    expect(JSON.stringify(noteToAdf(odd, marker))).toContain('{"type":"text","text":"a lone ` stays, `this` too"}');
    expect(adfErrors(noteToAdf(odd, marker))).toEqual([]);
  });

  it('counts each kind of entry the ledger holds, approval decisions and waivers among them', () => {
    expect(note.lines).toContain('Recorded: 4 state moves, 1 approval decision, 1 waiver entry (granted, ended or withdrawn), 5 decisions, 1 enforcement action, 1 event.');
  });

  it('renders the evidence summary as the golden Jira comment (the ADF sent, and as a reader sees it)', () => {
    const adf = noteToAdf(note, marker);
    const json = `${JSON.stringify(adf, null, 2)}\n`;
    expect(json).toBe(golden('summary.jira.adf.json', json));
    const html = `${adfToHtml(adf)}<!-- end of the comment -->\n`;
    expect(html).toBe(golden('summary.jira.html', html));
  });

  it('names the head hash in both, the hash an auditor\'s verify must report', () => {
    const head = entries.at(-1)?.hash as string;
    expect(plainText(note, marker)).toContain(`Head of the evidence chain: ${head} (entry 13).`);
    expect(visibleText(adfToHtml(noteToAdf(note, marker)))).toContain(`Head of the evidence chain: ${head} (entry 13).`);
    expect(plainText(note, marker)).toContain('3 earlier entries are in the bundle.');
  });

  it('renders the bundle as the golden page', () => {
    const html = bundleHtml(bundle);
    expect(html).toBe(golden('bundle.html', html));
  });
});

describe('ADF comments against Atlassian\'s ADF JSON schema', () => {
  it('the schema refuses what Jira refuses (so a pass means something)', () => {
    expect(adfErrors({ type: 'doc', version: 1, content: [{ type: 'panel', attrs: { panelType: 'info' }, content: [] }] })).not.toEqual([]);
    expect(adfErrors({ type: 'doc', version: 1, content: [{ type: 'paragraph', content: [{ type: 'text', text: '' }] }] })).not.toEqual([]);
    expect(adfErrors({ type: 'doc', version: 1, content: [{ type: 'table', content: [{ type: 'tableRow', content: [{ type: 'tableCell', content: [{ type: 'text', text: 'bare' }] }] }] }] })).not.toEqual([]);
  });

  it('accepts the evidence summary', () => {
    expect(adfErrors(noteToAdf(note, marker))).toEqual([]);
  });

  it('accepts the evidence summary of a change with a single entry, and with none', () => {
    expect(adfErrors(noteToAdf(evidenceNote(change, entries.slice(0, 1)), marker))).toEqual([]);
    expect(adfErrors(noteToAdf(evidenceNote(change, []), marker))).toEqual([]);
  });

  const cases = readdirSync(NOTES)
    .filter((f) => f.endsWith('.input.json'))
    .map((f) => f.slice(0, -'.input.json'.length));
  it.each(cases.filter((name) => JSON.parse(readFileSync(new URL(`${name}.input.json`, NOTES), 'utf8')).assessment !== undefined))('accepts the verdict note of %s', (name) => {
    const { type, assessment: a } = JSON.parse(readFileSync(new URL(`${name}.input.json`, NOTES), 'utf8')) as { type: ChangeType; assessment: Assessment };
    const names = stateLabel;
    const verdictNote = assessmentNote(a, ticketVerdict(a, type, names), type, names);
    expect(adfErrors(noteToAdf(verdictNote, markersFor(`golden:${name}:comment`, { name: 'verdict', digest: '0123456789abcdef' })))).toEqual([]);
  });
});
