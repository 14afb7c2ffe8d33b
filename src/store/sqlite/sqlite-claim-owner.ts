// The `claim_owner` column the outbox and the webhook inbox record claims
// under (JSON of a ClaimOwner). Tables created before it existed get it added
// on open: the side tables are created IF NOT EXISTS, which adds no column.
// The event inbox records the same JSON; its column is a migration of the
// shared schema (sqlite-schema.ts), as its table is.

import type { DatabaseSync } from 'node:sqlite';
import type { ClaimOwner } from '../claim-owner.ts';

export function addClaimOwnerColumn(db: DatabaseSync, table: 'outbox' | 'webhook_deliveries'): void {
  const has = (): boolean => (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).some((c) => c.name === 'claim_owner');
  if (has()) return;
  try {
    db.exec(`ALTER TABLE ${table} ADD COLUMN claim_owner TEXT`);
  } catch (err) {
    // Another process opening the same file added it first.
    if (!has()) throw err;
  }
}

export function ownerText(owner: ClaimOwner | undefined): string | null {
  return owner === undefined ? null : JSON.stringify({ id: owner.id, host: owner.host, pid: owner.pid, startedAt: owner.startedAt });
}

export function ownerOf(text: string | null): ClaimOwner | null {
  return text === null ? null : (JSON.parse(text) as ClaimOwner);
}
