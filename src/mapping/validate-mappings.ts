// `changegate mappings validate [DIR]`: checks every mapping file an ops team edits,
// choosing the schema by the file's top-level `kind:`. The kinds are handed in
// (each connector declares its own, the policy adds one), so a new system's
// mapping plugs in without touching this file.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { issueLines, parseYamlSource, type YamlSource } from '../config/yaml-source.ts';
import { isChangegateError } from '../errors.ts';
import type { MappingKind, StandardStates } from '../kit/mapping-file.ts';

export interface MappingFileResult {
  file: string;
  ok: boolean;
  /** `file:line:col path: message`, one per issue. */
  errors: string[];
  /** The same form, for what is valid but probably wrong (a standard state left unmapped). */
  warnings: string[];
}

function isYamlFile(name: string): boolean {
  return name.endsWith('.yaml') || name.endsWith('.yml');
}

function listFiles(dirOrFile: string): string[] {
  if (!statSync(dirOrFile).isDirectory()) return [dirOrFile];
  return readdirSync(dirOrFile, { withFileTypes: true })
    .filter((entry) => entry.isFile() && isYamlFile(entry.name))
    .map((entry) => join(dirOrFile, entry.name))
    .toSorted();
}

function errorLines(err: unknown, file: string): string[] {
  if (isChangegateError(err)) {
    const issues = err.details['issues'];
    if (Array.isArray(issues) && issues.every((line) => typeof line === 'string')) return issues;
    const line = typeof err.details['line'] === 'number' ? err.details['line'] : 1;
    const column = typeof err.details['column'] === 'number' ? err.details['column'] : 1;
    const path = typeof err.details['path'] === 'string' && err.details['path'] !== '' ? err.details['path'] : '(root)';
    // A YAML syntax error already starts with `file:line:col:`; keep only what follows.
    const prefix = `${file}:${line}:${column}: `;
    const message = err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
    return [`${file}:${line}:${column} ${path}: ${message}`];
  }
  return [`${file}:1:1 (root): ${err instanceof Error ? err.message : String(err)}`];
}

/** Issues in file order, so an ops team can fix them top to bottom. */
function byLine(file: string, lines: string[]): string[] {
  const position = (line: string): number => {
    const [row = '0', column = '0'] = line.slice(file.length + 1).split(':', 2);
    return (Number.parseInt(row, 10) || 0) * 10_000 + (Number.parseInt(column, 10) || 0);
  };
  return lines.map((line) => ({ line, at: line.startsWith(`${file}:`) ? position(line) : 0 })).toSorted((a, b) => a.at - b.at).map((entry) => entry.line);
}

/** Standard states of the system the file's `section` does not map (a valid file only). */
function unmappedStandardStates(source: YamlSource, standard: StandardStates): string[] {
  const data = source.data as Record<string, unknown>;
  const mapped = data[standard.section];
  if (mapped === null || typeof mapped !== 'object') return [];
  const keys = new Set(Object.keys(mapped).map((k) => k.toLowerCase()));
  const pos = source.positionOf([standard.section]);
  return standard.states
    .filter((s) => !keys.has(s.value.toLowerCase()))
    .map(
      (s) =>
        `${source.file}:${pos.line}:${pos.column} ${standard.section}: the standard state ${JSON.stringify(s.value)} (${s.label}, ${standard.source}) is not mapped, so sync rejects every change in it (CG_MAPPING_UNKNOWN_VALUE); add \`${JSON.stringify(s.value)}: ${s.suggested}\` (or the canonical state your site means by it)`,
    );
}

interface Checks {
  validators: ReadonlyMap<string, MappingKind['validate']>;
  warned: ReadonlyMap<string, NonNullable<MappingKind['warnings']>>;
  standards: ReadonlyMap<string, StandardStates>;
}

function validateFile(file: string, { validators, warned, standards }: Checks, warnings: string[]): string[] {
  let source: YamlSource;
  try {
    source = parseYamlSource(readFileSync(file, 'utf8'), file, 'CG_MAPPING_INVALID');
  } catch (err) {
    if (isChangegateError(err)) return errorLines(err, file);
    return [`${file}:1:1 (root): cannot read file (${(err as NodeJS.ErrnoException).code ?? String(err)})`];
  }
  const kinds = [...validators.keys()].toSorted().join(', ');
  const data = source.data;
  const kind = typeof data === 'object' && data !== null && !Array.isArray(data) ? (data as Record<string, unknown>)['kind'] : undefined;
  // A kind's validator lists them with its own issues; without one (or one that passed) they are still errors.
  const duplicates = issueLines(file, source.duplicates);
  if (kind === undefined) return [`${file}:1:1 kind: missing; a mapping file starts with kind: (one of ${kinds})`, ...duplicates];
  const validate = typeof kind === 'string' ? validators.get(kind) : undefined;
  if (validate === undefined) {
    const pos = source.positionOf(['kind']);
    return [`${file}:${pos.line}:${pos.column} kind: unknown kind ${JSON.stringify(kind)}; expected one of ${kinds}`, ...duplicates];
  }
  try {
    validate(source);
    if (duplicates.length > 0) return duplicates;
    warnings.push(...(warned.get(kind as string)?.(source) ?? []));
    const standard = standards.get(kind as string);
    if (standard) warnings.push(...unmappedStandardStates(source, standard));
    return [];
  } catch (err) {
    return errorLines(err, file);
  }
}

/**
 * Validates one file, or every `*.yaml` / `*.yml` file directly inside a directory,
 * reporting every error rather than stopping at the first.
 */
export function validateMappingFiles(dirOrFiles: string, kinds: readonly MappingKind[]): MappingFileResult[] {
  const checks: Checks = {
    validators: new Map(kinds.map((k) => [k.kind, k.validate] as const)),
    warned: new Map(kinds.flatMap((k) => (k.warnings ? [[k.kind, k.warnings] as const] : []))),
    standards: new Map(kinds.flatMap((k) => (k.standardStates ? [[k.kind, k.standardStates] as const] : []))),
  };
  let files: string[];
  try {
    files = listFiles(dirOrFiles);
  } catch (err) {
    return [{ file: dirOrFiles, ok: false, warnings: [], errors: [`${dirOrFiles}:1:1 (root): cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`] }];
  }
  return files.map((file) => {
    const warnings: string[] = [];
    const errors = validateFile(file, checks, warnings);
    return { file, ok: errors.length === 0, errors: byLine(file, errors), warnings };
  });
}
