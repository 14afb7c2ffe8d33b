// The outbox worker against a writer that records what it was asked: the drain
// report, the note series handed through, and the follow-up notes of a move
// (posted in the same drain, and not after the worker gave up on the move).

import { describe, expect, it } from 'vitest';
import type { CommentOptions, ConnectorWriter, TicketNote, WriteOutcome } from '../../src/kit/connector.ts';
import { ChangegateError } from '../../src/errors.ts';
import { createLogger } from '../../src/log.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { processOwner } from '../../src/store/claim-owner.ts';
import type { NewOutboxItem, OutboxPayload, OutboxStore } from '../../src/store/outbox-store.ts';
import { SqliteOutboxStore } from '../../src/store/sqlite/sqlite-outbox-store.ts';
import { OutboxWorker } from '../../src/sync/outbox-worker.ts';

const NOW = new Date('2026-04-06T08:00:00Z');
const note = (title: string): TicketNote => ({ title, tone: 'info', lines: [`${title}.`] });

interface Call { kind: string; key: string; options?: CommentOptions }

function world(opts: { comment?: (key: string) => WriteOutcome; transition?: () => WriteOutcome; maxAttempts?: number } = {}) {
  const calls: Call[] = [];
  const writer: ConnectorWriter = {
    async comment(_id, _note, key, options) {
      calls.push({ kind: 'comment', key, ...(options === undefined ? {} : { options }) });
      return opts.comment?.(key) ?? 'written';
    },
    async transition(_id, _to, key) {
      calls.push({ kind: 'transition', key });
      return opts.transition?.() ?? 'written';
    },
    async setVerdict(_id, _verdict, key) {
      calls.push({ kind: 'set-verdict', key });
      return 'written';
    },
  };
  const outbox = SqliteOutboxStore.open(':memory:');
  const worker = new OutboxWorker({
    outbox,
    writerFor: () => writer,
    logger: createLogger({ level: 'silent' }),
    metrics: createMetrics({ defaultMetrics: false }),
    clock: () => NOW,
    ...(opts.maxAttempts === undefined ? {} : { retry: { maxAttempts: opts.maxAttempts } }),
  });
  const enqueue = (key: string, payload: OutboxPayload) => {
    // One change per key: a later assessment item for the same change supersedes an earlier one.
    const item: NewOutboxItem = { instance: 'sn', changeId: `servicenow:sn:${key}`, nativeId: key, source: payload.action === 'transition' ? 'enforcement' : 'assessment', idempotencyKey: key, payload };
    return outbox.enqueue([item], NOW);
  };
  return { calls, outbox, worker, enqueue };
}

const move = { action: 'transition', toNativeState: '-3', expectedNativeState: '-2', noteAfter: note('Moved back'), noteIfRefused: note('Could not move back') } as const;

