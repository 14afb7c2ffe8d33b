// Serves a simulator's msw handlers over real HTTP (node:http + msw's
// getResponse), so `demo`, end-to-end tests and benchmarks talk to the same
// handlers the in-process tests use.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getResponse, type RequestHandler } from 'msw';

export interface SimulatorServer {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface SimulatorServerOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Added before every response, to model a real network round trip. */
  latencyMs?: number;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function toRequest(req: IncomingMessage, body: Buffer, origin: string): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  const method = req.method ?? 'GET';
  const init: RequestInit = { method, headers };
  if (method !== 'GET' && method !== 'HEAD' && body.length > 0) init.body = new Uint8Array(body);
  return new Request(new URL(req.url ?? '/', origin), init);
}

async function writeResponse(res: ServerResponse, response: Response): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  const setCookie = response.headers.getSetCookie();
  if (setCookie.length > 0) headers['set-cookie'] = setCookie;
  res.writeHead(response.status, response.statusText, headers);
  res.end(Buffer.from(await response.arrayBuffer()));
}

/**
 * `handlers` is read on every request, so a caller may pass a live array that the
 * simulator mutates (e.g. to inject faults).
 */
export async function startSimulatorServer(
  handlers: RequestHandler[] | (() => RequestHandler[]),
  options: SimulatorServerOptions = {},
): Promise<SimulatorServer> {
  const host = options.host ?? '127.0.0.1';
  let origin = '';
  const server: Server = createServer((req, res) => {
    void (async () => {
      try {
        const body = await readBody(req);
        if (options.latencyMs) await new Promise((r) => setTimeout(r, options.latencyMs));
        const list = typeof handlers === 'function' ? handlers() : handlers;
        const response = await getResponse(list, toRequest(req, body, origin));
        if (!response) {
          res.writeHead(404, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { message: 'No simulator handler', detail: `${req.method} ${req.url}` }, status: 'failure' }));
          return;
        }
        // HttpResponse.error() models a dropped connection: reset the socket so the client sees a network error.
        if (response.type === 'error') {
          req.socket.destroy();
          return;
        }
        await writeResponse(res, response);
      } catch (err) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'Simulator failure', detail: String(err) }, status: 'failure' }));
      }
    })();
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  origin = `http://${host}:${port}`;
  return {
    url: origin,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
