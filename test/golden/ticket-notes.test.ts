// Golden tests of the notes changegate writes to tickets, as their readers see
// them, on both systems: the ServiceNow work note (plain text) with the verdict
// fields, and the Jira comment (ADF rendered to HTML) with the
// `changegate.verdict` property. Inputs are assessments of representative demo
// changes (test/golden/notes/*.input.json, captured from a demo run): blocked
// by missing evidence across several gates, an approval that does not count, a
// standard change waiting in "Awaiting CAB approval", an allowed change, a
// freeze, and an enforcement move-back. The golden files are meant to be read:
// UPDATE_GOLDEN=1 rewrites them, and a reviewer reads the diff.

import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { noteToAdf, verdictProperty } from '../../connectors/jira/jira-writer.ts';
import { loadJiraMapping } from '../../connectors/jira/jira-mapping.ts';
import { loadServiceNowMapping } from '../../connectors/servicenow/servicenow-mapping.ts';
import { verdictFields } from '../../connectors/servicenow/servicenow-writer.ts';
import { InstanceConfig, registry } from '../../src/app/registry.ts';
import { stateNamesFor } from '../../src/app/state-names-for.ts';
import { advisoryNote, revertedNote, revertRefusedNote, type ObservedTransition } from '../../src/assess/enforcement-notes.ts';
import { assessmentNote, namerFor, ticketVerdict } from '../../src/assess/verdict-text.ts';
import type { Assessment, GateResult, TransitionVerdict } from '../../src/domain/assessment.ts';
import type { CanonicalState, ChangeType } from '../../src/domain/change.ts';
import type { TicketNote, TicketVerdict } from '../../src/kit/connector.ts';
import { markersFor, plainText } from '../../src/kit/ticket-note.ts';
import { adfToHtml, visibleItems, visibleText } from '../support/adf-html.ts';

const DIR = new URL('./notes/', import.meta.url);
const UPDATE = process.env['UPDATE_GOLDEN'] === '1';

type System = 'servicenow' | 'jira';

interface AssessmentInput {
  system: System;
  type: ChangeType;
  state: CanonicalState;
  nativeStateLabel: string | null;
  assessment: Assessment;
}

interface EnforcementInput {
  system: System;
  observed: ObservedTransition;
  verdict: TransitionVerdict;
  blocking: GateResult[];
}

// Each system's names as its default mapping gives them, through the same code the service uses.
const siteNames = stateNamesFor(
  [
    InstanceConfig.parse({ id: 'sn', system: 'servicenow', baseUrl: 'https://acme.service-now.com', auth: { kind: 'basic', username: 'u', password: 'p' } }),
    InstanceConfig.parse({ id: 'jsm', system: 'jira', baseUrl: 'https://acme.atlassian.net', auth: { kind: 'basic', email: 'u@acme.example', apiToken: 't' }, projects: ['ITSM'] }),
  ],
  registry,
);
const namesOf = (system: System) => siteNames(system === 'servicenow' ? 'sn' : 'jsm');

const marker = (name: string) => markersFor(`golden:${name}:comment`, { name: 'verdict', digest: '0123456789abcdef' });

function serviceNowText(name: string, note: TicketNote, verdict: TicketVerdict | null): string {
  const out = [plainText(note, marker(name)), '', '=== end of the work note ==='];
  if (verdict) {
    out.push('', '=== verdict fields ===');
    for (const [field, value] of Object.entries(verdictFields(verdict, loadServiceNowMapping()))) out.push(`${field}: ${value.replaceAll('\n', '\n  ')}`);
  }
  return `${out.join('\n')}\n`;
}

function jiraHtml(name: string, note: TicketNote, verdict: TicketVerdict | null): string {
  const out = [adfToHtml(noteToAdf(note, marker(name))), '<!-- end of the comment -->'];
  if (verdict) out.push('<!-- the changegate.verdict issue property -->', `<pre>${JSON.stringify(verdictProperty(verdict, loadJiraMapping()), null, 2)}</pre>`, '');
  return out.join('\n');
}

/** The notes of one input on one system. */
function render(name: string, system: System): { servicenow: string; jira: string; workNote: string; comment: string; note: TicketNote } {
  const input = JSON.parse(readFileSync(new URL(`${name}.input.json`, DIR), 'utf8')) as AssessmentInput | EnforcementInput;
  const site = namesOf(system);
  let note: TicketNote;
  let verdict: TicketVerdict | null = null;
  if ('assessment' in input) {
    // The state the change is in as the ticket itself shows it, on the system it came from.
    const names = input.system === system ? namerFor(input, site) : site;
    verdict = ticketVerdict(input.assessment, input.type, names);
    note = assessmentNote(input.assessment, verdict, input.type, names);
  } else {
    const observed = input.system === system ? input.observed : { ...input.observed, fromLabel: null, toLabel: null };
    const denied = { verdict: input.verdict, blocking: input.blocking, names: site };
    note = name.endsWith('refused') ? revertRefusedNote(observed, denied) : name.endsWith('advisory') ? advisoryNote(observed, denied, 'advisory') : revertedNote(observed, denied);
  }
  return {
    servicenow: serviceNowText(name, note, verdict),
    jira: jiraHtml(name, note, verdict),
    workNote: plainText(note, marker(name)),
    comment: adfToHtml(noteToAdf(note, marker(name))),
    note,
  };
}

