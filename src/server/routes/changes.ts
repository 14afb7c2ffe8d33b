// GET /v1/changes (paged list) and GET /v1/changes/:key (one mirrored change
// with approvals, journal and revisions).

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { CANONICAL_STATES } from '../../domain/change.ts';
import { ChangegateError } from '../../errors.ts';
import type { ChangeStore } from '../../store/change-store.ts';
import { parseInput } from '../validate-input.ts';

const listQuery = (systems: readonly string[]) => z
  .object({
    system: z.enum(systems as [string, ...string[]]).optional(),
    instance: z.string().min(1).optional(),
    state: z.enum(CANONICAL_STATES).optional(),
    updatedSince: z.iso.datetime({ offset: true }).optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    cursor: z.string().min(1).optional(),
  })
  .strict();

const KeyParams = z.object({ key: z.string().min(1).max(200) });

export function registerChangeRoutes(app: FastifyInstance, store: ChangeStore, systems: readonly string[]): void {
  const ListQuery = listQuery(systems);
  app.get('/v1/changes', async (request) => {
    const q = parseInput(ListQuery, request.query, 'query');
    const page = await store.listChanges({
      limit: q.limit,
      ...(q.system ? { system: q.system } : {}),
      ...(q.instance ? { instance: q.instance } : {}),
      ...(q.state ? { state: q.state } : {}),
      ...(q.updatedSince ? { updatedSince: new Date(q.updatedSince).toISOString() } : {}),
      ...(q.cursor ? { cursor: q.cursor } : {}),
    });
    return { items: page.items, nextCursor: page.nextCursor };
  });

  app.get('/v1/changes/:key', async (request) => {
    const { key } = parseInput(KeyParams, request.params, 'params');
    const mirrored = await store.getChange(key);
    if (!mirrored) throw new ChangegateError('CG_NOT_FOUND', `no mirrored change "${key}"`, { details: { field: 'key', key } });
    const revisions = await store.listRevisions(mirrored.change.id);
    return { ...mirrored, revisions };
  });
}
