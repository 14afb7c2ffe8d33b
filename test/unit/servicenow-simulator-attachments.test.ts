// The ServiceNow simulator's Attachment API against the reference (§5) and the
// samples: a binary upload answers 201 with the sys_attachment metadata and a
// Location, the list is a sys_attachment query with the paging headers, the
// bytes come back as sent, and what the instance refuses is refused.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ServiceNowSimulator } from '../../connectors/servicenow/simulator/servicenow-simulator.ts';

const BASE = 'https://acme.service-now.com';
const AUTH = { authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}`, accept: 'application/json' };
const server = setupServer();
let sim: ServiceNowSimulator;
let change: string;

beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterAll(() => server.close());
beforeEach(() => {
  sim = new ServiceNowSimulator({ baseUrl: BASE, clock: () => new Date('2026-03-09T17:30:02Z') });
  server.resetHandlers(...sim.handlers());
  change = sim.createChange({ short_description: 'Replace line card', type: 'normal' }).sys_id as string;
});

type Json = Record<string, unknown>;
const sampleKeys = (name: string): string[] => {
  const sample = JSON.parse(readFileSync(new URL(`../fixtures/servicenow/${name}`, import.meta.url), 'utf8')) as { result: Json[] };
  return Object.keys(sample.result[0] as Json).toSorted();
};

function upload(fileName: string, body: string, headers: Record<string, string> = { 'content-type': 'application/json' }, sysId = change): Promise<Response> {
  const query = new URLSearchParams({ table_name: 'change_request', table_sys_id: sysId, file_name: fileName });
  return fetch(`${BASE}/api/now/attachment/file?${query}`, { method: 'POST', headers: { ...AUTH, ...headers }, body });
}

describe('the Attachment API', () => {
  it('stores a raw upload and answers 201 with the metadata of a real sys_attachment record and its Location', async () => {
    const res = await upload('bundle.json', '{"entries":[]}');
    expect(res.status).toBe(201);
    const { result } = (await res.json()) as { result: Json };
    expect(Object.keys(result).toSorted()).toEqual(sampleKeys('attachment_metadata_change_request.json'));
    // Every field of the documented answer is there too (the real record adds hash, state, chunk_size_bytes).
    expect(Object.keys(result)).toEqual(expect.arrayContaining(Object.keys((JSON.parse(readFileSync(new URL('../fixtures/servicenow/attachment_post_file_response.json', import.meta.url), 'utf8')) as { result: Json }).result)));
    expect(result).toMatchObject({ table_name: 'change_request', table_sys_id: change, file_name: 'bundle.json', content_type: 'application/json', size_bytes: '14', sys_created_on: '2026-03-09 17:30:02' });
    // Real records carry the SHA-256 of the bytes (Ansible compares it to stay idempotent).
    expect(result.hash).toBe(createHash('sha256').update('{"entries":[]}').digest('hex'));
    expect(res.headers.get('location')).toBe(`${BASE}/api/now/attachment/${String(result.sys_id)}`);
    expect(result.download_link).toBe(`${BASE}/api/now/attachment/${String(result.sys_id)}/file`);
  });

  it('lists a record\'s attachments through sysparm_query with X-Total-Count, and serves each one\'s bytes and metadata', async () => {
    await upload('a.json', '{"v":1}');
    await upload('b.txt', 'plain text', { 'content-type': 'text/plain' });
    const other = sim.createChange({ short_description: 'Other', type: 'normal' }).sys_id as string;
    await upload('c.json', '{}', { 'content-type': 'application/json' }, other);
    const list = await fetch(`${BASE}/api/now/attachment?sysparm_query=table_sys_id=${change}`, { headers: AUTH });
    expect(list.headers.get('x-total-count')).toBe('2');
    const { result } = (await list.json()) as { result: Json[] };
    expect(result.map((r) => r.file_name)).toEqual(['a.json', 'b.txt']);
    const one = await fetch(`${BASE}/api/now/attachment?sysparm_query=table_sys_id=${change}^file_name=b.txt&sysparm_fields=sys_id`, { headers: AUTH });
    const found = ((await one.json()) as { result: Json[] }).result;
    expect(found).toEqual([{ sys_id: result[1]?.sys_id }]);
    const file = await fetch(String(result[1]?.download_link), { headers: AUTH });
    expect(file.headers.get('content-type')).toBe('text/plain');
    expect(await file.text()).toBe('plain text');
    expect(JSON.parse(file.headers.get('x-attachment-metadata') ?? '{}')).toMatchObject({ file_name: 'b.txt', size_bytes: '10' });
    const meta = await fetch(`${BASE}/api/now/attachment/${String(result[0]?.sys_id)}`, { headers: AUTH });
    expect(((await meta.json()) as { result: Json }).result.file_name).toBe('a.json');
  });

  it('refuses a file above com.glide.attachment.max_size, a missing parameter, a missing record and an unauthenticated caller, storing nothing', async () => {
    sim.attachmentMaxBytes = 10;
    const large = await upload('big.json', '{"entries":[1,2,3]}');
    expect(large.status).toBe(400);
    expect(await large.json()).toEqual({ error: { message: 'Failed to create the attachment. File part might be too large.', detail: null }, status: 'failure' });
    const noName = await fetch(`${BASE}/api/now/attachment/file?table_name=change_request&table_sys_id=${change}`, { method: 'POST', headers: { ...AUTH, 'content-type': 'text/plain' }, body: 'x' });
    expect(noName.status).toBe(400);
    expect(((await noName.json()) as { error: { message: string } }).error.message).toContain('file_name');
    expect((await upload('x.json', '{}', { 'content-type': 'application/json' }, 'f'.repeat(32))).status).toBe(404);
    const anonymous = await fetch(`${BASE}/api/now/attachment/file?table_name=change_request&table_sys_id=${change}&file_name=a.json`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(anonymous.status).toBe(401);
    expect(sim.attachmentsFor(change)).toEqual([]);
  });
});
