import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createJiraClient } from '../../connectors/jira/jira-client.ts';
import { loadJiraMapping } from '../../connectors/jira/jira-mapping.ts';
import { validateMappingAgainstSite } from '../../connectors/jira/validate-live-mapping.ts';
import { JiraInstance } from '../../connectors/jira/jira-config.ts';
import { API, BASE, fieldsHandler, myselfHandler, siteFields, SITE_IDS } from '../support/jira-fake-site.ts';

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

const STATUSES = ['Open', 'Planning', 'Awaiting CAB approval', 'Awaiting implementation', 'Implementing', 'Peer review', 'Completed', 'Failed', 'Canceled'];

function statusesHandler(byProject: Record<string, { name: string; statuses: string[] }[]>) {
  return http.get(`${API}/project/:key/statuses`, ({ params }) =>
    HttpResponse.json(
      (byProject[String(params['key'])] ?? []).map((t, i) => ({ id: String(10100 + i), name: t.name, subtask: false, statuses: t.statuses.map((name, j) => ({ id: String(10200 + j), name })) })),
    ),
  );
}

const instance = JiraInstance.parse({ id: 'jsm-live', system: 'jira', baseUrl: BASE, auth: { kind: 'basic', email: 'ops@acme.example', apiToken: 't' }, projects: ['ITSM', 'OPS'] });
const client = () => createJiraClient(instance, { logger: pino({ level: 'silent' }) });
const mapping = loadJiraMapping();

describe('the Jira mapping checked against a live site', () => {
  it('finds nothing to say when every field and status matches', async () => {
    server.use(myselfHandler(), fieldsHandler(), statusesHandler({ ITSM: [{ name: '[System] Change', statuses: STATUSES }], OPS: [{ name: '[System] Change', statuses: STATUSES }] }));
    expect(await validateMappingAgainstSite(instance, mapping, client())).toEqual([]);
  });

  it('names renamed fields, unmapped and unknown statuses, and a project without the issue type', async () => {
    const { 'Change risk': _risk, ...rest } = SITE_IDS;
    const fields = siteFields({ ...rest, 'Change risks': 'customfield_20106' });
    const itsm = STATUSES.filter((s) => s !== 'Failed').concat('Waiting for vendor');
    server.use(myselfHandler(), fieldsHandler(fields), statusesHandler({ ITSM: [{ name: '[System] Change', statuses: itsm }], OPS: [{ name: '[System] Incident', statuses: ['Open'] }] }));

    expect(await validateMappingAgainstSite(instance, mapping, client())).toEqual([
      `${mapping.file} fields.riskLevel: jsm-live has no field "Change risk"; did you mean "Change risks"?`,
      `${mapping.file} statuses: status "Waiting for vendor" (id 10208) of ITSM / [System] Change is not mapped; changes in it would be skipped until it is added`,
      'jsm-live issueTypes: project OPS has no issue type "[System] Change" (it has "[System] Incident")',
      `${mapping.file} statuses.Failed: no workflow of [System] Change in ITSM, OPS on jsm-live has a status "Failed"`,
    ]);
  });

  it('names a field several site fields share', async () => {
    const fields = [...siteFields(), { id: 'customfield_77777', key: 'customfield_77777', name: 'Impact', custom: true, schema: { type: 'option' } }];
    server.use(myselfHandler(), fieldsHandler(fields), statusesHandler({ ITSM: [{ name: '[System] Change', statuses: STATUSES }], OPS: [{ name: '[System] Change', statuses: STATUSES }] }));
    expect(await validateMappingAgainstSite(instance, mapping, client())).toEqual([
      `${mapping.file} fields.impact: 2 fields of jsm-live are named "Impact" (${SITE_IDS.Impact}, customfield_77777); name the one you mean by its id`,
    ]);
  });
});
