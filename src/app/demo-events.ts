// The demo's event loop: a demo pipeline (GitHub Actions webhooks) and a demo
// Alertmanager that post signed deliveries over HTTP to changegate's own
// `POST /v1/events/:source`, for a few demo changes, so a newcomer sees the
// governance loop turn within the first minutes of `npm start`:
//
// - gate story: for a Scheduled change on each demo instance, a workflow run
//   of a commit on a branch naming the change starts (`implement.ci-green`
//   pending: "still running"), then goes green (pass);
// - hypercare story: for an Implement change on ServiceNow, the commit is
//   deployed to production (hypercare starts), a critical alert fires on the
//   change's service (a work note on the ticket; closure held), then resolves
//   (a second note).
//
// Alertmanager's Watchdog is sent first and repeated every 5 min, so the alert
// checks know a monitor watches. Each story waits until its change is mirrored
// and assessed once, so the first verdict on the ticket is the one before the
// evidence.

import { createHash, createHmac, randomBytes } from 'node:crypto';
import { DEMO_EVENT_SOURCES } from '../config/demo-event-sources.ts';
import type { Change } from '../domain/change.ts';
import type { Logger } from '../log.ts';
import type { AssessmentStore } from '../store/assessment-store.ts';
import type { ChangeStore } from '../store/change-store.ts';

export interface DemoStory {
  kind: 'gate' | 'hypercare';
  instance: string;
  key: string;
  /** The service the hypercare alert fires on. */
  service?: string;
}

export interface DemoEventLoopDeps {
  /** changegate's own URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  sources: readonly { id: string; kind: string; secrets: readonly string[] }[];
  /** The demo instances: a gate story on each, the hypercare story on the first. */
  instances: readonly string[];
  store: ChangeStore;
  assessments: AssessmentStore;
  logger: Logger;
  /** Pause between the steps of a story (default 20 s: long enough to see each verdict on the ticket). */
  stepMs?: number;
}

const REPO = 'acme/payments-platform';
const POLL_MS = 2_000;
/** Alertmanager's repeat interval for the Watchdog here: well inside the default heartbeat age (15 min). */
const HEARTBEAT_MS = 5 * 60_000;

function sha(seed: string): string {
  return createHash('sha1').update(seed).digest('hex');
}

function runId(seed: string): number {
  return Number.parseInt(sha(seed).slice(0, 8), 16);
}

/** A `workflow_run` webhook body as GitHub sends it (the fields changegate and most receivers read). */
function workflowRun(change: Change, status: 'in_progress' | 'completed', at: Date): unknown {
  const commit = sha(`demo:${change.id}`);
  const branch = `feature/${change.key.toLowerCase()}-demo`;
  const id = runId(change.id);
  const started = new Date(at.getTime() - (status === 'completed' ? 90_000 : 0)).toISOString();
  return {
    action: status === 'completed' ? 'completed' : 'in_progress',
    workflow_run: {
      id,
      name: 'build',
      head_branch: branch,
      head_sha: commit,
      display_title: `${change.key}: ${change.title}`,
      run_number: id % 1000,
      run_attempt: 1,
      event: 'push',
      status,
      conclusion: status === 'completed' ? 'success' : null,
      workflow_id: 1,
      html_url: `https://github.com/${REPO}/actions/runs/${id}`,
      created_at: started,
      run_started_at: started,
      updated_at: at.toISOString(),
      pull_requests: [],
      head_commit: { id: commit, message: `${change.key}: ${change.title}`, timestamp: started },
    },
    workflow: { id: 1, name: 'build', path: '.github/workflows/build.yml' },
    repository: { id: 1, name: 'payments-platform', full_name: REPO },
    sender: { login: 'demo-pipeline', type: 'Bot' },
  };
}

