// Field references of a mapping ("Change risk", `summary`, `customfield_10045`)
// → the site's field ids, from `GET /rest/api/3/field`. Custom field ids differ
// from site to site, so none is hard-coded. The list is cached per instance and
// fetched again when a reference is missing (a field created after start-up),
// at most once per `missRetryMs`.

import { ChangegateError } from '../../src/errors.ts';
import type { Logger } from '../../src/kit/logger.ts';
import type { CallContext, FieldInfo, JiraClient } from './jira-client.ts';

export interface FieldResolution {
  /** Reference → the site's field; null when the site has no such field. */
  byRef: ReadonlyMap<string, FieldInfo | null>;
  missing: readonly string[];
  /** Reference → ids of the fields that share its name. */
  ambiguous: ReadonlyMap<string, readonly string[]>;
  /**
   * JSM's Approvals field (schema type `sd-approvals`), when the site has exactly
   * one and is Cloud: a search that asks for it carries every issue's approvals,
   * so none needs a request of its own. Null otherwise (approvals are read per issue).
   */
  approvals: FieldInfo | null;
}

function unique(candidates: readonly FieldInfo[]): FieldInfo | readonly FieldInfo[] | null {
  if (candidates.length === 0) return null;
  return candidates.length === 1 ? (candidates[0] as FieldInfo) : candidates;
}

/**
 * Id first, then exact name, then the untranslated (site-language-independent)
 * name, then a case-insensitive name. Several fields answering to one step is
 * ambiguous: picking one would be a guess.
 */
function lookup(ref: string, fields: readonly FieldInfo[]): FieldInfo | readonly FieldInfo[] | null {
  const byId = fields.find((f) => f.id === ref);
  if (byId) return byId;
  const lower = ref.toLowerCase();
  const steps: ((f: FieldInfo) => boolean)[] = [(f) => f.name === ref, (f) => f.untranslatedName === ref, (f) => f.name.toLowerCase() === lower || f.untranslatedName?.toLowerCase() === lower];
  for (const step of steps) {
    const found = unique(fields.filter(step));
    if (found !== null) return found;
  }
  return null;
}

/** [UNVERIFIED] type of JSM's Approvals field; its value mirrors `GET /rest/servicedeskapi/request/{key}/approval`. */
export const JSM_APPROVALS_SCHEMA_TYPE = 'sd-approvals';

export function resolveFieldRefs(refs: readonly string[], fields: readonly FieldInfo[], flavor: 'cloud' | 'datacenter' = 'cloud'): FieldResolution {
  const byRef = new Map<string, FieldInfo | null>();
  const missing: string[] = [];
  const ambiguous = new Map<string, string[]>();
  for (const ref of new Set(refs)) {
    const found = lookup(ref, fields);
    if (found === null) missing.push(ref);
    if (Array.isArray(found)) ambiguous.set(ref, found.map((f: FieldInfo) => f.id));
    byRef.set(ref, found === null || Array.isArray(found) ? null : (found as FieldInfo));
  }
  // Data Center's rendering of the field is not documented anywhere we could check, so DC keeps the per-issue read.
  const approvalFields = flavor === 'cloud' ? fields.filter((f) => f.schemaType === JSM_APPROVALS_SCHEMA_TYPE) : [];
  return { byRef, missing, ambiguous, approvals: approvalFields.length === 1 ? (approvalFields[0] as FieldInfo) : null };
}

export interface FieldResolver {
  /** Resolved references; throws CG_JIRA_FIELD_AMBIGUOUS when a name matches several fields. */
  resolve(ctx: CallContext): Promise<FieldResolution>;
}

export interface FieldResolverOptions {
  logger: Logger;
  mappingFile: string;
  missRetryMs?: number;
  now?: () => number;
}

export function createFieldResolver(client: JiraClient, refs: readonly string[], options: FieldResolverOptions): FieldResolver {
  const missRetryMs = options.missRetryMs ?? 300_000;
  const now = options.now ?? Date.now;
  let cached: { resolution: FieldResolution; at: number } | null = null;
  let pending: Promise<FieldResolution> | null = null;

  async function load(ctx: CallContext): Promise<FieldResolution> {
    const resolution = resolveFieldRefs(refs, await client.fields(ctx), client.flavor);
    if (resolution.ambiguous.size > 0) {
      const list = [...resolution.ambiguous].map(([ref, ids]) => `"${ref}" (${ids.join(', ')})`).join(', ');
      throw new ChangegateError(
        'CG_JIRA_FIELD_AMBIGUOUS',
        `${client.instanceId}: several Jira fields share the name ${list}; name the one you mean by its id in ${options.mappingFile}`,
        { details: { instance: client.instanceId, file: options.mappingFile, fields: Object.fromEntries(resolution.ambiguous) } },
      );
    }
    if (resolution.missing.length > 0) {
      options.logger.warn(
        { instance: client.instanceId, missing: resolution.missing, file: options.mappingFile },
        'the Jira site has no field named %s; those canonical fields stay empty until it does or the mapping changes',
        resolution.missing.map((m) => `"${m}"`).join(', '),
      );
    }
    cached = { resolution, at: now() };
    return resolution;
  }

  return {
    async resolve(ctx) {
      if (cached !== null && (cached.resolution.missing.length === 0 || now() - cached.at < missRetryMs)) return cached.resolution;
      pending ??= load(ctx).finally(() => {
        pending = null;
      });
      return pending;
    },
  };
}
