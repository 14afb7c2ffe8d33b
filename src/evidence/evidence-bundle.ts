// The bundle an auditor takes away: a change's whole ledger with its payloads,
// the head it ends at, and optionally an Ed25519 signature over the head, so
// it can be checked offline (verify-bundle.ts) without changegate or its store.

import { createPublicKey, sign, type KeyObject } from 'node:crypto';
import { canonicalJson, type CanonicalJsonOptions } from './canonical-json.ts';
import type { EvidenceEntry } from './evidence-entry.ts';

export const BUNDLE_FORMAT = 'changegate-evidence/2';
/**
 * Bundles written before the signature covered the change's key, instance and
 * title and the export time: still verified (they are attached to tickets), over
 * what they signed.
 */
export const LEGACY_BUNDLE_FORMAT = 'changegate-evidence/1';

export interface BundleSignature {
  algorithm: 'Ed25519';
  /** The signer's public key, SPKI DER in base64: compare it with the key the deployment publishes. */
  publicKey: string;
  /** Base64 signature over the canonical JSON of `signedHead(bundle)`. */
  value: string;
}

export interface EvidenceBundle {
  format: typeof BUNDLE_FORMAT | typeof LEGACY_BUNDLE_FORMAT;
  change: { id: string; key: string; instance: string; title: string };
  exportedAt: string;
  entries: EvidenceEntry[];
  /** The last entry: what the ticket's evidence note names. `null` for a change with no entries yet. */
  head: { seq: number; hash: string } | null;
  signature: BundleSignature | null;
}

/**
 * What a signature covers: everything but the entries (the format, the change as
 * the bundle names it, the export time, the head); the chain behind the head is
 * bound by its hashes. A key or title outside it could be edited to pass one
 * change's bundle off as another's. Format /1 signed only the change id and head.
 */
export function signedHead(bundle: Pick<EvidenceBundle, 'format' | 'change' | 'exportedAt' | 'head'>, options: CanonicalJsonOptions = {}): string {
  if (bundle.format === LEGACY_BUNDLE_FORMAT) return canonicalJson({ format: bundle.format, changeId: bundle.change.id, head: bundle.head }, options);
  return canonicalJson({ format: bundle.format, change: bundle.change, exportedAt: bundle.exportedAt, head: bundle.head }, options);
}

export function buildBundle(change: EvidenceBundle['change'], entries: EvidenceEntry[], exportedAt: string, signingKey: KeyObject | null = null): EvidenceBundle {
  const last = entries.at(-1);
  // The title is ticket text: a lone surrogate in it becomes U+FFFD, as in the entries (evidence-entry.ts).
  const named = { id: change.id.toWellFormed(), key: change.key.toWellFormed(), instance: change.instance.toWellFormed(), title: change.title.toWellFormed() };
  const unsigned: EvidenceBundle = { format: BUNDLE_FORMAT, change: named, exportedAt, entries, head: last ? { seq: last.seq, hash: last.hash } : null, signature: null };
  if (signingKey === null) return unsigned;
  const publicKey = createPublicKey(signingKey).export({ type: 'spki', format: 'der' }).toString('base64');
  const value = sign(null, Buffer.from(signedHead(unsigned)), signingKey).toString('base64');
  return { ...unsigned, signature: { algorithm: 'Ed25519', publicKey, value } };
}
