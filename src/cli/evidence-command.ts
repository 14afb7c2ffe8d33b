// `changegate evidence export KEY [--format json|html|in-toto] [--out FILE] [--signing-key FILE]`,
// `changegate evidence export --since DATE --until DATE [--instance ID] --out DIR` and
// `changegate evidence verify FILE [--public-key FILE] [--json]` and
// `changegate evidence public-key [--config FILE]` and
// `changegate evidence publish KEY [--instance ID] [--config FILE]`: an auditor's bundle of a
// change's ledger (src/evidence) as JSON, as a page to read or print, or as an in-toto
// statement (in a signed DSSE envelope when given a key); a period's changes as one
// bundle and one page each with an index (index.json, index.html); and the offline
// check of a bundle or an envelope; and the public half of the deployment's
// signing key, to publish; and the change's evidence summary and bundle queued
// for its ticket now (policy `evidence.note: on-demand`), posted by serve's
// outbox worker.
//
// Exit codes: export 0 written, 2 usage, configuration or an unknown change;
// public-key 0 printed, 2 no key configured or configuration;
// publish 0 queued or already queued, 2 usage, configuration, an unknown change, no ledger or write-back off;
// verify 0 intact, 1 altered (the first problem names the entry and field), 2 usage or unreadable file.

import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../config/load-config.ts';
import { bundleHtml, periodIndexHtml, type PeriodIndexRow } from '../evidence/bundle-html.ts';
import { buildBundle, type EvidenceBundle } from '../evidence/evidence-bundle.ts';
import { dsseEnvelope, inTotoStatement } from '../evidence/in-toto-statement.ts';
import { loadSigningKey, publicKeyOf } from '../evidence/signing-key.ts';
import type { VerifyReport } from '../evidence/verify-bundle.ts';
import { verifyEvidenceText } from '../evidence/verify-evidence-text.ts';
import type { ChangeLinks } from '../domain/change.ts';
import type { ConnectorRegistry } from '../kit/connector-registry.ts';
import { openStores } from '../store/open-stores.ts';
import type { StoreBundle } from '../store/store-bundle.ts';
import { queueEvidencePublication } from '../assess/evidence-publication.ts';
import { findCommand, UsageError } from './command-spec.ts';
import { terminalJson, terminalText } from './terminal-text.ts';

