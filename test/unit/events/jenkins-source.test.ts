import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isChangegateError } from '../../../src/errors.ts';
import { jenkinsSource } from '../../../src/events/sources/jenkins.ts';
import { repoFromScmUrl } from '../../../src/events/sources/payload-fields.ts';
import { delivery, fixtureBytes, fixtureJson, without } from '../../support/source-delivery.ts';

const NAME = 'CONSTRUCTED-jenkins_notification_finalized.json';
const raw = fixtureBytes(NAME);
const finalized = fixtureJson(NAME);
const normalise = (value: unknown) => jenkinsSource.normalise('jenkins', delivery('{}'), value);
const basic = (credentials: string) => `Basic ${Buffer.from(credentials).toString('base64')}`;

function phase(name: string, status?: string): Record<string, unknown> {
  const body = structuredClone(finalized) as { build: Record<string, unknown> };
  body.build['phase'] = name;
  if (status === undefined) delete body.build['status'];
  else body.build['status'] = status;
  return body;
}

describe('jenkins source: Notification plugin deliveries', () => {
  it('turns a FINALIZED deploy build into one deploy event with its tests and change keys', () => {
    expect(normalise(finalized)).toEqual({
      monitor: [],
      ci: [{
        id: 'jenkins:checkout-api-deploy:142',
        source: 'jenkins',
        kind: 'deploy',
        repo: 'acme/checkout-api',
        commit: '3484a3fb0c5e2b8f4f6c1a3e9d7b2c4a5e6f7081',
        branch: 'feature/ITSM-42-timeout',
        runId: '142',
        name: 'checkout-api-deploy',
        status: 'success',
        environment: 'SIT',
        startedAt: '2026-03-14T08:51:03.000Z',
        finishedAt: '2026-03-14T08:52:27.213Z',
        url: 'https://jenkins.example.com/job/checkout-api-deploy/142/',
        changeKeys: ['ITSM-42', 'CHG0030001'],
        tests: { passed: 409, failed: 0, skipped: 3 },
        findings: null,
        verified: null,
      }],
    });
  });

  it('reports QUEUED and STARTED as not yet known, under the same id, and skips COMPLETED (FINALIZED follows)', () => {
    expect(normalise(phase('QUEUED')).ci[0]).toMatchObject({ id: 'jenkins:checkout-api-deploy:142', status: 'queued', finishedAt: null });
    expect(normalise(phase('STARTED')).ci[0]).toMatchObject({ status: 'running' });
    expect(normalise(phase('COMPLETED', 'SUCCESS'))).toEqual({ ci: [], monitor: [] });
  });

  it('maps Jenkins results: UNSTABLE (failed tests) is a failure, ABORTED cancelled, NOT_BUILT skipped', () => {
    expect(normalise(phase('FINALIZED', 'UNSTABLE')).ci[0]?.status).toBe('failure');
    expect(normalise(phase('FINALIZED', 'FAILURE')).ci[0]?.status).toBe('failure');
    expect(normalise(phase('FINALIZED', 'ABORTED')).ci[0]?.status).toBe('cancelled');
    expect(normalise(phase('FINALIZED', 'NOT_BUILT')).ci[0]?.status).toBe('skipped');
  });

  it('tolerates a build job without scm, parameters or tests (a plain build, not a deploy)', () => {
    const slim = without(finalized, 'build.scm', 'build.parameters', 'build.test_summary', 'build.full_url', 'build.duration', 'display_name');
    (slim['build'] as Record<string, unknown>)['future'] = [1];
    expect(normalise(slim).ci[0]).toMatchObject({ kind: 'build', environment: null, repo: null, commit: null, tests: null, url: null, finishedAt: null, name: 'checkout-api-deploy' });
  });

  it.each([
    ['name', without(finalized, 'name')],
    ['build', without(finalized, 'build')],
    ['build.number', without(finalized, 'build.number')],
    ['build.phase', without(finalized, 'build.phase')],
    ['build.status', phase('FINALIZED')],
    ['build.status', phase('FINALIZED', 'EXPLODED')],
  ])('rejects a body without a usable %s with CG_EVENT_INVALID naming it', (field, body) => {
    let caught: unknown;
    try {
      normalise(body);
    } catch (err) {
      caught = err;
    }
    expect(isChangegateError(caught, 'CG_EVENT_INVALID')).toBe(true);
    expect((caught as { details: { field: string } }).details.field).toBe(field);
  });

  it('reads owner/name from https and scp-style SCM URLs', () => {
    expect(repoFromScmUrl('https://github.com/acme/checkout-api.git')).toBe('acme/checkout-api');
    expect(repoFromScmUrl('git@gitlab.example.com:group/sub/app.git')).toBe('group/sub/app');
    expect(repoFromScmUrl('not a url')).toBeNull();
  });
});

describe('jenkins source: basic auth from the endpoint URL (shared header credentials)', () => {
  it('accepts basic auth whose user:password or password is a configured secret, during rotation too', () => {
    expect(jenkinsSource.verify(delivery(raw, { authorization: basic('jenkins:s3cret') }), ['jenkins:s3cret'])).toEqual({ ok: true });
    expect(jenkinsSource.verify(delivery(raw, { authorization: basic('jenkins:new') }), ['old', 'new'])).toEqual({ ok: true });
    expect(jenkinsSource.verify(delivery(raw, { 'x-changegate-token': 'tok' }), ['tok'])).toEqual({ ok: true });
  });

  it('rejects wrong credentials as invalid and none as missing', () => {
    expect(jenkinsSource.verify(delivery(raw, { authorization: basic('jenkins:guess') }), ['jenkins:s3cret'])).toMatchObject({ ok: false, reason: 'invalid' });
    expect(jenkinsSource.verify(delivery(raw, { 'x-changegate-token': 'tok2' }), ['tok'])).toMatchObject({ ok: false, reason: 'invalid' });
    expect(jenkinsSource.verify(delivery(raw), ['jenkins:s3cret'])).toMatchObject({ ok: false, reason: 'missing' });
    expect(jenkinsSource.deliveryId(delivery(raw))).toBeNull();
  });

  it('never throws on arbitrary headers and accepts none without the secret', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom('authorization', 'x-changegate-token'), fc.string()), (headers) => {
        expect(jenkinsSource.verify(delivery(raw, headers), ['a-long-secret-no-generator-makes']).ok).toBe(false);
      }),
    );
  });
});
