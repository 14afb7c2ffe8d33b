// The Jira Cloud REST API behind Atlassian's OAuth 2.0 gateway, as far as the
// OAuth tests read it (`mappings validate --instance` and a sync): each route
// answers only a request `signedIn` lets through, so a spent or revoked access
// token gets the gateway's 401.

import { http, HttpResponse, type HttpHandler, type HttpResponseResolver } from 'msw';
import { siteFields, user } from './jira-fake-site.ts';

export const GATEWAY = 'https://api.atlassian.com/ex/jira/cloud-1/rest/api/3';
export const STATUSES = ['Open', 'Planning', 'Awaiting CAB approval', 'Awaiting implementation', 'Implementing', 'Peer review', 'Completed', 'Failed', 'Canceled'];

export function gatewayHandlers(signedIn: (resolver: HttpResponseResolver) => HttpResponseResolver): HttpHandler[] {
  return [
    http.get(`${GATEWAY}/myself`, signedIn(() => HttpResponse.json({ ...user('712020:svc', 'changegate'), timeZone: 'UTC', locale: 'en_US' }))),
    http.get(`${GATEWAY}/field`, signedIn(() => HttpResponse.json(siteFields()))),
    http.get(
      `${GATEWAY}/project/:key/statuses`,
      signedIn(() => HttpResponse.json([{ id: '10100', name: '[System] Change', subtask: false, statuses: STATUSES.map((name, j) => ({ id: String(10200 + j), name })) }])),
    ),
    http.post(`${GATEWAY}/search/jql`, signedIn(() => HttpResponse.json({ issues: [], isLast: true }))),
  ];
}
