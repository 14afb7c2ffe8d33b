// Change keys as people write them in commit messages, branch names, PR titles
// and deployment payloads: ServiceNow numbers (`CHG0030001`, any case, as
// branch names are often lower-cased) and Jira issue keys (`ITSM-42`). A
// Jira-shaped word that names no change (`UTF-8`) is harmless: correlation
// only links keys that name a mirrored change.

const SERVICENOW = /(?<![A-Za-z0-9])chg\d{5,}(?![A-Za-z0-9])/gi;
const JIRA = /(?<![A-Za-z0-9])[A-Z][A-Z0-9_]{1,9}-\d{1,9}(?![A-Za-z0-9])/g;

/** The distinct change keys in `texts`, in order of first appearance. */
export function findChangeKeys(...texts: readonly (string | null | undefined)[]): string[] {
  const keys = new Set<string>();
  for (const text of texts) {
    if (typeof text !== 'string' || text === '') continue;
    for (const match of text.matchAll(SERVICENOW)) keys.add(match[0].toUpperCase());
    for (const match of text.matchAll(JIRA)) keys.add(match[0]);
  }
  return [...keys];
}
