// What the CLI writes to a stream people read: log lines and a live progress
// line that share stderr without breaking each other. On a terminal a log line
// clears the progress line, prints, and redraws it; pino's JSON is rendered as
// `12:04:05 WARN  sn-prod  message  key=value`. Anywhere else (a pipe, CI, a
// log collector) the JSON lines pass through untouched.

import { Writable } from 'node:stream';
import { paint, type Tone } from './text-table.ts';
import { terminalText } from './terminal-text.ts';

export interface Terminal {
  /** True when the stream is a terminal a person watches (not CI). */
  live: boolean;
  color: boolean;
  /** Writes whole lines; on a live terminal above the progress line. */
  line(text: string): void;
  /** Replaces the progress line (live terminals only). */
  progress(text: string): void;
  /** Ends the progress line, leaving its last text on screen. */
  endProgress(): void;
}

export interface TerminalStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

/** Colour on a terminal unless NO_COLOR is set (https://no-color.org: any non-empty value). */
export function colorFor(stream: TerminalStream, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && (env['NO_COLOR'] === undefined || env['NO_COLOR'] === '');
}

export function createTerminal(stream: TerminalStream, env: NodeJS.ProcessEnv = process.env): Terminal {
  const live = stream.isTTY === true && env['CI'] !== 'true';
  let shown: string | null = null;
  return {
    live,
    color: colorFor(stream, env),
    line(text) {
      const body = text.endsWith('\n') ? text : `${text}\n`;
      if (live && shown !== null) stream.write(`\r\x1b[2K${body}${shown}`);
      else stream.write(body);
    },
    progress(text) {
      if (!live) return;
      shown = text;
      stream.write(`\r\x1b[2K${text}`);
    },
    endProgress() {
      if (live && shown !== null) stream.write('\n');
      shown = null;
    },
  };
}

const LEVELS: Record<number, [string, Tone]> = {
  10: ['TRACE', 'dim'],
  20: ['DEBUG', 'dim'],
  30: ['INFO ', 'info'],
  40: ['WARN ', 'warn'],
  50: ['ERROR', 'bad'],
  60: ['FATAL', 'bad'],
};

/** Keys the line shows in its own columns, or that add nothing for a reader. */
const SHOWN = new Set(['level', 'time', 'msg', 'instance', 'service', 'pid', 'hostname', 'err']);

/** A field's value on one line, cut short: the full record is in the JSON lines a pipe gets. */
function valueText(value: unknown): string {
  const text = typeof value === 'string' ? (/[\s"=]/.test(value) ? JSON.stringify(value) : value) : JSON.stringify(value);
  return text.length > 100 ? `${text.slice(0, 99)}…` : text;
}

function clock(time: unknown): string {
  const date = new Date(typeof time === 'number' ? time : Date.now());
  return date.toISOString().slice(11, 19);
}

/** One pino JSON line as a person reads it; null when it is not a pino line. */
export function formatLogLine(json: string, color: boolean): string | null {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (entry === null || typeof entry !== 'object' || typeof entry['level'] !== 'number') return null;
  const [label, tone] = LEVELS[entry['level']] ?? ['LOG  ', 'info'];
  const parts = [paint(clock(entry['time']), 'dim', color), paint(label, tone, color)];
  // A message or a field may quote an upstream system's text (a record's field, an error body): escaped, so it prints as it reads.
  if (typeof entry['instance'] === 'string') parts.push(paint(terminalText(entry['instance']), 'strong', color));
  parts.push(terminalText(String(entry['msg'] ?? '')));
  const extra = Object.entries(entry)
    .filter(([k, v]) => !SHOWN.has(k) && v !== undefined)
    .map(([k, v]) => terminalText(`${k}=${valueText(v)}`));
  if (extra.length > 0) parts.push(paint(extra.join(' '), 'dim', color));
  let text = parts.join('  ');
  const err = entry['err'] as { message?: unknown; stack?: unknown; code?: unknown } | undefined;
  if (err && typeof err === 'object') {
    // Expected errors arrive without a stack (src/log.ts); a stack here is an internal one, worth showing.
    if (typeof err.stack === 'string') text += `\n${paint(err.stack.split('\n').map(terminalText).join('\n'), 'dim', color)}`;
    else if (typeof err.code === 'string' && !text.includes(err.code)) text += paint(`  [${terminalText(err.code)}]`, 'dim', color);
  }
  return text;
}

/** A destination for pino: pretty lines on a live terminal, the JSON lines as they are otherwise. */
export function logDestination(terminal: Terminal): Writable {
  let pending = '';
  return new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      pending += chunk.toString();
      let nl = pending.indexOf('\n');
      while (nl !== -1) {
        const json = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        terminal.line(terminal.live ? (formatLogLine(json, terminal.color) ?? terminalText(json)) : json);
        nl = pending.indexOf('\n');
      }
      done();
    },
  });
}
