// The Jira site the outbox tests write to: the simulator at one base URL and
// instant, signed in as ops@acme.example (Cloud, API token) or with a personal
// access token (Data Center), and the instance configured for it.

import { JiraSimulator } from '../../connectors/jira/simulator/jira-simulator.ts';
import { JiraInstance } from '../../connectors/jira/jira-config.ts';

export const OUTBOX_SITE = 'https://acme.atlassian.net';
/** The simulator's clock, unless the caller gives one. */
export const OUTBOX_T0 = Date.parse('2026-04-09T10:00:00Z');

/** The simulator (its handlers for the caller's msw server) and the instance's configuration; `instance` adds to it. */
export function jiraOutboxSite(flavor: 'cloud' | 'datacenter', site: { commentListMaxResults?: number; clock?: () => number } = {}, instance: Record<string, unknown> = {}) {
  const cloud = flavor === 'cloud';
  const sim = new JiraSimulator({ clock: () => OUTBOX_T0, ...site, baseUrl: OUTBOX_SITE, flavor, auth: cloud ? { basic: [{ email: 'ops@acme.example', apiToken: 't-ops' }] } : { bearer: ['pat-ops'] } });
  const config = JiraInstance.parse({
    id: 'jsm',
    system: 'jira',
    flavor,
    baseUrl: OUTBOX_SITE,
    auth: cloud ? { kind: 'basic', email: 'ops@acme.example', apiToken: 't-ops' } : { kind: 'pat', token: 'pat-ops' },
    projects: ['ITSM'],
    retries: 0,
    ...instance,
  });
  return { sim, instance: config };
}
