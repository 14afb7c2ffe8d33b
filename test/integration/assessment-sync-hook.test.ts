// The sync engine tells the assessment runner which changes a run left owed an
// assessment: after every stream (so a change is judged with the approvals and
// notes the same run brought), read back from the store rather than held in
// memory, also for what a failed run managed to store, and for a webhook's
// re-fetch; never when nothing new was stored. During the last stream each
// stored page's changes are named as well, marked mid-run.

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

function connector(pages: Record<string, StreamItem[]>, failOn?: string, order: string[] = ['changes', 'journal'], pageSize = 100): ConnectorInstance {
  return {
    system: 'servicenow',
    instanceId: 'sn-prod',
    streams: order.map((name) => ({ name, description: name })),
    async readPage(request: PageRequest): Promise<PageResult> {
      if (request.stream === failOn) throw new Error('connection reset');
      const all = pages[request.stream] ?? [];
      // Pages by position: the cursor's id is the index of the page's last item.
      const from = request.after === null ? 0 : Number(request.after.id) + 1;
      const items = all.slice(from, from + pageSize);
      const last = items.length === 0 ? null : { updatedAt: '2026-03-02T09:03:00Z', id: String(from + items.length - 1) };
      return { items, last, total: all.length, hasMore: from + pageSize < all.length, apiCalls: 1 };
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

  it('in the last stream, names each stored page of changes as it is stored (mid-run), and at the end only what is still owed', async () => {
    const seen: [string[], boolean][] = [];
    const c = buildChange({ nativeId: sysId(3), key: changeNumber(3), updatedAt: '2026-03-02T09:02:30Z' });
    const engine = new SyncEngine({
      store,
      logger: createLogger({ level: 'silent' }),
      metrics: createMetrics({ defaultMetrics: false }),
      clock: () => new Date('2026-03-02T10:00:00Z'),
      // Mid-run it leaves b owed, as the runner leaves a change whose verdict reads its neighbours.
      onChangesWritten: async (_instance, ids, context) => {
        seen.push([ids.toSorted(), context?.midRun === true]);
        for (const id of ids) if (!(context?.midRun === true && id === b.id)) await store.noteAssessed(id, await store.lastRevisionSeq(id));
      },
    });
    const pages = {
      journal: [{ kind: 'journal', changeNativeId: b.nativeId, entry: note } as StreamItem],
      changes: [a, b, c].map((change): StreamItem => ({ kind: 'change', change })),
    };
    engine.register({ connector: connector(pages, undefined, ['journal', 'changes'], 2), pageSize: 2, overlapMs: 0 });

    await engine.sync('sn-prod');

    expect(seen).toEqual([
      [[a.id, b.id].toSorted(), true],
      [[c.id], true],
      [[b.id], false],
    ]);
    expect((await store.getChange(b.id))?.journal.map((j) => j.id)).toEqual([note.id]);
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
