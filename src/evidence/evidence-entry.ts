// One entry of a change's evidence ledger, and how entries chain: each entry's
// hash is the SHA-256 of the canonical JSON (RFC 8785) of all its other fields,
// its `prevHash` the hash of the entry before it (the genesis value for the
// first). Editing, removing, reordering or inserting an entry breaks the chain
// at that entry; anyone can recompute it from the bundle alone.
//
// Ticket text can hold a lone UTF-16 surrogate (a ServiceNow or Jira field cut
// at its length in UTF-16 units, halving an emoji; JSON text may escape one as
// \ud83d). RFC 8785 and other JCS tools refuse it, so an entry holding one
// could be checked by changegate alone; refusing the entry would lose the
// record. The entry is written with U+FFFD in its place, the character a UTF-8
// file, database or browser shows for it anyway.

import { createHash } from 'node:crypto';
import { canonicalJson, LONE_SURROGATE, withWellFormedText, type CanonicalJsonOptions } from './canonical-json.ts';
import { isChangegateError } from '../errors.ts';

export const EVIDENCE_KINDS = ['revision', 'assessment', 'enforcement', 'approval', 'waiver', 'event', 'deployment'] as const;
export type EvidenceKind = (typeof EVIDENCE_KINDS)[number];

/** The hash before the first entry: 64 zeros. */
export const GENESIS_HASH = '0'.repeat(64);

/** What a writer supplies; the ledger adds the position and the hashes. */
export interface EvidenceDraft {
  kind: EvidenceKind;
  /** When it happened (ISO 8601 UTC). */
  at: string;
  /** Who acted, as the source names them; null when nobody is named (changegate itself). */
  actor: string | null;
  /** Where it came from: `servicenow:sn-prod`, `changegate`, `github`. */
  source: string;
  /** One line for a reader. */
  summary: string;
  /** The full record the entry stands for; only its hash is chained, the payload travels in the bundle. */
  payload: unknown;
}

export interface EvidenceEntry {
  changeId: string;
  /** 1, 2, 3… per change. */
  seq: number;
  kind: EvidenceKind;
  at: string;
  actor: string | null;
  source: string;
  summary: string;
  /** SHA-256 (hex) of the canonical JSON of the payload. */
  payloadHash: string;
  prevHash: string;
  hash: string;
  payload: unknown;
}

export function sha256Hex(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The fields an entry's hash covers: everything but the hash itself and the payload (covered by `payloadHash`). */
export function hashedFields(entry: Omit<EvidenceEntry, 'hash' | 'payload'>): Record<string, unknown> {
  const { changeId, seq, kind, at, actor, source, summary, payloadHash, prevHash } = entry;
  return { changeId, seq, kind, at, actor, source, summary, payloadHash, prevHash };
}

export function entryHash(entry: Omit<EvidenceEntry, 'hash' | 'payload'>, options: CanonicalJsonOptions = {}): string {
  return sha256Hex(canonicalJson(hashedFields(entry), options));
}

/** The payload as the entry records it, and its canonical JSON: a lone surrogate replaced (rare, so the copy is made only then). */
function recordedPayload(payload: unknown): { payload: unknown; canonical: string } {
  try {
    return { payload, canonical: canonicalJson(payload) };
  } catch (err) {
    if (!isChangegateError(err, 'CG_INPUT_INVALID') || err.details['reason'] !== LONE_SURROGATE) throw err;
    const wellFormed = withWellFormedText(payload);
    return { payload: wellFormed, canonical: canonicalJson(wellFormed) };
  }
}

/** The entry that follows `previous` (null: the first of the change). */
export function chainEntry(changeId: string, previous: Pick<EvidenceEntry, 'seq' | 'hash'> | null, draft: EvidenceDraft): EvidenceEntry {
  const { payload, canonical } = recordedPayload(draft.payload ?? null);
  const base = {
    changeId: changeId.toWellFormed(),
    seq: (previous?.seq ?? 0) + 1,
    kind: draft.kind,
    at: draft.at.toWellFormed(),
    actor: draft.actor === null ? null : draft.actor.toWellFormed(),
    source: draft.source.toWellFormed(),
    summary: draft.summary.toWellFormed(),
    payloadHash: sha256Hex(canonical),
    prevHash: previous?.hash ?? GENESIS_HASH,
  };
  return { ...base, hash: entryHash(base), payload };
}
