// The CI and monitoring loop end to end, over real HTTP: `changegate serve`
// child processes mirror a ServiceNow and a Jira simulator, and take GitHub,
// GitLab and Alertmanager deliveries (signed or token-carrying, some
// duplicated, some out of order, one cut off mid-body by its sender). The
// first process is killed with SIGKILL right after it accepted a production
// deploy, while its processor waits on GitHub for a run's artifacts; whatever
// it had not processed, its successor does, and what it held leased at once,
// not when the lease runs out. Gates open and close
// as the evidence arrives (implement.ci-green on both systems, closed.no-alerts
// during hypercare), and every note changegate wrote is on its ticket once.

import { createHmac, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoInstances, type DemoInstances } from '../../src/app/demo-instances.ts';
import { freePort, spawnServe, until, type ServeChild } from '../support/serve-child.ts';

const SECRETS = { github: 'gh-e2e-secret', gitlab: 'gl-e2e-token', alertmanager: 'am-e2e-token' };
const fixture = (name: string): Record<string, unknown> => JSON.parse(readFileSync(new URL(`../fixtures/events/${name}`, import.meta.url), 'utf8')) as Record<string, unknown>;
const sha = (seed: string): string => createHmac('sha1', 'e2e').update(seed).digest('hex');

let demo: DemoInstances;
let dir: string;
let db: string;
let config: string;
let port: number;
let serve: ServeChild | null = null;
/** The ServiceNow change moved to Review for the hypercare part. */
let reviewSysId: string;
/**
 * GitHub's REST API for the artifacts of the `github-artifacts` source's runs: while `holding`, it
 * answers nothing, so the processor stays in the middle of the delivery (where the SIGKILL finds it).
 */
let artifactsApi: Server;
const artifacts = { holding: true, asked: 0, waiting: [] as ServerResponse[] };
const noArtifacts = (res: ServerResponse): void => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"total_count":0,"artifacts":[]}');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cg-e2e-events-'));
  db = join(dir, 'changegate.db');
  config = join(dir, 'changegate.yaml');
  port = await freePort();
  artifactsApi = createServer((_req, res) => {
    artifacts.asked += 1;
    if (artifacts.holding) artifacts.waiting.push(res);
    else noArtifacts(res);
  });
  await new Promise<void>((listening) => artifactsApi.listen(0, '127.0.0.1', listening));
  const artifactsPort = (artifactsApi.address() as { port: number }).port;
  demo = await startDemoInstances({ logger: pino({ level: 'silent' }), count: 40, changegateUrl: `http://127.0.0.1:${port}` });
  // One Implement change goes to Review before the service first sees it, its implementation not yet ended: hypercare starts with the production deploy.
  const implementing = demo.simulators.servicenow.listChanges().find((row) => row['state'] === '-1' && row['business_service'] !== '');
  if (implementing === undefined) throw new Error('the demo data has no Implement change with a service');
  reviewSysId = String(implementing['sys_id']);
  demo.simulators.servicenow.updateChange(reviewSysId, { state: '0', work_end: '' });
  const instances = demo.instances.map((i) => ({ ...i, schedule: '* * * * *' }));
  writeFileSync(
    config,
    [
      `store: { kind: sqlite, path: ${JSON.stringify(db)} }`,
      `server: { listen: "127.0.0.1:${port}" }`,
      'log: { level: info }',
      'reassess: "0 0 1 1 *"',
      `instances: ${JSON.stringify(instances)}`,
      'events:',
      '  sources:',
      `    - { id: github, kind: github, secrets: ["${SECRETS.github}"] }`,
      `    - { id: github-artifacts, kind: github, secrets: ["${SECRETS.github}"], artifacts: { token: gh-artifacts-token, names: ["junit-*"], apiUrl: "http://127.0.0.1:${artifactsPort}" } }`,
      `    - { id: gitlab, kind: gitlab, secrets: ["${SECRETS.gitlab}"] }`,
      `    - { id: alertmanager, kind: alertmanager, secrets: ["${SECRETS.alertmanager}"] }`,
      '',
    ].join('\n'),
  );
}, 60_000);

