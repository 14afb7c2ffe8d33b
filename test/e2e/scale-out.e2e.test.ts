// End to end over real HTTP: three `changegate serve` replicas share one
// MongoDB store (FerretDB, MONGODB_URI) and sync the ServiceNow and Jira
// simulators with write-back on. The first replica is killed (SIGKILL) in the
// middle of its ServiceNow sync, after the other two started; a second one is
// killed in the middle of writing verdict notes to ServiceNow. The last one
// must take every instance over within the lease time, finish the dead
// replicas' write-back, and leave the mirror equal to the simulators with each
// ticket write made once. Leases are short here (config `leases:`), so the
// test runs in seconds.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { http } from 'msw';
import { MongoClient } from 'mongodb';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JiraSimulator } from '../../connectors/jira/simulator/jira-simulator.ts';
import { ServiceNowSimulator } from '../../connectors/servicenow/simulator/servicenow-simulator.ts';
import { VERDICT_FIELDS } from '../../connectors/servicenow/servicenow-writer.ts';
import { startSimulatorServer, type SimulatorServer } from '../../connectors/simulator-http.ts';
import { buildConnector } from '../../src/app/build-connectors.ts';
import { registry } from '../../src/app/registry.ts';
import { loadConfig } from '../../src/config/load-config.ts';
import type { Change } from '../../src/domain/change.ts';
import type { StreamCursor } from '../../src/kit/connector.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { openMongoStores } from '../../src/store/mongo/mongo-store-adapter.ts';
import { freePort, spawnServe, until, type ServeChild } from '../support/serve-child.ts';

// Short for the test, long enough for a machine whose cores are shared with other work (a renewal may wait seconds).
const TTL_MS = 6_000;
const RENEW_MS = 2_000;
const SN_CHANGES = 30;
const JIRA_ISSUES = 12;
const MARKER = /\[changegate:[^\]]+\]/g;
const idle = async (): Promise<void> => undefined;

const mongoUri = process.env['MONGODB_URI'] ?? '';
const database = `cg_e2e_scaleout_${process.pid}_${Date.now().toString(36)}`;

interface Replica {
  name: string;
  serve: ServeChild;
  killedAt: number | null;
}

/** One lease event a replica logged. */
interface LeaseEvent {
  replica: string;
  lease: string;
  at: number;
  what: 'taken' | 'ended';
  fence: number | null;
}

function leaseEvents(replica: Replica): LeaseEvent[] {
  const events: LeaseEvent[] = [];
  for (const line of replica.serve.lines()) {
    const msg = String(line['msg'] ?? '');
    const lease = line['lease'];
    if (typeof lease !== 'string') continue;
    const at = Number(line['time']);
    const fence = typeof line['fence'] === 'number' ? line['fence'] : null;
    if (msg.startsWith(`lease of ${lease} taken`)) events.push({ replica: replica.name, lease, at, what: 'taken', fence });
    else if (msg.startsWith(`lease of ${lease} lost`) || msg.startsWith(`lease of ${lease} released`)) events.push({ replica: replica.name, lease, at, what: 'ended', fence });
  }
  // A replica killed while it held a lease did no work after its death.
  if (replica.killedAt !== null) {
    const held = new Set<string>();
    for (const e of events) {
      if (e.what === 'taken') held.add(e.lease);
      else held.delete(e.lease);
    }
    for (const lease of held) events.push({ replica: replica.name, lease, at: replica.killedAt, what: 'ended', fence: null });
  }
  return events;
}

