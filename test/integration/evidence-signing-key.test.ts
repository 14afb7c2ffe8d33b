// The deployment's evidence signing key, from changegate.yaml: given as a PEM
// file or as the PEM itself through an environment variable, read at start-up
// (a wrong key stops the start naming the field, never quoting the key), used
// by the service for the bundles it serves and by `evidence export` when no
// --signing-key is given, and its public half printed by `changegate evidence
// public-key` for the deployment's README, against which `verify` accepts them.

import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app/changegate-app.ts';
import { registry } from '../../src/app/registry.ts';
import { runEvidenceExport, runEvidencePublicKey, runEvidenceVerify } from '../../src/cli/evidence-command.ts';
import { loadConfig } from '../../src/config/load-config.ts';
import { keyId } from '../../src/evidence/in-toto-statement.ts';
import { loadSigningKey } from '../../src/evidence/signing-key.ts';
import { createLogger } from '../../src/log.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { buildServer } from '../../src/server/build-server.ts';
import { openStores } from '../../src/store/open-stores.ts';
import { SyncEngine } from '../../src/sync/sync-engine.ts';
import { buildChange } from '../support/change-builder.ts';

const dir = mkdtempSync(join(tmpdir(), 'cg-evidence-key-'));
const dbPath = join(dir, 'changegate.db');
const keys = generateKeyPairSync('ed25519');
const PEM = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const change = buildChange({});

function capture(): { stdout: { write(t: string): boolean }; stderr: { write(t: string): boolean }; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return { stdout: { write: (t: string) => ((out += t), true) }, stderr: { write: (t: string) => ((err += t), true) }, out: () => out, err: () => err };
}

function configFile(name: string, evidence: string): string {
  const file = join(dir, name);
  writeFileSync(file, `store: { kind: sqlite, path: "${dbPath}" }\ninstances: []\n${evidence}`);
  return file;
}

