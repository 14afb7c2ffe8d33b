// Jira Data Center through REST v2 (jira.js 6.2.0 is Cloud-only): the classic
// `/rest/api/2/search` paged by startAt with a `total` (`/search/jql` does not
// exist on DC), wiki-markup strings instead of ADF, users by name and key. The
// paged changelog endpoint is Cloud-only, so a long changelog is read from the
// issue itself (`expand=changelog`), which DC answers in full.

import { asRecord, badShape, checkIssueRef, checkNotAnonymous, checkProjectKey, num, offsetPage, toFieldInfo, toIssueTypeStatuses, type FieldInfo, type JiraClient } from './jira-api.ts';
import { isNotFound, type CallContext, type JiraHttp } from './jira-http.ts';

const API = '/rest/api/2';
const LIST_PAGE = 100;

export function createDataCenterApi(instanceId: string, http: JiraHttp): JiraClient {
  const get = (path: string, params: Record<string, string | number>, ctx: CallContext) => {
    const query = new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)])).toString();
    return http.request({ path: query === '' ? path : `${path}?${query}` }, ctx);
  };

  async function issue(idOrKey: string, fields: readonly string[], expand: readonly string[], ctx: CallContext) {
    try {
      const params: Record<string, string> = { fields: fields.join(',') };
      if (expand.length > 0) params['expand'] = expand.join(',');
      return asRecord(await get(`${API}/issue/${checkIssueRef(instanceId, idOrKey)}`, params, ctx));
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  return {
    instanceId,
    flavor: 'datacenter',

    async myself(ctx) {
      return checkNotAnonymous(instanceId, `${API}/myself`, await get(`${API}/myself`, {}, ctx));
    },

    async fields(ctx) {
      const list = await get(`${API}/field`, {}, ctx);
      if (!Array.isArray(list)) throw badShape(instanceId, `${API}/field`, 'something other than a list of fields');
      return list.map(toFieldInfo).filter((f): f is FieldInfo => f !== null);
    },

    async search(req, from, ctx) {
      const startAt = from === null ? 0 : from.kind === 'offset' ? from.startAt : 0;
      const page = asRecord(
        await http.request(
          { method: 'POST', path: `${API}/search`, json: { jql: req.jql, startAt, maxResults: req.maxResults, fields: [...req.fields], expand: [...req.expand] } },
          ctx,
        ),
      );
      const issues = page?.['issues'] ?? [];
      if (!Array.isArray(issues)) throw badShape(instanceId, `${API}/search`, 'an "issues" that is not a list');
      const total = num(page?.['total']);
      const end = (num(page?.['startAt']) ?? startAt) + issues.length;
      const more = issues.length > 0 && (total === null ? issues.length >= req.maxResults : end < total);
      return { issues: issues.map((i) => asRecord(i) ?? {}), next: more ? { kind: 'offset', startAt: end } : null, total };
    },

    issue,

    async changelog(idOrKey, startAt, ctx) {
      if (startAt > 0) return { values: [], next: null, total: null };
      const changelog = asRecord((await issue(idOrKey, ['summary'], ['changelog'], ctx))?.['changelog']);
      const histories = changelog?.['histories'];
      return { values: Array.isArray(histories) ? histories : [], next: null, total: num(changelog?.['total']) };
    },

    async comments(idOrKey, startAt, ctx) {
      const page = asRecord(await get(`${API}/issue/${checkIssueRef(instanceId, idOrKey)}/comment`, { startAt, maxResults: LIST_PAGE, orderBy: 'created', expand: 'properties' }, ctx));
      const values = page?.['comments'];
      return offsetPage(Array.isArray(values) ? values : [], num(page?.['startAt']) ?? startAt, num(page?.['total']), null);
    },

    async approvals(idOrKey, start, ctx) {
      try {
        const page = asRecord(await get(`/rest/servicedeskapi/request/${checkIssueRef(instanceId, idOrKey)}/approval`, { start, limit: LIST_PAGE }, ctx));
        const values = page?.['values'];
        const isLast = page?.['isLastPage'];
        return offsetPage(Array.isArray(values) ? values : [], num(page?.['start']) ?? start, null, typeof isLast === 'boolean' ? isLast : true);
      } catch (err) {
        // No such request (the issue is not in a service project), or JSM is not installed.
        if (isNotFound(err)) return { values: [], next: null, total: 0 };
        throw err;
      }
    },

    async projectStatuses(projectKey, ctx) {
      const path = `${API}/project/${checkProjectKey(instanceId, projectKey)}/statuses`;
      return toIssueTypeStatuses(instanceId, path, await get(path, {}, ctx));
    },
  };
}
