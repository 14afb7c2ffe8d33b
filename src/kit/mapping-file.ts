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
}
