// The whole write-back path over real HTTP for the policy scenarios: the
// ServiceNow and Jira simulators behind node:http, the real connectors (built
// as the app builds them, writers included), sync engine, SQLite stores,
// assessment runner, enforcement and outbox worker, on one clock the test moves.
// CI and monitoring events reach the policy through the context's event source
// (the harness stands in for ingestion and correlation): tests push them into `events`.

import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import type { ConnectorInstance } from '../../src/kit/connector.ts';
import { JiraSimulator } from '../../connectors/jira/simulator/jira-simulator.ts';
import { ServiceNowSimulator, type Row } from '../../connectors/servicenow/simulator/servicenow-simulator.ts';
import { VERDICT_FIELDS } from '../../connectors/servicenow/servicenow-writer.ts';
import { startSimulatorServer, type SimulatorServer } from '../../connectors/simulator-http.ts';
import { buildConnector } from '../../src/app/build-connectors.ts';
import { AssessmentRunner } from '../../src/assess/assessment-runner.ts';
import { ServiceNowInstance } from '../../connectors/servicenow/servicenow-config.ts';
import { JiraInstance } from '../../connectors/jira/jira-config.ts';
import type { CiEvent, MonitorEvent } from '../../src/domain/events.ts';
import { loadPolicy } from '../../src/policy/policy-config.ts';
import { createMetrics, type Metrics } from '../../src/observability/metrics.ts';
import type { OutboxStore } from '../../src/store/outbox-store.ts';
import type { EnforcementMode } from '../../src/store/assessment-store.ts';
import { SqliteAssessmentStore } from '../../src/store/sqlite/sqlite-assessment-store.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { SqliteOutboxStore } from '../../src/store/sqlite/sqlite-outbox-store.ts';
import { OutboxWorker } from '../../src/sync/outbox-worker.ts';
import { SyncEngine } from '../../src/sync/sync-engine.ts';
import { registry } from '../../src/app/registry.ts';

const ROOT = resolve(import.meta.dirname, '../..');

// The fields the changegate update set adds to change_request, as the writer names them.
export const VERDICT_COLUMNS: string[] = Object.values(VERDICT_FIELDS);

/** The people and groups a change names; reference rows the simulator holds with these sys_ids. */
export const PEOPLE = {
  requester: 'a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1',
  engineer: 'b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2',
  changeManager: 'c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3',
  ecab: 'd4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4',
  platformGroup: 'e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5',
  payments: 'f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6',
} as const;

export interface Scenario {
  clock: { now: Date; set(iso: string): void; advance(ms: number): void };
  sn: ServiceNowSimulator;
  jira: JiraSimulator;
  events: { ci: CiEvent[]; monitor: MonitorEvent[] };
  modes: Map<string, EnforcementMode>;
  store: SqliteChangeStore;
  assessments: SqliteAssessmentStore;
  outbox: SqliteOutboxStore;
  runner: AssessmentRunner;
  metrics: Metrics;
  /** The SQLite file the mirror, assessments and outbox share (a restarted process opens it again). */
  dbFile: string;
  engine: SyncEngine;
  connectors: Map<string, ConnectorInstance>;
  /** A worker on the scenario's outbox (or another connection to its file: a restarted process). */
  newWorker(outbox?: OutboxStore): OutboxWorker;
  worker: OutboxWorker;
  /** Sync an instance (which assesses and enforces), then work the outbox. */
  sync(instance: 'sn' | 'jsm'): Promise<void>;
  /** Re-assess on demand (new events, the clock moved), then work the outbox. */
  reassess(idOrKey: string): Promise<void>;
  /** Sync until nothing new is written back (write-back echoes as new revisions). */
  settle(instance: 'sn' | 'jsm'): Promise<void>;
  close(): Promise<void>;
}

function scenarioPolicy(dir: string): string {
  const file = join(dir, 'policy.yaml');
  writeFileSync(
    file,
    [
      'kind: policy',
      'version: "scenarios"',
      'rules:',
      '  scheduled.approvals:',
      // The simulator keeps no sysapproval_group rows, so approvals are matched by approver.
      '    minor: { label: change manager, groups: [Change Management], users: [Carla Manager] }',
      '    major: { label: CAB, groups: [CAB], users: [Carla Manager] }',
      '    emergency: { label: eCAB, groups: [eCAB], users: [Erik Ecab] }',
      'calendar:',
      '  - { id: spring-freeze, name: Spring release freeze, kind: freeze, timeZone: UTC, start: "2026-04-20T00:00", end: "2026-04-27T00:00" }',
      '',
    ].join('\n'),
  );
  return file;
}