describe('three replicas on one MongoDB store, end to end', () => {
  let sn: ServiceNowSimulator;
  let jira: JiraSimulator;
  let snServer: SimulatorServer;
  let jiraServer: SimulatorServer;
  let dir: string;
  let changeListReads = 0;
  let onChangeListRead: (n: number) => Promise<void> = idle;
  let patches = 0;
  let onPatch: (sysId: string, n: number) => Promise<void> = idle;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cg-e2e-scaleout-'));
    // The list of changes, read a page at a time: the first replica is stopped (then killed) in the middle of it.
    const listHook = http.get(/\/api\/now\/table\/change_request$/, async () => {
      changeListReads += 1;
      await onChangeListRead(changeListReads);
      return undefined; // fall through to the simulator
    });
    // Every ServiceNow ticket write (verdict fields, work notes) is a PATCH of the change.
    const patchHook = http.patch(/\/api\/now\/table\/change_request\/([0-9a-f]+)$/, async ({ request }) => {
      patches += 1;
      await onPatch(new URL(request.url).pathname.split('/').at(-1) as string, patches);
      return undefined;
    });
    snServer = await startSimulatorServer(() => [listHook, patchHook, ...sn.handlers()]);
    sn = new ServiceNowSimulator({ baseUrl: snServer.url, customFields: Object.values(VERDICT_FIELDS) });
    for (let i = 0; i < SN_CHANGES; i++) sn.createChange({ short_description: `patch the web tier ${i}`, type: 'normal' });
    jiraServer = await startSimulatorServer(() => jira.handlers());
    jira = new JiraSimulator({ baseUrl: jiraServer.url });
    for (let i = 0; i < JIRA_ISSUES; i++) jira.createIssue({ summary: `upgrade the database cluster ${i}`, 'Change type': 'Normal' });
  });

  afterAll(async () => {
    await snServer.close();
    await jiraServer.close();
    rmSync(dir, { recursive: true, force: true });
    if (mongoUri !== '') {
      const client = await MongoClient.connect(mongoUri);
      await client.db(database).dropDatabase().catch(() => undefined);
      await client.close();
    }
  });

  it('syncs each instance from one replica at a time, hands a killed replica\'s work over within the lease time, and writes each ticket note once', { timeout: 120_000 }, async () => {
    expect(mongoUri, 'MONGODB_URI must name the FerretDB or MongoDB server (.ci/ferretdb.sh start)').not.toBe('');
    const config = join(dir, 'changegate.yaml');
    writeFileSync(
      config,
      [
        'store: { kind: mongodb, uri: "${MONGODB_URI}", database: ' + database + ' }',
        // Each replica listens where CHANGEGATE_LISTEN says.
        'server: { listen: "127.0.0.1:8080" }',
        'log: { level: info }',
        `leases: { ttl: ${TTL_MS}, renewEvery: ${RENEW_MS} }`,
        'reassess: "0 0 1 1 *"',
        'instances:',
        `  - { id: sn, system: servicenow, baseUrl: "${snServer.url}", auth: { kind: basic, username: admin, password: admin }, pageSize: 5, retries: 2, writeBack: true, schedule: "*/2 * * * * *" }`,
        `  - { id: jsm, system: jira, baseUrl: "${jiraServer.url}", auth: { kind: basic, email: ops@acme.example, apiToken: t-ops }, projects: [ITSM], pageSize: 5, retries: 2, writeBack: true, schedule: "*/2 * * * * *" }`,
        '',
      ].join('\n'),
    );
    const replicas: Replica[] = [];
    const start = async (name: string): Promise<Replica> => {
      const port = await freePort();
      const replica: Replica = { name, serve: spawnServe({ configFile: config, port, env: { ...process.env, CHANGEGATE_LISTEN: `127.0.0.1:${port}` } }), killedAt: null };
      replicas.push(replica);
      return replica;
    };
    const kill = async (replica: Replica): Promise<void> => {
      replica.killedAt = Date.now();
      replica.serve.child.kill('SIGKILL');
      expect((await replica.serve.exited).signal).toBe('SIGKILL');
    };
    const alive = (): Replica[] => replicas.filter((r) => r.killedAt === null);
    const takenAfter = (lease: string, after: number): LeaseEvent | undefined =>
      alive()
        .flatMap(leaseEvents)
        .filter((e) => e.lease === lease && e.what === 'taken' && e.at >= after)
        .toSorted((x, y) => x.at - y.at)[0];
    const mongo = await MongoClient.connect(mongoUri);
    const outbox = mongo.db(database).collection<{ nativeId: string; status: string; claimOwner: { pid: number } | null }>('outbox');

    try {
      // The first replica alone: it takes both instances and is held at its third page of ServiceNow changes
      // until the other two listen, then killed there, mid-sync.
      const othersUp = Promise.withResolvers<void>();
      let firstKilled: Promise<void> = Promise.resolve();
      const first = await start('r1');
      onChangeListRead = async (n) => {
        if (n !== 3) return;
        await othersUp.promise;
        firstKilled = kill(first);
        await firstKilled;
      };
      await first.serve.ready;
      await until('r1 to take both leases', 20_000, async () => (['sn', 'jsm'].every((l) => leaseEvents(first).some((e) => e.lease === l && e.what === 'taken')) ? true : undefined));
      const [second, third] = [await start('r2'), await start('r3')];
      await Promise.all([second.serve.ready, third.serve.ready]);
      // r1 synced Jira and is held in its ServiceNow sync: a replica that syncs nothing answers validate calls
      // from the mirror r1 keeps, fresh by the success r1 recorded in the store.
      const key = jira.store.all[0]?.key as string;
      const answer = await until('a bystander replica to see the Jira mirror fresh', 30_000, async () => {
        const response = await fetch(`${second.serve.url}/v1/validate`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ system: 'jira', instance: 'jsm', key, from: 'new', to: 'assess' }),
        });
        const body = (await response.json()) as { stale: boolean };
        return body.stale ? undefined : body;
      });
      expect(answer).toMatchObject({ stale: false, change: expect.objectContaining({ key }) });
      othersUp.resolve();
      await until('r1 to be killed mid-sync', 20_000, async () => (first.killedAt === null ? undefined : true));
      await firstKilled;
      const firstKillAt = first.killedAt as number;

      // Another replica takes ServiceNow over: the lease lapses within TTL of the kill, and a replica seeking it
      // finds it free within one renewal period after that.
      const snTakeover = await until('a replica to take the sn lease over', 30_000, async () => takenAfter('sn', firstKillAt));
      const jsmTakeover = await until('a replica to take the jsm lease over', 30_000, async () => takenAfter('jsm', firstKillAt));
      const bound = TTL_MS + 2 * RENEW_MS;
      const firstFailover = { sn: snTakeover.at - firstKillAt, jsm: jsmTakeover.at - firstKillAt };

      // The second kill: whichever replica holds the claim of the ticket being written, in the middle of a write.
      let secondKill: Promise<Replica | null> | null = null;
      let looking = false;
      onPatch = async (sysId, n) => {
        // One look at a time (held writes are let go together): the first write whose claim holder is found is the one.
        if (secondKill !== null || looking || n < 4) return;
        looking = true;
        const claimed = await outbox.findOne({ nativeId: sysId, status: 'claimed' });
        const holder = alive().find((r) => r.serve.child.pid === claimed?.claimOwner?.pid);
        if (holder !== undefined) secondKill = kill(holder).then(() => holder);
        looking = false;
        await secondKill;
      };
      const victim = await until('a replica to be killed mid-write-back', 40_000, async () => (secondKill === null ? undefined : ((await secondKill) ?? undefined)));
      onPatch = idle;
      const victimKillAt = victim.killedAt as number;
      const last = alive();
      expect(last).toHaveLength(1);
      const [survivor] = last as [Replica];

      // The survivor holds both instances within the lease time of the second kill (at once, if it held them already).
      const heldBy = (lease: string): string | undefined => {
        const events = leaseEvents(survivor).filter((e) => e.lease === lease);
        return events.at(-1)?.what === 'taken' ? survivor.name : undefined;
      };
      await until('the survivor to hold both instances', 30_000, async () => (heldBy('sn') && heldBy('jsm') ? true : undefined));
      const secondFailover = Object.fromEntries(
        ['sn', 'jsm'].map((lease) => {
          const taken = leaseEvents(survivor).filter((e) => e.lease === lease && e.what === 'taken').at(-1) as LeaseEvent;
          return [lease, Math.max(0, taken.at - victimKillAt)];
        }),
      );

      // The survivor finishes the write-back (the victim's claims released once its heartbeat lapsed) and the mirror
      // catches up with the tickets as they are now, verdict fields included.
      const { instances } = loadConfig(registry, { path: config }).config;
      const silent = pino({ level: 'silent' });
      const metrics = createMetrics({ defaultMetrics: false });
      const served = async (): Promise<Map<string, Change>> => {
        const all = new Map<string, Change>();
        for (const instance of instances) {
          const reader = buildConnector(instance, registry, { logger: silent, metrics });
          let after: StreamCursor | null = null;
          for (;;) {
            const page = await reader.readPage({ stream: 'changes', after, offset: 0, pageSize: 100 });
            for (const item of page.items) if (item.kind === 'change') all.set(item.change.id, item.change);
            if (!page.hasMore || page.last === null) break;
            after = page.last;
          }
        }
        return all;
      };
      const stores = await openMongoStores(mongoUri, database);
      try {
        let gap = '';
        const converged = await until('the write-back to finish and the mirror to equal the simulators', 60_000, async () => {
          const open = await outbox.find({ status: { $in: ['pending', 'claimed'] } }).toArray();
          const turns = await mongo.db(database).collection('claim_turns').find({ item: { $in: open.map((o) => `outbox:${String(o['_id'])}`) } }).toArray();
          gap = `${open.length} outbox items open: ${JSON.stringify(open.slice(0, 2).map((o) => ({ ...o, payload: undefined })))}; their turns ${JSON.stringify(turns)}`;
          if (open.length > 0) return undefined;
          // A change mirrored but not yet assessed has no write queued yet.
          const owed = await stores.changes.listOwedAssessments({ limit: 10 });
          gap = `${owed.length} changes owed an assessment: ${owed.join(', ')}`;
          if (owed.length > 0) return undefined;
          const expected = await served();
          for (const [id, change] of expected) {
            const mirrored = await stores.changes.getChange(id);
            gap = `${id}: mirrored at ${mirrored?.change.updatedAt} (revision ${mirrored?.change.nativeRevision}), served at ${change.updatedAt} (revision ${change.nativeRevision})`;
            if (!isDeepStrictEqual(mirrored?.change, change)) return undefined;
          }
          return expected;
        }).catch((err: unknown) => {
          if (process.env['SCALEOUT_E2E_DUMP']) writeFileSync(process.env['SCALEOUT_E2E_DUMP'], replicas.map((r) => `== ${r.name}\n${r.serve.lines().map((l) => JSON.stringify(l)).join('\n')}`).join('\n'));
          const said = replicas.flatMap((r) => r.serve.lines().filter((l) => Number(l['level']) >= 40).map((l) => `${r.name}: ${String(l['msg'])}`)).slice(-20);
          throw new Error(`${String(err)}; last gap: ${gap}; the survivor's last warnings: ${JSON.stringify(said)}`);
        });
        expect(converged.size).toBe(SN_CHANGES + JIRA_ISSUES);
        expect(await stores.changes.countChanges()).toBe(SN_CHANGES + JIRA_ISSUES);
        for (const [id, change] of converged) expect((await stores.changes.getChange(id))?.change).toEqual(change);
        expect(await outbox.countDocuments({ status: 'failed' })).toBe(0);
      } finally {
        await stores.close();
      }

      // Each ServiceNow ticket carries its notes once each; each Jira issue its comments once each.
      const snMarkers = sn.listChanges().map((row) => sn.journalFor(row.sys_id as string).flatMap((j) => (j.element === 'work_notes' ? (String(j.value).match(MARKER) ?? []) : [])));
      const bare = sn.listChanges().filter((_, i) => snMarkers[i]?.length === 0).map((row) => row.sys_id as string);
      // Named with their outbox items and assessments, so a ticket without its note says what became of the write.
      const assessed = await mongo.db(database).collection('assessments').find({ changeId: { $in: bare.map((id) => `servicenow:sn:${id}`) } }, { projection: { assessment: 0 } }).toArray();
      expect({ items: await outbox.find({ nativeId: { $in: bare } }).toArray(), assessed }).toEqual({ items: [], assessed: [] });
      expect(bare).toEqual([]);
      expect(snMarkers.filter((m) => new Set(m).size !== m.length)).toEqual([]);
      const jiraKeys = jira.store.all.map((issue) =>
        issue.comments.flatMap((c) => (c.properties ?? []).filter((p) => p.key === 'changegate').map((p) => String((p.value as { idempotencyKey: string }).idempotencyKey))),
      );
      const bareIssues = jira.store.all.filter((_, i) => jiraKeys[i]?.length === 0).map((issue) => issue.id);
      expect(await outbox.find({ instance: 'jsm', nativeId: { $in: bareIssues } }).toArray()).toEqual([]);
      expect(bareIssues).toEqual([]);
      expect(jiraKeys.filter((k) => new Set(k).size !== k.length)).toEqual([]);
      // The victim's write in flight reached the ticket after it died; the survivor found its marker.
      expect(survivor.serve.lines().map((l) => l['msg'])).toContainEqual(expect.stringMatching(/^released \d+ outbox items, \d+ webhook deliveries and 0 event deliveries held by 1 process\(es\) that died$/));

      // No two replicas held an instance's lease at overlapping times: per lease, each holding ended before the next began,
      // fences grew with every holder, and it was handed over at least once.
      const events = replicas.flatMap(leaseEvents);
      const overlaps: string[] = [];
      for (const lease of ['sn', 'jsm']) {
        const timeline = events.filter((e) => e.lease === lease).toSorted((x, y) => x.at - y.at || (x.what === 'ended' ? -1 : 1));
        const holders: string[] = [];
        let holder: string | null = null;
        let fence = 0;
        for (const e of timeline) {
          if (e.what === 'ended') {
            if (e.replica === holder) holder = null;
            continue;
          }
          if (holder !== null) overlaps.push(`${e.replica} took ${lease} at ${e.at} while ${holder} held it`);
          if ((e.fence ?? 0) <= fence) overlaps.push(`${e.replica} took ${lease} under fence ${e.fence}, not greater than ${fence}`);
          fence = e.fence ?? fence;
          holder = e.replica;
          holders.push(e.replica);
        }
        // Handed over at least once (after the first kill).
        if (holders.length < 2) overlaps.push(`${lease} was never handed over (held by ${holders.join(', ') || 'nobody'})`);
      }
      expect(overlaps).toEqual([]);

      process.stdout.write(
        `scale-out e2e: lease ttl ${TTL_MS} ms, renewal every ${RENEW_MS} ms (bound ${bound} ms); failover after the mid-sync kill: sn ${firstFailover.sn} ms, jsm ${firstFailover.jsm} ms; after the mid-write-back kill: sn ${secondFailover['sn']} ms, jsm ${secondFailover['jsm']} ms; ${patches} ServiceNow ticket writes\n`,
      );
      for (const ms of [firstFailover.sn, firstFailover.jsm, secondFailover['sn'] as number, secondFailover['jsm'] as number]) expect(ms).toBeLessThanOrEqual(bound);

      survivor.serve.child.kill('SIGTERM');
      expect(await survivor.serve.exited).toEqual({ code: 0, signal: null });
    } finally {
      onChangeListRead = idle;
      onPatch = idle;
      for (const r of alive()) r.serve.child.kill('SIGKILL');
      await mongo.close();
    }
  });
});
