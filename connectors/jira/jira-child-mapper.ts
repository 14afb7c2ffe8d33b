// A change's children: JSM approvals and comments → canonical Approval and
// JournalEntry rows. A JSM approval names several approvers with one decision
// each; the canonical model (like ServiceNow) has one row per approver, so each
// approver becomes a row `<approvalId>:<approverId>` whose group is the approval
// step (its name is what policy matches a CAB or change-manager body against).

import type { Approval, JournalEntry } from '../../src/domain/change.ts';
import { adfToPlainText } from './adf-text.ts';
import { parseJiraDateTime } from './jira-date.ts';
import { refOf } from './jira-field-value.ts';
import { recordInvalid, unknownValue, withRecord } from './jira-issue-mapper.ts';
import type { JiraMapping } from './jira-mapping.ts';

type Obj = Record<string, unknown>;
const asObj = (v: unknown): Obj | null => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : null);

function idOf(raw: Obj | null): string | null {
  const id = raw?.['id'];
  return (typeof id === 'string' && id !== '') || typeof id === 'number' ? String(id) : null;
}

/** JSM's date object `{epochMillis, iso8601, jira, friendly}` → ISO UTC. */
function jsmDate(value: unknown, field: string): string | null {
  const d = asObj(value);
  if (d === null) return null;
  const epoch = d['epochMillis'];
  if (typeof epoch === 'number' && Number.isFinite(epoch)) return new Date(epoch).toISOString().replace('.000Z', 'Z');
  return parseJiraDateTime(d['iso8601'] ?? d['jira'], field);
}

function mapApproval(raw: Obj, mapping: JiraMapping, record: string): Approval[] {
  const approvalId = idOf(raw);
  if (approvalId === null) throw recordInvalid('approval', record, 'id', 'has no id');
  const createdAt = jsmDate(raw['createdDate'], 'createdDate');
  if (createdAt === null) throw recordInvalid('approval', record, 'createdDate', 'has no createdDate');
  const completedAt = jsmDate(raw['completedDate'], 'completedDate');
  const finalDecision = typeof raw['finalDecision'] === 'string' ? raw['finalDecision'] : null;
  if (finalDecision === null) throw recordInvalid('approval', record, 'finalDecision', 'has no finalDecision');
  const stateOf = (decision: string): Approval['state'] => {
    const state = mapping.approvalStates.get(decision);
    if (state === undefined) throw unknownValue('approval', record, 'decision', decision, mapping.file, 'approvalStates');
    return state;
  };
  const finalState = stateOf(finalDecision);
  const name = typeof raw['name'] === 'string' && raw['name'] !== '' ? raw['name'] : null;
  const group = { id: approvalId, name };
  const updatedAt = completedAt ?? createdAt;
  const decided = finalDecision !== 'pending';
  const approvers = Array.isArray(raw['approvers']) ? raw['approvers'].map(asObj).filter((a): a is Obj => a !== null) : [];
  if (approvers.length === 0) {
    return [{ id: approvalId, approver: null, group, state: finalState, nativeState: finalDecision, decidedAt: decided ? completedAt : null, comment: null, updatedAt, requestedAt: createdAt }];
  }
  return approvers.map((entry) => {
    const approver = refOf(entry['approver']);
    const decision = typeof entry['approverDecision'] === 'string' ? entry['approverDecision'] : 'pending';
    // A step decided without this approver no longer waits for them.
    const state = decision === 'pending' && decided ? 'not_required' : stateOf(decision);
    return {
      id: `${approvalId}:${approver?.id ?? 'unknown'}`,
      approver,
      group,
      state,
      nativeState: decision,
      // JSM dates only the step's completion, so a vote cast while the step is open has no time yet.
      decidedAt: decision !== 'pending' && decided ? completedAt : null,
      comment: null,
      updatedAt,
      // JSM asks every approver of a step when the step opens.
      requestedAt: createdAt,
    };
  });
}

/** One JSM approval of issue `changeRef` → one Approval per approver. */
export function mapJiraApproval(raw: unknown, changeRef: string, mapping: JiraMapping): Approval[] {
  const obj = asObj(raw);
  const record = `${changeRef} #${idOf(obj) ?? '?'}`;
  try {
    if (obj === null) throw recordInvalid('approval', record, '(root)', 'is not a JSON object');
    return mapApproval(obj, mapping, record);
  } catch (err) {
    throw withRecord(err, 'approval', record);
  }
}

/** JSM marks agent-only notes: `jsdPublic: false` on Cloud, the `sd.public.comment` property on Data Center. */
function isInternal(comment: Obj): boolean {
  if (comment['jsdPublic'] === false) return true;
  const props = comment['properties'];
  if (!Array.isArray(props)) return false;
  return props.some((p) => {
    const prop = asObj(p);
    return prop?.['key'] === 'sd.public.comment' && asObj(prop['value'])?.['internal'] === true;
  });
}

/** One issue comment → a journal entry; the body's ADF is read as plain text (the ADF stays in the change's raw). */
export function mapJiraComment(raw: unknown, changeRef: string): JournalEntry {
  const obj = asObj(raw);
  const id = idOf(obj);
  const record = `${changeRef} comment ${id ?? '?'}`;
  try {
    if (obj === null || id === null) throw recordInvalid('comment', record, 'id', 'has no id');
    const at = parseJiraDateTime(obj['created'], 'created');
    if (at === null) throw recordInvalid('comment', record, 'created', 'has no created time');
    const author = refOf(obj['author']);
    return { id, kind: isInternal(obj) ? 'work_note' : 'comment', author: author?.name ?? author?.id ?? '', at, text: adfToPlainText(obj['body']) ?? '' };
  } catch (err) {
    throw withRecord(err, 'comment', record);
  }
}