export interface EvidenceOutput {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

export interface ExportOptions {
  key?: string;
  out?: string;
  since?: string;
  until?: string;
  instance?: string;
  signingKey?: string;
  format?: string;
  config?: string;
}

export const EXPORT_FORMATS = ['json', 'html', 'in-toto'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

const spec = (name: string) => findCommand(name.split(' '))?.spec ?? null;

/**
 * One line to a stream, escaped: a change key, a path or a name here is the ticket's or the caller's text (a change
 * asked for by its id prints the key its ticket holds), which may be crafted to print as something else.
 */
const say = (stream: EvidenceOutput['stdout'], text: string) => stream.write(`${terminalText(text)}\n`);

function readKey(file: string, kind: 'private' | 'public', option: string): KeyObject {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new UsageError(`${option} ${file}: cannot read the file`, spec(option === '--public-key' ? 'evidence verify' : 'evidence export'));
  }
  try {
    const key = kind === 'private' ? createPrivateKey(text) : createPublicKey(text);
    if (key.asymmetricKeyType !== 'ed25519') throw new Error('not Ed25519');
    return key;
  } catch {
    throw new UsageError(`${option} ${file}: not an Ed25519 ${kind} key in PEM`, spec(option === '--public-key' ? 'evidence verify' : 'evidence export'));
  }
}

function instant(value: string, option: string): string {
  // Date.parse reads a date-time without a zone in the machine's zone (a bare date as UTC): one audit period, two samples.
  if (/T\d{2}:\d{2}/.test(value) && !/(Z|[+-]\d{2}:?\d{2})$/i.test(value)) {
    throw new UsageError(`${option} ${JSON.stringify(value)} has no time zone: add Z or an offset (2026-01-01T00:00:00Z), or give a date (2026-01-01, read as UTC)`, spec('evidence export'));
  }
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new UsageError(`${option} ${JSON.stringify(value)} is not a date (2026-01-01 or 2026-01-01T00:00:00Z)`, spec('evidence export'));
  return new Date(ms).toISOString();
}

/** The operator's --out: a path it cannot use (a directory, a missing folder, no permission) is a usage error naming it, not a stack trace. */
function outFailure(path: string, what: string, err: unknown): UsageError {
  return new UsageError(`--out ${path}: cannot ${what} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, spec('evidence export'));
}

function writeOut(path: string, text: string): void {
  try {
    writeFileSync(path, text);
  } catch (err) {
    throw outFailure(path, 'write the file', err);
  }
}

function periodOf(sinceText: string, untilText: string): { since: string; until: string } {
  const since = instant(sinceText, '--since');
  const until = instant(untilText, '--until');
  if (Date.parse(since) >= Date.parse(until)) throw new UsageError(`--since ${since} is not before --until ${until}: the period is empty`, spec('evidence export'));
  return { since, until };
}

async function bundleOf(stores: StoreBundle, key: string, instance: string | undefined, signingKey: KeyObject | null): Promise<{ bundle: EvidenceBundle; links: ChangeLinks } | null> {
  const mirrored = await stores.changes.getChange(key, { withoutRaw: true, children: { approvals: false, journal: false }, ...(instance === undefined ? {} : { instance }) });
  if (mirrored === null) return null;
  const c = mirrored.change;
  const entries = await stores.evidence.list(c.id);
  return { bundle: buildBundle({ id: c.id, key: c.key, instance: c.instance, title: c.title }, entries, new Date().toISOString(), signingKey), links: c.links };
}

/** The file's text in the format asked for; an in-toto statement goes in a DSSE envelope signed with the key when there is one. */
export function renderExport(bundle: EvidenceBundle, links: ChangeLinks, format: ExportFormat, signingKey: KeyObject | null): string {
  if (format === 'html') return bundleHtml(bundle);
  if (format === 'json') return `${JSON.stringify(bundle, null, 2)}\n`;
  const statement = inTotoStatement(bundle, links);
  return `${JSON.stringify(signingKey === null ? statement : dsseEnvelope(statement, signingKey), null, 2)}\n`;
}

function formatOf(value: string | undefined): ExportFormat {
  if (value === undefined) return 'json';
  if ((EXPORT_FORMATS as readonly string[]).includes(value)) return value as ExportFormat;
  throw new UsageError(`--format ${JSON.stringify(value)}: expected one of ${EXPORT_FORMATS.join(', ')}`, spec('evidence export'));
}

export async function runEvidenceExport(registry: ConnectorRegistry, options: ExportOptions, out: EvidenceOutput): Promise<number> {
  const period = options.since !== undefined || options.until !== undefined;
  if (period && options.key !== undefined) throw new UsageError('give a change KEY or --since and --until, not both', spec('evidence export'));
  if (!period && options.key === undefined) throw new UsageError('give a change KEY, or --since DATE --until DATE --out DIR for a period', spec('evidence export'));
  if (period && (options.since === undefined || options.until === undefined || options.out === undefined)) throw new UsageError('a period needs --since, --until and --out DIR', spec('evidence export'));
  const format = formatOf(options.format);
  // Read before the store is opened: a period given backwards is the operator's slip, not an empty audit to report as done.
  const bounds = period ? periodOf(options.since as string, options.until as string) : null;
  const given = options.signingKey === undefined ? null : readKey(options.signingKey, 'private', '--signing-key');
  const { config } = loadConfig(registry, { path: options.config });
  // The deployment's key (`evidence.signingKey`) unless one is given.
  const signingKey = given ?? loadSigningKey(config.evidence.signingKey);
  if (config.store.kind === 'sqlite' && config.store.path !== ':memory:' && !existsSync(config.store.path)) {
    say(out.stderr, `changegate evidence export: no store at ${config.store.path}: run \`changegate sync\` first, or name the configuration with --config`);
    return 2;
  }
  const stores = await openStores(config.store);
  try {
    if (!period) {
      const found = await bundleOf(stores, options.key as string, options.instance, signingKey);
      if (found === null) {
        say(out.stderr, `changegate evidence export: no mirrored change "${options.key}"${options.instance === undefined ? '' : ` on instance ${options.instance}`}`);
        return 2;
      }
      const { bundle } = found;
      const text = renderExport(bundle, found.links, format, signingKey);
      // On stdout the JSON may meet a terminal: the ticket's text in it with its controls as JSON escapes, the same value to verify.
      if (options.out === undefined) out.stdout.write(format === 'html' ? text : terminalJson(text));
      else {
        writeOut(options.out, text);
        const as = format === 'json' ? '' : format === 'html' ? ' as a page' : signingKey === null ? ' as an in-toto statement' : ' as an in-toto statement in a signed DSSE envelope';
        say(out.stderr, `${bundle.change.key}: ${bundle.entries.length} entries, head ${bundle.head?.hash ?? '(none)'}${bundle.signature ? ', signed' : ''}${as} → ${options.out}`);
      }
      return 0;
    }
    const { since, until } = bounds as { since: string; until: string };
    const dir = options.out as string;
    try {
      mkdirSync(dir, { recursive: true });
    } catch (err) {
      throw outFailure(dir, 'make the directory', err);
    }
    const index: PeriodIndexRow[] = [];
    for (const id of await stores.evidence.changesWithEntries({ since, until })) {
      const found = await bundleOf(stores, id, undefined, signingKey);
      if (found === null || (options.instance !== undefined && found.bundle.change.instance !== options.instance)) continue;
      const { bundle } = found;
      // Each change as its JSON bundle (or in-toto statement), the proof, and its page, to read.
      const base = `${bundle.change.instance}-${bundle.change.key}`.replace(/[^A-Za-z0-9._-]/g, '_');
      const file = `${base}${format === 'in-toto' ? '.intoto.json' : '.json'}`;
      const page = `${base}.html`;
      writeOut(join(dir, file), renderExport(bundle, found.links, format === 'in-toto' ? 'in-toto' : 'json', signingKey));
      writeOut(join(dir, page), bundleHtml(bundle));
      index.push({ key: bundle.change.key, instance: bundle.change.instance, title: bundle.change.title, entries: bundle.entries.length, head: bundle.head?.hash ?? null, signed: bundle.signature !== null, file, page });
    }
    writeOut(join(dir, 'index.json'), `${JSON.stringify({ format: 1, since, until, instance: options.instance ?? null, changes: index }, null, 2)}\n`);
    writeOut(join(dir, 'index.html'), periodIndexHtml({ since, until, instance: options.instance ?? null, changes: index }));
    say(out.stderr, `${index.length} change${index.length === 1 ? '' : 's'} with evidence from ${since} to ${until} → ${dir} (index.json, index.html)`);
    return 0;
  } finally {
    await stores.close();
  }
}

