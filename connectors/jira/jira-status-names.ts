// Status ids a mapping keys statuses by (`"10204": scheduled`) → the site's
// status names, from `GET /project/{key}/statuses` of each configured project.
// The verdict property names each target status for the Forge validator, which
// compares the transition's target name: an id there refuses every move into the
// status. The list is cached per instance and fetched again when an id is
// missing (a status created after start-up), at most once per `missRetryMs`.

import type { Logger } from '../../src/kit/logger.ts';
import type { CallContext, JiraClient } from './jira-client.ts';

export interface StatusNameResolver {
  /** Id → the site's name, for each of `ids` the site has; an id it lacks is left out (and warned about once). */
  names(ids: readonly string[], ctx: CallContext): Promise<ReadonlyMap<string, string>>;
}

export interface StatusNameResolverOptions {
  logger: Logger;
  mappingFile: string;
  missRetryMs?: number;
  now?: () => number;
}

export function createStatusNameResolver(client: JiraClient, projects: readonly string[], options: StatusNameResolverOptions): StatusNameResolver {
  const missRetryMs = options.missRetryMs ?? 300_000;
  const now = options.now ?? Date.now;
  let cached: { byId: ReadonlyMap<string, string>; at: number } | null = null;
  let pending: Promise<ReadonlyMap<string, string>> | null = null;
  const warned = new Set<string>();

  async function load(ctx: CallContext): Promise<ReadonlyMap<string, string>> {
    const byId = new Map<string, string>();
    // Status ids are site-wide (a team-managed project's own statuses get ids of their own), so one table serves every project.
    for (const project of projects) for (const type of await client.projectStatuses(project, ctx)) for (const s of type.statuses) byId.set(s.id, s.name);
    cached = { byId, at: now() };
    return byId;
  }

  async function table(ids: readonly string[], ctx: CallContext): Promise<ReadonlyMap<string, string>> {
    if (cached !== null && (ids.every((id) => cached?.byId.has(id)) || now() - cached.at < missRetryMs)) return cached.byId;
    pending ??= load(ctx).finally(() => {
      pending = null;
    });
    return pending;
  }

  return {
    async names(ids, ctx) {
      const byId = await table(ids, ctx);
      const found = new Map<string, string>();
      const gone: string[] = [];
      for (const id of ids) {
        const name = byId.get(id);
        if (name !== undefined) found.set(id, name);
        else if (!warned.has(id)) gone.push(id);
      }
      if (gone.length > 0) {
        for (const id of gone) warned.add(id);
        options.logger.warn(
          { instance: client.instanceId, statuses: gone, projects, file: options.mappingFile },
          'no workflow of %s has a status with id %s; the verdict property names it by that id, which the Forge validator never matches, so it refuses every move into it; name an existing status in the mapping',
          projects.join(', '),
          gone.map((id) => `"${id}"`).join(', '),
        );
      }
      return found;
    },
  };
}
