// Overrides and waivers that name an instance the configuration does not have
// never apply. A policy file may be shared by deployments with different
// instances, so this is a warning (`config validate`, `mappings validate
// --config`, `serve` at start, `check` on stderr), never a refusal as an
// unknown system is.

import { issueLines, placeIssue, type YamlPath, type YamlSource } from '../config/yaml-source.ts';
import { suggestKey } from '../mapping/strict-object.ts';
import { listText } from './gates/gate.ts';
import type { PolicyFile } from './policy-schema.ts';

/** One `file:line:col path: message` line per override or waiver on an instance not in `instances`. */
export function unknownInstanceWarnings(source: YamlSource, policy: Pick<PolicyFile, 'overrides' | 'waivers'>, instances: readonly string[]): string[] {
  const known = new Set(instances);
  const has = instances.length === 0 ? 'it has none' : `it has ${listText(instances)}`;
  const warn = (path: YamlPath, instance: string | undefined, what: string) => {
    if (instance === undefined || known.has(instance)) return [];
    const hint = suggestKey(instance, instances);
    return [placeIssue(source, path, `no instance "${instance}" in the configuration (${has}), so this ${what} never applies${hint === null ? '' : `; did you mean "${hint}"?`}`)];
  };
  return issueLines(source.file, [
    ...policy.overrides.flatMap((o, i) => warn(['overrides', i, 'match', 'instance'], o.match.instance, 'override')),
    ...policy.waivers.flatMap((w, i) => warn(['waivers', i, 'instance'], w.instance, 'waiver')),
  ]);
}
