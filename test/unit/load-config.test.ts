import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
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
    expect(error.message).toMatch(/^changegate\.yaml:7:\d+ instances\[0\]\.auth\.password: environment variable SN_PASSWORD is not set$/);
  });

  it('uses ${VAR:-default} when the variable is unset', () => {
    const config = parseConfigText(VALID.replace('${SN_PASSWORD}', '${SN_PASSWORD:-fallback}'), 'c.yaml', { SN_USER: 'u' }, registry);
    expect(config.instances[0]).toMatchObject({ auth: { password: 'fallback' } });
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
        expect.stringMatching(/^bad\.yaml:7:\d+ instances\[0\]\.schedule: expected a cron expression/),
        expect.stringMatching(/^bad\.yaml:8:\d+ instances\[0\]\.colour: Unrecognized key/),
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

  it('reports broken YAML with its line', () => {
    const error = caught(() => parseConfigText('instances:\n  - id: [unclosed\n', 'broken.yaml', {}, registry));
    expect(error.code).toBe('CG_CONFIG_INVALID');
    expect(error.message).toMatch(/^broken\.yaml:\d+:\d+: invalid YAML/);
  });

  it('falls back to demo mode only when no file is named', () => {
    expect(loadConfig(registry, { env: {} }).file).toBeNull();
    expect(caught(() => loadConfig(registry, { path: '/nonexistent/changegate.yaml', env: {} })).code).toBe('CG_CONFIG_NOT_FOUND');
    const dir = mkdtempSync(join(tmpdir(), 'cg-config-'));
    const file = join(dir, 'changegate.yaml');
    writeFileSync(file, 'store: { kind: sqlite, path: x.db }\n');
    expect(loadConfig(registry, { env: { CHANGEGATE_CONFIG: file } })).toMatchObject({ file, config: { store: { path: 'x.db' } } });
  });

  it('lets CHANGEGATE_LISTEN and CHANGEGATE_API_TOKENS set the server, in demo mode and over a file', () => {
    const env = { CHANGEGATE_LISTEN: '127.0.0.1:18080', CHANGEGATE_API_TOKENS: 'first-token, second-token' };
    expect(loadConfig(registry, { env })).toMatchObject({ file: null, config: { server: { listen: '127.0.0.1:18080', apiTokens: ['first-token', 'second-token'] } } });
    const dir = mkdtempSync(join(tmpdir(), 'cg-config-'));
    const file = join(dir, 'changegate.yaml');
    writeFileSync(file, 'server: { listen: 0.0.0.0:9000, apiTokens: [from-file] }\n');
    expect(loadConfig(registry, { path: file, env: { CHANGEGATE_LISTEN: '127.0.0.1:9001' } }).config.server).toMatchObject({ listen: '127.0.0.1:9001', apiTokens: ['from-file'] });
    expect(loadConfig(registry, { path: file, env: {} }).config.server.listen).toBe('0.0.0.0:9000');
    const bad = caught(() => loadConfig(registry, { env: { CHANGEGATE_LISTEN: 'localhost' } }));
    expect(bad).toMatchObject({ code: 'CG_CONFIG_INVALID', message: expect.stringMatching(/^environment CHANGEGATE_LISTEN: expected host:port/) });
  });
});
