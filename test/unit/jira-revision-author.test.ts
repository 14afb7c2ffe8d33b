// Who made the version of a Jira issue a read returned: the changelog entry or
// the comment that last updated it, never the author of an older entry.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { revisionAuthor } from '../../connectors/jira/jira-revision-author.ts';

const changelog = JSON.parse(readFileSync(new URL('../fixtures/jira/issue-changelog-get-response.spec-example.json', import.meta.url), 'utf8')) as { values: Record<string, unknown>[] };
const [entry] = changelog.values;

const user = (accountId: string, displayName: string) => ({ accountId, displayName, active: true });

describe('revisionAuthor', () => {
  it('names the author of the changelog entry that made the version, e-mail included when Jira shows it', () => {
    const issue = { id: '10001', fields: { updated: entry?.['created'] }, changelog: { histories: changelog.values } };
    expect(revisionAuthor(issue)).toEqual({ id: '5b10a2844c20165700ede21g', name: 'Mia Krystof', email: 'mia@example.com' });
  });

  it('names the comment\'s author when a comment, which leaves no changelog entry, made the version', () => {
    const issue = {
      id: '10001',
      fields: {
        updated: '2026-03-04T10:00:00.120+0100',
        comment: { comments: [{ id: '1', author: user('a-1', 'Ana'), created: '2026-03-04T08:00:00.000+0000', updated: '2026-03-04T09:00:00.000+0000' }] },
      },
      changelog: { histories: [{ id: '7', author: user('a-2', 'Bo'), created: '2026-03-03T09:00:00.000+0000', items: [] }] },
    };
    expect(revisionAuthor(issue)).toEqual({ id: 'a-1', name: 'Ana' });
  });

  it('names nobody when neither the changelog nor a comment explains the last update (a property, an approval vote)', () => {
    const issue = {
      id: '10001',
      fields: { updated: '2026-03-05T09:00:00.000+0000', comment: { comments: [] } },
      changelog: { histories: [{ id: '7', author: user('a-2', 'Bo'), created: '2026-03-03T09:00:00.000+0000', items: [] }] },
    };
    expect(revisionAuthor(issue)).toBeNull();
  });
});