afterAll(async () => {
  if (serve !== null && serve.child.exitCode === null) {
    serve.child.kill('SIGTERM');
    await serve.exited;
  }
  await demo?.close();
  artifactsApi?.closeAllConnections();
  await new Promise((closed) => artifactsApi?.close(closed));
  rmSync(dir, { recursive: true, force: true });
});

async function start(): Promise<ServeChild> {
  serve = spawnServe({ configFile: config, port });
  await serve.ready;
  return serve;
}

async function post(source: string, body: unknown, headers: Record<string, string>): Promise<{ status: number; json: Record<string, unknown> }> {
  const raw = JSON.stringify(body);
  const auth: Record<string, string> =
    source === 'github' || source === 'github-artifacts'
      ? { 'x-hub-signature-256': `sha256=${createHmac('sha256', SECRETS.github).update(raw).digest('hex')}` }
      : source === 'gitlab'
        ? { 'x-gitlab-token': SECRETS.gitlab }
        : { authorization: `Bearer ${SECRETS.alertmanager}` };
  const response = await fetch(`http://127.0.0.1:${port}/v1/events/${source}`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth, ...headers }, body: raw });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

/** A sender that dies mid-body: the declared length is never reached and the socket is destroyed. */
function cutOff(source: string, body: unknown, headers: Record<string, string>): Promise<void> {
  const raw = Buffer.from(JSON.stringify(body));
  return new Promise((done) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: `/v1/events/${source}`, headers: { 'content-type': 'application/json', 'content-length': raw.length, ...headers } });
    req.on('error', () => done());
    req.write(raw.subarray(0, raw.length >> 1), () => {
      req.destroy();
      done();
    });
  });
}

function workflowRun(key: string, commit: string, status: 'in_progress' | 'completed', runId: number): Record<string, unknown> {
  const sample = fixture('github_workflow_run_completed.json');
  const now = new Date();
  const started = new Date(now.getTime() - 120_000).toISOString();
  return {
    ...sample,
    action: status,
    workflow_run: {
      ...(sample['workflow_run'] as Record<string, unknown>),
      id: runId,
      name: 'build',
      head_branch: `feature/${key.toLowerCase()}`,
      head_sha: commit,
      status,
      conclusion: status === 'completed' ? 'success' : null,
      created_at: started,
      run_started_at: started,
      updated_at: now.toISOString(),
    },
  };
}

function gitlabPipeline(key: string, commit: string, pipelineId: number): Record<string, unknown> {
  const sample = fixture('gitlab_pipeline_hook.json');
  const now = new Date();
  const attrs = sample['object_attributes'] as Record<string, unknown>;
  return {
    ...sample,
    object_attributes: { ...attrs, id: pipelineId, ref: `${key}-rollout`, sha: commit, status: 'success', created_at: new Date(now.getTime() - 60_000).toISOString(), finished_at: now.toISOString() },
    commit: { ...(sample['commit'] as Record<string, unknown>), id: commit, message: `${key}: roll out` },
  };
}

function productionDeploy(key: string, commit: string, id: number): Record<string, unknown> {
  const sample = fixture('github_deployment_status.json');
  const now = new Date().toISOString();
  return {
    ...sample,
    deployment: { ...(sample['deployment'] as Record<string, unknown>), id, sha: commit, ref: `feature/${key.toLowerCase()}`, description: `${key} to production`, environment: 'production', created_at: now, updated_at: now },
    deployment_status: { ...(sample['deployment_status'] as Record<string, unknown>), id: id + 1, state: 'success', environment: 'production', created_at: now, updated_at: now },
  };
}

function alerts(service: string, status: 'firing' | 'resolved', startsAt: string, endsAt?: string): Record<string, unknown> {
  return {
    version: '4',
    groupKey: '{}:{alertname="HighErrorRate"}',
    truncatedAlerts: 0,
    status,
    receiver: 'changegate',
    groupLabels: { alertname: 'HighErrorRate' },
    commonLabels: { alertname: 'HighErrorRate', service, severity: 'critical' },
    commonAnnotations: {},
    externalURL: 'http://alertmanager.e2e.invalid:9093',
    alerts: [
      { status: 'firing', labels: { alertname: 'Watchdog', severity: 'none' }, annotations: {}, startsAt, endsAt: '0001-01-01T00:00:00Z', fingerprint: 'watchdog' },
      {
        status,
        labels: { alertname: 'HighErrorRate', service, severity: 'critical' },
        annotations: { summary: `5xx ratio above 5% on ${service}` },
        startsAt,
        endsAt: endsAt ?? '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus.e2e.invalid:9090/graph',
        fingerprint: 'e2e-high-error-rate',
      },
    ],
  };
}

