// What a person sees on stderr while the CLI works: readable log lines on a
// terminal that never glue onto the live progress line, JSON lines elsewhere,
// no stack traces for expected errors, each bound key once, NO_COLOR obeyed.

import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createProgressReporter } from '../../src/cli/progress-line.ts';
import { colorFor, createTerminal, formatLogLine, logDestination } from '../../src/cli/terminal-log.ts';
import { ChangegateError } from '../../src/errors.ts';
import { createLogger } from '../../src/log.ts';

function tty(isTTY: boolean): { stream: { write(t: string): boolean; isTTY: boolean }; text: () => string } {
  let written = '';
  return {
    stream: {
      isTTY,
      write(t: string) {
        written += t;
        return true;
      },
    },
    text: () => written,
  };
}

function jsonLines(): { destination: Writable; lines: () => Record<string, unknown>[]; raw: () => string } {
  let raw = '';
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      raw += chunk.toString();
      done();
    },
  });
  return { destination, raw: () => raw, lines: () => raw.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const progress = { instance: 'sn-prod', stream: 'changes', records: 500, total: 1000, elapsedMs: 1000 };

describe('logs on a terminal', () => {
  it('prints a log line above the live progress line and redraws it, instead of gluing the two', () => {
    const out = tty(true);
    const terminal = createTerminal(out.stream, {});
    const reporter = createProgressReporter(terminal);
    const logger = createLogger({ destination: logDestination(terminal) });
    reporter.update(progress);
    logger.child({ instance: 'sn-prod' }).warn('slow page');
    reporter.done();
    const screen = out.text().replace(/\d\d:\d\d:\d\d/, 'HH:MM:SS');
    const bar = 'sn-prod changes: 500/1,000 records · 500/s · ETA 1s';
    // The progress line is cleared, the log line printed whole on its own line, then the progress drawn again.
    expect(screen).toBe(
      `\r\u001B[2K${bar}\r\u001B[2K\u001B[2mHH:MM:SS\u001B[22m  \u001B[33mWARN \u001B[39m  \u001B[1msn-prod\u001B[22m  slow page\n${bar}\n`,
    );
  });

  it('renders a pino line as time, level, instance, message and the other fields', () => {
    const line = formatLogLine(JSON.stringify({ level: 40, time: Date.UTC(2026, 0, 2, 3, 4, 5), service: 'changegate', instance: 'sn-prod', stream: 'changes', msg: 'retrying' }), false);
    expect(line).toBe('03:04:05  WARN   sn-prod  retrying  stream=changes');
  });

  it('prints upstream text in a message, a field or an error with its control and bidirectional characters escaped', () => {
    // A rejected record's message quotes the source's field: ESC [2K erases the line, U+202E reverses what follows.
    const out = tty(true);
    const logger = createLogger({ destination: logDestination(createTerminal(out.stream, { NO_COLOR: '1' })) });
    logger.error({ instance: 'sn\u202eprod', ref: 'CHG1\u001b[2K', err: new ChangegateError('CG_SN_RECORD_INVALID', 'bad') }, 'record CHG1 rejected: state "\u202eDESOLC" unknown\u001b[1A');
    const screen = out.text();
    expect(screen).not.toMatch(/[\u202a-\u202e\u2066-\u2069]/u);
    // Without colour the line itself writes no escape sequence: none may come from the text.
    expect(screen).not.toContain('\u001b');
    expect(screen).toContain('sn\\u202eprod');
    expect(screen).toContain('record CHG1 rejected: state "\\u202eDESOLC" unknown\\u001b[1A');
    expect(screen).toContain('ref=CHG1\\u001b[2K');
  });

  it('passes the JSON lines through untouched when stderr is not a terminal', () => {
    const out = tty(false);
    const logger = createLogger({ destination: logDestination(createTerminal(out.stream, {})) });
    logger.info({ n: 1 }, 'hello');
    expect(JSON.parse(out.text())).toMatchObject({ level: 30, msg: 'hello', n: 1 });
  });

  it('uses colour on a terminal unless NO_COLOR is set', () => {
    expect(colorFor({ isTTY: true, write: () => true }, {})).toBe(true);
    expect(colorFor({ isTTY: true, write: () => true }, { NO_COLOR: '1' })).toBe(false);
    expect(colorFor({ isTTY: false, write: () => true }, {})).toBe(false);
    expect(formatLogLine(JSON.stringify({ level: 50, time: 0, msg: 'x' }), false)).not.toContain('\u001B[');
  });
});

describe('log lines', () => {
  it('write a key the child logger binds once, not twice', () => {
    const log = jsonLines();
    createLogger({ destination: log.destination }).child({ instance: 'sn-prod' }).info({ instance: 'sn-prod', attempt: 2 }, 'credentials rejected');
    expect(log.raw().match(/"instance"/g)).toHaveLength(1);
    expect(log.lines()[0]).toMatchObject({ instance: 'sn-prod', attempt: 2 });
  });

  it('carry an expected error with its code and no stack trace, an internal one with its stack', () => {
    const log = jsonLines();
    const logger = createLogger({ destination: log.destination });
    logger.error({ err: new ChangegateError('CG_SN_AUTH_REJECTED', 'sn-prod rejected the credentials', { details: { instance: 'sn-prod' } }) }, 'sync failed');
    logger.error({ err: new TypeError('boom') }, 'bug');
    const [expected, internal] = log.lines();
    expect(expected?.['err']).toEqual({ type: 'ChangegateError', code: 'CG_SN_AUTH_REJECTED', kind: 'config', message: 'sn-prod rejected the credentials', details: { instance: 'sn-prod' } });
    expect(internal?.['err']).toMatchObject({ stack: expect.stringContaining('TypeError: boom') });
  });
});
