// The invariants a run must end with, read from the outside once `serve` has
// stopped: (1) the mirror equals what the simulators serve (every change,
// its approvals, its journal), and (2) every ticket write exists exactly once:
// no note's key twice on a ticket, never the same decision twice in a row,
// the newest verdict note the decision the store last wrote back, nothing
// left in the outbox, and nothing owed (re-running the policy on the final
// mirror queues no write the crash or the fault swallowed).

import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { isDeepStrictEqual } from 'node:util';
import { pino } from 'pino';
import { COMMENT_PROPERTY } from '../../connectors/jira/jira-writer.ts';
import { buildConnector } from '../../src/app/build-connectors.ts';
import { registry } from '../../src/app/registry.ts';
import { AssessmentRunner, decisionHash } from '../../src/assess/assessment-runner.ts';
import type { Change } from '../../src/domain/change.ts';
import { seriesDigestIn } from '../../src/kit/ticket-note.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { loadPolicy } from '../../src/policy/policy-config.ts';
import { SqliteAssessmentStore } from '../../src/store/sqlite/sqlite-assessment-store.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { SqliteOutboxStore } from '../../src/store/sqlite/sqlite-outbox-store.ts';
import type { ChaosWorld } from './chaos-world.ts';

export type DeviationKind =
  | 'mirror-missing'
  | 'mirror-count'
  | 'mirror-differs'
  | 'served-invalid'
  | 'note-twice'
  | 'same-decision-twice'
  | 'verdict-missing'
  | 'verdict-stale'
  | 'outbox-unsettled'
  | 'write-owed';

export interface Deviation {
  kind: DeviationKind;
  instance: string;
  change: string | null;
  detail: string;
}

/** A note changegate left on a ticket, oldest first: its key and, for a verdict note, the decision's digest. */
interface TicketNote {
  key: string;
  digest: string | null;
}

interface Served {
  change: Change;
  approvals: string[];
  journal: string[];
}

const MARKER = /\[changegate:([^\]]+)\]/g;

function serviceNowNotes(world: ChaosWorld, sysId: string): TicketNote[] {
  return world.sn
    .journalFor(sysId)
    .filter((row) => row.element === 'work_notes')
    .flatMap((row) => {
      const text = String(row.value);
      return [...text.matchAll(MARKER)].map((m) => ({ key: m[1] as string, digest: seriesDigestIn(text, 'verdict') }));
    });
}

function jiraNotes(world: ChaosWorld, issueId: string): TicketNote[] {
  const issue = world.jira.store.all.find((i) => i.id === issueId);
  return (issue?.comments ?? []).flatMap((comment) => {
    const value = comment.properties?.find((p) => p.key === COMMENT_PROPERTY)?.value as { idempotencyKey?: string; series?: { name?: string; digest?: string } } | undefined;
    if (value?.idempotencyKey === undefined) return [];
    return [{ key: value.idempotencyKey, digest: value.series?.name === 'verdict' ? (value.series.digest ?? null) : null }];
  });
}

/** What each system serves now, through the connector's own reading and mapping (what a sync would store). */
async function servedBy(world: ChaosWorld, deviations: Deviation[]): Promise<Map<string, Map<string, Served>>> {
  const logger = pino({ level: 'silent' });
  const metrics = createMetrics({ defaultMetrics: false });
  const out = new Map<string, Map<string, Served>>();
  for (const instance of world.instances) {
    const connector = buildConnector(instance, registry, { logger, metrics });
    const ids = instance.system === 'servicenow' ? world.sn.listChanges().map((r) => String(r.sys_id)) : world.jira.store.all.map((i) => i.id);
    const served = new Map<string, Served>();
    for (const nativeId of ids) {
      const items = await connector.fetchOne(nativeId);
      let current: Served | undefined;
      for (const item of items ?? []) {
        if (item.kind === 'change') current = { change: item.change, approvals: [], journal: [] };
        else if (item.kind === 'approval') current?.approvals.push(`${item.approval.id}=${item.approval.state}`);
        else if (item.kind === 'journal') current?.journal.push(item.entry.id);
        else deviations.push({ kind: 'served-invalid', instance: instance.id, change: nativeId, detail: item.ref });
      }
      if (current) served.set(current.change.id, current);
    }
    await connector.close?.();
    out.set(instance.id, served);
  }
  return out;
}

function differingFields(a: Change, b: Change): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => !isDeepStrictEqual((a as unknown as Record<string, unknown>)[k], (b as unknown as Record<string, unknown>)[k]));
}

/** A copy of the store to re-run the policy on, so checking leaves the run's store as it was. */
function scratchCopy(dbFile: string, dir: string): string {
  const copy = join(dir, `check-${process.pid}-${Date.now()}.db`);
  const db = new DatabaseSync(dbFile, { readOnly: true });
  try {
    db.exec(`VACUUM INTO '${copy.replaceAll("'", "''")}'`);
  } finally {
    db.close();
  }
  return copy;
}

