// Builds the body of an admin-webhook delivery, shaped like the real Cloud
// captures (webhook-jira-issue_*.cloud-capture.json): v2 rendering (plain
// string rich text, /rest/api/2/ self URLs), the actor as `user`, and the
// changelog items of the change. Edits, transitions and comments all arrive
// as `jira:issue_updated`, told apart by `issue_event_type_name`.

import { parseFieldSelection, renderComment, renderIssue, renderUser, type RenderContext } from './issue-renderer.ts';
import type { SimEvent } from './sim-types.ts';

const EVENT_TYPE_NAME: Record<SimEvent['type'], string> = {
  created: 'issue_created',
  updated: 'issue_updated',
  transitioned: 'issue_generic',
  commented: 'issue_commented',
};

// The captures carry the navigable fields (no `comment` page).
const ALL_FIELDS = parseFieldSelection(['*navigable'], '*navigable');

export function webhookPayload(e: SimEvent, ctx: RenderContext, timestamp: number): Record<string, unknown> {
  const body: Record<string, unknown> = {
    timestamp,
    webhookEvent: e.type === 'created' ? 'jira:issue_created' : 'jira:issue_updated',
    issue_event_type_name: EVENT_TYPE_NAME[e.type],
    user: renderUser(ctx.users.find(e.actorId), ctx),
    issue: renderIssue({ issue: e.issue, state: e.issue.state }, ctx, {
      fields: ALL_FIELDS,
      expand: new Set(),
      properties: [],
      changelogCap: 0,
      commentCap: 0,
      webhook: true,
    }),
  };
  if (e.type === 'created') body.changelog = { id: e.historyId, items: e.items };
  else if (e.type === 'commented') body.comment = renderComment(e.comment, e.issue, ctx);
  else body.changelog = { id: e.history.id, items: e.history.items };
  return body;
}
