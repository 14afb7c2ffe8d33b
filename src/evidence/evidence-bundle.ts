// The bundle an auditor takes away: a change's whole ledger with its payloads,
// the head it ends at, and optionally an Ed25519 signature over the head, so
// it can be checked offline (verify-bundle.ts) without changegate or its store.

import { createPublicKey, sign, type KeyObject } from 'node:crypto';
import { canonicalJson } from './canonical-json.ts';
import type { EvidenceEntry } from './evidence-entry.ts';

export const BUNDLE_FORMAT = 'changegate-evidence/1';

export interface BundleSignature {
  algorithm: 'Ed25519';
  /** The signer's public key, SPKI DER in base64: compare it with the key the deployment publishes. */
  publicKey: string;
  /** Base64 signature over the canonical JSON of `signedHead(bundle)`. */
  value: string;
}

export interface EvidenceBundle {
  format: typeof BUNDLE_FORMAT;
  change: { id: string; key: string; instance: string; title: string };
  exportedAt: string;
  entries: EvidenceEntry[];
  /** The last entry: what the ticket's evidence note names. `null` for a change with no entries yet. */
  head: { seq: number; hash: string } | null;
  signature: BundleSignature | null;
}

/** What a signature covers: the format, the change and the head (the chain behind the head is bound by its hashes). */
export function signedHead(bundle: Pick<EvidenceBundle, 'format' | 'change' | 'head'>): string {
  return canonicalJson({ format: bundle.format, changeId: bundle.change.id, head: bundle.head });
}

export function buildBundle(change: EvidenceBundle['change'], entries: EvidenceEntry[], exportedAt: string, signingKey: KeyObject | null = null): EvidenceBundle {
  const last = entries.at(-1);
  const unsigned: EvidenceBundle = { format: BUNDLE_FORMAT, change, exportedAt, entries, head: last ? { seq: last.seq, hash: last.hash } : null, signature: null };
  if (signingKey === null) return unsigned;
  const publicKey = createPublicKey(signingKey).export({ type: 'spki', format: 'der' }).toString('base64');
  const value = sign(null, Buffer.from(signedHead(unsigned)), signingKey).toString('base64');
  return { ...unsigned, signature: { algorithm: 'Ed25519', publicKey, value } };
}
