import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { loadConfig, parseConfigText } from '../../src/config/load-config.ts';
import { ChangegateError } from '../../src/errors.ts';
import { registry } from '../../src/app/registry.ts';

const VALID = `
store: { kind: sqlite, path: ./data/test.db }
instances:
  - id: sn-prod
    system: servicenow
    baseUrl: https://acme.service-now.com/
    auth: { kind: basic, username: \${SN_USER}, password: \${SN_PASSWORD} }
    overlap: 2m
    query: active=true
`;

function caught(fn: () => unknown): ChangegateError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ChangegateError) return err;
    throw err;
  }
  throw new Error('expected a ChangegateError');
}

describe('changegate.yaml', () => {
  it('substitutes ${ENV} secrets and fills defaults', () => {
    const config = parseConfigText(VALID, 'changegate.yaml', { SN_USER: 'svc', SN_PASSWORD: 's3cret' }, registry);
    const [instance] = config.instances;
    expect(instance).toMatchObject({
      id: 'sn-prod',
      baseUrl: 'https://acme.service-now.com',
      auth: { kind: 'basic', username: 'svc', password: 's3cret' },
      overlap: 120_000,
      pageSize: 1000,
      schedule: '*/2 * * * *',
    });
  });

  it('names file, line and path of an unset environment variable', () => {
    const error = caught(() => parseConfigText(VALID, 'changegate.yaml', { SN_USER: 'svc' }, registry));
    expect(error.code).toBe('CG_CONFIG_ENV_MISSING');
    expect(error.message).toMatch(/^changegate\.yaml:7:\d+ instances\[0\]\.auth\.password: environment variable SN_PASSWORD is not set; export it, or give a default as \$\{SN_PASSWORD:-value\}$/);
  });

  it('uses ${VAR:-default} when the variable is unset', () => {
    const config = parseConfigText(VALID.replace('${SN_PASSWORD}', '${SN_PASSWORD:-fallback}'), 'c.yaml', { SN_USER: 'u' }, registry);
    expect(config.instances[0]).toMatchObject({ auth: { password: 'fallback' } });
  });

  describe('a value that is exactly ${VAR}', () => {
    const TYPED = `instances:
  - id: sn-prod
    system: servicenow
    baseUrl: https://acme.service-now.com
    auth: { kind: basic, username: \${SN_USER}, password: \${SN_PASSWORD} }
    pageSize: \${PAGE_SIZE}
    retries: \${RETRIES:-3}
    writeBack: \${WRITE_BACK}
    maxRequestsPerSecond: \${RATE}
    query: \${QUERY}
`;
    const ENV = { SN_USER: '4711', SN_PASSWORD: '123456', PAGE_SIZE: '500', WRITE_BACK: 'true', RATE: '2.5', QUERY: '42' };

    it('takes the type YAML reads in its value (number, true or false), in block and flow style, from a default too', () => {
      expect(parseConfigText(TYPED, 'c.yaml', ENV, registry).instances[0]).toMatchObject({ pageSize: 500, retries: 3, writeBack: true, maxRequestsPerSecond: 2.5 });
      const flow = 'instances:\n  - { id: a, system: servicenow, baseUrl: https://a.example, auth: { kind: basic, username: u, password: p }, pageSize: ${N}, writeBack: ${WB} }\n';
      expect(parseConfigText(flow, 'f.yaml', { N: '0x10', WB: 'false' }, registry).instances[0]).toMatchObject({ pageSize: 16, writeBack: false });
    });

    it('stays a string where the field takes a string: credentials and ids of digits never turn into numbers', () => {
      expect(parseConfigText(TYPED, 'c.yaml', ENV, registry).instances[0]).toMatchObject({ auth: { username: '4711', password: '123456' }, query: '42' });
      const listed = parseConfigText('server: { apiTokens: [${TOKEN}] }\n', 't.yaml', { TOKEN: '987654321' }, registry);
      expect(listed.server.apiTokens).toEqual(['987654321']);
    });

    it('stays a string when quoted or part of a longer value', () => {
      const quoted = caught(() => parseConfigText(TYPED.replace('pageSize: ${PAGE_SIZE}', 'pageSize: "${PAGE_SIZE}"'), 'q.yaml', ENV, registry));
      expect(quoted.details['issues']).toEqual(['q.yaml:6:15 instances[0].pageSize: expected a number, got "500" (from ${PAGE_SIZE})']);
      const embedded = parseConfigText(TYPED.replace('query: ${QUERY}', 'query: active=${WRITE_BACK}'), 'e.yaml', ENV, registry);
      expect(embedded.instances[0]).toMatchObject({ query: 'active=true' });
    });

    it('names the variable a refused value came from, never echoing a credential', () => {
      const issues = caught(() => parseConfigText(TYPED, 'c.yaml', { ...ENV, PAGE_SIZE: 'lots', RETRIES: '99', WRITE_BACK: 'yes' }, registry)).details['issues'];
      expect(issues).toEqual([
        'c.yaml:6:15 instances[0].pageSize: expected a number, got "lots" (from ${PAGE_SIZE})',
        'c.yaml:7:14 instances[0].retries: must be at most 20, got 99 (from ${RETRIES})',
        'c.yaml:8:16 instances[0].writeBack: expected true or false, got "yes" (from ${WRITE_BACK})',
      ]);
      const fromDefault = caught(() => parseConfigText(TYPED.replace('${RETRIES:-3}', '${RETRIES:-30}'), 'd.yaml', ENV, registry));
      expect(fromDefault.details['issues']).toEqual(['d.yaml:7:14 instances[0].retries: must be at most 20, got 30 (the default of ${RETRIES}, which is not set)']);
      const uri = 'postgres://svc:hunter2@db.internal/changegate';
      const store = caught(() => parseConfigText('store: { kind: mongodb, uri: ${MONGODB_URI} }\n', 's.yaml', { MONGODB_URI: uri }, registry));
      expect(store.details['issues']).toEqual(['s.yaml:1:30 store.uri: expected a MongoDB connection string (mongodb:// or mongodb+srv://) (from ${MONGODB_URI})']);
      expect(JSON.stringify(store.details)).not.toContain('hunter2');
    });
  });

  it('reports every invalid field with its line', () => {
    const text = `instances:
  - id: Bad_Id
    system: servicenow
    baseUrl: not a url
    auth: { kind: oauth, grant: client_credentials, clientId: cg }
    pageSize: 0
    schedule: every minute
    colour: blue
`;
    const error = caught(() => parseConfigText(text, 'bad.yaml', {}, registry));
    expect(error.code).toBe('CG_CONFIG_INVALID');
    const issues = error.details['issues'] as string[];
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^bad\.yaml:2:\d+ instances\[0\]\.id: /),
        expect.stringMatching(/^bad\.yaml:4:\d+ instances\[0\]\.baseUrl: /),
        expect.stringMatching(/^bad\.yaml:5:\d+ instances\[0\]\.auth\.clientSecret: /),
        expect.stringMatching(/^bad\.yaml:6:\d+ instances\[0\]\.pageSize: /),
        expect.stringMatching(/^bad\.yaml:7:\d+ instances\[0\]\.schedule: expected 5 fields \(minute hour day-of-month month day-of-week\)/),
        expect.stringMatching(/^bad\.yaml:8:\d+ instances\[0\]\.colour: unknown key "colour"; expected one of id, baseUrl, schedule/),
      ]),
    );
  });

  it('reports every problem in one pass, in line order: all unset variables with the other errors', () => {
    const text = `store: { kind: sqlit }
instances:
  - id: sn-prod
    system: servicenow
    baseUrl: \${SN_URL}
    overlap: 2 minutes
    auth: { kind: basic, username: \${SN_USER}, password: \${SN_PASSWORD} }
    pagesize: 50
  - id: jsm
    system: jira-cloud
`;
    const error = caught(() => parseConfigText(text, 'c.yaml', { SN_USER: 'svc' }, registry));
    expect(error.code).toBe('CG_CONFIG_INVALID');
    const issues = error.details['issues'] as string[];
    expect(issues).toEqual([
      'c.yaml:1:16 store.kind: "sqlit" is not a known kind; expected one of sqlite, mongodb, mongo; did you mean "sqlite"?',
      'c.yaml:5:14 instances[0].baseUrl: environment variable SN_URL is not set; export it, or give a default as ${SN_URL:-value}',
      'c.yaml:6:14 instances[0].overlap: expected a duration such as 30s, 2m or 1h (or a number), got "2 minutes"',
      'c.yaml:7:60 instances[0].auth.password: environment variable SN_PASSWORD is not set; export it, or give a default as ${SN_PASSWORD:-value}',
      'c.yaml:8:15 instances[0].pagesize: unknown key "pagesize"; did you mean "pageSize"?',
      'c.yaml:10:13 instances[1].system: "jira-cloud" is not a known system; expected one of servicenow, jira',
    ]);
    expect(error.message).toBe(`c.yaml has 6 problems:\n  ${issues.join('\n  ')}`);
    expect(error.message).not.toMatch(/Invalid input|Invalid discriminator|Unrecognized key/);
  });

  it('checks a schedule field by field, naming the field and its range', () => {
    const text = `reassess: "*/61 * * * *"
instances:
  - { id: a, system: servicenow, baseUrl: https://a.example, auth: { kind: basic, username: u, password: p }, schedule: "0 25 * * *" }
`;
    const issues = caught(() => parseConfigText(text, 's.yaml', {}, registry)).details['issues'];
    expect(issues).toEqual([
      's.yaml:1:11 reassess: the minute field "*/61": step 61 is outside 1–59; e.g. "*/2 * * * *" (every 2 minutes)',
      expect.stringMatching(/^s\.yaml:3:\d+ instances\[0\]\.schedule: the hour field "25": 25 is outside 0–23;/),
    ]);
  });

  it('takes lease times as durations with defaults, and refuses a renewal period longer than a third of the lease', () => {
    expect(parseConfigText('instances: []\n', 'l.yaml', {}, registry).leases).toEqual({ ttl: 30_000, renewEvery: 10_000 });
    expect(parseConfigText('leases: { ttl: 9s, renewEvery: 3s }\n', 'l.yaml', {}, registry).leases).toEqual({ ttl: 9_000, renewEvery: 3_000 });
    const issues = caught(() => parseConfigText('leases: { ttl: 10s, renewEvery: 5s }\n', 'l.yaml', {}, registry)).details['issues'];
    expect(issues).toEqual([expect.stringMatching(/^l\.yaml:1:\d+ leases\.renewEvery: renewEvery must be at most a third of ttl/)]);
  });

  it('takes the read cache bounds in MB and refuses one out of range, naming it', () => {
    const sized = parseConfigText('store: { kind: sqlite, path: ./m.db, readCache: { changesMB: 96 } }\n', 'c.yaml', {}, registry);
    expect(sized.store).toMatchObject({ readCache: { changesMB: 96, neighboursMB: 16 } });
    const text = 'store:\n  kind: mongodb\n  uri: mongodb://db.internal/\n  readCache: { changesMB: 0, neighboursMB: 1.5, views: 4 }\n';
    const issues = caught(() => parseConfigText(text, 'c.yaml', {}, registry)).details['issues'] as string[];
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^c\.yaml:4:\d+ store\.readCache\.changesMB: must be at least 1, got 0$/),
        expect.stringMatching(/^c\.yaml:4:\d+ store\.readCache\.neighboursMB: expected a whole number, got 1\.5$/),
        expect.stringMatching(/^c\.yaml:4:\d+ store\.readCache\.views: unknown key "views"/),
      ]),
    );
  });

  it('refuses duplicate instance ids', () => {
    const text = `instances:
  - { id: a, system: servicenow, baseUrl: https://a.example, auth: { kind: basic, username: u, password: p } }
  - { id: a, system: servicenow, baseUrl: https://b.example, auth: { kind: basic, username: u, password: p } }
`;
    expect(caught(() => parseConfigText(text, 'dup.yaml', {}, registry)).message).toMatch(/dup\.yaml:3:\d+ instances\[1\]\.id: duplicate instance id "a"/);
  });

  it('refuses a key given twice in a map, naming each with the line of the first, with the other problems in one pass', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cg-config-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'changegate.yaml');
    writeFileSync(
      file,
      `store: { kind: sqlite, path: ./x.db }
server: { listen: 127.0.0.1:8080 }
log: { level: infoo }
server: { listen: 0.0.0.0:8080 }
instances:
  - { id: a, system: servicenow, baseUrl: https://a.example, auth: { kind: basic, username: u, password: p, username: v } }
`,
    );
    const error = caught(() => loadConfig(registry, { path: file, env: {} }));
    expect(error.code).toBe('CG_CONFIG_INVALID');
    expect(error.details['issues']).toEqual([
      `${file}:3:15 log.level: "infoo" is not one of fatal, error, warn, info, debug, trace; did you mean "info"?`,
      `${file}:4:1 server: duplicate key "server", already on line 2; a key may appear once in a map, remove one`,
      `${file}:6:109 instances[0].auth.username: duplicate key "username", already on line 6; a key may appear once in a map, remove one`,
    ]);
  });

  it('reads a file that repeats one anchor for every instance, past a hundred aliases', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cg-config-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'changegate.yaml');
    const sites = Array.from({ length: 150 }, (_, i) => `  - { id: sn-${i}, system: servicenow, baseUrl: https://acme-${i}.service-now.com, auth: *sn-auth }`);
    const anchored = sites.join('\n').replace('auth: *sn-auth', 'auth: &sn-auth { kind: basic, username: u, password: p }');
    writeFileSync(file, `store: { kind: sqlite, path: ./x.db }\ninstances:\n${anchored}\n`);
    const { config } = loadConfig(registry, { path: file, env: {} });
    expect(config.instances).toHaveLength(150);
    expect(config.instances[149]).toMatchObject({ id: 'sn-149', auth: { kind: 'basic', username: 'u', password: 'p' } });
  });

  it('refuses an alias to an anchor the file does not define, naming each with its line, instead of failing as an internal error', () => {
    const text = `store: { kind: sqlite, path: ./x.db }
instances:
  - { id: a, system: servicenow, baseUrl: https://a.example, auth: &basic { kind: basic, username: u, password: p } }
  - { id: b, system: servicenow, baseUrl: https://b.example, auth: *basci }
  - { id: c, system: servicenow, baseUrl: https://c.example, auth: *oauth }
`;
    const error = caught(() => parseConfigText(text, 'alias.yaml', {}, registry));
    expect(error.code).toBe('CG_CONFIG_INVALID');
    expect(error.details['issues']).toEqual([
      'alias.yaml:4:68 instances[1].auth: the alias *basci names no anchor above it; did you mean *basic?',
      'alias.yaml:5:68 instances[2].auth: the alias *oauth names no anchor above it; anchors defined before it: &basic',
    ]);
  });

  it('refuses aliases that expand without bound (a "billion laughs" file) as a configuration error naming the line', () => {
    const rows = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (const [i, name] of [...'bcdefghi'].entries()) rows.push(`${name}: &${name} [${Array(10).fill(`*${'abcdefghi'[i]}`).join(', ')}]`);
    const error = caught(() => parseConfigText(rows.join('\n'), 'laughs.yaml', {}, registry));
    expect(error.code).toBe('CG_CONFIG_INVALID');
    expect(error.message).toMatch(/^laughs\.yaml:\d+:\d+: invalid YAML: aliases repeat their anchors more than 10000 times/);
  });

  it('reads merge keys (<<: *anchor) as YAML tools do: a later instance takes the anchored one, its own keys winning, placeholders typed where they were written', () => {
    const text = `store: { kind: sqlite, path: ./x.db }
instances:
  - &sn
    id: sn-prod
    system: servicenow
    baseUrl: https://acme.service-now.com
    auth: { kind: basic, username: u, password: \${SN_PASSWORD} }
    pageSize: \${PAGE_SIZE}
  - <<: *sn
    id: sn-test
    baseUrl: https://acme-test.service-now.com
`;
    const config = parseConfigText(text, 'merge.yaml', { SN_PASSWORD: '12345', PAGE_SIZE: '500' }, registry);
    expect(config.instances.map((i) => [i.id, i.system, i.baseUrl, i.pageSize, (i as { auth?: unknown }).auth])).toEqual([
      ['sn-prod', 'servicenow', 'https://acme.service-now.com', 500, { kind: 'basic', username: 'u', password: '12345' }],
      ['sn-test', 'servicenow', 'https://acme-test.service-now.com', 500, { kind: 'basic', username: 'u', password: '12345' }],
    ]);
    const typo = text.replace('    id: sn-test\n', '    id: sn-test\n    pagesize: 50\n').replace('  - &sn', '  - <<: 5\n    id: sn-dev\n  - &sn');
    expect(caught(() => parseConfigText(typo, 'merge.yaml', { SN_PASSWORD: 'p', PAGE_SIZE: '500' }, registry)).details['issues']).toEqual([
      'merge.yaml:3:5 instances[0].<<: a merge key (<<) takes a map, an alias of one (<<: *defaults) or a list of them, got a scalar',
    ]);
    expect(caught(() => parseConfigText(typo.replace('<<: 5', '<<: { system: jira }'), 'merge.yaml', { SN_PASSWORD: 'p', PAGE_SIZE: '500' }, registry)).details['issues']).toEqual([
      // The merged system: jira is read, so the jira instance's required keys are asked for.
      'merge.yaml:3:5 instances[0].baseUrl: missing: baseUrl is required (a string)',
      'merge.yaml:3:5 instances[0].auth: missing: auth is required (a map (key: value lines))',
      'merge.yaml:3:5 instances[0].projects: missing: projects is required (a list)',
      'merge.yaml:13:15 instances[2].pagesize: unknown key "pagesize"; did you mean "pageSize"?',
    ]);
  });

  it('reports broken YAML with its line', () => {
    const error = caught(() => parseConfigText('instances:\n  - id: [unclosed\n', 'broken.yaml', {}, registry));
    expect(error.code).toBe('CG_CONFIG_INVALID');
    expect(error.message).toMatch(/^broken\.yaml:\d+:\d+: invalid YAML/);
  });

  it('falls back to demo mode only when no file is named', () => {
    expect(loadConfig(registry, { env: {} }).file).toBeNull();
    expect(caught(() => loadConfig(registry, { path: '/nonexistent/changegate.yaml', env: {} })).code).toBe('CG_CONFIG_NOT_FOUND');
    const dir = mkdtempSync(join(tmpdir(), 'cg-config-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'changegate.yaml');
    writeFileSync(file, 'store: { kind: sqlite, path: x.db }\n');
    expect(loadConfig(registry, { env: { CHANGEGATE_CONFIG: file } })).toMatchObject({ file, config: { store: { path: 'x.db' } } });
  });

  it('lets CHANGEGATE_LISTEN and CHANGEGATE_API_TOKENS set the server, in demo mode and over a file', () => {
    const env = { CHANGEGATE_LISTEN: '127.0.0.1:18080', CHANGEGATE_API_TOKENS: 'first-token, second-token' };
    expect(loadConfig(registry, { env })).toMatchObject({ file: null, config: { server: { listen: '127.0.0.1:18080', apiTokens: ['first-token', 'second-token'] } } });
    const dir = mkdtempSync(join(tmpdir(), 'cg-config-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'changegate.yaml');
    writeFileSync(file, 'server: { listen: 0.0.0.0:9000, apiTokens: [from-file] }\n');
    expect(loadConfig(registry, { path: file, env: { CHANGEGATE_LISTEN: '127.0.0.1:9001' } }).config.server).toMatchObject({ listen: '127.0.0.1:9001', apiTokens: ['from-file'] });
    expect(loadConfig(registry, { path: file, env: {} }).config.server.listen).toBe('0.0.0.0:9000');
    const bad = caught(() => loadConfig(registry, { env: { CHANGEGATE_LISTEN: 'localhost' } }));
    expect(bad).toMatchObject({ code: 'CG_CONFIG_INVALID', message: expect.stringMatching(/^environment CHANGEGATE_LISTEN: expected host:port/) });
  });
});