export function runEvidenceVerify(file: string, options: { publicKey?: string; json?: boolean }, out: EvidenceOutput): number {
  const publicKey = options.publicKey === undefined ? undefined : readKey(options.publicKey, 'public', '--public-key');
  const unreadable = (err: unknown) => {
    // JSON.parse's message quotes the text it stopped at.
    out.stderr.write(`${terminalText(`changegate evidence verify: ${file}: ${(err as Error).message}`)}\n`);
    return 2;
  };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return unreadable(err);
  }
  let report: VerifyReport;
  try {
    // A bundle, or an in-toto statement carrying one (bare, or in a DSSE envelope whose signature is checked first).
    report = verifyEvidenceText(text, publicKey === undefined ? {} : { publicKey });
  } catch (err) {
    // Not JSON; a fault of the check itself is not the file's.
    if (!(err instanceof SyntaxError)) throw err;
    return unreadable(err);
  }
  if (options.json === true) {
    out.stdout.write(`${terminalJson(JSON.stringify({ format: 1, exitCode: report.ok ? 0 : 1, file, ...report }, null, 2))}\n`);
    return report.ok ? 0 : 1;
  }
  // Names, keys and values in the lines come from the file, which may be crafted to print as something else.
  const line = (shown: string) => out.stdout.write(`${terminalText(shown)}\n`);
  const where = (p: (typeof report.problems)[number]) => (p.entry === null ? p.field : `entry ${p.entry} ${p.field}`);
  const warn = () => {
    for (const w of report.warnings) line(`warning ${where(w)}: ${w.reason}`);
  };
  if (report.ok) {
    line(`intact  ${file}: ${report.changeKey ?? '?'}, ${report.entries} entries, head ${report.head ?? '(none)'}${report.signed ? ', signature valid' : ', not signed'}`);
    warn();
    return 0;
  }
  const first = report.problems[0];
  line(`ALTERED ${file}: ${first ? `${where(first)} ${first.reason}` : ''}`);
  for (const p of report.problems.slice(1)) line(`        also ${where(p)} ${p.reason}`);
  warn();
  return 1;
}

