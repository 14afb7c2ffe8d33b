// Fresh store bundles for the store suites, and their clean-up: SQLite files in
// a temporary folder of the test file's own, MongoDB databases of its own on
// MONGODB_URI (FerretDB in CI, started by .ci/ferretdb.sh; see
// test/support/ferretdb-global-setup.ts), every bundle a test opened closed
// after it, and the folder and the databases removed after the file.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { afterAll, afterEach } from 'vitest';
import type { StoreBundle } from '../../src/store/store-bundle.ts';

export interface StoreBundles {
  /** MONGODB_URI, or '' where it is unset. */
  mongoUri: string;
  /** Names this process's run of the file: databases and claim owners carry it, so parallel runs never meet. */
  run: string;
  /** A path for a new SQLite file, in a folder of its own. */
  freshFile(): string;
  /** A name for a new MongoDB database, dropped after the file. */
  freshDatabase(): string;
  /** The bundles a test opened: closed after the test (a suite closes the port it tested; this closes the rest). */
  opened: StoreBundle[];
}

/** Registers the clean-up hooks of the calling test file: call once, at its top level. */
export function storeBundles(): StoreBundles {
  let dir: string | undefined;
  let files = 0;
  const mongoUri = process.env['MONGODB_URI'] ?? '';
  const run = `${process.pid}_${Date.now().toString(36)}`;
  const mongoDatabases: string[] = [];
  const opened: StoreBundle[] = [];

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((bundle) => bundle.close()));
  });
  afterAll(async () => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    if (mongoUri === '' || mongoDatabases.length === 0) return;
    const client = await MongoClient.connect(mongoUri);
    try {
      for (const name of mongoDatabases) await client.db(name).dropDatabase();
    } finally {
      await client.close();
    }
  });

  return {
    mongoUri,
    run,
    freshFile: () => {
      dir ??= mkdtempSync(join(tmpdir(), 'changegate-adapters-'));
      return join(dir, `n${++files}`, 'changegate.db');
    },
    freshDatabase: () => {
      const name = `cg_contract_${run}_${mongoDatabases.length + 1}`;
      mongoDatabases.push(name);
      return name;
    },
    opened,
  };
}
