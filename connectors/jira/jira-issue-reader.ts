// Everything one issue yields as stream items: the change, then its approvals
// and comments. A search result caps the changelog and comments at 20 each, so
// when the issue says there are more, the full lists are read from their own
// endpoints before mapping (the revision and status history need every entry).
// Approvals come with the issue when the site's JSM Approvals field was asked
// for; otherwise each issue costs one JSM approvals read.

import type { StreamItem } from '../../src/kit/connector.ts';
import { ChangegateError, isChangegateError } from '../../src/errors.ts';
import type { Logger } from '../../src/kit/logger.ts';
import type { CallContext, JiraClient, ListPage, RawIssue } from './jira-client.ts';
import { mapJiraApproval, mapJiraComment } from './jira-child-mapper.ts';
import { issueRef, mapJiraIssue, type JiraMapContext } from './jira-issue-mapper.ts';
import { revisionAuthor } from './jira-revision-author.ts';

/** A server that keeps saying "more" must not keep one issue's read going forever. */
const MAX_CHILD_PAGES = 100;

type Obj = Record<string, unknown>;
const asObj = (v: unknown): Obj | null => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : null);

/**
 * The approvals the search already carried in JSM's Approvals field; null when
 * this issue's fields do not include it (no such field on the site, or not in
 * this issue's field context), and then they are read from the JSM API.
 */
function inlineApprovals(issue: RawIssue, map: JiraMapContext): unknown[] | null {
  const field = map.fields.approvals;
  const fields = asObj(issue['fields']);
  if (field === null || fields === null || !(field.id in fields)) return null;
  const value = fields[field.id];
  if (value === null) return [];
  return Array.isArray(value) ? value : null;
}

/**
 * The issue without the Approvals field: approvals are mirrored as rows of their
 * own, and an approver's vote need not bump `updated`, so carrying them in the
 * change's payload would record revisions that no changelog entry explains.
 */
function withoutApprovals(issue: RawIssue, map: JiraMapContext): RawIssue {
  const field = map.fields.approvals;
  const fields = asObj(issue['fields']);
  if (field === null || fields === null || !(field.id in fields)) return issue;
  const { [field.id]: _carried, ...rest } = fields;
  return { ...issue, fields: rest };
}

export interface IssueReader {
  itemsFor(issue: RawIssue, map: JiraMapContext, ctx: CallContext): Promise<StreamItem[]>;
}

export function createIssueReader(client: JiraClient, logger: Logger): IssueReader {
  async function readAll(what: string, ref: string, read: (start: number) => Promise<ListPage>): Promise<unknown[]> {
    const values: unknown[] = [];
    let start: number | null = 0;
    for (let pages = 0; start !== null; pages++) {
      if (pages >= MAX_CHILD_PAGES) {
        logger.warn({ instance: client.instanceId, issue: ref, what, pages }, 'stopped reading one issue\'s list after the page cap');
        break;
      }
      const page: ListPage = await read(start);
      values.push(...page.values);
      start = page.next;
    }
    return values;
  }

  function invalid(ref: string, err: unknown): StreamItem {
    const error = isChangegateError(err)
      ? err
      : new ChangegateError('CG_JIRA_RECORD_INVALID', `${client.instanceId}: ${ref} could not be mapped: ${err instanceof Error ? err.message : String(err)}`, {
          cause: err,
          details: { instance: client.instanceId, record: ref },
        });
    // Not logged here: the engine logs and counts every rejected record once, for every connector.
    return { kind: 'invalid', ref, error };
  }

  /**
   * The issue with its whole changelog, when the search left some out. The
   * changelog is read after the search, so it may already hold entries of a
   * newer version than the fields: only the first `total` (oldest first, append
   * only) belong to the version the search returned. Counting the rest would
   * pair a newer revision with older fields, and the store, which orders by
   * revision first, would take that for the newest version and roll the mirror
   * back to the older fields.
   */
  async function withFullChangelog(issue: RawIssue, id: string, ctx: CallContext): Promise<RawIssue> {
    const changelog = asObj(issue['changelog']);
    const shown = Array.isArray(changelog?.['histories']) ? (changelog['histories'] as unknown[]).length : 0;
    const total = changelog?.['total'];
    if (changelog === null || typeof total !== 'number' || total <= shown) return issue;
    const histories = (await readAll('changelog', id, (start) => client.changelog(id, start, ctx))).slice(0, total);
    // A page count that is still short (a server that stopped early) keeps the figure the search gave.
    return { ...issue, changelog: { startAt: 0, maxResults: histories.length, total, histories } };
  }

  async function commentsOf(issue: RawIssue, id: string, ctx: CallContext): Promise<unknown[]> {
    const page = asObj(asObj(issue['fields'])?.['comment']);
    const inline = Array.isArray(page?.['comments']) ? (page['comments'] as unknown[]) : null;
    const total = page?.['total'];
    if (inline !== null && (typeof total !== 'number' || total <= inline.length)) return inline;
    return readAll('comments', id, (start) => client.comments(id, start, ctx));
  }

  return {
    async itemsFor(issue, map, ctx) {
      const ref = issueRef(issue);
      const id = issue['id'];
      if (typeof id !== 'string' && typeof id !== 'number') return [invalid(ref, new ChangegateError('CG_JIRA_RECORD_INVALID', `change ${ref} has no id`, { details: { record: ref, field: 'id' } }))];
      const nativeId = String(id);
      const full = await withFullChangelog(issue, nativeId, ctx);
      let change: StreamItem;
      try {
        change = { kind: 'change', change: mapJiraIssue(withoutApprovals(full, map), map), author: revisionAuthor(full) };
      } catch (err) {
        // Children of a change that is not mirrored would have nothing to hang on.
        return [invalid(ref, err)];
      }
      const inline = inlineApprovals(full, map);
      const [approvals, comments] = await Promise.all([
        inline ?? readAll('approvals', nativeId, (start) => client.approvals(nativeId, start, ctx)),
        commentsOf(full, nativeId, ctx),
      ]);
      const items: StreamItem[] = [change];
      for (const raw of approvals) {
        try {
          for (const approval of mapJiraApproval(raw, ref, map.mapping)) items.push({ kind: 'approval', changeNativeId: nativeId, approval });
        } catch (err) {
          items.push(invalid(`${ref} approval ${String(asObj(raw)?.['id'] ?? '?')}`, err));
        }
      }
      for (const raw of comments) {
        try {
          items.push({ kind: 'journal', changeNativeId: nativeId, entry: mapJiraComment(raw, ref) });
        } catch (err) {
          items.push(invalid(`${ref} comment ${String(asObj(raw)?.['id'] ?? '?')}`, err));
        }
      }
      return items;
    },
  };
}