export async function checkWorld(world: ChaosWorld): Promise<Deviation[]> {
  const deviations: Deviation[] = [];
  const served = await servedBy(world, deviations);
  const store = SqliteChangeStore.open(world.dbFile);
  const assessments = SqliteAssessmentStore.open(world.dbFile);
  const outbox = SqliteOutboxStore.open(world.dbFile);
  try {
    for (const instance of world.instances) {
      const expected = served.get(instance.id) ?? new Map<string, Served>();
      const count = await store.countChanges(instance.id);
      if (count !== expected.size) deviations.push({ kind: 'mirror-count', instance: instance.id, change: null, detail: `mirror holds ${count} changes, the system serves ${expected.size}` });
      for (const [id, want] of expected) {
        const mirrored = await store.getChange(id);
        if (mirrored === null) {
          deviations.push({ kind: 'mirror-missing', instance: instance.id, change: id, detail: `${want.change.key} is served but not mirrored` });
          continue;
        }
        const fields = differingFields(mirrored.change, want.change);
        const approvals = mirrored.approvals.map((a) => `${a.id}=${a.state}`).toSorted();
        const journal = mirrored.journal.map((j) => j.id).toSorted();
        if (!isDeepStrictEqual(approvals, want.approvals.toSorted())) fields.push('approvals');
        if (!isDeepStrictEqual(journal, want.journal.toSorted())) fields.push('journal');
        if (fields.length > 0) deviations.push({ kind: 'mirror-differs', instance: instance.id, change: id, detail: `${want.change.key}: ${fields.join(', ')}` });

        const notes = instance.system === 'servicenow' ? serviceNowNotes(world, want.change.nativeId) : jiraNotes(world, want.change.nativeId);
        const seen = new Map<string, number>();
        for (const note of notes) seen.set(note.key, (seen.get(note.key) ?? 0) + 1);
        for (const [key, n] of seen) if (n > 1) deviations.push({ kind: 'note-twice', instance: instance.id, change: id, detail: `${want.change.key}: note ${key} is on the ticket ${n} times` });
        const verdicts = notes.flatMap((n) => (n.digest === null ? [] : [n.digest]));
        for (let i = 1; i < verdicts.length; i++) {
          if (verdicts[i] === verdicts[i - 1]) deviations.push({ kind: 'same-decision-twice', instance: instance.id, change: id, detail: `${want.change.key}: decision ${verdicts[i]} noted twice in a row (notes ${i} and ${i + 1} of ${verdicts.length})` });
        }
        const shown = await assessments.latestWrittenBack(id);
        if (shown !== null) {
          const digest = decisionHash(shown.assessment).slice(0, 16);
          if (verdicts.length === 0) deviations.push({ kind: 'verdict-missing', instance: instance.id, change: id, detail: `${want.change.key}: no verdict note; decision ${digest} was written back` });
          else if (verdicts.at(-1) !== digest) deviations.push({ kind: 'verdict-stale', instance: instance.id, change: id, detail: `${want.change.key}: newest verdict note says ${verdicts.at(-1)}, the decision written back is ${digest}` });
        }
      }
    }
    for (const status of ['pending', 'claimed', 'failed'] as const) {
      for (const item of await outbox.list({ status, limit: 1000 })) {
        const error = item.lastError === null ? '' : `, last error ${item.lastError.code}`;
        deviations.push({ kind: 'outbox-unsettled', instance: item.instance, change: item.changeId, detail: `${item.action} ${item.idempotencyKey} is ${status} after ${item.attempts} attempts${error}` });
      }
    }
  } finally {
    await store.close();
    await assessments.close();
    await outbox.close();
  }
  deviations.push(...(await owedWrites(world)));
  return deviations;
}

/** The policy re-run on the final mirror: a write it queues is one the run owed the ticket and never made. */
async function owedWrites(world: ChaosWorld): Promise<Deviation[]> {
  const copy = scratchCopy(world.dbFile, world.dir);
  const store = SqliteChangeStore.open(copy);
  const assessments = SqliteAssessmentStore.open(copy);
  const outbox = SqliteOutboxStore.open(copy);
  const deviations: Deviation[] = [];
  try {
    const runner = new AssessmentRunner({
      store,
      assessments,
      outbox,
      policy: loadPolicy(),
      modeOf: () => 'advisory',
      writesBack: () => true,
      logger: pino({ level: 'silent' }),
      metrics: createMetrics({ defaultMetrics: false }),
    });
    for (const instance of world.instances) {
      let cursor: string | null = null;
      do {
        const page = await store.listChanges({ instance: instance.id, limit: 200, ...(cursor === null ? {} : { cursor }) });
        const owed = new Set(await store.listOwedAssessments({ instance: instance.id, limit: 1000 }));
        for (const change of page.items) {
          // What the run left, read before the re-run: enough to tell a missed assessment from a decision that moved.
          const last = await assessments.latestAssessment(change.id);
          const seen = `mirror at revision ${await store.lastRevisionSeq(change.id)}, last assessed revision ${last?.revision ?? 'none'} at ${last?.evaluatedAt ?? '-'}${owed.has(change.id) ? ', still owed' : ''}`;
          const result = await runner.assessChange(change.id);
          if (result.enqueued.length > 0) deviations.push({ kind: 'write-owed', instance: instance.id, change: change.id, detail: `${change.key}: ${result.enqueued.join(', ')} (${seen})` });
        }
        cursor = page.nextCursor;
      } while (cursor !== null);
    }
  } finally {
    await store.close();
    await assessments.close();
    await outbox.close();
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${copy}${suffix}`, { force: true });
  }
  return deviations;
}
