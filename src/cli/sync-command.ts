// `changegate sync [--instance ID] [--full] [--json]`: one sync of every
// instance (or one) and exit. Exit 0: every record stored; 1: a sync failed or
// records were rejected (the summary says how many and why: a mapping that does
// not know a state loses those changes, which must not pass silently in a cron
// job); 2: configuration or an unknown instance.

import { createApp } from '../app/changegate-app.ts';
import { loadConfig } from '../config/load-config.ts';
import { asChangegateError } from '../errors.ts';
import type { ConnectorRegistry } from '../kit/connector-registry.ts';
import { createLogger } from '../log.ts';
import type { SyncReport } from '../sync/sync-engine.ts';
import { createProgressReporter } from './progress-line.ts';
import { logDestination, type Terminal } from './terminal-log.ts';
import { terminalJson, terminalText } from './terminal-text.ts';

export interface SyncCommandOptions {
  config?: string;
  instance?: string;
  full: boolean;
  json: boolean;
}

interface Failure {
  instance: string;
  code: string;
  message: string;
}

function rejectedOf(report: SyncReport): { code: string; count: number; example: string }[] {
  return report.streams.flatMap((s) => s.rejected);
}

function summary(report: SyncReport): string {
  const total = (k: 'records' | 'written' | 'unchanged' | 'stale' | 'invalid') => report.streams.reduce((n, s) => n + s[k], 0);
  const ms = Date.parse(report.finishedAt) - Date.parse(report.startedAt);
  const lines = [
    `${report.instance}: ${total('records')} records read, ${total('written')} written, ${total('unchanged')} unchanged, ${total('stale')} stale, ${total('invalid')} rejected (${(ms / 1000).toFixed(1)} s${report.full ? ', full' : ''})`,
  ];
  for (const r of rejectedOf(report)) lines.push(`  ${r.count} rejected with ${r.code}, e.g. ${r.example}`);
  // An example quotes the source's record, which anyone who edits a ticket writes: escaped, so it prints as it reads.
  return lines.map(terminalText).join('\n');
}

export async function runSync(registry: ConnectorRegistry, options: SyncCommandOptions, stdout: { write(text: string): unknown }, terminal: Terminal): Promise<number> {
  const loaded = loadConfig(registry, { path: options.config });
  const logger = createLogger({ level: loaded.config.log.level, destination: logDestination(terminal) });
  const app = await createApp(loaded, { logger });
  const progress = createProgressReporter(terminal);
  const reports: SyncReport[] = [];
  const failures: Failure[] = [];
  let code = 0;
  try {
    // Assessments made by this run see the ITSM blackout and maintenance schedules, as serve's do.
    await app.readItsmCalendars();
    const ids = options.instance ? [options.instance] : app.engine.instanceIds();
    for (const id of ids) {
      try {
        const report = await app.engine.sync(id, { full: options.full, onProgress: (p) => progress.update(p) });
        progress.done();
        reports.push(report);
        if (!options.json) stdout.write(`${summary(report)}\n`);
      } catch (err) {
        progress.done();
        const error = asChangegateError(err);
        failures.push({ instance: id, code: error.code, message: error.message });
        if (!options.json) terminal.line(terminalText(`changegate: sync of ${id} failed: [${error.code}] ${error.message}`));
        if (error.code === 'CG_INSTANCE_UNKNOWN') {
          code = 2;
          break;
        }
      }
    }
  } finally {
    await app.close();
  }
  const rejected = reports.reduce((n, r) => n + r.streams.reduce((m, s) => m + s.invalid, 0), 0);
  if (code === 0) code = failures.length > 0 || rejected > 0 ? 1 : 0;
  if (options.json) {
    stdout.write(`${terminalJson(JSON.stringify({ format: 1, exitCode: code, rejected, reports, failures }, null, 2))}\n`);
  } else if (rejected > 0) {
    terminal.line(`changegate sync: ${rejected} ${rejected === 1 ? 'record was' : 'records were'} rejected and not stored (see above); fix the mapping or the records, then sync again`);
  }
  return code;
}
