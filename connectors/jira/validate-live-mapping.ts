// `changegate mappings validate --instance ID` for Jira: the mapping file checked
// against the live site rather than against its own schema. Every field the
// mapping names must resolve to exactly one field of the site, every configured
// issue type must exist in every configured project, every status of those
// issue types' workflows must be mapped (else the sync reports each change in
// it), and every mapped status should exist (else it is a typo or a stale entry).

import type { JiraInstance } from './jira-config.ts';
import { suggestKey } from '../../src/kit/mapping-file.ts';
import type { CallContext, JiraClient } from './jira-client.ts';
import { resolveFieldRefs } from './jira-fields.ts';
import type { JiraMapping } from './jira-mapping.ts';

/** Mapping paths (`fields.riskLevel`, `custom.urgency`) that name each field reference. */
function usesOf(mapping: JiraMapping): Map<string, string[]> {
  const uses = new Map<string, string[]>();
  const add = (ref: string | null, path: string): void => {
    if (ref === null) return;
    uses.set(ref, [...(uses.get(ref) ?? []), path]);
  };
  const { links, ...scalar } = mapping.fields;
  for (const [name, ref] of Object.entries(scalar)) add(ref, `fields.${name}`);
  for (const [name, ref] of Object.entries(links)) add(ref, `fields.links.${name}`);
  for (const [name, ref] of mapping.custom) add(ref, `custom.${name}`);
  return uses;
}

/** Problems found, one line each (`<file> <path>: <message>`); empty when the mapping fits the site. */
export async function validateMappingAgainstSite(instance: JiraInstance, mapping: JiraMapping, client: JiraClient, signal?: AbortSignal): Promise<string[]> {
  const ctx: CallContext = { calls: 0, ...(signal ? { signal } : {}) };
  const problems: string[] = [];
  const at = (path: string, message: string): void => {
    problems.push(`${mapping.file} ${path}: ${message}`);
  };

  await client.myself(ctx);
  const fields = await client.fields(ctx);
  const resolution = resolveFieldRefs(mapping.fieldRefs, fields);
  const uses = usesOf(mapping);
  const names = fields.map((f) => f.name);
  for (const ref of resolution.missing) {
    const hint = suggestKey(ref, names);
    for (const path of uses.get(ref) ?? []) {
      at(path, `${instance.id} has no field "${ref}"${hint ? `; did you mean "${hint}"?` : ''}`);
    }
  }
  for (const [ref, ids] of resolution.ambiguous) {
    for (const path of uses.get(ref) ?? []) at(path, `${ids.length} fields of ${instance.id} are named "${ref}" (${ids.join(', ')}); name the one you mean by its id`);
  }

  const seen = new Set<string>();
  for (const project of instance.projects) {
    const types = await client.projectStatuses(project, ctx);
    for (const issueType of instance.issueTypes) {
      const type = types.find((t) => t.issueType === issueType);
      if (type === undefined) {
        problems.push(`${instance.id} issueTypes: project ${project} has no issue type "${issueType}" (it has ${types.map((t) => `"${t.issueType}"`).join(', ') || 'none'})`);
        continue;
      }
      for (const status of type.statuses) {
        seen.add(status.name);
        seen.add(status.id);
        if (!mapping.states.has(status.name) && !mapping.states.has(status.id)) {
          at('statuses', `status "${status.name}" (id ${status.id}) of ${project} / ${issueType} is not mapped; changes in it would be skipped until it is added`);
        }
      }
    }
  }
  for (const status of mapping.states.keys()) {
    if (!seen.has(status)) at(`statuses.${status}`, `no workflow of ${instance.issueTypes.join(', ')} in ${instance.projects.join(', ')} on ${instance.id} has a status "${status}"`);
  }
  return problems;
}
