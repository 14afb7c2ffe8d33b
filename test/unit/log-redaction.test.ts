// Secrets never reach a log line, whichever shape carries them: a whole
// configuration logged by mistake, a request's headers, an error's details.
// Logged through the service's own logger into a buffer.

import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.ts';

const SECRETS = {
  snPassword: 'sn-pass-8c1f',
  jiraToken: 'jira-api-token-77ab',
  oauthSecret: 'oauth-client-secret-19de',
  refresh: 'refresh-token-4b2a',
  mongo: 'mongodb://svc:mongo-pass-3e9d@db.example:27017/changegate',
  artifacts: 'artifact-token-5f10',
  sourceSecret: 'webhook-secret-a2c4',
  bearer: 'Bearer api-token-6d7e',
  headerToken: 'header-token-0b3c',
  gitlab: 'gitlab-token-91fe',
};

function logged(write: (log: ReturnType<typeof createLogger>) => void): string {
  let out = '';
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      out += chunk.toString();
      done();
    },
  });
  write(createLogger({ level: 'info', destination }));
  return out;
}

const config = {
  store: { kind: 'mongodb', uri: SECRETS.mongo, database: 'changegate' },
  server: { listen: '127.0.0.1:8080', apiTokens: [SECRETS.bearer.slice(7)] },
  instances: [
    { id: 'sn', system: 'servicenow', baseUrl: 'https://acme.service-now.com', auth: { kind: 'basic', username: 'svc', password: SECRETS.snPassword } },
    { id: 'jsm', system: 'jira', baseUrl: 'https://acme.atlassian.net', auth: { kind: 'oauth2', clientId: 'cid', clientSecret: SECRETS.oauthSecret, refreshToken: SECRETS.refresh } },
    { id: 'jsm2', system: 'jira', baseUrl: 'https://acme2.atlassian.net', auth: { kind: 'basic', email: 'ops@acme.example', apiToken: SECRETS.jiraToken } },
  ],
  events: { sources: [{ id: 'ci', kind: 'github', secrets: [SECRETS.sourceSecret], artifacts: { token: SECRETS.artifacts } }] },
};

const headers = { authorization: SECRETS.bearer, 'x-changegate-token': SECRETS.headerToken, 'x-gitlab-token': SECRETS.gitlab, 'content-type': 'application/json' };

/** The secrets a log line carries (the URI's password counts on its own); a missing line is a failure too. */
function leaked(text: string): string[] {
  if (text.length === 0) return ['(nothing was logged)'];
  return [...Object.values(SECRETS), 'mongo-pass-3e9d'].filter((secret) => text.includes(secret));
}

describe('log redaction', () => {
  it('keeps every secret of a configuration out of the line, logged whole or under config', () => {
    expect(leaked(logged((log) => log.info(config, 'the configuration')))).toEqual([]);
    expect(leaked(logged((log) => log.info({ config }, 'the configuration')))).toEqual([]);
  });

  it('keeps the credentials of a request out of the line, under headers or req.headers', () => {
    expect(leaked(logged((log) => log.warn({ headers }, 'a delivery was refused')))).toEqual([]);
    expect(leaked(logged((log) => log.warn({ req: { method: 'POST', url: '/v1/events/ci', headers } }, 'a delivery was refused')))).toEqual([]);
    expect(leaked(logged((log) => log.warn({ delivery: { headers } }, 'a delivery was refused')))).toEqual([]);
  });

  it('still logs what is not secret', () => {
    const line = logged((log) => log.info({ config }, 'the configuration'));
    expect(line).toContain('https://acme.service-now.com');
    expect(line).toContain('"id":"sn"');
    expect(line).toContain('"database":"changegate"');
  });
});