describe('outbox worker', () => {
  it('parks a file for an instance whose writer takes no attachments, naming the file, and works the rest', async () => {
    const w = world();
    await w.enqueue('k-file', { action: 'attach', file: { name: 'changegate-evidence-CHG1-2-abcdef12.json', contentType: 'application/json', content: '{}' }, evidence: { seq: 2, hash: 'abcdef12'.repeat(8) } });
    await w.enqueue('k-note', { action: 'comment', note: note('Verdict') });
    expect(await w.worker.drain()).toMatchObject({ claimed: 2, written: 1, failed: 1, retried: 0 });
    const parked = await w.outbox.get('k-file');
    expect(parked).toMatchObject({ status: 'failed', lastError: { code: 'CG_WRITE_REFUSED', kind: 'config' } });
    expect(parked?.lastError?.message).toContain('changegate-evidence-CHG1-2-abcdef12.json is not attached');
  });

  it('hands a file, its key and the evidence head to the writer', async () => {
    const seen: unknown[] = [];
    const outbox = SqliteOutboxStore.open(':memory:');
    const attaching = new OutboxWorker({
      outbox,
      writerFor: () => ({
        comment: async () => 'written',
        transition: async () => 'written',
        setVerdict: async () => 'written',
        attach: async (nativeId, file, key, options) => {
          seen.push({ nativeId, name: file.name, key, options });
          return 'already-done';
        },
      }),
      logger: createLogger({ level: 'silent' }),
      metrics: createMetrics({ defaultMetrics: false }),
      clock: () => NOW,
    });
    const head = { seq: 3, hash: 'f'.repeat(64) };
    await outbox.enqueue([{ instance: 'jsm', changeId: 'jira:jsm:10001', nativeId: '10001', source: 'evidence', idempotencyKey: 'bundle-3', payload: { action: 'attach', file: { name: 'b.json', contentType: 'application/json', content: '{}' }, evidence: head } }], NOW);
    expect(await attaching.drain()).toMatchObject({ alreadyDone: 1 });
    expect(seen).toEqual([{ nativeId: '10001', name: 'b.json', key: 'bundle-3', options: { evidence: head } }]);
    expect((await outbox.get('bundle-3'))?.result).toBe('already-done');
  });

  it('reports what each claimed item came to', async () => {
    const w = world({ comment: (key) => (key === 'k-done' ? 'already-done' : 'written') });
    await w.enqueue('k-new', { action: 'comment', note: note('Verdict') });
    await w.enqueue('k-done', { action: 'comment', note: note('Verdict') });
    expect(await w.worker.drain()).toEqual({ claimed: 2, written: 1, alreadyDone: 1, superseded: 0, retried: 0, failed: 0 });
  });

  it('hands a note series to the writer, and no options for a plain note', async () => {
    const w = world();
    await w.enqueue('k-series', { action: 'comment', note: note('Verdict'), series: { name: 'verdict', digest: 'abc123' } });
    await w.enqueue('k-plain', { action: 'comment', note: note('Hello') });
    await w.worker.drain();
    expect(w.calls).toEqual([
      { kind: 'comment', key: 'k-series', options: { series: { name: 'verdict', digest: 'abc123' } } },
      { kind: 'comment', key: 'k-plain', options: {} },
    ]);
  });

  it('posts the note after a move in the same drain, under a key of its own', async () => {
    const w = world();
    await w.enqueue('k-move', move);
    const report = await w.worker.drain();
    expect(w.calls.map((c) => [c.kind, c.key])).toEqual([['transition', 'k-move'], ['comment', 'k-move:note']]);
    expect(report.written).toBe(2);
  });

  it('posts the refusal note when the ticket system refuses the move, but not when the worker gave up retrying it', async () => {
    const refused = world({
      transition: () => {
        throw new ChangegateError('CG_INPUT_INVALID', 'state model refuses');
      },
    });
    await refused.enqueue('k-move', move);
    expect(await refused.worker.drain()).toMatchObject({ failed: 1, written: 1 });
    expect(refused.calls.map((c) => c.key)).toEqual(['k-move', 'k-move:refused-note']);

    const unavailable = world({
      maxAttempts: 1,
      transition: () => {
        throw new ChangegateError('CG_UPSTREAM_UNAVAILABLE', 'down');
      },
    });
    await unavailable.enqueue('k-move', move);
    expect(await unavailable.worker.drain()).toMatchObject({ failed: 1, written: 0 });
    expect(unavailable.calls.map((c) => c.key)).toEqual(['k-move']);
  });

  it('posts no refusal note for a move whose failure is retried', async () => {
    const w = world({
      transition: () => {
        throw new ChangegateError('CG_UPSTREAM_UNAVAILABLE', 'down');
      },
    });
    await w.enqueue('k-move', move);
    expect(await w.worker.drain()).toMatchObject({ retried: 1, failed: 0, written: 0 });
    expect(w.calls.map((c) => c.key)).toEqual(['k-move']);
  });

  it('records an item as unfinished and without error until it ends, then when and why', async () => {
    const w = world({
      transition: () => {
        throw new ChangegateError('CG_UPSTREAM_UNAVAILABLE', 'down');
      },
    });
    await w.enqueue('k-note', { action: 'comment', note: note('Hello') });
    await w.enqueue('k-move', { action: 'transition', toNativeState: '-3', expectedNativeState: '-2' });
    expect(await w.outbox.get('k-note')).toMatchObject({ status: 'pending', finishedAt: null, lastError: null });
    await w.worker.drain();
    expect(await w.outbox.get('k-note')).toMatchObject({ status: 'done', finishedAt: NOW.toISOString(), lastError: null });
    expect(await w.outbox.get('k-move')).toMatchObject({ status: 'pending', finishedAt: null, lastError: { code: 'CG_UPSTREAM_UNAVAILABLE', kind: 'transient', message: 'down' } });
  });

  it('works again, at the next drain, the items a drain claimed and could not settle because the store failed', async () => {
    const calls: Call[] = [];
    const writer: ConnectorWriter = {
      async comment(_id, _note, key) {
        calls.push({ kind: 'comment', key });
        return 'written';
      },
      async transition() {
        return 'written';
      },
      async setVerdict() {
        return 'written';
      },
    };
    const store = SqliteOutboxStore.open(':memory:');
    // The store is locked by another process while the first item is settled.
    let failures = 1;
    const outbox = new Proxy(store, {
      get(target, name) {
        if (name === 'complete') {
          return (...args: Parameters<OutboxStore['complete']>) =>
            failures-- > 0 ? Promise.reject(new ChangegateError('CG_STORE_BUSY', 'the store is locked by another process')) : target.complete(...args);
        }
        const value: unknown = Reflect.get(target, name, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const worker = new OutboxWorker({ outbox, writerFor: () => writer, logger: createLogger({ level: 'silent' }), metrics: createMetrics({ defaultMetrics: false }), clock: () => NOW, owner: processOwner() });
    for (const key of ['k1', 'k2', 'k3']) {
      await store.enqueue([{ instance: 'sn', changeId: `servicenow:sn:${key}`, nativeId: key, source: 'assessment', idempotencyKey: key, payload: { action: 'comment', note: note('Verdict') } }], NOW);
    }
    await expect(worker.drain()).rejects.toMatchObject({ code: 'CG_STORE_BUSY' });
    expect((await store.counts()).claimed).toBe(3);
    // Not after the ten-minute lease: the next drain of the same, live process.
    expect(await worker.drain()).toMatchObject({ claimed: 3, written: 3 });
    expect(await store.counts()).toMatchObject({ claimed: 0, pending: 0, done: 3 });
    // k1 reached the ticket before the store failed; the writer's marker check keeps it single there.
    expect(calls.map((c) => c.key)).toEqual(['k1', 'k1', 'k2', 'k3']);
    await store.close();
  });
});