beforeAll(async () => {
  writeFileSync(join(dir, 'evidence.pem'), PEM);
  const stores = await openStores({ kind: 'sqlite', path: dbPath });
  await stores.changes.applyPage('sn-prod', 'changes', [{ kind: 'change', change }], null);
  await stores.evidence.append(change.id, { kind: 'revision', at: '2026-03-02T09:00:00Z', actor: 'beth.anglin', source: 'servicenow:sn-prod', summary: 'state new → assess', payload: {} }, 'revision:1');
  await stores.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the evidence signing key from the configuration', () => {
  it('prints the public key to publish, and signs exports with it when no --signing-key is given; verify accepts them against it', async () => {
    const config = configFile('file.yaml', `evidence:\n  signingKey: { file: "${join(dir, 'evidence.pem')}" }\n`);
    const printed = capture();
    expect(runEvidencePublicKey(registry, { config }, printed)).toBe(0);
    expect(createPublicKey(printed.out()).equals(keys.publicKey)).toBe(true);
    expect(printed.err()).toContain(`SHA-256 fingerprint ${keyId(keys.publicKey)}`);
    writeFileSync(join(dir, 'published.pub'), printed.out());
    expect(await runEvidenceExport(registry, { key: change.key, out: join(dir, 'bundle.json'), config }, capture())).toBe(0);
    const verified = capture();
    expect(runEvidenceVerify(join(dir, 'bundle.json'), { publicKey: join(dir, 'published.pub') }, verified)).toBe(0);
    expect(verified.out()).toContain('signature valid');
  });

  it('takes the PEM itself from an environment variable, and never logs it', () => {
    const config = configFile('env.yaml', 'evidence:\n  signingKey: { pem: "${CHANGEGATE_EVIDENCE_KEY}" }\n');
    const loaded = loadConfig(registry, { path: config, env: { CHANGEGATE_EVIDENCE_KEY: PEM } });
    expect(loadSigningKey(loaded.config.evidence.signingKey)?.equals(keys.privateKey)).toBe(true);
    let logged = '';
    const sink = new Writable({ write: (chunk: Buffer, _enc, done) => ((logged += chunk.toString()), done()) });
    const logger = createLogger({ level: 'info', destination: sink });
    logger.info({ config: { evidence: loaded.config.evidence } }, 'started');
    logger.info({ evidence: loaded.config.evidence }, 'evidence settings');
    logger.info(loaded.config.evidence, 'evidence settings, flat');
    expect(logged.match(/\[redacted\]/g)).toHaveLength(3);
    expect(logged).not.toContain('PRIVATE KEY');
  });

  it('refuses a key given both ways, one that cannot be read and one that is not Ed25519, naming the field and never quoting the key', () => {
    const both = configFile('both.yaml', `evidence:\n  signingKey: { file: "${join(dir, 'evidence.pem')}", pem: "x" }\n`);
    expect(() => loadConfig(registry, { path: both })).toThrow(/evidence\.signingKey.*one of the two/s);
    const missing = loadConfig(registry, { path: configFile('missing.yaml', `evidence:\n  signingKey: { file: "${join(dir, 'nowhere.pem')}" }\n`) });
    expect(() => loadSigningKey(missing.config.evidence.signingKey)).toThrow(/^evidence\.signingKey\.file: cannot read .*nowhere\.pem \(ENOENT\)/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(() => loadSigningKey({ pem: rsa })).toThrow(/^evidence\.signingKey\.pem: a rsa key; evidence is signed with Ed25519/);
    const garbled = PEM.replace(/[A-Za-z]{8}\n/, 'AAAAAAAA\n').slice(0, 80);
    const thrown = (() => {
      try {
        loadSigningKey({ pem: garbled });
        return null;
      } catch (err) {
        return err as Error & { details: unknown };
      }
    })();
    expect(thrown?.message).toBe('evidence.signingKey.pem: not a private key in PEM (generate one with `openssl genpkey -algorithm ed25519`)');
    expect(JSON.stringify({ details: thrown?.details, cause: String(thrown?.cause) })).not.toContain(garbled.slice(30, 60));
  });

  it('stops the service\'s start on a wrong key, before anything connects', async () => {
    const loaded = loadConfig(registry, { path: configFile('bad.yaml', `evidence:\n  signingKey: { file: "${join(dir, 'nowhere.pem')}" }\n`) });
    await expect(createApp(loaded, { logger: createLogger({ level: 'silent' }) })).rejects.toMatchObject({ code: 'CG_CONFIG_INVALID', details: { path: 'evidence.signingKey.file' } });
  });

  it('signs the bundles the service serves at GET /v1/changes/:key/evidence', async () => {
    const loaded = loadConfig(registry, { path: configFile('serve.yaml', `evidence:\n  signingKey: { file: "${join(dir, 'evidence.pem')}" }\n`) });
    const app = await createApp(loaded, { logger: createLogger({ level: 'silent' }) });
    try {
      expect(app.evidenceSigningKey?.equals(keys.privateKey)).toBe(true);
      const served = await app.server().inject(`/v1/changes/${change.key}/evidence`);
      expect(served.statusCode).toBe(200);
      writeFileSync(join(dir, 'served.json'), served.body);
      expect(runEvidenceVerify(join(dir, 'served.json'), { publicKey: join(dir, 'published.pub') }, capture())).toBe(0);
    } finally {
      await app.close();
    }
    // Without a key the route still answers, unsigned.
    const stores = await openStores({ kind: 'sqlite', path: dbPath });
    const logger = pino({ level: 'silent' });
    const metrics = createMetrics({ defaultMetrics: false });
    const plain = buildServer({ systems: registry.systems, store: stores.changes, evidence: stores.evidence, engine: new SyncEngine({ store: stores.changes, logger, metrics }), metrics, logger });
    try {
      expect((await plain.inject(`/v1/changes/${change.key}/evidence`)).json()).toMatchObject({ signature: null });
    } finally {
      await plain.close();
      await stores.close();
    }
  });

  it('says so when no key is configured', () => {
    const out = capture();
    expect(runEvidencePublicKey(registry, { config: configFile('none.yaml', '') }, out)).toBe(2);
    expect(out.err()).toMatch(/sets no evidence\.signingKey: bundles are unsigned/);
    expect(out.out()).toBe('');
  });
});
