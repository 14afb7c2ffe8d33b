// Site-level reads: the field list (a plain array: clients resolve custom
// fields by name here), the current user, server info, issue types and the
// project search that reference §1.4 uses to show the revoked-token trap.

import { ISSUE_TYPES } from './field-catalog.ts';
import { jiraTimestamp } from './jira-time.ts';
import { renderStatus, renderUser } from './issue-renderer.ts';
import { intParam, jiraError, json, type Route, type RouteRequest, type SimContext } from './sim-http.ts';

function fields(sim: SimContext): Response {
  return json(
    sim.catalog.list.map((f) => {
      const out: Record<string, unknown> = {
        id: f.id,
        key: f.id,
        name: f.name,
        // Real sites send untranslatedName (see the public field capture) though the OpenAPI bean omits it.
        ...(f.custom ? { untranslatedName: f.name } : {}),
        custom: f.custom,
        orderable: f.orderable,
        navigable: f.navigable,
        searchable: f.searchable,
        clauseNames: f.clauseNames,
      };
      if (f.schema) out.schema = f.schema;
      return out;
    }),
  );
}

function myself(sim: SimContext, r: RouteRequest): Response {
  const body = renderUser(r.user ?? undefined, sim.render(r.api)) ?? {};
  return json({ ...body, locale: 'en_US', groups: { size: 1, items: [] }, applicationRoles: { size: 1, items: [] }, expand: 'groups,applicationRoles' });
}

function serverInfo(sim: SimContext): Response {
  const now = sim.now();
  const cloud = sim.flavor === 'cloud';
  return json({
    baseUrl: sim.baseUrl,
    version: cloud ? '1001.0.0-SNAPSHOT' : '10.3.6',
    versionNumbers: cloud ? [1001, 0, 0] : [10, 3, 6],
    deploymentType: cloud ? 'Cloud' : 'Server',
    buildNumber: cloud ? 100_290 : 10_030_006,
    buildDate: jiraTimestamp(Date.UTC(2025, 9, 1), sim.timeZone),
    serverTime: jiraTimestamp(now, sim.timeZone),
    scmInfo: 'changegate-simulator',
    serverTitle: 'Jira',
    serverTimeZone: sim.timeZone,
  });
}

function issueTypes(sim: SimContext, r: RouteRequest): Response {
  const api = `${sim.baseUrl}/rest/api/${r.api}`;
  return json(ISSUE_TYPES.map((t) => ({ self: `${api}/issuetype/${t.id}`, id: t.id, description: t.description, iconUrl: `${sim.baseUrl}/secure/viewavatar?size=medium&avatarId=10300&avatarType=issuetype`, name: t.name, untranslatedName: t.name, subtask: false, hierarchyLevel: 0 })));
}

function projectSearch(sim: SimContext, r: RouteRequest): Response {
  const startAt = Math.max(0, intParam(r.url, 'startAt', 0) || 0);
  const maxResults = Math.min(Math.max(1, intParam(r.url, 'maxResults', 50) || 50), 100);
  const api = `${sim.baseUrl}/rest/api/${r.api}`;
  const visible = r.user ? sim.projects : [];
  const values = visible.slice(startAt, startAt + maxResults).map((p) => ({ self: `${api}/project/${p.id}`, id: p.id, key: p.key, name: p.name, projectTypeKey: 'service_desk', simplified: false, style: 'classic', isPrivate: false }));
  return json({ self: `${api}/project/search?startAt=${startAt}&maxResults=${maxResults}`, maxResults, startAt, total: visible.length, isLast: startAt + values.length >= visible.length, values });
}

/** GET /project/{key}/statuses: every issue type of the project with the statuses its workflow uses. */
function projectStatuses(sim: SimContext, r: RouteRequest): Response {
  const ref = r.params.key ?? '';
  const project = sim.projects.find((p) => p.key === ref || p.id === ref);
  if (!project) return jiraError(404, [`No project could be found with key '${ref}'.`]);
  const api = `${sim.baseUrl}/rest/api/${r.api}`;
  const ctx = sim.render(r.api);
  const statuses = sim.workflow.def.statuses.map((s) => renderStatus(s.id, ctx));
  return json(ISSUE_TYPES.map((t) => ({ self: `${api}/issuetype/${t.id}`, id: t.id, name: t.name, subtask: false, statuses })));
}

export const siteRoutes: Route[] = [
  { method: 'GET', pattern: '/rest/api/:v/project/:key/statuses', handle: projectStatuses },
  { method: 'GET', pattern: '/rest/api/:v/field', anonymous: true, handle: fields },
  { method: 'GET', pattern: '/rest/api/:v/myself', handle: myself },
  { method: 'GET', pattern: '/rest/api/:v/serverInfo', anonymous: true, handle: serverInfo },
  { method: 'GET', pattern: '/rest/api/:v/issuetype', anonymous: true, handle: issueTypes },
  { method: 'GET', pattern: '/rest/api/:v/project/search', anonymous: true, handle: projectSearch },
];