/** A `deployment_status` webhook body: the change's commit deployed to production. */
function productionDeploy(change: Change, at: Date): unknown {
  const id = runId(`deploy:${change.id}`);
  const when = at.toISOString();
  return {
    action: 'created',
    deployment_status: { id: id + 1, state: 'success', environment: 'production', log_url: `https://github.com/${REPO}/actions/runs/${id}`, created_at: when, updated_at: when },
    deployment: {
      id,
      sha: sha(`demo:${change.id}`),
      ref: `feature/${change.key.toLowerCase()}-demo`,
      task: 'deploy',
      environment: 'production',
      description: `${change.key}: ${change.title}`,
      payload: {},
      created_at: when,
      updated_at: when,
    },
    repository: { id: 1, name: 'payments-platform', full_name: REPO },
    sender: { login: 'demo-pipeline', type: 'Bot' },
  };
}

interface DemoAlert {
  name: string;
  labels: Record<string, string>;
  summary: string;
  startsAt: string;
  endsAt: string | null;
}

/** An Alertmanager webhook (`version: "4"`) with one group of alerts. */
function alertmanagerNotification(alerts: readonly DemoAlert[]): unknown {
  const firing = alerts.some((a) => a.endsAt === null);
  const first = alerts[0];
  return {
    version: '4',
    groupKey: `{}:{alertname="${first?.name ?? ''}"}`,
    truncatedAlerts: 0,
    status: firing ? 'firing' : 'resolved',
    receiver: 'changegate',
    groupLabels: { alertname: first?.name ?? '' },
    commonLabels: first?.labels ?? {},
    commonAnnotations: { summary: first?.summary ?? '' },
    externalURL: 'http://alertmanager.demo.invalid:9093',
    alerts: alerts.map((a) => ({
      status: a.endsAt === null ? 'firing' : 'resolved',
      labels: { alertname: a.name, ...a.labels },
      annotations: { summary: a.summary },
      startsAt: a.startsAt,
      endsAt: a.endsAt ?? '0001-01-01T00:00:00Z',
      generatorURL: `http://prometheus.demo.invalid:9090/graph?g0.expr=${encodeURIComponent(a.name)}`,
      fingerprint: sha(JSON.stringify(a.labels) + a.name).slice(0, 16),
    })),
  };
}

export class DemoEventLoop {
  readonly #deps: DemoEventLoopDeps;
  readonly #stories: DemoStory[] = [];
  #stopped = false;
  #running: Promise<void> | null = null;
  readonly #timers = new Set<{ timer: NodeJS.Timeout; done: () => void }>();

  constructor(deps: DemoEventLoopDeps) {
    this.#deps = deps;
  }

  /** The stories being told, once their changes are chosen. */
  stories(): readonly DemoStory[] {
    return this.#stories;
  }

