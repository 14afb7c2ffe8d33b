// Change keys are how a CI run finds its change: a developer writes
// `CHG0030001` or `ITSM-42` in a commit message, a branch name or a title. One
// extractor for every source, so a key found in a GitLab branch is found the
// same way in a Jenkins parameter.

/** ServiceNow change numbers: `CHG` and at least seven digits (the default numbering). */
const SERVICENOW_KEY = /(?<![A-Za-z0-9])CHG\d{7,}(?!\d)/gi;

/**
 * Jira issue keys: an upper-case project key (letter first, two or more
 * characters) and a number. Lower-case keys are not matched: `feature/itsm-42`
 * is too close to ordinary words and versions (`utf-8`, `sha-256`).
 */
const JIRA_KEY = /(?<![A-Za-z0-9_])([A-Z][A-Z0-9_]+)-([1-9]\d*)(?![A-Za-z0-9])/g;

/** Upper-case tokens shaped like a Jira key that are standards, encodings or algorithms, never projects. */
const NOT_PROJECTS = new Set(['UTF', 'SHA', 'ISO', 'RFC', 'CVE', 'CWE', 'GHSA', 'TLS', 'HTTP', 'HTTPS', 'MD', 'AES', 'RSA', 'X', 'PR']);

/** Distinct change keys in the order they first appear across `texts`; nulls and non-strings are skipped. */
export function extractChangeKeys(...texts: readonly unknown[]): string[] {
  const found = new Set<string>();
  for (const text of texts) {
    if (typeof text !== 'string' || text === '') continue;
    const hits: { at: number; key: string }[] = [];
    for (const match of text.matchAll(SERVICENOW_KEY)) hits.push({ at: match.index, key: match[0].toUpperCase() });
    for (const match of text.matchAll(JIRA_KEY)) {
      if (!NOT_PROJECTS.has(match[1] ?? '')) hits.push({ at: match.index, key: match[0] });
    }
    for (const hit of hits.toSorted((a, b) => a.at - b.at)) found.add(hit.key);
  }
  return [...found];
}
