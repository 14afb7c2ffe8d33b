// The SQLite schema as an ordered list of migrations. `schema_version` holds
// how many have run; opening a database runs only the missing ones, so opening
// is idempotent. Append new migrations; never edit one that has shipped.
//
// A change is stored whole as canonical JSON (sorted keys, what its hash is
// taken over) plus the columns queries filter and sort on. `updated_at` and the
// children's time columns hold instants normalised to
// `YYYY-MM-DDTHH:mm:ss.sssZ`, so text order is time order whatever precision a
// source sends. No foreign keys: approvals and journal rows arrive on their own
// streams and may land before the change they belong to.

import type { DatabaseSync } from 'node:sqlite';
import type { Change } from '../../domain/change.ts';
import { commitBucket } from '../../domain/commit-sha.ts';
import { ChangegateError } from '../../errors.ts';
import { changeIndexKeys, changeRefKeys, INDEX_ONLY, windowDays } from '../change-refs.ts';
import { changeKeyIndexKey } from '../event-store.ts';
import { instantKey } from '../instant-key.ts';

export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE changes (
    id TEXT NOT NULL PRIMARY KEY,
    instance TEXT NOT NULL,
    system TEXT NOT NULL,
    native_id TEXT NOT NULL,
    key TEXT NOT NULL,
    state TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    native_revision INTEGER NOT NULL,
    hash TEXT NOT NULL,
    last_seq INTEGER NOT NULL,
    json TEXT NOT NULL
  );
  CREATE INDEX changes_by_updated ON changes (updated_at, id);
  CREATE INDEX changes_by_instance_updated ON changes (instance, updated_at, id);
  CREATE INDEX changes_by_key ON changes (key COLLATE NOCASE, updated_at);

  CREATE TABLE revisions (
    change_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    native_revision INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    observed_at TEXT NOT NULL,
    hash TEXT NOT NULL,
    diff TEXT,
    PRIMARY KEY (change_id, seq)
  );

  CREATE TABLE approvals (
    instance TEXT NOT NULL,
    id TEXT NOT NULL,
    change_native_id TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    hash TEXT NOT NULL,
    json TEXT NOT NULL,
    PRIMARY KEY (instance, id)
  );
  CREATE INDEX approvals_by_change ON approvals (instance, change_native_id, updated_at, id);

  CREATE TABLE journal (
    instance TEXT NOT NULL,
    id TEXT NOT NULL,
    change_native_id TEXT NOT NULL,
    at TEXT NOT NULL,
    json TEXT NOT NULL,
    PRIMARY KEY (instance, id)
  );
  CREATE INDEX journal_by_change ON journal (instance, change_native_id, at, id);

  CREATE TABLE cursors (
    instance TEXT NOT NULL,
    stream TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    id TEXT NOT NULL,
    saved_at TEXT NOT NULL,
    PRIMARY KEY (instance, stream)
  ) WITHOUT ROWID;

  CREATE TABLE rejected_records (
    instance TEXT NOT NULL,
    stream TEXT NOT NULL,
    ref TEXT NOT NULL,
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    PRIMARY KEY (instance, stream, ref)
  ) WITHOUT ROWID;
  `,
  // A first revision's diff lists every field, as big as the change itself. It is
  // not written on the (bulk) first sync: while the revision is current its diff
  // derives from the change row; when a second revision supersedes it, the
  // first version's JSON (already in hand) is kept in `snapshot` instead.
  `
  ALTER TABLE revisions ADD COLUMN snapshot TEXT;
  `,
  // `change_cores`: each change without its source payload (`raw` null), a
  // fifth of the bytes. Policy evaluation never reads `raw`, and the validate
  // endpoint parses the change and its neighbours on every call. Its own table:
  // a column after the large `json` one would be read by walking its overflow pages.
  //
  // Which active change touches which service/CI (by normalised id and name) on
  // which days of its planned window (see change-refs.ts): the overlap gate asks
  // for the neighbours of one change on every validation, which must not scan
  // the mirror. Only active changes are indexed; applyPage keeps the rows in
  // step. Filled here for the changes already mirrored (the functions are
  // registered by migrate()).
  `
  CREATE TABLE change_cores (
    id TEXT NOT NULL PRIMARY KEY,
    instance TEXT NOT NULL,
    native_id TEXT NOT NULL,
    key TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    json TEXT NOT NULL
  );
  CREATE INDEX change_cores_by_key ON change_cores (key COLLATE NOCASE, instance, updated_at, id);
  INSERT INTO change_cores (id, instance, native_id, key, updated_at, json)
    SELECT id, instance, native_id, key, updated_at, json_set(json, '$.raw', NULL) FROM changes;
  CREATE TABLE change_refs (
    instance TEXT NOT NULL,
    ref TEXT NOT NULL,
    day INTEGER NOT NULL,
    change_id TEXT NOT NULL,
    planned_start TEXT,
    planned_end TEXT,
    PRIMARY KEY (instance, ref, day, change_id)
  ) WITHOUT ROWID;
  CREATE INDEX change_refs_by_change ON change_refs (change_id);
  INSERT OR IGNORE INTO change_refs (instance, ref, day, change_id, planned_start, planned_end)
    SELECT c.instance, k.value, d.value, c.id, changegate_instant_key(json_extract(c.json, '$.plannedStart')),
      changegate_instant_key(json_extract(c.json, '$.plannedEnd'))
    FROM changes c, json_each(changegate_ref_keys(c.json)) k, json_each(changegate_window_days(c.json)) d
    WHERE c.state NOT IN ('closed', 'canceled', 'failed');
  `,
  // A counter every write to what readers parse (change cores, approvals,
  // journal) bumps, from any connection or process: the store's read cache
  // (mirror-read-cache.ts) keeps parsed changes while it stays the same.
  `
  CREATE TABLE mirror_generation (n INTEGER NOT NULL);
  INSERT INTO mirror_generation (n) VALUES (0);
  ${['change_cores', 'approvals', 'journal']
    .flatMap((table) =>
      ['INSERT', 'UPDATE', 'DELETE'].map(
        (op) => `CREATE TRIGGER ${table}_${op.toLowerCase()}_generation AFTER ${op} ON ${table} BEGIN UPDATE mirror_generation SET n = n + 1; END;`,
      ),
    )
    .join('\n  ')}
  `,
  // The latest revision the assessment runner has looked at (assessed, or found
  // to change nothing the policy reads). A change whose `last_seq` is ahead of
  // it is owed an assessment: a process that died between the mirror write and
  // the assessment left it so, and start-up finds it through the partial index,
  // at a cost that follows the number owed, not the mirror's size. Changes
  // mirrored before this column start at 0: the first start after the upgrade
  // looks at each once (an unchanged one costs a read, and writes nothing to the ticket).
  `
  ALTER TABLE changes ADD COLUMN assessed_seq INTEGER NOT NULL DEFAULT 0;
  CREATE INDEX changes_owed_assessment ON changes (id) WHERE assessed_seq < last_seq;
  `,
  // Who made each version (JSON `{id, name, email?}`, or JSON null when the source
  // named nobody). Revisions stored before this migration keep `author_recorded`
  // 0: their author was never read, and the history says so rather than guess.
  `
  ALTER TABLE revisions ADD COLUMN author TEXT;
  ALTER TABLE revisions ADD COLUMN author_recorded INTEGER NOT NULL DEFAULT 0;
  `,
  // CI and monitoring events (event-store.ts): the raw deliveries as received,
  // the events they normalise to, links to changes with their rule, and each
  // monitoring source's last heartbeat. Times are epoch milliseconds.
  `
  CREATE TABLE event_deliveries (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    headers TEXT NOT NULL,
    raw_body BLOB NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    finished_at INTEGER
  );
  CREATE INDEX event_deliveries_queue ON event_deliveries (status, received_at, seq);
  CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    source TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    repo TEXT,
    commit_sha TEXT,
    service TEXT,
    change_keys TEXT NOT NULL,
    body TEXT NOT NULL
  );
  CREATE INDEX events_by_commit ON events (commit_sha) WHERE commit_sha IS NOT NULL;
  CREATE INDEX events_by_service ON events (service) WHERE service IS NOT NULL;
  CREATE TABLE event_change_keys (key TEXT NOT NULL, event_id TEXT NOT NULL, PRIMARY KEY (key, event_id)) WITHOUT ROWID;
  CREATE TABLE event_links (
    event_id TEXT NOT NULL,
    change_id TEXT NOT NULL,
    rule TEXT NOT NULL,
    linked_at INTEGER NOT NULL,
    PRIMARY KEY (event_id, change_id)
  ) WITHOUT ROWID;
  CREATE INDEX event_links_by_change ON event_links (change_id);
  CREATE TABLE event_heartbeats (source TEXT NOT NULL PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID;
  `,
  // Where each scheduled event pull (GitHub runs and deployments, Alertmanager
  // alerts) stands: an opaque JSON the puller owns (ETags, `created` bound,
  // the alerts firing at the last pull).
  `
  CREATE TABLE event_pull_state (key TEXT NOT NULL PRIMARY KEY, state TEXT NOT NULL, saved_at INTEGER NOT NULL) WITHOUT ROWID;
  `,
  // A delivery's raw body in a table of its own, by the delivery's seq: a body
  // (often 20 KB and more, kept in overflow pages) was rewritten whole each time
  // a claim leased its row and again when the row was completed, and a claim
  // read past it to reach next_attempt_at. Now the queue row stays small.
  `
  CREATE TABLE event_bodies (seq INTEGER PRIMARY KEY, raw_body BLOB NOT NULL);
  INSERT INTO event_bodies (seq, raw_body) SELECT seq, raw_body FROM event_deliveries;
  ALTER TABLE event_deliveries DROP COLUMN raw_body;
  `,
  // `change_refs` in the order the neighbour lookup answers in (most recently
  // updated first), so it reads about as many rows as it returns, however many
  // changes share a busy CI: the change's updated_at joins the key after the
  // day, and `change_refs_by_ref_recent` keeps the same order under each ref
  // alone (lookups without a window, or with one too long for day buckets).
  // Planned dates sit in both, so the window is checked without leaving them.
  // Rebuilt from the rows already indexed, each given its change's updated_at.
  `
  CREATE TABLE change_refs_recent (
    instance TEXT NOT NULL,
    ref TEXT NOT NULL,
    day INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    change_id TEXT NOT NULL,
    planned_start TEXT,
    planned_end TEXT,
    PRIMARY KEY (instance, ref, day, updated_at DESC, change_id)
  ) WITHOUT ROWID;
  INSERT INTO change_refs_recent (instance, ref, day, updated_at, change_id, planned_start, planned_end)
    SELECT r.instance, r.ref, r.day, c.updated_at, r.change_id, r.planned_start, r.planned_end
    FROM change_refs r JOIN change_cores c ON c.id = r.change_id;
  DROP TABLE change_refs;
  ALTER TABLE change_refs_recent RENAME TO change_refs;
  CREATE INDEX change_refs_by_change ON change_refs (change_id);
  CREATE INDEX change_refs_by_ref_recent ON change_refs (instance, ref, updated_at DESC, change_id, day, planned_start, planned_end);
  `,
  // Who leased an event delivery (JSON of a ClaimOwner, claim-owner.ts), as the
  // outbox and the webhook inbox record theirs: a process that died holding
  // deliveries has them released at the next start (or by a replica that saw
  // its heartbeat lapse), not after their lease. Cleared when a delivery
  // settles. Deliveries leased before the upgrade have none and wait out their lease.
  `
  ALTER TABLE event_deliveries ADD COLUMN claim_owner TEXT;
  `,
  // Each active change is also found under its index keys (change-refs.ts
  // `changeIndexKeys`: the commits it links, its services' and CIs' keys) on
  // INDEX_ONLY, a day no neighbour lookup reads: the event processor finds
  // there the changes a new CI event or alert reaches by the correlator's
  // commit and service rules. Filled here for the changes already mirrored.
  `
  INSERT OR IGNORE INTO change_refs (instance, ref, day, updated_at, change_id, planned_start, planned_end)
    SELECT c.instance, k.value, ${INDEX_ONLY}, c.updated_at, c.id, NULL, NULL
    FROM changes c, json_each(changegate_index_keys(c.json)) k
    WHERE c.state NOT IN ('closed', 'canceled', 'failed');
  `,
  // A counter every write to what the correlation reads (events, their links,
  // heartbeats) bumps, from any connection or process: the event store keeps
  // the reads that found nothing while it stays the same
  // (sqlite-empty-answers.ts). Written so it can run again over itself.
  `
  CREATE TABLE IF NOT EXISTS event_generation (n INTEGER NOT NULL);
  INSERT INTO event_generation (n) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM event_generation);
  ${['events', 'event_links', 'event_heartbeats']
    .flatMap((table) =>
      ['INSERT', 'UPDATE', 'DELETE'].map(
        (op) => `CREATE TRIGGER IF NOT EXISTS ${table}_${op.toLowerCase()}_generation AFTER ${op} ON ${table} BEGIN UPDATE event_generation SET n = n + 1; END;`,
      ),
    )
    .join('\n  ')}
  `,
  // The same counter per instance: an assessment notes a change as looked at
  // only if nothing of its instance's mirror was written since it read it
  // (ChangeStore.noteAssessed `asOf`), so a page stored under a running
  // assessment leaves the change owed. Per instance, so one instance's first
  // sync does not hold back the notes of another's.
  `
  CREATE TABLE IF NOT EXISTS mirror_instance_generation (instance TEXT NOT NULL PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
  ${['change_cores', 'approvals', 'journal']
    .flatMap((table) =>
      (['INSERT', 'UPDATE', 'DELETE'] as const).map(
        (op) =>
          `CREATE TRIGGER IF NOT EXISTS ${table}_${op.toLowerCase()}_instance_generation AFTER ${op} ON ${table} BEGIN ` +
          `INSERT INTO mirror_instance_generation (instance, n) VALUES (${op === 'DELETE' ? 'OLD' : 'NEW'}.instance, 1) ON CONFLICT (instance) DO UPDATE SET n = n + 1; END;`,
      ),
    )
    .join('\n  ')}
  `,
  // The mirror's own key index goes: a key is found on the cores' index, then
  // the row by id (CHANGE_BY_KEY_SQL). Each change a sync wrote rewrote a leaf
  // of it at random.
  `
  DROP INDEX IF EXISTS changes_by_key;
  `,
  // Events are found by the bucket of the commit they name (domain/commit-sha.ts
  // `commitBucket`), not by the commit as written: a full sha and its
  // abbreviations, in any case, share a bucket, so one indexed equality finds the
  // events on a change's commit however either side wrote it. The active
  // changes' commit index keys become buckets too (change-refs.ts
  // `commitRefKey`). Filled here for what is stored already.
  `
  ALTER TABLE events ADD COLUMN commit_bucket TEXT;
  UPDATE events SET commit_bucket = changegate_commit_bucket(commit_sha) WHERE commit_sha IS NOT NULL;
  DROP INDEX IF EXISTS events_by_commit;
  CREATE INDEX events_by_commit_bucket ON events (commit_bucket) WHERE commit_bucket IS NOT NULL;
  DELETE FROM change_refs WHERE day = ${INDEX_ONLY} AND ref LIKE 'commit:%';
  INSERT OR IGNORE INTO change_refs (instance, ref, day, updated_at, change_id, planned_start, planned_end)
    SELECT c.instance, k.value, ${INDEX_ONLY}, c.updated_at, c.id, NULL, NULL
    FROM changes c, json_each(changegate_index_keys(c.json)) k
    WHERE c.state NOT IN ('closed', 'canceled', 'failed') AND k.value LIKE 'commit:%';
  `,
  // When each approval happened as first known (domain/change.ts `approvalTime` of the first version stored),
  // kept through later versions: the history orders and pages by it, as an approval's own times move
  // (ChangeStore.approvalsFirstAt). As the approval says it, not normalised: it is read back, never sorted on
  // here. What is stored already takes the time of the version it holds.
  `
  ALTER TABLE approvals ADD COLUMN first_at TEXT;
  UPDATE approvals SET first_at = coalesce(json_extract(json, '$.decidedAt'), json_extract(json, '$.updatedAt'));
  `,
  // An event is found by the change keys of its latest version only (events.change_keys): the keys an
  // earlier version named and a later one dropped, which earlier versions left in place, go.
  `
  DELETE FROM event_change_keys WHERE NOT EXISTS (
    SELECT 1 FROM events e, json_each(e.change_keys) k WHERE e.id = event_change_keys.event_id AND k.value = event_change_keys.key
  );
  `,
  // An event is found by a change key in any case, as a change is by its key: the keys are indexed as
  // event-store.ts `changeKeyIndexKey` makes them (`chg0030001` and `CHG0030001` one row). Those stored
  // as given are indexed anew from the keys of each event's latest version (events.change_keys).
  `
  DELETE FROM event_change_keys;
  INSERT OR IGNORE INTO event_change_keys (key, event_id)
    SELECT changegate_change_key(k.value), e.id FROM events e, json_each(e.change_keys) k WHERE e.type = 'ci';
  `,
  // Each revision's updated_at as an instant (`at`, instantKey): updated_at keeps the source's text (`…:53Z` beside
  // `…:53.500Z`), which does not sort as time. The history pages a change's revisions by (at, seq) on
  // revisions_history (ChangeStore.listRevisionsForHistory) instead of reading them all for every page. Filled
  // here for the revisions already stored; one more index leaf written per revision stored.
  `
  ALTER TABLE revisions ADD COLUMN at TEXT;
  UPDATE revisions SET at = changegate_instant_key(updated_at);
  CREATE INDEX revisions_history ON revisions (change_id, at, seq);
  `,
  // Each approval's first_at as an instant (first_key, instantKey): the history pages a change's approvals by
  // (first_key, id) on approvals_history (ChangeStore.listApprovalsForHistory) instead of reading them all for
  // every page. Filled here for the approvals already stored.
  `
  ALTER TABLE approvals ADD COLUMN first_key TEXT;
  UPDATE approvals SET first_key = changegate_instant_key(first_at);
  CREATE INDEX approvals_history ON approvals (instance, change_native_id, first_key, id);
  `,
];

/**
 * A connection's own checkpoint threshold, in pages (SQLite's default is 1,000): 256 MB of log. The store bundle
 * checkpoints on a worker thread (sqlite-checkpointer.ts); this bounds the log should that worker fail, and for a
 * connection opened without the bundle. It must stay well above what the log reaches while the worker keeps up,
 * since past it every commit checkpoints on the committing thread, the event loop's. The log restarts from its
 * start only when a write begins after a checkpoint has copied all of it, which a sync that writes without pause
 * rarely allows: a first sync of 100,000 changes appended some 18,000 pages a second. At 16,384 pages its own
 * commits checkpointed every few seconds, up to half a second each, and the sync took 15 to 20% longer (five runs
 * against three, `mirror.bench.ts --phase e2e`). At this threshold that still happened about a dozen times in it.
 */
export const FALLBACK_AUTOCHECKPOINT_PAGES = 65_536;

/** Connection settings; run on every open, before the migrations. */
export function configureConnection(db: DatabaseSync, inMemory: boolean, cacheKb = 16_384): void {
  if (!inMemory) db.exec('PRAGMA journal_mode = WAL');
  if (!inMemory) db.exec(`PRAGMA wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_PAGES}`);
  // With WAL, NORMAL loses at most the last commits on power loss, never consistency.
  db.exec('PRAGMA synchronous = NORMAL');
  db.exec('PRAGMA temp_store = MEMORY');
  // 16 MB for the mirror: the hot path reads one index entry per record; a larger cache only costs memory
  // during a bulk sync. The side tables (assessments, outbox, deliveries) mostly append: less serves them.
  db.exec(`PRAGMA cache_size = -${cacheKb}`);
}

/** Functions migrations may call, so a backfill normalises exactly as the store's code does. */
function registerMigrationFunctions(db: DatabaseSync): void {
  db.function('changegate_ref_keys', { deterministic: true }, (json) => JSON.stringify(changeRefKeys(JSON.parse(String(json)) as Change)));
  db.function('changegate_index_keys', { deterministic: true }, (json) => JSON.stringify(changeIndexKeys(JSON.parse(String(json)) as Change)));
  db.function('changegate_window_days', { deterministic: true }, (json) => {
    const change = JSON.parse(String(json)) as Change;
    return JSON.stringify(windowDays(change.plannedStart, change.plannedEnd));
  });
  db.function('changegate_instant_key', { deterministic: true }, (value) => (typeof value === 'string' ? instantKey(value) : null));
  db.function('changegate_commit_bucket', { deterministic: true }, (value) => (typeof value === 'string' ? commitBucket(value) || null : null));
  db.function('changegate_change_key', { deterministic: true }, (value) => (typeof value === 'string' ? changeKeyIndexKey(value) : null));
}

/** Brings the schema up to date; returns the version it ends at. `path` names the file in a refusal. */
export function migrate(db: DatabaseSync, path = ':memory:'): number {
  registerMigrationFunctions(db);
  // One write-locked transaction: two processes opening the same new file
  // cannot both migrate, and a failed upgrade leaves the old schema intact.
  db.exec('BEGIN IMMEDIATE');
  try {
    db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
    db.exec('INSERT INTO schema_version (version) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM schema_version)');
    let version = (db.prepare('SELECT version FROM schema_version').get() as { version: number }).version;
    if (version > MIGRATIONS.length) {
      // Running on would write rows a newer build reads wrongly: the operator must choose the build or the file.
      throw new ChangegateError(
        'CG_STORE_TOO_NEW',
        `store.path ${path} was written by a newer changegate (schema ${version}, this build knows ${MIGRATIONS.length}); upgrade changegate or point store.path elsewhere`,
        { details: { path, schemaVersion: version, knownVersion: MIGRATIONS.length } },
      );
    }
    for (; version < MIGRATIONS.length; version++) db.exec(MIGRATIONS[version] as string);
    db.prepare('UPDATE schema_version SET version = ?').run(version);
    db.exec('COMMIT');
    return version;
  } catch (err) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw err;
  }
}