interface Mirrored {
  id: string;
  key: string;
  nativeId: string;
  services: { id: string; name: string | null }[];
}

async function changesIn(instance: string, state: string): Promise<Mirrored[]> {
  const response = await fetch(`http://127.0.0.1:${port}/v1/changes?instance=${instance}&state=${state}&limit=200`);
  return ((await response.json()) as { items: Mirrored[] }).items;
}

/** The results a gate had in the service's stored assessments of the change, oldest first, repeats folded. */
function gateHistory(changeId: string, gate: string): string[] {
  const read = new DatabaseSync(db, { readOnly: true });
  try {
    const rows = read.prepare('SELECT json FROM assessments WHERE change_id = ? ORDER BY seq').all(changeId) as { json: string }[];
    const results = rows.map((r) => {
      const parsed = JSON.parse(r.json) as { gates?: { id: string; result: string }[]; assessment?: { gates: { id: string; result: string }[] } };
      return (parsed.gates ?? parsed.assessment?.gates ?? []).find((g) => g.id === gate)?.result ?? 'absent';
    });
    return results.filter((r, i) => r !== results[i - 1]);
  } finally {
    read.close();
  }
}

const waitForGate = (changeId: string, gate: string, last: string): Promise<string[]> =>
  until(`${gate} of ${changeId} to be ${last}`, 60_000, async () => {
    const seen = gateHistory(changeId, gate);
    return seen.at(-1) === last ? seen : undefined;
  }, { everyMs: 250 });

/** The service's GitHub deliveries by status, read from its store. */
function deliveries(): Record<string, number> {
  const read = new DatabaseSync(db, { readOnly: true });
  try {
    const rows = read.prepare(`SELECT status, COUNT(*) AS n FROM event_deliveries WHERE source = 'github' GROUP BY status`).all() as { status: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  } finally {
    read.close();
  }
}

/** The deliveries a process held leased (claimed, not yet done), each with its lease's end (epoch ms). */
function heldDeliveries(): { id: string; leaseEnd: number }[] {
  const read = new DatabaseSync(db, { readOnly: true });
  try {
    return read.prepare(`SELECT id, next_attempt_at AS leaseEnd FROM event_deliveries WHERE status = 'pending' AND claim_owner IS NOT NULL ORDER BY id`).all() as { id: string; leaseEnd: number }[];
  } finally {
    read.close();
  }
}

/** When each delivery named was done (epoch ms), null while it is not. */
function finishedAt(ids: readonly string[]): (number | null)[] {
  const read = new DatabaseSync(db, { readOnly: true });
  try {
    const at = read.prepare('SELECT finished_at FROM event_deliveries WHERE id = ?');
    return ids.map((id) => (at.get(id) as { finished_at: number | null } | undefined)?.finished_at ?? null);
  } finally {
    read.close();
  }
}

/** Every changegate marker on a ticket: the idempotency keys of what was posted to it. */
function markersOn(change: Mirrored): string[] {
  const texts =
    change.key.startsWith('ITSM-')
      ? demo.simulators.jira.issue(change.key).comments.map((c) => JSON.stringify(c.body))
      : demo.simulators.servicenow.journalFor(change.nativeId).map((row) => String(row['value']));
  return texts.flatMap((t) => [...t.matchAll(/\[changegate:([^\]]+)\]/g)].map((m) => m[1] as string));
}