  start(): void {
    this.#running ??= this.#run().catch((err: unknown) => {
      if (!this.#stopped) this.#deps.logger.error({ err }, 'DEMO: the demo event loop stopped on an error');
    });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#timers) {
      clearTimeout(t.timer);
      t.done();
    }
    await this.#running;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((done) => {
      const entry = { timer: setTimeout(() => (this.#timers.delete(entry), done()), ms), done };
      this.#timers.add(entry);
    });
  }

  async #run(): Promise<void> {
    const [first] = this.#deps.instances;
    const work: Promise<void>[] = [this.#heartbeat()];
    for (const instance of this.#deps.instances) work.push(this.#gateStory(instance));
    if (first !== undefined) work.push(this.#hypercareStory(first));
    await Promise.all(work);
  }

  async #post(sourceId: string, body: unknown, headers: Record<string, string>): Promise<void> {
    const source = this.#deps.sources.find((s) => s.id === sourceId);
    const secret = source?.secrets[0];
    if (source === undefined || secret === undefined) throw new Error(`the demo event source ${sourceId} is not configured`);
    const raw = JSON.stringify(body);
    const auth: Record<string, string> =
      source.kind === 'github' ? { 'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}` } : { authorization: `Bearer ${secret}` };
    const response = await fetch(`${this.#deps.url}/v1/events/${sourceId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': source.kind === 'github' ? 'GitHub-Hookshot/demo' : 'Alertmanager/demo', ...auth, ...headers },
      body: raw,
    });
    if (response.status !== 202) throw new Error(`POST /v1/events/${sourceId} answered ${response.status}: ${await response.text()}`);
  }

  #github(event: string, body: unknown): Promise<void> {
    return this.#post(DEMO_EVENT_SOURCES.github, body, { 'x-github-event': event, 'x-github-delivery': randomBytes(16).toString('hex') });
  }

  #alertmanager(alerts: readonly DemoAlert[]): Promise<void> {
    return this.#post(DEMO_EVENT_SOURCES.alertmanager, alertmanagerNotification(alerts), {});
  }

  /** Alertmanager's always-firing Watchdog, repeated as Alertmanager does (the same notification every repeat interval): monitoring watches every service. */
  async #heartbeat(): Promise<void> {
    const watchdog: DemoAlert = { name: 'Watchdog', labels: { severity: 'none' }, summary: 'An alert that should always be firing to certify that Alertmanager is working properly.', startsAt: new Date().toISOString(), endsAt: null };
    while (!this.#stopped) {
      await this.#alertmanager([watchdog]);
      await this.#sleep(HEARTBEAT_MS);
    }
  }

  /** The first change (by key) in `state` on the instance that names a service, once the service has assessed it; null when the mirror has none. */
  async #pick(instance: string, state: Change['state']): Promise<Change | null> {
    while (!this.#stopped) {
      const page = await this.#deps.store.listChanges({ instance, state, limit: 200 });
      const candidates = page.items.filter((c) => c.services.length > 0).toSorted((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      for (const change of candidates) {
        if ((await this.#deps.assessments.latestAssessment(change.id)) !== null) return change;
      }
      // None in that state once a sync has read the whole instance: the story has no change to tell. Before then the
      // first sync may still be storing its pages (ordered by update time, not state), so an empty answer proves nothing.
      if (candidates.length === 0 && (await this.#deps.store.lastSyncSucceeded(instance)) !== null) return null;
      // Not mirrored or not assessed yet (the first sync runs at start-up): look again shortly.
      await this.#sleep(POLL_MS);
    }
    return null;
  }

  #step(): Promise<void> {
    return this.#sleep(this.#deps.stepMs ?? 20_000);
  }

  async #gateStory(instance: string): Promise<void> {
    const change = await this.#pick(instance, 'scheduled');
    if (change === null || this.#stopped) return;
    this.#stories.push({ kind: 'gate', instance, key: change.key });
    this.#deps.logger.warn({ instance, change: change.key }, `DEMO: the demo pipeline builds a commit for ${change.key} on ${instance}: watch implement.ci-green go from pending to pass on its ticket`);
    await this.#step();
    if (this.#stopped) return;
    await this.#github('workflow_run', workflowRun(change, 'in_progress', new Date()));
    await this.#step();
    if (this.#stopped) return;
    await this.#github('workflow_run', workflowRun(change, 'completed', new Date()));
  }

  async #hypercareStory(instance: string): Promise<void> {
    const change = await this.#pick(instance, 'implement');
    if (change === null || this.#stopped) return;
    const ref = change.services[0];
    const service = ref?.name ?? ref?.id ?? 'payments';
    this.#stories.push({ kind: 'hypercare', instance, key: change.key, service });
    this.#deps.logger.warn(
      { instance, change: change.key, service },
      `DEMO: the demo pipeline deploys ${change.key} to production, then the demo Alertmanager fires a critical alert on ${service}: watch its ticket for the hypercare notes`,
    );
    await this.#step();
    if (this.#stopped) return;
    await this.#github('deployment_status', productionDeploy(change, new Date()));
    await this.#step();
    if (this.#stopped) return;
    const alert: DemoAlert = {
      name: 'HighErrorRate',
      labels: { service, severity: 'critical' },
      summary: `5xx ratio above 5% on ${service} for 5 minutes`,
      startsAt: new Date().toISOString(),
      endsAt: null,
    };
    await this.#alertmanager([alert]);
    await this.#step();
    await this.#step();
    if (this.#stopped) return;
    await this.#alertmanager([{ ...alert, endsAt: new Date().toISOString() }]);
  }
}
