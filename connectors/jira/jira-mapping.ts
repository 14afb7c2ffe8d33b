// A `kind: jira-mapping` file, loaded and compiled into lookups once.

import { fileURLToPath } from 'node:url';
import type { ApprovalState, CanonicalState, ChangeType, Level } from '../../src/domain/change.ts';
import { loadYamlFile, validateYamlSource, type YamlSource } from '../../src/kit/mapping-file.ts';
import { JiraMappingFile, type JiraFields, type JiraStandIns } from './jira-mapping-schema.ts';

export interface JiraMapping {
  /** The mapping file as configured; named in every CG_MAPPING_UNKNOWN_VALUE. */
  file: string;
  /** Status name (or id) → canonical state. */
  states: ReadonlyMap<string, CanonicalState>;
  types: ReadonlyMap<string, ChangeType>;
  defaultType: ChangeType | null;
  /** Field reference → (option value → level). */
  levels: ReadonlyMap<string, ReadonlyMap<string, Level>>;
  approvalStates: ReadonlyMap<string, ApprovalState>;
  fields: JiraFields;
  /** What stands in for the fields `fields` leaves null. */
  standIns: JiraStandIns;
  /** `[canonical custom name, field reference]` pairs. */
  custom: ReadonlyArray<readonly [string, string]>;
  /** Every field reference the mapping reads, for resolution against the site. */
  fieldRefs: readonly string[];
}

/** Absolute path of the shipped default mapping. */
export const DEFAULT_JIRA_MAPPING: string = fileURLToPath(new URL('../../mappings/jira.default.yaml', import.meta.url));

function compile(data: JiraMappingFile, file: string): JiraMapping {
  const levels = new Map<string, ReadonlyMap<string, Level>>();
  for (const [field, table] of Object.entries(data.levels)) levels.set(field, new Map(Object.entries(table)));
  const custom = Object.entries(data.custom);
  const { links, ...scalar } = data.fields;
  const refs = [...Object.values(scalar), ...Object.values(links), ...custom.map(([, ref]) => ref)];
  return {
    file,
    states: new Map(Object.entries(data.statuses)),
    types: new Map(Object.entries(data.types)),
    defaultType: data.defaultType,
    levels,
    approvalStates: new Map(Object.entries(data.approvalStates)),
    fields: data.fields,
    standIns: data.standIns,
    custom,
    fieldRefs: [...new Set(refs.filter((ref): ref is string => ref !== null))],
  };
}

/** Validates a parsed `kind: jira-mapping` source; throws CG_MAPPING_INVALID listing every issue. */
export function validateJiraMappingSource(source: YamlSource): void {
  validateYamlSource(source, JiraMappingFile, 'CG_MAPPING_INVALID');
}

/** Loads and validates a mapping file; CG_MAPPING_INVALID names file:line:path of each mistake. */
export function loadJiraMapping(file: string = DEFAULT_JIRA_MAPPING): JiraMapping {
  return compile(loadYamlFile(file, JiraMappingFile, 'CG_MAPPING_INVALID'), file);
}