/** The golden file's text (rewritten first under UPDATE_GOLDEN=1). */
function golden(file: string, actual: string): string {
  const url = new URL(file, DIR);
  if (UPDATE) writeFileSync(url, actual);
  return readFileSync(url, 'utf8');
}

const CASES = readdirSync(DIR)
  .filter((f) => f.endsWith('.input.json'))
  .map((f) => f.slice(0, -'.input.json'.length));

const RULE_ID = /\b(assess|authorize|scheduled|implement|review|closed|canceled|failed)\.[a-z][a-z-]+\b|\b(rule|approval|field):[\w.-]+/;

describe('ticket notes, golden', () => {
  it('has the representative demo changes as inputs', () => {
    expect(CASES.toSorted()).toEqual(['allowed', 'approval-not-counted', 'blocked-across-gates', 'enforcement-move-back', 'freeze', 'standard-awaiting-cab']);
  });

  describe.each(CASES)('%s', (name) => {
    it('renders as the golden ServiceNow work note and verdict fields', () => {
      const { servicenow } = render(name, 'servicenow');
      expect(servicenow).toBe(golden(`${name}.servicenow.txt`, servicenow));
    });

    it('renders as the golden Jira comment and verdict property', () => {
      const { jira } = render(name, 'jira');
      expect(jira).toBe(golden(`${name}.jira.html`, jira));
    });

    it('says each reason once, with no rule id or policy advice before the part for administrators', () => {
      const { workNote } = render(name, 'servicenow');
      const { comment } = render(name, 'jira');
      const body = workNote.slice(0, workNote.indexOf('-- Details for administrators --'));
      expect(body).not.toMatch(RULE_ID);
      expect(body).not.toMatch(/in the policy|switch(ed)? .* off/);
      const seen = visibleText(comment);
      expect(seen).not.toMatch(RULE_ID);
      expect(seen).not.toMatch(/in the policy|switch(ed)? .* off/);
      expect(seen).toContain('▸ Details for administrators');
      const items = visibleItems(comment);
      expect(items.length > 0).toBe(name !== 'allowed');
      expect(new Set(items).size).toBe(items.length);
    });
  });

  it('names the states as each site does, never by canonical label where the site says otherwise', () => {
    const jira = visibleText(render('blocked-across-gates', 'jira').comment);
    expect(jira).toContain('cannot move to Peer review yet');
    expect(jira).toContain('required while in Implementing');
    expect(jira).not.toMatch(/\b(Implement|Review|Scheduled|Authorize)\b/);
    const sn = render('blocked-across-gates', 'servicenow').workNote;
    expect(sn).toContain('cannot move to Review yet');
  });

  it('says a reason six rules share once, naming what it blocks', () => {
    const items = visibleItems(render('blocked-across-gates', 'jira').comment);
    const commit = items.filter((i) => i.includes('No commit is linked to the change'));
    expect(commit).toEqual(['No commit is linked to the change; link the commit to be deployed — required while in Implementing, and not met now; blocks the move to Peer review.']);
  });

  it('says who may approve and why an approval given does not count', () => {
    const { workNote } = render('approval-not-counted', 'servicenow');
    expect(workNote).toContain(
      'No CAB approval recorded: major changes need an approval given for CAB, CAB Approval or Change Advisory Board; not counted: Farid Haddad (approved in person, not for one of these groups; also the change\'s assignee, who may not approve it)',
    );
  });

  it('gives a standard change waiting in "Awaiting CAB approval" its way on, not "a final state"', () => {
    const { comment, note } = render('standard-awaiting-cab', 'jira');
    const seen = visibleText(comment);
    expect(note.title).toBe('ITSM-25 cannot move to Awaiting implementation yet');
    expect(seen).toContain('From Awaiting CAB approval it may move now to Open.');
    expect(seen).not.toMatch(/final state|no further transitions/);
  });

  it('closes a finished change with a line in its panel (an empty ADF panel is refused)', () => {
    const input = JSON.parse(readFileSync(new URL('allowed.input.json', DIR), 'utf8')) as AssessmentInput;
    const closed: Assessment = { ...input.assessment, state: 'closed', gates: [], allowedTransitions: [], violations: [] };
    const names = namesOf('jira');
    const note = assessmentNote(closed, ticketVerdict(closed, input.type, names), input.type, names);
    const adf = noteToAdf(note, marker('closed')) as { content: { type: string; content?: unknown[] }[] };
    expect(note.title).toBe('CHG0030002 is Completed: nothing more to check');
    expect(adf.content.find((n) => n.type === 'panel')?.content).toHaveLength(1);
    expect(visibleText(adfToHtml(adf))).toContain('Completed is a final state, and every check of it is met.');
  });
});