describe('CI and monitoring events, end to end with a SIGKILL', () => {
  it('opens and closes gates as deliveries arrive, survives the kill, and posts each note once', async () => {
    let child = await start();
    const snScheduled = await until('a Scheduled ServiceNow change', 60_000, async () => (await changesIn('sn-demo', 'scheduled')).find((c) => c.services.length > 0));
    const jiraScheduled = await until('a Scheduled Jira change', 60_000, async () => (await changesIn('jsm-demo', 'scheduled')).find((c) => c.services.length > 0));
    const inReview = await until('the ServiceNow change in Review', 60_000, async () => (await changesIn('sn-demo', 'review')).find((c) => c.nativeId === reviewSysId && gateHistory(c.id, 'closed.no-alerts').length > 0));
    expect(gateHistory(snScheduled.id, 'implement.ci-green').at(-1)).toBe('pending');

    // GitHub: the completed run, its redelivery (same delivery id), then the in_progress update that arrives late.
    const snCommit = sha(snScheduled.key);
    const done = workflowRun(snScheduled.key, snCommit, 'completed', 7001);
    const first = await post('github', done, { 'x-github-event': 'workflow_run', 'x-github-delivery': 'run-7001-completed' });
    const again = await post('github', done, { 'x-github-event': 'workflow_run', 'x-github-delivery': 'run-7001-completed' });
    const late = await post('github', workflowRun(snScheduled.key, snCommit, 'in_progress', 7001), { 'x-github-event': 'workflow_run', 'x-github-delivery': 'run-7001-started' });
    expect([first.status, again.status, late.status]).toEqual([202, 202, 202]);
    expect([first.json['duplicate'], again.json['duplicate'], late.json['duplicate']]).toEqual([false, true, false]);
    expect(await waitForGate(snScheduled.id, 'implement.ci-green', 'pass')).toEqual(['pending', 'pass']);

    // GitLab: a sender cut off mid-body stores nothing; its retry is stored once, and the Jira change's gate opens.
    const glHeaders = { 'x-gitlab-event': 'Pipeline Hook', 'idempotency-key': randomUUID(), 'x-gitlab-token': SECRETS.gitlab };
    await cutOff('gitlab', gitlabPipeline(jiraScheduled.key, sha(jiraScheduled.key), 8001), glHeaders);
    const retried = await post('gitlab', gitlabPipeline(jiraScheduled.key, sha(jiraScheduled.key), 8001), glHeaders);
    expect(retried).toMatchObject({ status: 202, json: { duplicate: false } });
    expect(await waitForGate(jiraScheduled.id, 'implement.ci-green', 'pass')).toEqual(['pending', 'pass']);

    // A completed run whose artifacts are read: the processor claims it and waits on GitHub, holding it when the process is killed.
    const artifactRun = await post('github-artifacts', workflowRun('nightly', sha('nightly-artifacts'), 'completed', 20_001), { 'x-github-event': 'workflow_run', 'x-github-delivery': 'art-20001' });
    expect(artifactRun.status).toBe(202);
    await until('the processor to ask GitHub for the run\'s artifacts', 20_000, async () => (artifacts.asked > 0 ? true : undefined), { everyMs: 50 });
    // A burst of unrelated runs still in flight when the production deploy of the change in Review is accepted; the process is killed at the deploy's 202.
    const service = inReview.services[0]?.name ?? inReview.services[0]?.id ?? '';
    const burst = Array.from({ length: 150 }, (_, i) =>
      post('github', workflowRun('nightly', sha(`nightly-${i}`), 'completed', 10_000 + i), { 'x-github-event': 'workflow_run', 'x-github-delivery': `nightly-${i}` }).catch(() => null),
    );
    const deploy = await post('github', productionDeploy(inReview.key, sha(inReview.key), 9001), { 'x-github-event': 'deployment_status', 'x-github-delivery': 'deploy-9001' });
    child.child.kill('SIGKILL');
    expect(deploy.status).toBe(202);
    expect((await child.exited).signal).toBe('SIGKILL');
    const answered = (await Promise.all(burst)).filter((r) => r?.status === 202).length;
    // Every delivery answered 2xx is stored, processed or not: the 2 run updates before (the replay is stored once), the burst's answered ones, the deploy.
    const atKill = deliveries();
    const stored = (atKill['pending'] ?? 0) + (atKill['done'] ?? 0);
    expect(stored).toBeGreaterThanOrEqual(2 + answered + 1);
    // What the killed processor held in the middle of a batch: without its owner judged dead, each would wait out its 30 s lease.
    const held = heldDeliveries();
    expect(held.map((d) => d.id)).toContain('github-artifacts:art-20001');
    // GitHub answers the successor at once (no artifacts).
    artifacts.holding = false;
    for (const res of artifacts.waiting.splice(0)) res.destroy();
    process.stdout.write(`events e2e: at the SIGKILL ${answered} of 150 burst deliveries were answered, ${stored} GitHub deliveries stored, ${atKill['pending'] ?? 0} not yet processed; ${held.length} deliveries (any source) leased by the killed process\n`);

    child = await start();
    // The delivery stored before the kill is processed after it: the deploy is linked to the change by its key.
    const linked = await until('the production deploy linked to the change in Review', 60_000, async () => {
      const detail = (await (await fetch(`http://127.0.0.1:${port}/v1/changes/${inReview.key}`)).json()) as { events: { id: string; rule: string }[] };
      return detail.events.find((e) => e.id === 'github:deployment:9001');
    }, { everyMs: 250 });
    expect(linked.rule).toBe('linked:change-key');
    await until('every accepted delivery processed', 60_000, async () => (deliveries()['done'] === stored ? true : undefined), { everyMs: 250 });
    // The successor released what the killed process held at start-up (its pid no longer runs) and worked it before its lease ran out.
    expect(child.lines().map((l) => l['msg'])).toContainEqual(expect.stringMatching(new RegExp(`^released \\d+ outbox items, \\d+ webhook deliveries and ${held.length} event deliveries held by 1 process\\(es\\) that died$`)));
    const finished = await until('what the killed process held to be processed', 30_000, async () => {
      const at = finishedAt(held.map((d) => d.id));
      return at.every((t) => t !== null) ? (at as number[]) : undefined;
    }, { everyMs: 100 });
    expect(held.map((d, i) => [d.id, (finished[i] as number) < d.leaseEnd])).toEqual(held.map((d) => [d.id, true]));
    expect(gateHistory(inReview.id, 'closed.hypercare').at(-1)).toBe('fail');

    // Alertmanager: the critical alert on the change's service, notified twice, then resolved.
    const startsAt = new Date().toISOString();
    const firing = alerts(service, 'firing', startsAt);
    expect((await post('alertmanager', firing, {})).status).toBe(202);
    expect((await post('alertmanager', firing, {})).json['duplicate']).toBe(true);
    expect(await waitForGate(inReview.id, 'closed.no-alerts', 'fail')).toEqual(['pending', 'fail']);
    expect((await post('alertmanager', alerts(service, 'resolved', startsAt, new Date().toISOString()), {})).status).toBe(202);
    expect(await waitForGate(inReview.id, 'closed.no-alerts', 'pass')).toEqual(['pending', 'fail', 'pass']);

    // Both hypercare notes reach the ticket; nothing changegate wrote is on any ticket twice.
    const hypercare = await until('both hypercare notes on the ticket', 60_000, async () => {
      const found = markersOn(inReview).filter((m) => m.startsWith('hypercare:'));
      return found.length >= 2 ? found : undefined;
    }, { everyMs: 250 });
    expect(hypercare.map((m) => m.split(':').at(-1))).toEqual(['firing', 'resolved']);
    await until('the outbox to be worked', 60_000, async () => {
      const read = new DatabaseSync(db, { readOnly: true });
      try {
        return (read.prepare(`SELECT COUNT(*) AS n FROM outbox WHERE status IN ('pending', 'claimed')`).get() as { n: number }).n === 0 ? true : undefined;
      } finally {
        read.close();
      }
    }, { everyMs: 250 });
    for (const change of [snScheduled, jiraScheduled, inReview]) {
      const markers = markersOn(change);
      expect(markers.length).toBeGreaterThan(0);
      expect(markers.filter((m, i) => markers.indexOf(m) !== i)).toEqual([]);
    }
    child.child.kill('SIGTERM');
    expect(await child.exited).toEqual({ code: 0, signal: null });
  }, 240_000);
});
