// The GitHub Actions source on real payloads (octokit's examples, copied in
// test/fixtures/events): what each webhook says in the canonical vocabulary,
// and the X-Hub-Signature-256 check.

import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { SourceDelivery } from '../../../src/events/event-source-kit.ts';
import { githubSource } from '../../../src/events/sources/github.ts';

const fixture = (name: string): Buffer => readFileSync(new URL(`../../fixtures/events/${name}`, import.meta.url));
const sign = (secret: string, body: Buffer): string => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

function delivery(event: string, rawBody: Buffer, headers: Record<string, string> = {}): SourceDelivery {
  return { headers: { 'x-github-event': event, 'x-github-delivery': 'guid-1', ...headers }, rawBody };
}

const normalise = (event: string, raw: Buffer) => githubSource.normalise('github', delivery(event, raw), JSON.parse(raw.toString('utf8')));

describe('githubSource signatures', () => {
  const body = fixture('github_workflow_run_completed.json');

  it('matches GitHub\'s published test vector', () => {
    const d = { headers: { 'x-hub-signature-256': 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17' }, rawBody: Buffer.from('Hello, World!') };
    expect(githubSource.verify(d, ["It's a Secret to Everybody"])).toEqual({ ok: true });
  });

  it('accepts a body signed with any configured secret (rotation) and refuses one signed with none', () => {
    const d = delivery('workflow_run', body, { 'x-hub-signature-256': sign('new-secret', body) });
    expect(githubSource.verify(d, ['old-secret', 'new-secret'])).toEqual({ ok: true });
    expect(githubSource.verify(d, ['old-secret'])).toEqual({ ok: false, reason: 'invalid', detail: 'x-hub-signature-256' });
  });

  it('refuses a body changed after signing, and says when the signature is missing', () => {
    const d = delivery('workflow_run', Buffer.concat([body, Buffer.from(' ')]), { 'x-hub-signature-256': sign('s', body) });
    expect(githubSource.verify(d, ['s'])).toMatchObject({ ok: false, reason: 'invalid' });
    expect(githubSource.verify(delivery('workflow_run', body), ['s'])).toEqual({ ok: false, reason: 'missing', detail: 'x-hub-signature-256' });
    expect(githubSource.verify(delivery('workflow_run', body, { 'x-hub-signature-256': 'sha1=abc' }), ['s'])).toMatchObject({ ok: false, reason: 'invalid' });
  });

  it('names the delivery by X-GitHub-Delivery', () => {
    expect(githubSource.deliveryId(delivery('ping', body))).toBe('guid-1');
    expect(githubSource.deliveryId({ headers: {}, rawBody: body })).toBeNull();
  });
});

describe('githubSource JSON of a delivery', () => {
  const json = fixture('github_workflow_run_completed.json');

  it('is the body as sent as JSON, and the form field payload as sent form-encoded (any case, with a charset)', () => {
    const form = Buffer.from(`payload=${encodeURIComponent(json.toString('utf8'))}`);
    expect(githubSource.jsonOf?.(delivery('workflow_run', json, { 'content-type': 'application/json' }))).toEqual({ bytes: json, field: 'body' });
    expect(githubSource.jsonOf?.(delivery('workflow_run', json))).toEqual({ bytes: json, field: 'body' });
    for (const type of ['application/x-www-form-urlencoded', 'Application/X-WWW-Form-Urlencoded; charset=utf-8']) {
      expect(githubSource.jsonOf?.(delivery('workflow_run', form, { 'content-type': type }))?.bytes.equals(json)).toBe(true);
    }
  });
});

describe('githubSource normalise (golden)', () => {
  it('a completed workflow_run', () => {
    expect(normalise('workflow_run', fixture('github_workflow_run_completed.json'))).toEqual({
      ci: [
        {
          id: 'github:run:289782451:1',
          source: 'github',
          // The run has no name; the workflow's ("test") says what it proves.
          kind: 'test',
          repo: 'octo-org/octo-repo',
          commit: '3484a3fb816e0859fd6e1cea078d76385ff50625',
          branch: 'master',
          runId: '289782451',
          name: 'test',
          status: 'success',
          environment: null,
          startedAt: '2020-10-05T16:33:49.000Z',
          finishedAt: '2020-10-05T16:33:49.000Z',
          url: 'https://github.com/octo-org/octo-repo/actions/runs/289782451',
          changeKeys: [],
          tests: null,
          findings: null,
          verified: null,
        },
      ],
      monitor: [],
    });
  });

  it('a deployment and its success status are one deploy event, queued then succeeded', () => {
    const created = normalise('deployment', fixture('github_deployment.json')).ci[0];
    const status = normalise('deployment_status', fixture('github_deployment_status.json')).ci[0];
    expect(created).toMatchObject({ id: 'github:deployment:145988746', kind: 'deploy', status: 'queued', environment: 'production', commit: 'f95f852bd8fca8fcc58a9a2d6c842781e32a215e', branch: 'master', name: 'deploy' });
    expect(status).toMatchObject({ id: 'github:deployment:145988746', kind: 'deploy', status: 'success', environment: 'production', finishedAt: '2019-05-15T15:20:55.000Z' });
  });

  it('reads change keys from the branch, the run title and the commit message', () => {
    const body = JSON.parse(fixture('github_workflow_run_completed.json').toString('utf8'));
    body.workflow_run.head_branch = 'feature/chg0030001-retry';
    body.workflow_run.display_title = 'Fix retries (ITSM-42)';
    body.workflow_run.conclusion = 'timed_out';
    const [event] = githubSource.normalise('gh', delivery('workflow_run', Buffer.alloc(0)), body).ci;
    expect(event).toMatchObject({ id: 'gh:run:289782451:1', changeKeys: ['CHG0030001', 'ITSM-42'], status: 'failure' });
  });

  it('tolerates unknown and missing optional fields, and ignores event types it does not read', () => {
    const minimal = { workflow_run: { id: 7, status: 'in_progress', brand_new_field: { x: 1 } } };
    expect(githubSource.normalise('github', delivery('workflow_run', Buffer.alloc(0)), minimal).ci[0]).toMatchObject({ id: 'github:run:7:1', status: 'running', repo: null, commit: null, name: null });
    expect(githubSource.normalise('github', delivery('ping', Buffer.alloc(0)), { zen: 'hi' })).toEqual({ ci: [], monitor: [] });
    expect(githubSource.normalise('github', delivery('workflow_job', Buffer.alloc(0)), { workflow_job: { id: 3, name: 'unit tests', status: 'completed', conclusion: 'success' } }).ci[0]).toMatchObject({ kind: 'test', status: 'success' });
  });

  it('refuses a body without the object its event type needs, naming the field', () => {
    expect(() => githubSource.normalise('github', delivery('workflow_run', Buffer.alloc(0)), { action: 'completed' })).toThrow(expect.objectContaining({ code: 'CG_EVENT_INVALID', message: expect.stringContaining('workflow_run') }));
    expect(() => githubSource.normalise('github', delivery('deployment_status', Buffer.alloc(0)), { deployment: { id: 1 } })).toThrow(expect.objectContaining({ code: 'CG_EVENT_INVALID' }));
  });
});
