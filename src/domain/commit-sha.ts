// When two commit references name the same commit: the gates judge a change's
// commit on the CI events that name it, and the correlation and the stores'
// indexes find those events, so all three agree through this file. A CI, a
// results upload or a person may give a full sha or an abbreviation of it
// (`git rev-parse --short`, GitLab's deployment hook's `short_sha`), in either case.

/** Git's shortest default abbreviation: below it, a prefix names too many commits to link evidence by. */
export const MIN_ABBREVIATED_SHA = 7;

const HEX = /^[0-9a-f]+$/;

/** The reference as compared: trimmed, lower case. */
const normal = (commit: string): string => commit.trim().toLowerCase();

/**
 * Whether two references name the same commit: equal ignoring case and
 * surrounding blanks, or, both hex, one a prefix of the other at least
 * MIN_ABBREVIATED_SHA long (`9FCEB02` and `9fceb02d0ae5…`). A revision that is not
 * hex (a chart version, a changeset, a tag) matches only itself.
 */
export function sameCommit(a: string, b: string): boolean {
  const x = normal(a);
  const y = normal(b);
  if (x === y) return x !== '';
  if (Math.min(x.length, y.length) < MIN_ABBREVIATED_SHA || !HEX.test(x) || !HEX.test(y)) return false;
  return x.startsWith(y) || y.startsWith(x);
}

/**
 * The index bucket of a reference: every reference `sameCommit` matches with it
 * has the same bucket (a hex one of MIN_ABBREVIATED_SHA or more characters: its
 * first MIN_ABBREVIATED_SHA; any other: itself, normalised), so one indexed
 * equality finds the candidates and `sameCommit` keeps the right ones. '' for a
 * blank reference, which names no commit.
 */
export function commitBucket(commit: string): string {
  const sha = normal(commit);
  return sha.length >= MIN_ABBREVIATED_SHA && HEX.test(sha) ? sha.slice(0, MIN_ABBREVIATED_SHA) : sha;
}