/** The public key of `evidence.signingKey` as PEM on stdout (for the deployment's README), its fingerprint on stderr. */
export function runEvidencePublicKey(registry: ConnectorRegistry, options: { config?: string }, out: EvidenceOutput): number {
  const { config, file } = loadConfig(registry, { path: options.config });
  const key = loadSigningKey(config.evidence.signingKey);
  if (key === null) {
    out.stderr.write(`changegate evidence public-key: ${file ?? 'the built-in demo'} sets no evidence.signingKey: bundles are unsigned (see the README, "Signing evidence")\n`);
    return 2;
  }
  const { pem, fingerprint } = publicKeyOf(key);
  out.stdout.write(pem);
  out.stderr.write(`Ed25519 public key of evidence.signingKey, SHA-256 fingerprint ${fingerprint}\n`);
  return 0;
}

/** Queues the change's evidence summary and bundle for its ticket through the outbox, keyed by the head as the runner keys them: asking twice queues once. */
export async function runEvidencePublish(registry: ConnectorRegistry, options: { key: string; instance?: string; config?: string }, out: EvidenceOutput): Promise<number> {
  const { config } = loadConfig(registry, { path: options.config });
  if (config.store.kind === 'sqlite' && config.store.path !== ':memory:' && !existsSync(config.store.path)) {
    say(out.stderr, `changegate evidence publish: no store at ${config.store.path}: run \`changegate sync\` first, or name the configuration with --config`);
    return 2;
  }
  const signingKey = loadSigningKey(config.evidence.signingKey);
  const stores = await openStores(config.store);
  try {
    const mirrored = await stores.changes.getChange(options.key, { withoutRaw: true, children: { approvals: false, journal: false }, ...(options.instance === undefined ? {} : { instance: options.instance }) });
    if (mirrored === null) {
      say(out.stderr, `changegate evidence publish: no mirrored change "${options.key}"${options.instance === undefined ? '' : ` on instance ${options.instance}`}`);
      return 2;
    }
    const change = mirrored.change;
    if (config.instances.find((i) => i.id === change.instance)?.writeBack !== true) {
      say(out.stderr, `changegate evidence publish: ${change.key}: instance ${change.instance} has writeBack off, so nothing is posted to its tickets (export the bundle with \`changegate evidence export ${change.key}\`)`);
      return 2;
    }
    const entries = await stores.evidence.list(change.id);
    const head = entries.at(-1);
    if (head === undefined) {
      say(out.stderr, `changegate evidence publish: ${change.key} has no evidence ledger yet (no entry recorded): nothing to publish`);
      return 2;
    }
    const queued = await queueEvidencePublication(stores.outbox, change, entries, new Date(), signingKey);
    const what = `${change.key}: evidence summary and bundle at entry ${head.seq}, head ${head.hash}`;
    say(out.stdout, queued.length > 0 ? `${what} queued for the ticket; serve's outbox worker posts them` : `${what} already queued (or posted) for the ticket: nothing new`);
    return 0;
  } finally {
    await stores.close();
  }
}
