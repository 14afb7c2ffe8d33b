// What a connector needs to declare and read its mapping files: YAML read with
// positions (errors name file, line and path), strict objects that suggest the
// key meant, and the declaration of a mapping kind for `mappings validate`.

import type { YamlSource } from '../config/yaml-source.ts';

export { loadYamlFile, validateYamlSource, type YamlSource } from '../config/yaml-source.ts';
export { strictObject, suggestKey } from '../mapping/strict-object.ts';

/** A kind of mapping file (its top-level `kind:`), with the validator `changegate mappings validate` runs on it. */
export interface MappingKind {
  kind: string;
  /** Throws CG_MAPPING_INVALID whose `details.issues` lists `file:line:col path: message` lines. */
  validate(source: YamlSource): void;
  /** Once `validate` passed: what is valid but probably a mistake, as `file:line:col path: message` lines. */
  warnings?(source: YamlSource): readonly string[];
  /**
   * The states a site of this system has unless it was customised (ServiceNow's
   * out-of-box change states, the JSM change template's statuses): a mapping
   * that leaves one out loses every change in it, so `mappings validate` warns.
   */
  standardStates?: StandardStates;
}

export interface StandardStates {
  /** The top-level key of the mapping file that maps them (`states`, `statuses`). */
  section: string;
  /** Where the list comes from, said in the warning. */
  source: string;
  states: readonly { value: string; label: string; suggested: string }[];
}
