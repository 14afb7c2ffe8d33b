// Who made the version of an issue the search returned: the author of its
// newest changelog entry when that entry is what last updated the issue, else
// the author of the newest comment when that comment did (a comment leaves no
// changelog entry). An issue property or an approval vote bumps `updated` with
// neither, and then Jira names nobody for the version (null), rather than the
// author of an older entry.

import type { RevisionAuthor } from '../../src/kit/connector.ts';
import type { RawIssue } from './jira-client.ts';
import { parseJiraDateTime } from './jira-date.ts';

type Obj = Record<string, unknown>;
const asObj = (v: unknown): Obj | null => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : null);
const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** Jira stores `updated` and the entry's `created` in the same transaction; a second covers their rounding. */
const SAME_WRITE_MS = 1_000;

function timeOf(value: unknown, field: string): number | null {
  try {
    const iso = parseJiraDateTime(value, field);
    return iso === null ? null : Date.parse(iso);
  } catch {
    return null;
  }
}

/** A changelog user (Cloud: accountId; Data Center: key or name) as a revision author. */
export function jiraUser(raw: unknown): RevisionAuthor | null {
  const user = asObj(raw);
  const id = text(user?.['accountId']) ?? text(user?.['key']) ?? text(user?.['name']);
  if (user === null || id === null) return null;
  const email = text(user['emailAddress']);
  return { id, name: text(user['displayName']), ...(email === null ? {} : { email }) };
}

interface Entry {
  at: number;
  id: number;
  author: unknown;
}

/** The entry written last (by time, then id), from rows that carry a time under `timeKey`. */
function newestOf(rows: unknown, timeKey: string, authorOf: (row: Obj) => unknown): Entry | null {
  if (!Array.isArray(rows)) return null;
  let newest: Entry | null = null;
  for (const raw of rows) {
    const row = asObj(raw);
    const at = timeOf(row?.[timeKey], timeKey);
    if (row === null || at === null) continue;
    const id = Number(row['id']);
    const entry = { at, id: Number.isFinite(id) ? id : 0, author: authorOf(row) };
    if (newest === null || at > newest.at || (at === newest.at && entry.id > newest.id)) newest = entry;
  }
  return newest;
}

export function revisionAuthor(issue: RawIssue): RevisionAuthor | null {
  const fields = asObj(issue['fields']);
  const updated = timeOf(fields?.['updated'], 'updated');
  if (updated === null) return null;
  const made = (e: Entry | null): boolean => e !== null && Math.abs(updated - e.at) <= SAME_WRITE_MS;
  const history = newestOf(asObj(issue['changelog'])?.['histories'], 'created', (h) => h['author']);
  if (made(history)) return jiraUser(history?.author);
  const comment = newestOf(asObj(fields?.['comment'])?.['comments'], 'updated', (c) => c['updateAuthor'] ?? c['author']);
  return made(comment) ? jiraUser(comment?.author) : null;
}
