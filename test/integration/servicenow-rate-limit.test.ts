// `maxRequestsPerSecond` is the rate of the whole instance, as its description
// says and a ServiceNow rate-limit rule counts it: a sync reading pages, the
// outbox writing a work note, the OAuth token and the schedules all spend one
// budget. Each of them had a limiter of its own, and together they sent a
// multiple of the configured rate.

import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ServiceNowInstance } from '../../connectors/servicenow/servicenow-config.ts';
import { servicenow } from '../../connectors/servicenow/index.ts';
import { ServiceNowSimulator } from '../../connectors/servicenow/simulator/servicenow-simulator.ts';
import { createLogger } from '../../src/log.ts';

const BASE = 'https://ratelimited.service-now.com';
const RATE = 5;
const SPACING_MS = 1000 / RATE;

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => {
  server.resetHandlers();
  server.events.removeAllListeners();
});
afterAll(() => server.close());

describe('the request rate of one ServiceNow instance', () => {
  it('spaces reads, writes, token and schedule requests on one budget', async () => {
    const sim = new ServiceNowSimulator({ baseUrl: BASE, auth: { oauth: [{ clientId: 'changegate', clientSecret: 'cs-secret' }] } });
    server.use(...sim.handlers());
    const sysId = sim.createChange({ short_description: 'Patch the mail relays', type: 'normal' }).sys_id as string;
    for (let i = 0; i < 4; i += 1) sim.createChange({ short_description: `Change ${i}`, type: 'standard' });
    const instance = ServiceNowInstance.parse({
      id: 'sn-limited',
      system: 'servicenow',
      baseUrl: BASE,
      auth: { kind: 'oauth', grant: 'client_credentials', clientId: 'changegate', clientSecret: 'cs-secret' },
      maxRequestsPerSecond: RATE,
    });
    const arrivals: { at: number; path: string }[] = [];
    server.events.on('request:start', ({ request }) => arrivals.push({ at: performance.now(), path: new URL(request.url).pathname }));
    const context = { logger: createLogger({ level: 'silent' }), onRequest: () => {} };
    const connector = servicenow.open(instance, context);
    const readCalendar = servicenow.capabilities?.calendars?.(instance, context);
    if (connector.writer === undefined || readCalendar === undefined) throw new Error('the ServiceNow connector has no writer or calendars');

    // A sync's pages, a write-back and the schedules at once, as the service runs them.
    await Promise.all([
      connector.readPage({ stream: 'changes', after: null, offset: 0, pageSize: 2 }),
      connector.readPage({ stream: 'changes', after: null, offset: 2, pageSize: 2 }),
      connector.writer.comment(sysId, { title: 'Allowed', tone: 'success', lines: ['All gates pass.'] }, 'rev1:comment'),
      readCalendar(),
    ]);

    const paths = new Set(arrivals.map((a) => a.path));
    expect(paths).toContain('/oauth_token.do');
    expect(paths).toContain('/api/now/table/change_request');
    expect(paths).toContain('/api/now/table/cmn_schedule');
    expect(arrivals.length).toBeGreaterThanOrEqual(6);
    const at = arrivals.map((a) => a.at);
    // Slots are handed out evenly, and a request reaches the wire some milliseconds after its slot: a late one
    // (the first on a client, or any on a loaded machine) shortens the gap to the next. Two consecutive gaps are
    // never both short, so any three requests in a row span at least one slot; separate budgets send several at once.
    const spans = at.slice(2).map((t, i) => Math.round(t - (at[i] ?? 0)));
    expect(spans.filter((span) => span < SPACING_MS)).toEqual([]);
    // The whole run at about the rate: a late first request shortens it by its delay only.
    expect((at.at(-1) ?? 0) - (at[0] ?? 0)).toBeGreaterThanOrEqual((at.length - 1) * SPACING_MS * 0.75);
  });
});
