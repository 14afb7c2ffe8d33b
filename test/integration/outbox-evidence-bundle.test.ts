// The evidence bundle written back as an attachment, through the outbox worker
// and each system's writer, against its simulator (in-process msw): attached
// once, recognised by its name when the item is worked again (a crash after the
// upload), a new ledger version added beside the old one, too large a bundle
// parked with the size named, and the downloaded file verifies. On Jira the
// `changegate.evidence` issue property names the newest head and never moves back.

import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createJiraHttp } from '../../connectors/jira/jira-http.ts';
import { loadJiraMapping } from '../../connectors/jira/jira-mapping.ts';
import { createJiraWriter, EVIDENCE_PROPERTY } from '../../connectors/jira/jira-writer.ts';
import { JiraSimulator } from '../../connectors/jira/simulator/jira-simulator.ts';
import { createServiceNowClient } from '../../connectors/servicenow/servicenow-client.ts';
import { ServiceNowInstance } from '../../connectors/servicenow/servicenow-config.ts';
import { loadServiceNowMapping } from '../../connectors/servicenow/servicenow-mapping.ts';
import { createServiceNowWriter } from '../../connectors/servicenow/servicenow-writer.ts';
import { ServiceNowSimulator } from '../../connectors/servicenow/simulator/servicenow-simulator.ts';
import { evidenceAttachment } from '../../src/assess/evidence-attachment.ts';
import { chainEntry, type EvidenceEntry } from '../../src/evidence/evidence-entry.ts';
import { verifyBundle } from '../../src/evidence/verify-bundle.ts';
import type { ConnectorWriter } from '../../src/kit/connector.ts';
import { createLogger } from '../../src/log.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import type { NewOutboxItem } from '../../src/store/outbox-store.ts';
import { SqliteOutboxStore } from '../../src/store/sqlite/sqlite-outbox-store.ts';
import { OutboxWorker } from '../../src/sync/outbox-worker.ts';
import { buildChange } from '../support/change-builder.ts';
import { jiraOutboxSite, OUTBOX_SITE } from '../support/jira-outbox-site.ts';

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

const logger = createLogger({ level: 'silent' });
const NOW = new Date('2026-04-06T08:00:00Z');

/** A ledger of `n` entries for the change. */
function ledger(changeId: string, n: number): EvidenceEntry[] {
  const out: EvidenceEntry[] = [];
  for (let i = 1; i <= n; i++) {
    out.push(chainEntry(changeId, out.at(-1) ?? null, { kind: 'revision', at: `2026-04-0${i}T09:00:00.000Z`, actor: 'alice', source: 'changegate', summary: `state move ${i}`, payload: { step: i, note: 'x'.repeat(40) } }));
  }
  return out;
}

interface World {
  writer: ConnectorWriter;
  nativeId: string;
  key: string;
  /** Names of the files on the ticket, oldest first. */
  names(): string[];
  /** The text of the attachment of that name, downloaded as an auditor would. */
  download(name: string): Promise<string>;
  /** Lowers the ticket system's size limit. */
  limit(bytes: number): void;
}

