// Shutdown of `changegate serve` as a supervisor sees it (SIGTERM). A sync whose
// source has stopped answering stops at once instead of holding the process
// until its request times out; and a shutdown that hangs anyway (here, an HTTP
// request whose body never arrives) ends at `server.shutdownTimeout` with
// status 1 and a log line naming what it waited for.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, spawnServe, until, type ServeChild } from '../support/serve-child.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).toReversed()) await cleanup();
});

/**
 * A ServiceNow instance that answers the schedule tables (read at start-up) with no rows,
 * and never answers the tables a sync reads: the sync waits on its first request.
 */
async function silentInstance(): Promise<{ url: string; asked: () => number }> {
  let asked = 0;
  const held: ServerResponse[] = [];
  const server: Server = createServer((req, res) => {
    const table = /\/api\/now\/table\/(\w+)/.exec(req.url ?? '')?.[1] ?? '';
    if (['change_request', 'sysapproval_approver', 'sys_journal_field'].includes(table)) {
      asked += 1;
      held.push(res);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'x-total-count': '0' }).end('{"result":[]}');
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  cleanups.push(
    () =>
      new Promise<void>((closed) => {
        for (const res of held) res.destroy();
        server.closeAllConnections();
        server.close(() => closed());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, asked: () => asked };
}

async function serveWith(instanceUrl: string, server: Record<string, unknown> = {}, options: { listenFromEnv?: boolean } = {}): Promise<ServeChild> {
  const dir = mkdtempSync(join(tmpdir(), 'cg-e2e-shutdown-'));
  const port = await freePort();
  // As the image runs it: CHANGEGATE_LISTEN names the address, the file keeps its own.
  const listen = options.listenFromEnv === true ? `127.0.0.1:${await freePort()}` : `127.0.0.1:${port}`;
  const config = join(dir, 'changegate.yaml');
  writeFileSync(
    config,
    [
      `store: { kind: sqlite, path: ${JSON.stringify(join(dir, 'changegate.db'))} }`,
      `server: ${JSON.stringify({ listen, ...server })}`,
      'log: { level: info }',
      `instances: [{ id: sn-silent, system: servicenow, baseUrl: "${instanceUrl}", auth: { kind: basic, username: admin, password: admin }, timeout: 120s }]`,
      '',
    ].join('\n'),
  );
  const serve = spawnServe({ configFile: config, port, ...(options.listenFromEnv === true ? { env: { ...process.env, CHANGEGATE_LISTEN: `127.0.0.1:${port}` } } : {}) });
  cleanups.push(() => {
    if (serve.child.exitCode === null && serve.child.signalCode === null) serve.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  await serve.ready;
  return serve;
}

/** A request whose body never arrives: it keeps the HTTP server from closing. */
async function hangingRequest(serve: ServeChild): Promise<void> {
  const socket = connect(Number(new URL(serve.url).port), '127.0.0.1');
  cleanups.push(() => void socket.destroy());
  await new Promise<void>((connected) => socket.once('connect', connected));
  socket.write('POST /v1/validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"chan');
  await new Promise((wait) => setTimeout(wait, 300));
}

const messages = (serve: ServeChild): string[] => serve.lines().map((l) => String(l['msg']));

describe('serve: shutdown', () => {
  it('stops a sync waiting on a source that no longer answers, and exits 0 at once', async () => {
    const instance = await silentInstance();
    const serve = await serveWith(instance.url);
    await until('the sync to ask the instance', 20_000, async () => (instance.asked() > 0 ? true : undefined));
    const signalled = Date.now();
    serve.child.kill('SIGTERM');
    const exit = await serve.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    // The request would have waited up to its 120 s timeout.
    expect(Date.now() - signalled).toBeLessThan(15_000);
    expect(messages(serve)).toContain('sync of sn-silent stopped for shutdown; what it stored stays stored, and the next run resumes from its cursor');
  }, 60_000);

  it('exits with status 1 at server.shutdownTimeout, naming what it still waited for', async () => {
    const instance = await silentInstance();
    const serve = await serveWith(instance.url, { shutdownTimeout: '1s' });
    await hangingRequest(serve);
    serve.child.kill('SIGTERM');
    const exit = await serve.exited;
    expect(exit).toEqual({ code: 1, signal: null });
    const late = serve.lines().find((l) => String(l['msg']).startsWith('shutdown did not finish within 1000 ms'));
    expect(late?.['waitingFor']).toBe('the HTTP requests in progress to finish');
  }, 60_000);

  it('keeps server.shutdownTimeout when CHANGEGATE_LISTEN sets the address, as the image does', async () => {
    const instance = await silentInstance();
    const serve = await serveWith(instance.url, { shutdownTimeout: '1s' }, { listenFromEnv: true });
    await hangingRequest(serve);
    const signalled = Date.now();
    serve.child.kill('SIGTERM');
    expect(await serve.exited).toEqual({ code: 1, signal: null });
    // The default of 30 s would have held it far longer.
    expect(Date.now() - signalled).toBeLessThan(15_000);
    expect(messages(serve).some((m) => m.startsWith('shutdown did not finish within 1000 ms'))).toBe(true);
  }, 60_000);

  it('ends at once on a second signal, of either kind, while shutdown waits', async () => {
    const instance = await silentInstance();
    const serve = await serveWith(instance.url, { shutdownTimeout: '60s' });
    await hangingRequest(serve);
    serve.child.kill('SIGTERM');
    await until('shutdown to begin', 10_000, async () => (messages(serve).includes('shutting down') ? true : undefined));
    serve.child.kill('SIGINT');
    expect(await serve.exited).toEqual({ code: null, signal: 'SIGINT' });
  }, 60_000);
});
