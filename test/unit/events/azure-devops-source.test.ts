import { describe, expect, it } from 'vitest';
import { isChangegateError } from '../../../src/errors.ts';
import { azureDevopsSource } from '../../../src/events/sources/azure-devops.ts';
import { delivery, fixtureBytes, fixtureJson, without } from '../../support/source-delivery.ts';

const BUILD = 'CONSTRUCTED-azure_devops_build_complete.json';
const RELEASE = 'CONSTRUCTED-azure_devops_release_deployment_completed.json';
const build = fixtureJson(BUILD);
const release = fixtureJson(RELEASE);
const normalise = (value: unknown) => azureDevopsSource.normalise('ado', delivery('{}'), value);

describe('azure devops source: service hooks', () => {
  it('turns build.complete into a build event with branch, commit and change keys', () => {
    expect(normalise(build)).toEqual({
      monitor: [],
      ci: [{
        id: 'ado:build:4711',
        source: 'ado',
        kind: 'build',
        repo: 'acme/checkout-api',
        commit: '3484a3fb0c5e2b8f4f6c1a3e9d7b2c4a5e6f7081',
        branch: 'feature/CHG0030001-timeout',
        runId: '4711',
        name: 'checkout-api-ci',
        status: 'success',
        environment: null,
        startedAt: '2026-03-14T08:45:20.123Z',
        finishedAt: '2026-03-14T08:52:03.900Z',
        url: 'https://dev.azure.com/acme/checkout/_build/results?buildId=4711',
        changeKeys: ['CHG0030001', 'ITSM-42'],
        tests: null,
        findings: null,
        verified: null,
      }],
    });
  });

  it('turns a release deployment-completed event into a deploy of that stage, the commit taken from the primary artifact', () => {
    expect(normalise(release).ci[0]).toMatchObject({
      id: 'ado:deployment:902',
      kind: 'deploy',
      environment: 'UAT',
      status: 'success',
      commit: '3484a3fb0c5e2b8f4f6c1a3e9d7b2c4a5e6f7081',
      branch: 'main',
      repo: 'acme/checkout-api',
      name: 'Release-58',
      finishedAt: '2026-03-14T09:14:42.250Z',
      url: 'https://dev.azure.com/acme/checkout/_release?releaseId=58',
      changeKeys: ['CHG0030001'],
    });
  });

  it('maps PartiallySucceeded to failure and Stopped/canceled to cancelled', () => {
    const partial = structuredClone(build) as { resource: Record<string, unknown> };
    partial.resource['result'] = 'partiallySucceeded';
    expect(normalise(partial).ci[0]?.status).toBe('failure');
    partial.resource['result'] = 'canceled';
    expect(normalise(partial).ci[0]?.status).toBe('cancelled');
  });

  it('reads a XAML-era build (outcome in status, branch and sha in sourceGetVersion)', () => {
    const legacy = without(build, 'resource.result', 'resource.sourceBranch', 'resource.sourceVersion', 'resource._links', 'resource.repository', 'resource.triggerInfo');
    const resource = legacy['resource'] as Record<string, unknown>;
    resource['status'] = 'succeeded';
    resource['sourceGetVersion'] = 'LG:refs/heads/master:600c52d2d5b655caa111abfd863e5a9bd304bb0e';
    expect(normalise(legacy).ci[0]).toMatchObject({
      status: 'success', branch: 'master', commit: '600c52d2d5b655caa111abfd863e5a9bd304bb0e', repo: null,
      url: 'https://dev.azure.com/acme/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/_apis/build/Builds/4711',
    });
  });

  it('tolerates a deployment event without deployment, artifacts or links, and ignores other event types', () => {
    const slim = without(release, 'resource.deployment', 'resource.release.artifacts', 'resource.release._links', 'resource.release.url');
    expect(normalise(slim).ci[0]).toMatchObject({ id: 'ado:deployment:58-311', status: 'success', commit: null, url: null, startedAt: null });
    expect(normalise({ eventType: 'git.push', resource: {} })).toEqual({ ci: [], monitor: [] });
  });

  it.each([
    ['eventType', without(build, 'eventType')],
    ['resource', without(build, 'resource')],
    ['resource.id', without(build, 'resource.id')],
    ['resource.status', without(build, 'resource.result', 'resource.status')],
    ['resource.environment', without(release, 'resource.environment')],
    ['resource.deployment.deploymentStatus', { ...release, resource: { ...(release['resource'] as object), deployment: { id: 1, deploymentStatus: 'exploded' } } }],
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
});

describe('azure devops source: credentials and delivery id', () => {
  const raw = fixtureBytes(BUILD);
  it('accepts the configured custom header or basic auth, with several secrets during rotation', () => {
    expect(azureDevopsSource.verify(delivery(raw, { 'x-changegate-token': 'new' }), ['old', 'new'])).toEqual({ ok: true });
    expect(azureDevopsSource.verify(delivery(raw, { authorization: `Basic ${Buffer.from('ado:old').toString('base64')}` }), ['old', 'new'])).toEqual({ ok: true });
    expect(azureDevopsSource.verify(delivery(raw, { 'x-changegate-token': 'nope' }), ['old', 'new'])).toMatchObject({ ok: false, reason: 'invalid' });
    expect(azureDevopsSource.verify(delivery(raw), ['old'])).toMatchObject({ ok: false, reason: 'missing' });
  });

  it('names the delivery by the notification id in the body', () => {
    expect(azureDevopsSource.deliveryId(delivery(raw))).toBe('8d3c2b1a-0f9e-4d8c-b7a6-5f4e3d2c1b0a');
    expect(azureDevopsSource.deliveryId(delivery('<html>'))).toBeNull();
  });
});
