// `changegate history KEY [--limit N] [--order asc|desc] [--json]`: what an
// auditor reads about one mirrored change (the same list GET
// /v1/changes/:key/history answers), from the store the configuration names
// (or the demo's). A table by default; `--json` prints `{format: 1, …}`.
//
// Exit 0: listed; 2: usage, configuration or an unknown change.

import { existsSync } from 'node:fs';
import type { HistoryEntry } from '../assess/change-history.ts';
import { changeHistoryPage, type HistoryOrder } from '../assess/history-page.ts';
import { loadDemo } from '../app/load-demo.ts';
import { ownWritesOf } from '../app/own-writes-of.ts';
import { loadConfig, type LoadedConfig } from '../config/load-config.ts';
import type { ConnectorRegistry } from '../kit/connector-registry.ts';
import { openStores } from '../store/open-stores.ts';
import { findCommand, UsageError } from './command-spec.ts';
import { renderTable, type Cell } from './text-table.ts';
import { colorFor } from './terminal-log.ts';
import { terminalJson, terminalValues } from './terminal-text.ts';

export interface HistoryOptions {
  key: string;
  /** As typed: validated here, so a bad value is a usage error naming --limit. */
  limit?: string;
  order?: string;
  instance?: string;
  config?: string;
  json?: boolean;
}

export interface HistoryOutput {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown };
}

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1_000;

function usageError(out: HistoryOutput, message: string): number {
  out.stderr.write(`changegate history: ${message}\n`);
  return 2;
}

/** `2026-12-05 16:17:10` (UTC): a column that lines up. */
function when(iso: string): string {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? iso : new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

function byText(e: HistoryEntry): Cell {
  if (e.by === 'changegate') return { text: e.kind === 'revision' && e.author !== null ? `changegate (as ${e.author.name ?? e.author.id})` : 'changegate', tone: 'info' };
  if (e.by === null) return { text: `unknown (${e.byUnknown ?? 'not said'})`, tone: 'dim' };
  return { text: e.by.name === null ? e.by.id : `${e.by.name} (${e.by.id})` };
}

function whatText(e: HistoryEntry): string {
  switch (e.kind) {
    case 'revision':
      return `revision ${e.seq} (native ${e.nativeRevision}): ${e.summary.join('; ') || 'no field changed'}`;
    case 'approval':
      return [`${e.decision}${e.decidedAt === null ? '' : ` at ${when(e.decidedAt)}`}`, e.group === null ? 'no group' : `group ${e.group.name ?? e.group.id}`, ...(e.comment === null ? [] : [`"${e.comment}"`])].join(' · ');
    case 'assessment': {
      const blocked = e.blocked.map((b) => `${b.to} (${b.reasons.join('; ')})`);
      return [`revision ${e.revision}`, `policy ${e.policyVersion}`, e.recommendation, `allowed: ${e.allowed.join(', ') || 'none'}`, ...(blocked.length === 0 ? [] : [`blocked: ${blocked.join(', ')}`])].join(' · ');
    }
    case 'write-back':
      return [`${e.what} to ${e.ticket}`, e.status, `${e.attempts} attempt${e.attempts === 1 ? '' : 's'}`, ...(e.postedAt === null ? [] : [`posted ${when(e.postedAt)}`]), ...(e.error === null ? [] : [e.error])].join(' · ');
    case 'enforcement':
      return [`${e.action} ${e.fromNative ?? e.from} → ${e.toNative} (${e.from} → ${e.to})`, `${e.mode}: ${e.outcome}`, ...(e.reasons.length === 0 ? [] : [`why: ${e.reasons.join('; ')}`]), ...(e.detail === null ? [] : [e.detail])].join(' · ');
  }
}

export async function runHistory(registry: ConnectorRegistry, options: HistoryOptions, out: HistoryOutput, deps: { loaded?: LoadedConfig } = {}): Promise<number> {
  const limit = options.limit === undefined ? DEFAULT_LIMIT : /^[0-9]{1,4}$/.test(options.limit) ? Number(options.limit) : Number.NaN;
  // Thrown as usage errors: the command's own help follows them.
  const spec = findCommand(['history'])?.spec ?? null;
  if (!(limit >= 1 && limit <= MAX_LIMIT)) throw new UsageError(`--limit ${JSON.stringify(options.limit)} is not a whole number from 1 to ${MAX_LIMIT}`, spec);
  const order = options.order ?? 'desc';
  if (order !== 'asc' && order !== 'desc') throw new UsageError(`--order ${JSON.stringify(order)} is neither asc (oldest first) nor desc (newest first)`, spec);
  const loaded = deps.loaded ?? loadConfig(registry, { path: options.config });
  const { config } = loaded;
  if (config.store.kind === 'sqlite' && config.store.path !== ':memory:' && !existsSync(config.store.path)) {
    return usageError(out, `no mirror at ${config.store.path}: run \`changegate sync\` (or \`changegate demo\`) first, or name the configuration with --config`);
  }
  // The demo's instances are only needed for who their integration users are: no simulator is started.
  const instances = loaded.file === null && config.instances.length === 0 ? (await loadDemo()).demoInstanceConfigs({ servicenow: 'http://127.0.0.1', jira: 'http://127.0.0.1' }, 'unused') : config.instances;
  const stores = await openStores(config.store);
  try {
    const mirrored = await stores.changes.getChange(options.key, { withoutRaw: true, children: { approvals: false, journal: false }, ...(options.instance === undefined ? {} : { instance: options.instance }) });
    if (mirrored === null) return usageError(out, `no mirrored change "${options.key}"${options.instance === undefined ? '' : ` on instance ${options.instance}`}`);
    const historyDeps = { store: stores.changes, assessments: stores.assessments, outbox: stores.outbox, ownWritesOf: ownWritesOf(instances, registry) };
    const page = await changeHistoryPage(historyDeps, mirrored, { order: order as HistoryOrder, limit }, { total: true });
    const total = page.total ?? page.items.length;
    const c = mirrored.change;
    const more = total - page.items.length;
    if (options.json === true) {
      const doc = { format: 1, exitCode: 0, change: { key: c.key, id: c.id, instance: c.instance, system: c.system, url: c.url }, order, total, items: page.items };
      out.stdout.write(`${terminalJson(JSON.stringify(doc, null, 2))}\n`);
      return 0;
    }
    const color = colorFor(out.stdout);
    // Names, summaries and comments are ticket text anyone who edits the ticket writes: escaped before the table is laid out.
    const shown = terminalValues({ change: { key: c.key, system: c.system, instance: c.instance, url: c.url }, items: page.items });
    const rows = shown.items.map((e) => [when(e.at), e.kind, byText(e), whatText(e)]);
    const head = shown.change;
    const lines = [`${head.key} · ${head.system} ${head.instance} · ${total} entr${total === 1 ? 'y' : 'ies'}, ${order === 'desc' ? 'newest' : 'oldest'} first (UTC) · ${head.url}`, '', renderTable(['when', 'kind', 'by', 'what'], rows, color)];
    if (more > 0) lines.push('', `${more} ${order === 'desc' ? 'older' : 'newer'} entr${more === 1 ? 'y' : 'ies'} not shown (--limit ${Math.min(MAX_LIMIT, total)} lists them)`);
    out.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  } finally {
    await stores.close();
  }
}
