import { createHmac } from 'node:crypto';
import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isChangegateError } from '../../../src/errors.ts';
import { gitlabSource } from '../../../src/events/sources/gitlab.ts';
import { delivery, fixtureBytes, fixtureJson, without } from '../../support/source-delivery.ts';

const pipeline = fixtureJson('gitlab_pipeline_hook.json');
const job = fixtureJson('gitlab_job_hook.json');
const deployment = fixtureJson('gitlab_deployment_hook.json');
const normalise = (body: unknown) => gitlabSource.normalise('gitlab-main', delivery('{}'), body);

function thrownBy(run: () => unknown): unknown {
  try {
    run();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('gitlab source: normalisation of real hooks', () => {
  it('turns a pipeline hook into one build event with GitLab times in ISO-8601', () => {
    expect(normalise(pipeline)).toEqual({
      monitor: [],
      ci: [{
        id: 'gitlab-main:pipeline:31',
        source: 'gitlab-main',
        kind: 'build',
        repo: 'gitlab-org/gitlab-test',
        commit: 'bcbb5ec396a2c0f828686f14fac9b80b780504f2',
        branch: 'master',
        runId: '31',
        name: null,
        status: 'success',
        environment: null,
        startedAt: '2016-08-12T15:23:28.000Z',
        finishedAt: '2016-08-12T15:26:29.000Z',
        url: 'http://192.168.64.1:3005/gitlab-org/gitlab-test/-/pipelines/31',
        changeKeys: [],
        tests: null,
        findings: null,
        verified: null,
      }],
    });
  });

  it('turns a job hook that starts an environment into a deploy event of that environment', () => {
    const [event] = normalise(job).ci;
    expect(event).toMatchObject({
      id: 'gitlab-main:job:3580121225',
      kind: 'deploy',
      repo: 'jsmithy2/release-tools-fake',
      commit: '95d49d1efbd941908580e79d65e4b5ecaf4a8305',
      branch: 'main',
      name: 'auto_deploy:start',
      status: 'success',
      environment: 'production',
      startedAt: '2023-01-10T13:50:05.000Z',
      finishedAt: '2023-01-10T13:50:54.000Z',
      url: 'https://gitlab.com/jsmithy2/release-tools-fake/-/jobs/3580121225',
    });
  });

  it('turns a deployment hook into a deploy event with the full sha taken from commit_url and the offset time in UTC', () => {
    const [event] = normalise(deployment).ci;
    expect(event).toMatchObject({
      id: 'gitlab-main:deployment:15',
      kind: 'deploy',
      repo: 'root/test-deployment-webhooks',
      commit: '279484c09fbe69ededfced8c1bb6e6d24616b468',
      branch: '1.0.0',
      status: 'success',
      environment: 'staging',
      startedAt: null,
      finishedAt: '2021-04-28T19:50:00.000Z',
      url: 'http://10.126.0.2:3000/root/test-deployment-webhooks/-/jobs/796',
    });
  });

  it('finds change keys in the commit message, the branch and the merge request title', () => {
    const body = structuredClone(pipeline) as { commit: Record<string, unknown>; object_attributes: Record<string, unknown>; merge_request: Record<string, unknown> };
    body.commit['message'] = 'Fix checkout timeout\n\nRefs CHG0030001';
    body.object_attributes['ref'] = 'feature/ITSM-42-timeout';
    body.merge_request['title'] = 'ITSM-42: raise timeout (CHG0030001)';
    expect(normalise(body).ci[0]?.changeKeys).toEqual(['CHG0030001', 'ITSM-42']);
  });

  it('gives a redelivered hook the same event id, and a running pipeline the queued/running vocabulary', () => {
    expect(normalise(pipeline).ci[0]?.id).toBe(normalise(structuredClone(pipeline)).ci[0]?.id);
    const running = structuredClone(pipeline) as { object_attributes: Record<string, unknown> };
    running.object_attributes['status'] = 'running';
    expect(normalise(running).ci[0]?.status).toBe('running');
    running.object_attributes['status'] = 'failed';
    expect(normalise(running).ci[0]?.status).toBe('failure');
  });

  it('ignores hooks it does not use (push, merge request) without failing', () => {
    expect(normalise({ object_kind: 'push', ref: 'refs/heads/main' })).toEqual({ ci: [], monitor: [] });
  });
});

describe('gitlab source: tolerant of versions, strict on what it needs', () => {
  it('accepts unknown fields and missing optional ones (an older or slimmer GitLab)', () => {
    const slim = without(pipeline, 'project', 'commit', 'merge_request', 'builds', 'object_attributes.finished_at');
    (slim['object_attributes'] as Record<string, unknown>)['name'] = 'Nightly ITSM-7';
    (slim['object_attributes'] as Record<string, unknown>)['url'] = 'https://gitlab.example.com/g/p/-/pipelines/31';
    slim['future_field'] = { nested: [1, 2] };
    expect(normalise(slim).ci[0]).toMatchObject({
      repo: null, finishedAt: null, name: 'Nightly ITSM-7', url: 'https://gitlab.example.com/g/p/-/pipelines/31', changeKeys: ['ITSM-7'],
    });
    expect(normalise(without(deployment, 'commit_url', 'project')).ci[0]).toMatchObject({ commit: '279484c0', repo: null });
  });

  it.each([
    ['object_kind', { object_attributes: {} }],
    ['object_attributes', { object_kind: 'pipeline' }],
    ['object_attributes.status', without(pipeline, 'object_attributes.status')],
    ['build_id', without(job, 'build_id')],
    ['deployment_id', without(deployment, 'deployment_id')],
    ['body', ['not', 'an', 'object']],
  ])('rejects a body without a usable %s with CG_EVENT_INVALID naming it', (field, body) => {
    const err = thrownBy(() => normalise(body));
    expect(isChangegateError(err, 'CG_EVENT_INVALID')).toBe(true);
    expect((err as { details: { field: string } }).details.field).toBe(field);
  });

  it('rejects a status GitLab never documented, naming the field and value', () => {
    const err = thrownBy(() => normalise({ ...job, build_status: 'exploded' }));
    expect(err).toMatchObject({ code: 'CG_EVENT_INVALID', details: { field: 'build_status', value: 'exploded' } });
  });
});

describe('gitlab source: authentication', () => {
  const raw = fixtureBytes('gitlab_pipeline_hook.json');
  const signed = (secretKey: Buffer, id = 'msg_2Kq', timestamp = '1733400000') =>
    `v1,${createHmac('sha256', secretKey).update(`${id}.${timestamp}.`).update(raw).digest('base64')}`;

  it('accepts the plain X-Gitlab-Token when it equals any configured secret (rotation)', () => {
    expect(gitlabSource.verify(delivery(raw, { 'x-gitlab-token': 'new-token' }), ['old-token', 'new-token'])).toEqual({ ok: true });
    expect(gitlabSource.verify(delivery(raw, { 'x-gitlab-token': 'old-token' }), ['old-token', 'new-token'])).toEqual({ ok: true });
  });

  it('rejects a wrong token as invalid and no token as missing', () => {
    expect(gitlabSource.verify(delivery(raw, { 'x-gitlab-token': 'guess' }), ['s3cret'])).toMatchObject({ ok: false, reason: 'invalid' });
    expect(gitlabSource.verify(delivery(raw, { 'x-gitlab-token': 's3cre' }), ['s3cret'])).toMatchObject({ ok: false, reason: 'invalid' });
    expect(gitlabSource.verify(delivery(raw), ['s3cret'])).toMatchObject({ ok: false, reason: 'missing' });
  });

  it('accepts a signing-token signature over id.timestamp.body, with a whsec_ secret or a plain one', () => {
    const key = Buffer.from('0123456789abcdef0123456789abcdef');
    const whsec = `whsec_${key.toString('base64')}`;
    const headers = { 'webhook-id': 'msg_2Kq', 'webhook-timestamp': '1733400000', 'webhook-signature': `v1,AAAA ${signed(key)}` };
    expect(gitlabSource.verify(delivery(raw, headers), ['retired', whsec])).toEqual({ ok: true });
    const plainHeaders = { ...headers, 'webhook-signature': signed(Buffer.from('plain-signing-secret')) };
    expect(gitlabSource.verify(delivery(raw, plainHeaders), ['plain-signing-secret'])).toEqual({ ok: true });
  });

  it('rejects a signature over another body, another timestamp, or without its id header', () => {
    const key = Buffer.from('plain-signing-secret');
    const headers = { 'webhook-id': 'msg_2Kq', 'webhook-timestamp': '1733400000', 'webhook-signature': signed(key) };
    expect(gitlabSource.verify(delivery(Buffer.concat([raw, Buffer.from(' ')]), headers), ['plain-signing-secret'])).toMatchObject({ reason: 'invalid' });
    expect(gitlabSource.verify(delivery(raw, { ...headers, 'webhook-timestamp': '1733400001' }), ['plain-signing-secret'])).toMatchObject({ reason: 'invalid' });
    expect(gitlabSource.verify(delivery(raw, { 'webhook-timestamp': '1733400000', 'webhook-signature': signed(key) }), ['plain-signing-secret'])).toMatchObject({ reason: 'invalid' });
  });

  it('names the delivery by Idempotency-Key, else webhook-id, else X-Gitlab-Event-UUID', () => {
    expect(gitlabSource.deliveryId(delivery(raw, { 'idempotency-key': 'a', 'x-gitlab-event-uuid': 'b' }))).toBe('a');
    expect(gitlabSource.deliveryId(delivery(raw, { 'x-gitlab-event-uuid': 'b' }))).toBe('b');
    expect(gitlabSource.deliveryId(delivery(raw))).toBeNull();
  });

  it('never throws on arbitrary bytes and headers, and accepts none of them without a secret match', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), fc.dictionary(fc.constantFrom('x-gitlab-token', 'webhook-id', 'webhook-timestamp', 'webhook-signature'), fc.string()), (bytes, headers) => {
        const result = gitlabSource.verify(delivery(Buffer.from(bytes), headers), ['a-secret-not-generated']);
        expect(result.ok).toBe(headers['x-gitlab-token'] === 'a-secret-not-generated');
      }),
    );
  });
});