/** The shipped ServiceNow mapping, reading linked commits from `u_commits`. */
function serviceNowMapping(dir: string): string {
  const file = join(dir, 'servicenow.yaml');
  const text = readFileSync(join(ROOT, 'mappings/servicenow.default.yaml'), 'utf8').replace(/^(\s+)commits: null/m, '$1commits: u_commits');
  writeFileSync(file, text);
  return file;
}

function seedPeople(sn: ServiceNowSimulator): void {
  const user = (sysId: string, userName: string, name: string): Row => sn.insertRecord('sys_user', { sys_id: sysId, user_name: userName, name, active: 'true' });
  user(PEOPLE.requester, 'rita.requester', 'Rita Requester');
  user(PEOPLE.engineer, 'ed.engineer', 'Ed Engineer');
  user(PEOPLE.changeManager, 'carla.manager', 'Carla Manager');
  user(PEOPLE.ecab, 'erik.ecab', 'Erik Ecab');
  sn.insertRecord('sys_user_group', { sys_id: PEOPLE.platformGroup, name: 'Platform Engineering', active: 'true' });
  sn.insertRecord('cmdb_ci_service', { sys_id: PEOPLE.payments, name: 'Payments API', operational_status: '1' });
}

export async function startScenario(options: { start: string; serviceNowTimeout?: string }): Promise<Scenario> {
  const dir = mkdtempSync(join(tmpdir(), 'cg-scenarios-'));
  const clock = {
    now: new Date(options.start),
    set(iso: string) {
      this.now = new Date(iso);
    },
    advance(ms: number) {
      this.now = new Date(this.now.getTime() + ms);
    },
  };
  const now = (): Date => clock.now;
  const sn = new ServiceNowSimulator({ baseUrl: 'http://127.0.0.1', clock: now, timeZone: 'UTC', customFields: ['u_commits', ...VERDICT_COLUMNS] });
  const jira = new JiraSimulator({ baseUrl: 'http://127.0.0.1', clock: () => clock.now.getTime(), auth: { basic: [{ email: 'ops@acme.example', apiToken: 't-ops' }] } });
  const snServer: SimulatorServer = await startSimulatorServer(sn.handlers());
  const jiraServer: SimulatorServer = await startSimulatorServer(jira.handlers());
  sn.setBaseUrl(snServer.url);
  jira.setBaseUrl(jiraServer.url);
  seedPeople(sn);

  const logger = pino({ level: 'silent' });
  const metrics = createMetrics({ defaultMetrics: false });
  const policy = loadPolicy(scenarioPolicy(dir));
  const dbFile = join(dir, 'changegate.db');
  const store = SqliteChangeStore.open(dbFile);
  const assessments = SqliteAssessmentStore.open(dbFile);
  const outbox = SqliteOutboxStore.open(dbFile);
  const events = { ci: [] as CiEvent[], monitor: [] as MonitorEvent[] };
  const modes = new Map<string, EnforcementMode>([
    ['sn', 'enforce'],
    ['jsm', 'enforce'],
  ]);
  const instances = [
    ServiceNowInstance.parse({ id: 'sn', system: 'servicenow', baseUrl: snServer.url, auth: { kind: 'basic', username: 'admin', password: 'admin' }, mapping: serviceNowMapping(dir), retries: 1, timeout: options.serviceNowTimeout ?? '5s' }),
    JiraInstance.parse({ id: 'jsm', system: 'jira', baseUrl: jiraServer.url, auth: { kind: 'basic', email: 'ops@acme.example', apiToken: 't-ops' }, projects: ['ITSM'], retries: 1, timeout: '5s' }),
  ];
  const connectors = new Map<string, ConnectorInstance>(instances.map((i) => [i.id, buildConnector(i, registry, { logger, metrics })]));
  const runner = new AssessmentRunner({
    store,
    assessments,
    outbox,
    policy,
    // Monitoring watches every service of the scenarios and has just reported, so alert checks judge the alerts pushed.
    events: async (_change, at) => ({ ci: [...events.ci], monitor: [...events.monitor], watch: { covered: true, sources: ['scenario-monitor'], lastHeartbeat: at.toISOString() } }),
    modeOf: (id) => modes.get(id) ?? null,
    logger,
    metrics,
    clock: now,
  });
  const engine = new SyncEngine({ store, logger, metrics, clock: now, onChangesWritten: (instance, ids, context) => runner.onChangesWritten(instance, ids, context) });
  for (const i of instances) engine.register({ connector: connectors.get(i.id) as ConnectorInstance, pageSize: 100, overlapMs: i.overlap });
  const newWorker = (on: OutboxStore = outbox): OutboxWorker =>
    new OutboxWorker({
      outbox: on,
      writerFor: (id) => connectors.get(id)?.writer,
      logger,
      metrics,
      clock: now,
    });
  const scenario: Scenario = {
    clock,
    sn,
    jira,
    events,
    modes,
    store,
    assessments,
    outbox,
    runner,
    metrics,
    dbFile,
    engine,
    connectors,
    newWorker,
    worker: newWorker(),
    async sync(instance) {
      await engine.sync(instance);
      await scenario.worker.drain();
    },
    async reassess(idOrKey) {
      await runner.assessChange(idOrKey, { force: true });
      await scenario.worker.drain();
    },
    async settle(instance) {
      // Our own writes come back as new revisions; they must change nothing, so two rounds reach a fixpoint.
      for (let round = 0; round < 3; round++) {
        clock.advance(1000);
        await scenario.sync(instance);
      }
    },
    async close() {
      await snServer.close();
      await jiraServer.close();
      await store.close();
      await assessments.close();
      await outbox.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return scenario;
}

/** What a change manager reads in the ServiceNow work notes of a change, oldest first. */
export function workNotes(sn: ServiceNowSimulator, sysId: string): string[] {
  return sn
    .journalFor(sysId)
    .filter((row) => row.element === 'work_notes')
    .toSorted((a, b) => String(a.sys_created_on).localeCompare(String(b.sys_created_on)) || 0)
    .map((row) => String(row.value));
}

/** Work notes changegate wrote (they carry its marker). */
export function changegateNotes(sn: ServiceNowSimulator, sysId: string): string[] {
  return workNotes(sn, sysId).filter((text) => text.includes('[changegate:'));
}

let shaCounter = 0;
/** A fresh 40-hex commit sha. */
export function newSha(): string {
  shaCounter += 1;
  return createHash('sha1').update(`commit ${shaCounter}`).digest('hex');
}

/** A CI event as the normaliser would produce it. */
export function ci(partial: Partial<CiEvent> & Pick<CiEvent, 'id' | 'kind' | 'status' | 'commit'> & { at: string }): CiEvent {
  const { at, ...rest } = partial;
  return {
    source: 'github',
    repo: 'acme/payments-api',
    branch: 'main',
    runId: partial.id,
    name: null,
    environment: null,
    startedAt: at,
    finishedAt: at,
    url: `https://github.com/acme/payments-api/actions/runs/${partial.id}`,
    changeKeys: [],
    tests: null,
    findings: null,
    verified: null,
    ...rest,
  };
}

/** Green build + tests + clean scan, and a verified deploy to SIT, UAT and Pre-Prod in order, all before `before`. */
export function readinessEvents(commit: string, before: string): CiEvent[] {
  const t = (minutesBefore: number): string => new Date(Date.parse(before) - minutesBefore * 60_000).toISOString();
  return [
    ci({ id: `${commit}-build`, kind: 'build', status: 'success', commit, at: t(300) }),
    ci({ id: `${commit}-test`, kind: 'test', status: 'success', commit, at: t(290), tests: { passed: 412, failed: 0, skipped: 3 } }),
    ci({ id: `${commit}-scan`, kind: 'scan', status: 'success', commit, at: t(280), findings: { critical: 0, high: 0, medium: 2 } }),
    ci({ id: `${commit}-sit`, kind: 'deploy', status: 'success', commit, at: t(240), environment: 'SIT', verified: true }),
    ci({ id: `${commit}-uat`, kind: 'deploy', status: 'success', commit, at: t(180), environment: 'UAT', verified: true }),
    ci({ id: `${commit}-preprod`, kind: 'deploy', status: 'success', commit, at: t(120), environment: 'Pre-Prod', verified: true }),
  ];
}

/** A production deploy and a green smoke test after it. */
export function productionEvents(commit: string, at: string): CiEvent[] {
  const later = new Date(Date.parse(at) + 10 * 60_000).toISOString();
  return [
    ci({ id: `${commit}-prod`, kind: 'deploy', status: 'success', commit, at, environment: 'production', verified: true }),
    ci({ id: `${commit}-smoke`, kind: 'test', status: 'success', commit, at: later, environment: 'production', name: 'smoke', tests: { passed: 25, failed: 0, skipped: 0 } }),
  ];
}
