// The deployment's evidence signing key, from the configuration
// (`evidence.signingKey`: a PEM file, or the PEM itself, typically
// `${CHANGEGATE_EVIDENCE_KEY}`), and the public half a deployment publishes so
// an auditor can tell that changegate, not someone with database access,
// signed a bundle. A key that cannot be read or is not Ed25519 stops the start
// with the field named; the key itself never reaches a message or a log.

import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { EvidenceConfig } from '../config/schema.ts';
import { ChangegateError } from '../errors.ts';
import { keyId } from './in-toto-statement.ts';

export function loadSigningKey(setting: EvidenceConfig['signingKey']): KeyObject | null {
  if (setting === undefined) return null;
  const path = setting.file === undefined ? 'evidence.signingKey.pem' : 'evidence.signingKey.file';
  let text: string;
  if (setting.file === undefined) text = setting.pem ?? '';
  else {
    try {
      text = readFileSync(setting.file, 'utf8');
    } catch (err) {
      throw new ChangegateError('CG_CONFIG_INVALID', `${path}: cannot read ${setting.file} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`, { details: { path, file: setting.file }, cause: err });
    }
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(text);
  } catch {
    // Not the parser's message: it may quote the text, which is the secret.
    throw new ChangegateError('CG_CONFIG_INVALID', `${path}: not a private key in PEM (generate one with \`openssl genpkey -algorithm ed25519\`)`, { details: { path } });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new ChangegateError('CG_CONFIG_INVALID', `${path}: a ${key.asymmetricKeyType ?? 'non-asymmetric'} key; evidence is signed with Ed25519 (\`openssl genpkey -algorithm ed25519\`)`, { details: { path } });
  }
  return key;
}

/** The public key as PEM (SPKI) and its SHA-256 fingerprint, the DSSE `keyid` and what the evidence page shows. */
export function publicKeyOf(key: KeyObject): { pem: string; fingerprint: string } {
  return { pem: createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString(), fingerprint: keyId(key) };
}
