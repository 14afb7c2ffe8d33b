// The scheduled pulls as changegate.yaml describes them: refused configs name
// the field, and a valid one (a GitHub token from a secret file, an
// Alertmanager filtered by a label, Prometheus with PromQL in the services
// mapping) builds pulls that fetch, record and count as heartbeats, with the
// token never reaching the log.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setupServer } from 'msw/node';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { correlatorFor } from '../../src/app/event-correlator-for.ts';
import { eventPullsFor } from '../../src/app/event-pulls-for.ts';
import { registry } from '../../src/app/registry.ts';
import { parseConfigText } from '../../src/config/load-config.ts';
import { ChangegateError } from '../../src/errors.ts';
import { EventProcessor } from '../../src/events/event-processor.ts';
import { PullScheduler } from '../../src/events/pull/pull-scheduler.ts';
import { loadServicesMapping } from '../../src/events/services-mapping.ts';
import { eventSourceKind } from '../../src/events/sources/index.ts';
import { loadPolicy } from '../../src/policy/policy-config.ts';
import { openSqliteStores } from '../../src/store/sqlite/sqlite-store-adapter.ts';
import { FakeAlertmanager } from '../support/alertmanager-fake-api.ts';
import { buildChange } from '../support/change-builder.ts';
import { FakeGithub, GITHUB_API, run } from '../support/github-fake-api.ts';

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

function issuesOf(text: string): string[] {
  try {
    parseConfigText(text, 'changegate.yaml', {}, registry);
  } catch (err) {
    if (err instanceof ChangegateError) return err.details['issues'] as string[];
    throw err;
  }
  throw new Error('expected the config to be refused');
}

describe('events pull configuration', () => {
  it('refuses a pull it cannot run, naming the field', () => {
    const issues = issuesOf(`
events:
  sources:
    - { id: gh, kind: github, secrets: [s], pull: { schedule: '*/5 * * * *' } }
    - { id: jk, kind: jenkins, secrets: [s], pull: {} }
    - { id: am, kind: alertmanager, secrets: [s], pull: { urls: ['http://am:9093'], filters: ['team=~"pay.*"'] } }
    - { id: am2, kind: alertmanager, secrets: [s], pull: { urls: [] , token: t, tokenFile: /run/secrets/am } }
  prometheus: { url: not-a-url }
`);
    expect(issuesOf(`
events:
  sources:
    - { id: prometheus, kind: alertmanager, secrets: [s] }
  prometheus: { url: 'http://prometheus:9090' }
`)).toEqual([expect.stringMatching(/events\.prometheus\.id: "prometheus" is already an event source id/)]);
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/events\.sources\[0\]\.pull\.repos: expected at least one owner\/name to pull/),
        expect.stringMatching(/events\.sources\[0\]\.pull\.token: the GitHub REST API needs a token/),
        expect.stringMatching(/events\.sources\[1\]\.pull: a jenkins source cannot be pulled; pull is for github, alertmanager/),
        expect.stringMatching(/events\.sources\[2\]\.pull\.filters\[0\]: "team=~"pay\.\*"" is not a label="value" matcher: list the services/),
        expect.stringMatching(/events\.sources\[3\]\.pull\.urls: expected at least one Alertmanager URL/),
        expect.stringMatching(/events\.sources\[3\]\.pull\.tokenFile: give token or tokenFile, not both/),
        expect.stringMatching(/events\.prometheus\.url: /),
      ]),
    );
  });

  it('builds pulls that fetch, record and beat, with the token read from its file and never logged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cg-pulls-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const tokenFile = join(dir, 'gh-token');
    writeFileSync(tokenFile, 'ghp_fromfile\n');
    const servicesFile = join(dir, 'services.yaml');
    writeFileSync(servicesFile, 'kind: services-mapping\nservices:\n  Payments API:\n    alertLabels: { service: payments }\n');
    const config = parseConfigText(
      `
events:
  services: ${servicesFile}
  sources:
    - id: gh
      kind: github
      secrets: [hook]
      pull: { baseUrl: '${GITHUB_API}', repos: [acme/shop], tokenFile: ${tokenFile}, schedule: '*/2 * * * *' }
    - id: am
      kind: alertmanager
      secrets: [t]
      pull: { urls: ['http://am.test:9093'], filters: ['service="payments"'] }
`,
      'changegate.yaml',
      {},
      registry,
    );
    const gh = new FakeGithub();
    gh.token = 'ghp_fromfile';
    gh.runs.set('acme/shop', [run({ id: 7, created_at: new Date(Date.now() - 3_600_000).toISOString() })]);
    gh.deployments.set('acme/shop', []);
    const am = new FakeAlertmanager('http://am.test:9093');
    server.use(...gh.handlers(), am.handler());
    const lines: string[] = [];
    const logger = pino({ level: 'debug' }, new Writable({ write: (chunk, _enc, done) => void done(void lines.push(String(chunk))) }));
    const stores = openSqliteStores(':memory:');
    try {
      const correlator = correlatorFor(config, stores);
      const processor = new EventProcessor({ events: stores.events, kindOf: eventSourceKind, correlator, reassess: async () => undefined, logger });
      let kicks = 0;
      const pulls = eventPullsFor(config, {
        stores,
        logger,
        policy: loadPolicy(),
        services: loadServicesMapping(servicesFile),
        instances: [],
        ciOf: async () => [],
        kick: () => void kicks++,
        settle: async () => undefined,
      });
      expect(pulls.map((p) => [p.name, p.cron])).toEqual([
        ['github:gh', '*/2 * * * *'],
        ['alertmanager:am', '*/5 * * * *'],
      ]);
      const scheduler = new PullScheduler(logger);
      for (const pull of pulls) await scheduler.tick(pull);
      await processor.drain();

      expect(kicks).toBe(1);
      expect((await stores.events.findEvents({ source: 'gh' })).map((e) => e.id)).toEqual(['gh:run:7:1']);
      const payments = buildChange({ services: [{ id: 's1', name: 'Payments API' }], cis: [] });
      expect(await correlator.watchOf(payments, new Date())).toMatchObject({ covered: true, sources: ['am'] });
      expect(lines.join('')).not.toContain('ghp_fromfile');
    } finally {
      await stores.close();
    }
  });

  it('stops start-up naming an unreadable token file', () => {
    const config = parseConfigText(
      `
events:
  sources:
    - { id: gh, kind: github, secrets: [hook], pull: { repos: [acme/shop], tokenFile: /nonexistent/gh-token } }
`,
      'changegate.yaml',
      {},
      registry,
    );
    const stores = openSqliteStores(':memory:');
    const build = () =>
      eventPullsFor(config, { stores, logger: pino({ level: 'silent' }), policy: loadPolicy(), services: {}, instances: [], ciOf: async () => [], kick: () => undefined, settle: async () => undefined });
    expect(build).toThrow(/events source gh: pull\.tokenFile \/nonexistent\/gh-token cannot be read/);
    void stores.close();
  });
});
