// The built-in demo: a seeded ServiceNow simulator served over real HTTP on a
// free loopback port, and the instance configuration that points at it.

import { startSimulatorServer, type SimulatorServer } from '../../connectors/simulator-http.ts';
import { createDemoSimulator } from '../../connectors/servicenow/simulator/demo-data.ts';
import { InstanceConfig } from '../config/schema.ts';
import type { Logger } from '../log.ts';

export interface DemoInstances {
  instances: InstanceConfig[];
  servers: SimulatorServer[];
  close(): Promise<void>;
}

export const DEMO_SERVICENOW_USER = { username: 'admin', password: 'admin' };

export async function startDemoInstances(options: { logger: Logger; count?: number }): Promise<DemoInstances> {
  let handlers: () => ReturnType<Awaited<ReturnType<typeof createDemoSimulator>>['handlers']> = () => [];
  const server = await startSimulatorServer(() => handlers());
  const sim = await createDemoSimulator(server.url, options.count === undefined ? {} : { count: options.count });
  handlers = () => sim.handlers();
  options.logger.info({ url: server.url }, `demo ServiceNow simulator serving ${sim.listChanges().length} change requests at ${server.url}`);
  const instances = [
    InstanceConfig.parse({
      id: 'sn-demo',
      system: 'servicenow',
      baseUrl: server.url,
      auth: { kind: 'basic', ...DEMO_SERVICENOW_USER },
      schedule: '* * * * *',
      overlap: '2m',
      pageSize: 100,
    }),
  ];
  return { instances, servers: [server], close: () => server.close() };
}
