// The sync engine tells the assessment runner which changes a run left owed an
// assessment: after every stream (so a change is judged with the approvals and
// notes the same run brought), read back from the store rather than held in
// memory, also for what a failed run managed to store, and for a webhook's
// re-fetch; never when nothing new was stored.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ConnectorInstance, PageRequest, PageResult, StreamItem } from '../../src/kit/connector.ts';
import { createLogger } from '../../src/log.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { SyncEngine } from '../../src/sync/sync-engine.ts';
import { buildChange, buildJournalEntry, changeNumber, sysId } from '../support/change-builder.ts';

const a = buildChange({ nativeId: sysId(1), key: changeNumber(1), updatedAt: '2026-03-02T09:01:00Z' });
const b = buildChange({ nativeId: sysId(2), key: changeNumber(2), updatedAt: '2026-03-02T09:02:00Z' });
const note = buildJournalEntry({ id: 'j-1', at: '2026-03-02T09:03:00Z' });

function connector(pages: Record<string, StreamItem[]>, failOn?: string): ConnectorInstance {
  return {
    system: 'servicenow',
    instanceId: 'sn-prod',
    streams: [
      { name: 'changes', description: 'changes' },
      { name: 'journal', description: 'journal' },
    ],
    async readPage(request: PageRequest): Promise<PageResult> {
      if (request.stream === failOn) throw new Error('connection reset');
      const items = pages[request.stream] ?? [];
      const last = items.length === 0 ? null : { updatedAt: '2026-03-02T09:03:00Z', id: 'x' };
      return { items, last, total: items.length, hasMore: false, apiCalls: 1 };
    },
    async fetchOne(nativeId: string) {
      return nativeId === b.nativeId ? [{ kind: 'change', change: { ...b, title: 'changed by a webhook', nativeRevision: 9 } }] : null;
    },
  };
}

describe('sync engine → assessment hook', () => {
  let store: SqliteChangeStore;
  let calls: [string, string[]][];
  const engineWith = (c: ConnectorInstance): SyncEngine => {
    const engine = new SyncEngine({
      store,
      logger: createLogger({ level: 'silent' }),
      metrics: createMetrics({ defaultMetrics: false }),
      clock: () => new Date('2026-03-02T10:00:00Z'),
      // Looks at each change it is told of, as the assessment runner does.
      onChangesWritten: async (instance, ids) => {
        calls.push([instance, ids.toSorted()]);
        for (const id of ids) await store.noteAssessed(id, await store.lastRevisionSeq(id));
      },
    });
    engine.register({ connector: c, pageSize: 100, overlapMs: 0 });
    return engine;
  };
  beforeEach(() => {
    store = SqliteChangeStore.open(':memory:');
    calls = [];
  });
  afterEach(async () => {
    await store.close();
  });

  it('names every change the run wrote, children included, once after all streams; nothing when nothing was new', async () => {
    await engineWith(connector({ changes: [{ kind: 'change', change: a }, { kind: 'change', change: b }] })).sync('sn-prod');
    expect(calls).toEqual([['sn-prod', [a.id, b.id].toSorted()]]);
    // A changes page that changes nothing, and a note on b: b alone is owed again.
    const pages = { changes: [{ kind: 'change', change: a } as StreamItem], journal: [{ kind: 'journal', changeNativeId: b.nativeId, entry: note } as StreamItem] };
    const engine = engineWith(connector(pages));
    await engine.sync('sn-prod');
    expect(calls).toEqual([
      ['sn-prod', [a.id, b.id].toSorted()],
      ['sn-prod', [b.id]],
    ]);
    await engine.sync('sn-prod');
    expect(calls).toHaveLength(2);
  });

  it('names again, at the next run that stores anything, a change whose assessment failed', async () => {
    const failingOn = (c: ConnectorInstance): SyncEngine => {
      const engine = new SyncEngine({
        store,
        logger: createLogger({ level: 'silent' }),
        metrics: createMetrics({ defaultMetrics: false }),
        clock: () => new Date('2026-03-02T10:00:00Z'),
        // Fails on a (it stays owed), looks at the rest.
        onChangesWritten: async (instance, ids) => {
          calls.push([instance, ids.toSorted()]);
          for (const id of ids) if (id !== a.id) await store.noteAssessed(id, await store.lastRevisionSeq(id));
        },
      });
      engine.register({ connector: c, pageSize: 100, overlapMs: 0 });
      return engine;
    };
    const changes: StreamItem[] = [
      { kind: 'change', change: a },
      { kind: 'change', change: b },
    ];
    await failingOn(connector({ changes })).sync('sn-prod');
    await failingOn(connector({ changes, journal: [{ kind: 'journal', changeNativeId: b.nativeId, entry: note }] })).sync('sn-prod');
    expect(calls).toEqual([
      ['sn-prod', [a.id, b.id].toSorted()],
      ['sn-prod', [a.id, b.id].toSorted()],
    ]);
  });

  it('names what a failed run stored before it failed', async () => {
    const engine = engineWith(connector({ changes: [{ kind: 'change', change: a }] }, 'journal'));
    await expect(engine.sync('sn-prod')).rejects.toThrow('connection reset');
    expect(calls).toEqual([['sn-prod', [a.id]]]);
  });

  it('names the change a webhook re-fetch wrote', async () => {
    const engine = engineWith(connector({}));
    await engine.syncOne('sn-prod', b.nativeId);
    expect(calls).toEqual([['sn-prod', [b.id]]]);
  });
});