function serviceNowWorld(): World {
  const base = 'https://acme.service-now.com';
  const sim = new ServiceNowSimulator({ baseUrl: base, clock: () => NOW, timeZone: 'UTC' });
  server.resetHandlers(...sim.handlers());
  const instance = ServiceNowInstance.parse({ id: 'sn', system: 'servicenow', baseUrl: base, auth: { kind: 'basic', username: 'admin', password: 'admin' }, retries: 0 });
  const writer = createServiceNowWriter({ client: createServiceNowClient(instance, { logger }), mapping: loadServiceNowMapping() });
  const row = sim.createChange({ short_description: 'Patch the payments DB', type: 'normal' });
  const sysId = row.sys_id as string;
  const auth = { authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` };
  return {
    writer,
    nativeId: sysId,
    key: row.number as string,
    names: () => sim.attachmentsFor(sysId).map((a) => a.file_name as string),
    async download(name) {
      const list = (await (await fetch(`${base}/api/now/attachment?sysparm_query=table_sys_id=${sysId}^file_name=${name}`, { headers: auth })).json()) as { result: { download_link: string }[] };
      expect(list.result).toHaveLength(1);
      return (await fetch(list.result[0]?.download_link as string, { headers: auth })).text();
    },
    limit: (bytes) => {
      sim.attachmentMaxBytes = bytes;
    },
  };
}

function jiraWorld(flavor: 'cloud' | 'datacenter' = 'cloud'): World & { sim: JiraSimulator } {
  const base = OUTBOX_SITE;
  const cloud = flavor === 'cloud';
  const { sim, instance } = jiraOutboxSite(flavor, { clock: () => NOW.getTime() });
  server.resetHandlers(...sim.handlers());
  const writer = createJiraWriter({ http: createJiraHttp(instance, { logger }), flavor, mapping: loadJiraMapping() });
  const issue = sim.createIssue({ summary: 'Rotate the payments HSM keys', 'Change type': 'Normal' }, { issueType: '[System] Change' });
  const auth = { authorization: cloud ? `Basic ${Buffer.from('ops@acme.example:t-ops').toString('base64')}` : 'Bearer pat-ops' };
  const api = cloud ? '3' : '2';
  return {
    sim,
    writer,
    nativeId: issue.id,
    key: issue.key,
    names: () => sim.issue(issue.key).attachments.map((a) => a.filename),
    async download(name) {
      const got = (await (await fetch(`${base}/rest/api/${api}/issue/${issue.key}?fields=attachment`, { headers: auth })).json()) as { fields: { attachment: { filename: string; content: string }[] } };
      const found = got.fields.attachment.filter((a) => a.filename === name);
      expect(found).toHaveLength(1);
      return (await fetch(found[0]?.content as string, { headers: auth })).text();
    },
    limit: (bytes) => {
      sim.attachmentUploadLimit = bytes;
    },
  };
}

function outboxFor(w: World) {
  const outbox = SqliteOutboxStore.open(':memory:');
  const worker = new OutboxWorker({ outbox, writerFor: () => w.writer, logger, metrics: createMetrics({ defaultMetrics: false }), clock: () => NOW });
  const change = buildChange({ key: w.key, nativeId: w.nativeId });
  /** Queues the bundle of the first `n` ledger entries, as the assessment runner does. */
  const queue = async (n: number) => {
    const { file, evidence } = evidenceAttachment(change, ledger(change.id, n), NOW);
    const item: NewOutboxItem = { instance: 'x', changeId: change.id, nativeId: w.nativeId, source: 'evidence', idempotencyKey: `evidence-bundle:${change.id}:${evidence.hash}`, payload: { action: 'attach', file, evidence } };
    await outbox.enqueue([item], NOW);
    return { file, evidence, key: item.idempotencyKey };
  };
  return { outbox, worker, queue, change };
}

describe.each([
  ['ServiceNow', serviceNowWorld],
  ['Jira Cloud', () => jiraWorld('cloud')],
  ['Jira Data Center', () => jiraWorld('datacenter')],
])('the evidence bundle on a %s ticket', (_system, makeWorld) => {
  it('is attached once under a name that carries the change, the head seq and hash, and the downloaded file verifies', async () => {
    const w = makeWorld();
    const o = outboxFor(w);
    const { file, evidence, key } = await o.queue(3);
    expect(file.name).toBe(`changegate-evidence-${w.key}-3-${evidence.hash.slice(0, 8)}.json`);
    expect(await o.worker.drain()).toMatchObject({ written: 1, failed: 0 });
    expect(w.names()).toEqual([file.name]);
    const report = verifyBundle(JSON.parse(await w.download(file.name)));
    expect(report).toMatchObject({ ok: true, entries: 3, head: evidence.hash, changeKey: w.key });
    expect((await o.outbox.get(key))?.result).toBe('written');
  });

  it('is recognised by its name when the item is worked again after the ticket took it, and a new version is added beside the old', async () => {
    const w = makeWorld();
    const first = evidenceAttachment(buildChange({ key: w.key, nativeId: w.nativeId }), ledger('c', 2), NOW).file;
    // The upload reached the ticket; the process died before the outbox heard of it.
    expect(await w.writer.attach?.(w.nativeId, first, 'k')).toBe('written');
    expect(await w.writer.attach?.(w.nativeId, first, 'k')).toBe('already-done');
    const o = outboxFor(w);
    await o.queue(3);
    expect(await o.worker.drain()).toMatchObject({ written: 1, alreadyDone: 0 });
    expect(w.names()).toHaveLength(2);
    expect(w.names()[0]).toBe(first.name);
  });

  it('is parked with its size named when the ticket system refuses it as too large, and nothing is attached', async () => {
    const w = makeWorld();
    const o = outboxFor(w);
    w.limit(500);
    const { key, file } = await o.queue(4);
    expect(await o.worker.drain()).toMatchObject({ written: 0, failed: 1, retried: 0 });
    const item = await o.outbox.get(key);
    expect(item?.status).toBe('failed');
    expect(item?.lastError?.code).toBe('CG_WRITE_REFUSED');
    expect(item?.lastError?.message).toContain(`${file.name} (${Buffer.byteLength(file.content)} bytes)`);
    expect(w.names()).toEqual([]);
  });
});

const property = (w: ReturnType<typeof jiraWorld>): unknown => w.sim.issue(w.key).properties.get(EVIDENCE_PROPERTY);

describe('the changegate.evidence issue property on Jira', () => {
  it('names the newest head and its file, is set again when the file was already there, and never moves back', async () => {
    const w = jiraWorld();
    const change = buildChange({ key: w.key, nativeId: w.nativeId });
    const v2 = evidenceAttachment(change, ledger(change.id, 2), NOW);
    const v3 = evidenceAttachment(change, ledger(change.id, 3), NOW);
    // A crash between the upload and the property: the file is there, the property is not.
    expect(await w.writer.attach?.(w.nativeId, v3.file, 'k3')).toBe('written');
    expect(property(w)).toBeUndefined();
    expect(await w.writer.attach?.(w.nativeId, v3.file, 'k3', { evidence: v3.evidence })).toBe('already-done');
    expect(property(w)).toEqual({ seq: 3, hash: v3.evidence.hash, file: v3.file.name });
    // An older version retried late is attached (old versions stay) but does not take the property back.
    expect(await w.writer.attach?.(w.nativeId, v2.file, 'k2', { evidence: v2.evidence })).toBe('written');
    expect(property(w)).toEqual({ seq: 3, hash: v3.evidence.hash, file: v3.file.name });
  });
});
