// The bounded JQL behind every page of changes, and Jira's order for it.
// `/search/jql` refuses unbounded queries; the project clause bounds this one.
// `ORDER BY updated ASC, key ASC` gives a total order the skip rule can rely on.

/** A JQL string literal: double quotes, with `"` and `\` escaped. */
export function jqlString(value: string): string {
  return `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

/** `project in (…) AND issuetype in (…) [AND updated >= "yyyy-MM-dd HH:mm"] ORDER BY updated ASC, key ASC` */
export function changesJql(projects: readonly string[], issueTypes: readonly string[], updatedFrom: string | null): string {
  const clauses = [`project in (${projects.map(jqlString).join(', ')})`, `issuetype in (${issueTypes.map(jqlString).join(', ')})`];
  if (updatedFrom !== null) clauses.push(`updated >= ${jqlString(updatedFrom)}`);
  return `${clauses.join(' AND ')} ORDER BY updated ASC, key ASC`;
}

const KEY = /^([A-Z][A-Z0-9_]*)-(\d+)$/;

/** Jira's key order: by project key, then by issue number as a number (ITSM-9 before ITSM-10). */
export function compareIssueKeys(a: string, b: string): number {
  const ma = KEY.exec(a);
  const mb = KEY.exec(b);
  if (ma === null || mb === null) return a < b ? -1 : a > b ? 1 : 0;
  const [, pa = '', na = '0'] = ma;
  const [, pb = '', nb = '0'] = mb;
  if (pa !== pb) return pa < pb ? -1 : 1;
  return Number(na) - Number(nb);
}
