import { describe, expect, it } from 'vitest';
import { JiraSimulator } from '../../connectors/jira/simulator/jira-simulator.ts';
import { startSimulatorServer } from '../../connectors/simulator-http.ts';

// No msw server here: these requests cross a real socket to the simulator.

describe('over real HTTP', () => {
  it('serves the same handlers through startSimulatorServer', async () => {
    const local = new JiraSimulator({ baseUrl: 'http://127.0.0.1:1' });
    local.seedDemoData({ count: 5 });
    const http = await startSimulatorServer(local.handlers(), { port: 0 });
    try {
      local.setBaseUrl(http.url);
      const res = await fetch(`${http.url}/rest/api/3/search/jql?jql=${encodeURIComponent('project = ITSM ORDER BY key ASC')}&fields=summary`);
      const body = (await res.json()) as { issues: { key: string; self: string }[] };
      expect(res.status).toBe(200);
      expect(body.issues.map((i) => i.key)).toEqual(['ITSM-1', 'ITSM-2', 'ITSM-3', 'ITSM-4', 'ITSM-5']);
      expect(body.issues[0]?.self.startsWith(`${http.url}/rest/api/3/issue/`)).toBe(true);
    } finally {
      await http.close();
    }
  });

  it('serves Data Center over HTTP with a PAT and answers a revoked PAT anonymously', async () => {
    const dc = new JiraSimulator({ baseUrl: 'http://127.0.0.1:1', flavor: 'datacenter', auth: { bearer: ['pat-1'] } });
    dc.seedDemoData({ count: 3 });
    const http = await startSimulatorServer(dc.handlers(), { port: 0 });
    try {
      dc.setBaseUrl(http.url);
      const get = (path: string): Promise<Response> => fetch(`${http.url}${path}`, { headers: { authorization: 'Bearer pat-1' } });
      const page = (await (await get('/rest/api/2/search?jql=project%3DITSM&fields=description,assignee')).json()) as { total: number; issues: { fields: { description: unknown; assignee: { name?: string } } }[] };
      expect(page.total).toBe(3);
      expect(typeof page.issues[0]?.fields.description).toBe('string');
      expect(page.issues[0]?.fields.assignee.name).toBe('bob.implementer');
      dc.revokeToken('pat-1');
      const after = await get('/rest/api/2/search?jql=project%3DITSM');
      expect(after.status).toBe(200);
      expect(after.headers.get('x-seraph-loginreason')).toBe('AUTHENTICATED_FAILED');
      expect(((await after.json()) as { total: number }).total).toBe(0);
    } finally {
      await http.close();
    }
  });
});
