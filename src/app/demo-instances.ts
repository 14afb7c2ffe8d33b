// The built-in demo: a seeded ServiceNow simulator and a seeded Jira Cloud/JSM
// simulator, each served over real HTTP on a free loopback port, and the two
// instance configurations that point at them. The Jira site's admin webhook
// posts to changegate's own `/v1/webhooks/jira/jsm-demo`, signed with the
// instance's webhook secret; its URL is corrected once the server listens
// (`setChangegateUrl`), since the listening port is only known then.

import { randomBytes } from 'node:crypto';
import { JiraSimulator } from '../../connectors/jira/simulator/jira-simulator.ts';
import { startSimulatorServer, type SimulatorServer } from '../../connectors/simulator-http.ts';
import { createDemoSimulator } from '../../connectors/servicenow/simulator/demo-data.ts';
import type { ServiceNowSimulator } from '../../connectors/servicenow/simulator/servicenow-simulator.ts';
import { VERDICT_FIELDS } from '../../connectors/servicenow/servicenow-writer.ts';
import type { InstanceConfig } from '../config/schema.ts';
import { InstanceConfig as InstanceSchema } from './registry.ts';
import type { Logger } from '../log.ts';

export interface DemoInstances {
  /** `sn-demo` (ServiceNow) and `jsm-demo` (Jira Cloud / JSM), in that order. */
  instances: InstanceConfig[];
  servers: SimulatorServer[];
  simulators: { servicenow: ServiceNowSimulator; jira: JiraSimulator };
  /** Points the Jira simulator's admin webhook at changegate, e.g. `http://127.0.0.1:8080`, once it listens. */
  setChangegateUrl(url: string): void;
  close(): Promise<void>;
}

export interface DemoOptions {
  logger: Logger;
  /** Changes seeded on each simulator (default: 300 on ServiceNow, 200 on Jira). */
  count?: number;
  /** Where changegate will listen; the Jira webhook points here until `setChangegateUrl` says otherwise. */
  changegateUrl?: string;
}

export const DEMO_IDS = { servicenow: 'sn-demo', jira: 'jsm-demo' } as const;
/** Throwaway credentials of the local simulators (documented in the README so the demo sites can be explored by hand). */
export const DEMO_SERVICENOW_USER = { username: 'admin', password: 'admin' };
export const DEMO_JIRA_USER = { email: 'changegate@demo.example', apiToken: 'demo-api-token' };

const JIRA_PROJECT = 'ITSM';
const DEFAULT_CHANGEGATE_URL = 'http://127.0.0.1:8080';

const jiraWebhookUrl = (changegateUrl: string): string => `${changegateUrl.replace(/\/+$/, '')}/v1/webhooks/jira/${DEMO_IDS.jira}`;

async function startServiceNow(count: number | undefined): Promise<{ sim: ServiceNowSimulator; server: SimulatorServer }> {
  // The simulator needs the server's URL, the server the simulator's handlers: the handlers are read per request.
  let sim: ServiceNowSimulator | undefined;
  const server = await startSimulatorServer(() => sim?.handlers() ?? []);
  sim = createDemoSimulator(server.url, {
    ...(count === undefined ? {} : { count }),
    // The verdict fields the changegate update set adds to change_request.
    customFields: Object.values(VERDICT_FIELDS),
  });
  return { sim, server };
}

async function startJira(count: number | undefined, webhookUrl: string, secret: string): Promise<{ sim: JiraSimulator; server: SimulatorServer }> {
  let sim: JiraSimulator | undefined;
  const server = await startSimulatorServer(() => sim?.handlers() ?? []);
  // A clean webhook: the demo shows the happy path (the simulator's drop/duplicate chaos is for tests).
  sim = new JiraSimulator({ baseUrl: server.url, auth: { basic: [DEMO_JIRA_USER] }, webhook: { url: webhookUrl, secret } });
  sim.seedDemoData(count === undefined ? {} : { count });
  return { sim, server };
}

/** The two demo instance configurations, pointing at simulators served on these URLs. */
export function demoInstanceConfigs(urls: { servicenow: string; jira: string }, webhookSecret: string): InstanceConfig[] {
  return [
    InstanceSchema.parse({
      id: DEMO_IDS.servicenow,
      system: 'servicenow',
      baseUrl: urls.servicenow,
      auth: { kind: 'basic', ...DEMO_SERVICENOW_USER },
      schedule: '* * * * *',
      overlap: '2m',
      pageSize: 100,
      // The demo shows verdicts on its tickets (work notes, verdict fields); a real instance opts in.
      writeBack: true,
    }),
    InstanceSchema.parse({
      id: DEMO_IDS.jira,
      system: 'jira',
      baseUrl: urls.jira,
      auth: { kind: 'basic', ...DEMO_JIRA_USER },
      projects: [JIRA_PROJECT],
      webhookSecret,
      schedule: '* * * * *',
      overlap: '2m',
      pageSize: 100,
      writeBack: true,
    }),
  ];
}

export async function startDemoInstances(options: DemoOptions): Promise<DemoInstances> {
  const { logger } = options;
  // Only this process needs the secret: the simulator signs with it, the instance verifies with it.
  const webhookSecret = randomBytes(24).toString('base64url');
  const servicenow = await startServiceNow(options.count);
  let jira: Awaited<ReturnType<typeof startJira>>;
  try {
    jira = await startJira(options.count, jiraWebhookUrl(options.changegateUrl ?? DEFAULT_CHANGEGATE_URL), webhookSecret);
  } catch (err) {
    await servicenow.server.close();
    throw err;
  }
  const instances = demoInstanceConfigs({ servicenow: servicenow.server.url, jira: jira.server.url }, webhookSecret);
  const snCount = servicenow.sim.listChanges().length;
  const jiraCount = jira.sim.store.all.length;
  logger.warn(
    { instance: DEMO_IDS.servicenow, url: servicenow.server.url, changes: snCount },
    `DEMO: ServiceNow simulator for instance ${DEMO_IDS.servicenow} serves ${snCount} seeded change requests at ${servicenow.server.url}`,
  );
  logger.warn(
    { instance: DEMO_IDS.jira, url: jira.server.url, changes: jiraCount, project: JIRA_PROJECT },
    `DEMO: Jira Cloud/JSM simulator for instance ${DEMO_IDS.jira} serves ${jiraCount} seeded change issues (project ${JIRA_PROJECT}) at ${jira.server.url}`,
  );
  return {
    instances,
    servers: [servicenow.server, jira.server],
    simulators: { servicenow: servicenow.sim, jira: jira.sim },
    setChangegateUrl(url) {
      const target = jiraWebhookUrl(url);
      jira.sim.setWebhookUrl(target);
      logger.warn({ instance: DEMO_IDS.jira, webhook: target }, `DEMO: the Jira simulator's admin webhook posts signed deliveries to ${target}`);
    },
    async close() {
      await jira.sim.flushWebhooks();
      await Promise.all([servicenow.server.close(), jira.server.close()]);
    },
  };
}
