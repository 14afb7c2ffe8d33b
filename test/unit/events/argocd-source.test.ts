import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isChangegateError } from '../../../src/errors.ts';
import { argocdSource } from '../../../src/events/sources/argocd.ts';
import { delivery, fixtureBytes, fixtureJson, without } from '../../support/source-delivery.ts';

const NAME = 'CONSTRUCTED-argocd_changegate_v1_deployed.json';
const deployed = fixtureJson(NAME);
const normalise = (value: unknown) => argocdSource.normalise('argocd', delivery('{}'), value);

describe('argocd source: the changegate/v1 template', () => {
  it('turns a synced, healthy application into a verified deploy of its environment', () => {
    expect(normalise(deployed)).toEqual({
      monitor: [],
      ci: [{
        id: 'argocd:checkout-api-uat:2026-03-14T09:20:01.000Z',
        source: 'argocd',
        kind: 'deploy',
        repo: 'acme/checkout-deploy',
        commit: '3484a3fb0c5e2b8f4f6c1a3e9d7b2c4a5e6f7081',
        branch: 'release/CHG0030001',
        runId: 'checkout-api-uat@2026-03-14T09:20:01.000Z',
        name: 'checkout-api-uat',
        status: 'success',
        environment: 'UAT',
        startedAt: '2026-03-14T09:20:01.000Z',
        finishedAt: '2026-03-14T09:20:44.000Z',
        url: 'https://argocd.example.com/applications/checkout-api-uat',
        changeKeys: ['CHG0030001'],
        tests: null,
        findings: null,
        verified: true,
      }],
    });
  });

  it('marks a degraded application unverified, a failed sync a failure, and a progressing one unknown', () => {
    expect(normalise({ ...deployed, health: 'Degraded' }).ci[0]?.verified).toBe(false);
    expect(normalise({ ...deployed, phase: 'Failed', health: 'Progressing' }).ci[0]).toMatchObject({ status: 'failure', verified: null });
    expect(normalise({ ...deployed, phase: 'Error' }).ci[0]?.status).toBe('failure');
  });

  it('falls back to the namespace when the environment label is absent, and treats "<no value>" as absent', () => {
    const unlabelled = { ...deployed, environment: '<no value>', changeKey: 'ITSM-42', targetRevision: 'HEAD', extra: { x: 1 } };
    expect(normalise(unlabelled).ci[0]).toMatchObject({ environment: 'checkout-uat', changeKeys: ['ITSM-42'] });
    expect(normalise(without(deployed, 'repoURL', 'revision', 'health', 'url', 'finishedAt', 'message')).ci[0]).toMatchObject({ repo: null, commit: null, verified: null, url: null });
  });

  it.each([
    ['template', without(deployed, 'template')],
    ['template', { ...deployed, template: 'someone-elses/v9' }],
    ['app', without(deployed, 'app')],
    ['phase', without(deployed, 'phase')],
    ['phase', { ...deployed, phase: 'Exploded' }],
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

  it('documents a template whose fields are the ones the source reads', () => {
    const doc = readFileSync(resolve(import.meta.dirname, '../../../docs/argocd-notifications.md'), 'utf8');
    for (const key of Object.keys(deployed)) expect(doc).toContain(`"${key}":`);
    expect(doc).toContain('"template": "changegate/v1"');
  });

  it('checks the header token or basic auth', () => {
    const raw = fixtureBytes(NAME);
    expect(argocdSource.verify(delivery(raw, { 'x-changegate-token': 't2' }), ['t1', 't2'])).toEqual({ ok: true });
    expect(argocdSource.verify(delivery(raw, { 'x-changegate-token': 't3' }), ['t1', 't2'])).toMatchObject({ ok: false, reason: 'invalid' });
    expect(argocdSource.verify(delivery(raw), ['t1'])).toMatchObject({ ok: false, reason: 'missing' });
    expect(argocdSource.deliveryId(delivery(raw))).toBeNull();
  });
});
