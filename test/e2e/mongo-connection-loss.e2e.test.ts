// End to end over real HTTP: `changegate serve` on a MongoDB store (a FerretDB
// of this test's own, so it can be killed) takes signed CI events while the
// database dies (SIGKILL) and comes back on the same port and data. What a CI
// sender sees: every event answered 2xx is stored and processed, whatever the
// database did; during the outage events are refused with a 5xx the sender
// retries (never a 2xx for an event that was not stored), /readyz says the
// store is down and then recovers, and the service itself never dies.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, ROOT, spawnServe, until, type ServeChild } from '../support/serve-child.ts';

const SECRET = 'connection-loss-secret-0123456789';
const DATABASE = `cg_e2e_connloss_${process.pid}`;

const dir = mkdtempSync(join(tmpdir(), 'cg-connloss-'));
let ferretPort = 0;
let ferret: ChildProcess | null = null;
let serve: ServeChild | null = null;

function ferretBinary(): string {
  const bin = execFileSync('bash', [join(ROOT, '.ci/ferretdb.sh'), 'path'], { encoding: 'utf8' }).trim();
  if (!existsSync(bin)) throw new Error(`FerretDB is not built (${bin}): run \`bash .ci/ferretdb.sh install\` first`);
  return bin;
}

async function answers(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => done(socket.destroy() === socket));
    socket.once('error', () => done(false));
  });
}

/** Starts FerretDB on `ferretPort` over the data in `dir` (the same data after a restart). */
async function startFerret(): Promise<void> {
  ferret = spawn(ferretBinary(), ['--handler=sqlite', `--sqlite-url=file:${dir}/data/`, `--state-dir=${dir}/data`, '--telemetry=disable', `--listen-addr=127.0.0.1:${ferretPort}`, `--debug-addr=127.0.0.1:${await freePort()}`, '--log-level=error'], {
    stdio: 'ignore',
  });
  await until('FerretDB to answer', 30_000, async () => ((await answers(ferretPort)) ? true : undefined));
}

async function killFerret(): Promise<void> {
  const child = ferret;
  if (child === null || child.exitCode !== null) return;
  const gone = new Promise((done) => child.once('exit', done));
  child.kill('SIGKILL');
  await gone;
  ferret = null;
}

let sent = 0;
/** Posts one signed generic CI event; the status the sender saw (0: no answer at all). */
async function post(url: string): Promise<{ id: string; status: number }> {
  sent += 1;
  const id = `run-${sent}`;
  const body = JSON.stringify({ ci: [{ id, kind: 'build', status: 'success', repo: 'acme/payments', commit: `${sent.toString(16).padStart(7, '0')}abcdef`, branch: `feature/CHG0030001-${sent}` }] });
  const signature = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
  try {
    const res = await fetch(`${url}/v1/events/ci`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-changegate-signature': signature, 'x-changegate-delivery': id },
      body,
      signal: AbortSignal.timeout(20_000),
    });
    await res.arrayBuffer();
    return { id, status: res.status };
  } catch {
    return { id, status: 0 };
  }
}

beforeAll(async () => {
  ferretPort = await freePort();
  await startFerret();
  const port = await freePort();
  const config = join(dir, 'changegate.yaml');
  writeFileSync(
    config,
    [
      `store: { kind: mongodb, uri: "mongodb://127.0.0.1:${ferretPort}/", database: ${DATABASE} }`,
      `server: { listen: "127.0.0.1:${port}" }`,
      'log: { level: info }',
      'instances: []',
      'events:',
      '  sources:',
      `    - { id: ci, kind: generic, secrets: ["${SECRET}"] }`,
      '',
    ].join('\n'),
  );
  serve = spawnServe({ configFile: config, port });
  await serve.ready;
}, 60_000);

afterAll(async () => {
  if (serve !== null && serve.child.exitCode === null) {
    serve.child.kill('SIGTERM');
    await serve.exited;
  }
  await killFerret();
  rmSync(dir, { recursive: true, force: true });
});

describe('MongoDB lost and back under a stream of CI events', () => {
  it('stores and processes every event it answered 2xx, refuses the rest with a 5xx, and recovers without a restart', async () => {
    const s = serve as ServeChild;
    const seen: { id: string; status: number; phase: 'before' | 'down' | 'after' }[] = [];
    for (let i = 0; i < 20; i++) seen.push({ ...(await post(s.url)), phase: 'before' });

    await killFerret();
    // The store is gone: /readyz says so, and the events sent meanwhile are not acknowledged.
    await until('/readyz to report the store down', 30_000, async () => ((await fetch(`${s.url}/readyz`)).status === 503 ? true : undefined));
    for (let i = 0; i < 5; i++) seen.push({ ...(await post(s.url)), phase: 'down' });
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);

    await startFerret();
    await until('/readyz to recover', 60_000, async () => ((await fetch(`${s.url}/readyz`)).ok ? true : undefined), { everyMs: 250 });
    for (let i = 0; i < 20; i++) seen.push({ ...(await post(s.url)), phase: 'after' });

    const acknowledged = seen.filter((r) => r.status >= 200 && r.status < 300);
    // Nothing answered 2xx while the database was down, and each refusal was a 5xx a sender retries.
    expect(seen.filter((r) => r.phase === 'down').map((r) => r.status >= 500 || r.status === 0)).toEqual([true, true, true, true, true]);
    expect(seen.filter((r) => r.phase !== 'down').every((r) => r.status === 202)).toBe(true);

    // Every acknowledged event is in the store and gets processed, once.
    const client = new MongoClient(`mongodb://127.0.0.1:${ferretPort}/`);
    try {
      await client.connect();
      const deliveries = client.db(DATABASE).collection<{ deliveryId: string; status: string }>('event_deliveries');
      const done = await until('every acknowledged event to be processed', 60_000, async () => {
        const rows = await deliveries.find({ source: 'ci' }).toArray();
        return rows.filter((r) => r.status === 'done').length >= acknowledged.length ? rows : undefined;
      }, { everyMs: 250 });
      expect(done.map((r) => r.deliveryId).toSorted()).toEqual(acknowledged.map((r) => r.id).toSorted());
      expect(await client.db(DATABASE).collection('events').countDocuments({ source: 'ci' })).toBe(acknowledged.length);
    } finally {
      await client.close();
    }
    expect(s.child.exitCode).toBeNull();
  }, 180_000);
});
