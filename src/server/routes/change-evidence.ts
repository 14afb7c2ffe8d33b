// GET /v1/changes/:key/evidence: the change's evidence bundle (src/evidence),
// the same document `changegate evidence export` writes, for an auditor's tool
// to fetch and check offline with `changegate evidence verify`; signed with the
// deployment's key (`evidence.signingKey`) when it has one.

import type { KeyObject } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { buildBundle, BUNDLE_FORMAT } from '../../evidence/evidence-bundle.ts';
import { EVIDENCE_KINDS } from '../../evidence/evidence-entry.ts';
import { ChangegateError } from '../../errors.ts';
import type { ChangeStore } from '../../store/change-store.ts';
import type { EvidenceStore } from '../../store/evidence-store.ts';
import { defineRoute, registerRoute } from '../route-contract.ts';

const Entry = z.object({
  changeId: z.string(),
  seq: z.number().int(),
  kind: z.enum(EVIDENCE_KINDS),
  at: z.string(),
  actor: z.string().nullable(),
  source: z.string(),
  summary: z.string(),
  payloadHash: z.string().meta({ description: 'SHA-256 (hex) of the canonical JSON (RFC 8785) of `payload`.' }),
  prevHash: z.string().meta({ description: 'The hash of the entry before; 64 zeros for the first.' }),
  hash: z.string().meta({ description: 'SHA-256 (hex) of the canonical JSON of every other field but `payload`.' }),
  payload: z.unknown(),
});

export const ChangeEvidenceRoute = defineRoute({
  method: 'GET',
  url: '/v1/changes/:key/evidence',
  operationId: 'getChangeEvidence',
  summary: 'The change\'s evidence ledger as a bundle an auditor can verify offline',
  description: 'Every entry with its payload and hash chain, and the head. Check it with `changegate evidence verify FILE --public-key KEY`. Signed with the deployment\'s Ed25519 key (`evidence.signingKey`) when one is configured, else `signature` is null.',
  tags: ['changes'],
  access: 'token',
  params: z.object({ key: z.string().min(1).max(200).meta({ description: 'Key (`CHG0030001`, `ITSM-42`) or id (`servicenow:sn-prod:<sys_id>`).' }) }),
  query: z.object({ instance: z.string().min(1).optional().meta({ description: 'Look the key up on this instance only.' }) }).strict(),
  answers: {
    200: {
      description: 'The bundle',
      schema: z.object({
        format: z.literal(BUNDLE_FORMAT),
        change: z.object({ id: z.string(), key: z.string(), instance: z.string(), title: z.string() }),
        exportedAt: z.string(),
        entries: z.array(Entry),
        head: z.object({ seq: z.number().int(), hash: z.string() }).nullable(),
        signature: z
          .object({
            algorithm: z.literal('Ed25519'),
            publicKey: z.string().meta({ description: 'The signer\'s public key, SPKI DER in base64: compare it with the key the deployment publishes (`changegate evidence public-key`).' }),
            value: z.string().meta({ description: 'Base64 Ed25519 signature over the canonical JSON of `{format, change, exportedAt, head}`.' }),
          })
          .nullable(),
      }),
    },
  },
  errors: ['CG_NOT_FOUND'],
  store: true,
});

export function registerChangeEvidenceRoute(app: FastifyInstance, deps: { store: ChangeStore; evidence: EvidenceStore; signingKey: KeyObject | null }): void {
  registerRoute(app, ChangeEvidenceRoute, async ({ params: { key }, query: q }) => {
    const mirrored = await deps.store.getChange(key, { withoutRaw: true, children: { approvals: false, journal: false }, ...(q.instance ? { instance: q.instance } : {}) });
    if (!mirrored) throw new ChangegateError('CG_NOT_FOUND', `no mirrored change "${key}"`, { details: { field: 'key', key } });
    const c = mirrored.change;
    return buildBundle({ id: c.id, key: c.key, instance: c.instance, title: c.title }, await deps.evidence.list(c.id), new Date().toISOString(), deps.signingKey);
  });
}
