// Argo CD notifications. Argo CD posts the body its template renders, so the
// body is ours: docs/argocd-notifications.md holds the template (marked
// `"template": "changegate/v1"`) and the triggers. A deploy is `verified` when
// Argo CD reports the application Healthy after the sync, the evidence the
// post-deploy gates want. Argo CD cannot sign: a header token or basic auth.

import type { CiStatus } from '../../domain/events.ts';
import type { EventSourceKind, NormalisedEvents, SourceDelivery } from '../event-source-kit.ts';
import { extractChangeKeys } from './change-keys.ts';
import { verifyHeaderCredentials } from './header-credentials.ts';
import { bodyObject, invalidEvent, repoFromScmUrl, requireText, text, timeField, type Json } from './payload-fields.ts';

const KIND = 'argocd';
export const ARGOCD_TEMPLATE = 'changegate/v1';

/** Argo CD's OperationPhase values. */
const PHASES: Readonly<Record<string, CiStatus>> = {
  Succeeded: 'success', Failed: 'failure', Error: 'failure', Running: 'running', Terminating: 'cancelled',
};

/** Go templates render a missing map entry as `<no value>`, and older templates may quote null. */
function field(body: Json, name: string): string | null {
  const value = text(body, name);
  return value === null || value === '<no value>' || value === 'null' ? null : value;
}

/** The template renders Argo CD's times with `toJson` (RFC 3339 in UTC, or null); an older template's `<no value>` is none too. */
const time = (body: Json, name: string): string | null => (field(body, name) === null ? null : timeField(KIND, body, name));

function verified(health: string | null): boolean | null {
  if (health === 'Healthy') return true;
  if (health === 'Degraded' || health === 'Missing') return false;
  return null;
}

export function normaliseArgocd(sourceId: string, _delivery: SourceDelivery, raw: unknown): NormalisedEvents {
  const body = bodyObject(KIND, raw);
  const template = requireText(KIND, body, 'template');
  if (template !== ARGOCD_TEMPLATE) throw invalidEvent(KIND, 'template', `is not a template this version reads (${ARGOCD_TEMPLATE})`, template);
  const app = requireText(KIND, body, 'app');
  const phase = requireText(KIND, body, 'phase');
  const status = PHASES[phase];
  if (status === undefined) throw invalidEvent(KIND, 'phase', `is not an Argo CD operation phase: ${phase}`, phase);
  const startedAt = time(body, 'startedAt');
  const targetRevision = field(body, 'targetRevision');
  return {
    ci: [{
      // One sync operation is one deploy; the health report that follows it updates the same event.
      id: `${sourceId}:${app}:${startedAt ?? field(body, 'revision') ?? 'unknown'}`,
      source: sourceId,
      kind: 'deploy',
      repo: repoFromScmUrl(field(body, 'repoURL')),
      commit: field(body, 'revision'),
      branch: targetRevision,
      runId: startedAt === null ? app : `${app}@${startedAt}`,
      name: app,
      status,
      environment: field(body, 'environment') ?? field(body, 'namespace'),
      startedAt,
      finishedAt: time(body, 'finishedAt'),
      url: field(body, 'url'),
      changeKeys: extractChangeKeys(field(body, 'changeKey'), targetRevision, field(body, 'message'), app),
      tests: null,
      findings: null,
      verified: verified(field(body, 'health')),
    }],
    monitor: [],
  };
}

export const argocdSource: EventSourceKind = {
  kind: KIND,
  signs: false,
  verify: verifyHeaderCredentials,
  // Argo CD sends no delivery id; its retries resend the same rendered body, so the body hash de-duplicates them.
  deliveryId: () => null,
  normalise: normaliseArgocd,
};
