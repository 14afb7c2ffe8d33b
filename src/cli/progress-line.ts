// Progress of a long sync: a live line on a terminal, plain lines in pipes and CI.

import type { SyncProgress } from '../sync/sync-engine.ts';
import type { Terminal } from './terminal-log.ts';

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function eta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 90) return `${Math.ceil(seconds)}s`;
  return `${Math.floor(seconds / 60)}m${String(Math.ceil(seconds % 60)).padStart(2, '0')}s`;
}

export function describeProgress(p: SyncProgress): string {
  const rate = p.elapsedMs > 0 ? (p.records * 1000) / p.elapsedMs : 0;
  const of = p.total !== null ? `/${fmt(p.total)}` : '';
  const left = p.total !== null && rate > 0 ? ` · ETA ${eta((p.total - p.records) / rate)}` : '';
  return `${p.instance} ${p.stream}: ${fmt(p.records)}${of} records · ${fmt(rate)}/s${left}`;
}

/** Log lines written through the same terminal appear above the live line, never glued to it. */
export function createProgressReporter(terminal: Terminal): { update(p: SyncProgress): void; done(): void } {
  let lastPlain = 0;
  let lastKey = '';
  return {
    update(p) {
      const key = `${p.instance}/${p.stream}`;
      if (terminal.live) {
        if (lastKey && key !== lastKey) terminal.endProgress();
        terminal.progress(describeProgress(p));
      } else if (Date.now() - lastPlain > 5000 || key !== lastKey) {
        terminal.line(describeProgress(p));
        lastPlain = Date.now();
      }
      lastKey = key;
    },
    done() {
      terminal.endProgress();
      lastKey = '';
    },
  };
}
