// YAML files that remember where each value came from, so every validation
// error names file, line and path (config, mappings and policy all use this).

import { readFileSync } from 'node:fs';
import { isAlias, isMap, isNode, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type YAMLMap } from 'yaml';
import { suggestKey } from '../mapping/strict-object.ts';
import type { z } from 'zod';
import { ChangegateError, type ErrorCode } from '../errors.ts';
import { plainIssues } from './plain-issues.ts';

export type YamlPath = readonly PropertyKey[];

export interface YamlSource {
  file: string;
  data: unknown;
  /** 1-based line and column of the value at `path`, or of its nearest existing parent. */
  positionOf(path: YamlPath): { line: number; column: number };
  /** Character offset where the value at exactly `path` starts in the text parsed, or null when there is none. */
  offsetOf(path: YamlPath): number | null;
  /** Keys given twice in one map: the file is refused for them, listed with whatever else is wrong with it. */
  duplicates: readonly PlacedIssue[];
}

export type YamlErrorCode = Extract<ErrorCode, 'CG_CONFIG_INVALID' | 'CG_MAPPING_INVALID' | 'CG_POLICY_INVALID'>;

/** The `<<` of a merge (`<<: *defaults`); a quoted "<<" is an ordinary key. */
const isMergeKey = (key: unknown): boolean => isScalar(key) && typeof key.value === 'symbol';

/** The maps a merge key's value names, or null when it names anything else (YAML tools refuse that too). */
function mergeSources(doc: Document.Parsed, value: unknown): YAMLMap[] | null {
  const resolved = isAlias(value) ? value.resolve(doc) : value;
  const items = isSeq(resolved) ? resolved.items.map((item) => (isAlias(item) ? item.resolve(doc) : item)) : [resolved];
  return items.every((item) => isMap(item)) ? (items as YAMLMap[]) : null;
}

/** The value node of `key` in a map, or in the maps it merges, so a merged value is placed where it was written. */
function valueIn(doc: Document.Parsed, map: YAMLMap, key: PropertyKey, depth = 0): unknown {
  const own = map.items.find((pair) => isScalar(pair.key) && !isMergeKey(pair.key) && String(pair.key.value) === String(key));
  if (own) return own.value;
  if (depth > 20) return undefined;
  for (const pair of map.items.filter((p) => isMergeKey(p.key))) {
    for (const source of mergeSources(doc, pair.value) ?? []) {
      const found = valueIn(doc, source, key, depth + 1);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/** The node at `path`, through aliases and merge keys where getIn stops. */
function nodeAt(doc: Document.Parsed, path: YamlPath): unknown {
  const direct = doc.getIn(path as unknown[], true);
  if (direct !== undefined) return direct;
  let node: unknown = doc.contents;
  for (const step of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isSeq(node) && typeof step === 'number') node = node.items[step];
    else if (isMap(node)) node = valueIn(doc, node, step);
    else return undefined;
  }
  return node;
}

function nodeRange(doc: Document.Parsed, path: YamlPath): [number, number] | null {
  const node = nodeAt(doc, path);
  if (isNode(node) && node.range) return [node.range[0], node.range[1]];
  if (isPair(node) && isScalar(node.key) && node.key.range) return [node.key.range[0], node.key.range[1]];
  return null;
}

/** How often aliases may repeat their anchors: far above any real file, far below what exhausts memory. */
const MAX_ALIAS_COUNT = 10_000;

interface Inspection {
  /** Every key given twice in one map, at the second one, naming the line of the first. */
  duplicates: PlacedIssue[];
  /** Aliases naming no anchor above them, merge keys of no map (reading the file would fail on the first). */
  unresolved: PlacedIssue[];
  /** The first alias of the anchor aliased most, where an expansion past the limit is reported. */
  mostAliased: { line: number; column: number; name: string } | null;
}

/**
 * Walks the document in file order. Keys compare as the text they become
 * (`-2` and `"-2"` are one ServiceNow state), since reading the map would
 * silently keep only the last.
 */
function inspect(doc: Document.Parsed, lineCounter: LineCounter): Inspection {
  const found: Inspection = { duplicates: [], unresolved: [], mostAliased: null };
  const anchors: string[] = [];
  const uses = new Map<string, { count: number; line: number; column: number }>();
  const walk = (node: unknown, path: YamlPath): void => {
    if (isNode(node) && !isAlias(node) && node.anchor !== undefined) anchors.push(node.anchor);
    if (isAlias(node)) {
      const at = lineCounter.linePos(node.range?.[0] ?? 0);
      if (node.resolve(doc) === undefined) {
        const hint = suggestKey(node.source, anchors);
        const known = anchors.length === 0 ? 'the file defines none before it' : `anchors defined before it: ${anchors.map((a) => `&${a}`).join(', ')}`;
        found.unresolved.push({ line: at.line, column: at.col, path: formatPath(path), message: `the alias *${node.source} names no anchor above it; ${hint === null ? known : `did you mean *${hint}?`}` });
      }
      const use = uses.get(node.source) ?? { count: 0, line: at.line, column: at.col };
      uses.set(node.source, { ...use, count: use.count + 1 });
    }
    if (isSeq(node)) node.items.forEach((item, i) => walk(item, [...path, i]));
    if (!isMap(node)) return;
    const seen = new Map<string, number>();
    for (const pair of node.items) {
      if (!isScalar(pair.key)) continue;
      const at = lineCounter.linePos(pair.key.range?.[0] ?? 0);
      if (isMergeKey(pair.key)) {
        const got = isAlias(pair.value) ? pair.value.resolve(doc) : pair.value;
        if (got !== undefined && mergeSources(doc, pair.value) === null) {
          const kind = isScalar(got) ? 'a scalar' : isSeq(got) ? 'a list holding something other than maps' : 'something else';
          found.unresolved.push({ line: at.line, column: at.col, path: formatPath([...path, '<<']), message: `a merge key (<<) takes a map, an alias of one (<<: *defaults) or a list of them, got ${kind}` });
        }
        walk(pair.value, [...path, '<<']);
        continue;
      }
      const key = String(pair.key.value);
      const first = seen.get(key);
      if (first === undefined) seen.set(key, at.line);
      else found.duplicates.push({ line: at.line, column: at.col, path: formatPath([...path, key]), message: `duplicate key ${JSON.stringify(key)}, already on line ${first}; a key may appear once in a map, remove one` });
      walk(pair.value, [...path, key]);
    }
  };
  walk(doc.contents, []);
  const most = [...uses].toSorted(([, a], [, b]) => b.count - a.count)[0];
  if (most) found.mostAliased = { name: most[0], line: most[1].line, column: most[1].column };
  return found;
}

export function parseYamlSource(text: string, file: string, code: YamlErrorCode): YamlSource {
  const lineCounter = new LineCounter();
  // Duplicate keys are found below with their paths, so one pass reports them beside the schema's issues.
  // Merge keys (`<<: *defaults`) are read as YAML 1.1 tools (Compose, GitLab CI, Ansible) read them.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false, merge: true });
  const firstError = doc.errors[0];
  if (firstError) {
    const pos = lineCounter.linePos(firstError.pos[0]);
    // The library's own words point at an API; the operator needs the file's rule and the line to edit.
    const message =
      firstError.code === 'MULTIPLE_DOCS'
        ? `a changegate file holds one YAML document, but a second one starts on line ${pos.line}; remove the --- (or ...) that separates them, or move the second document to a file of its own`
        : `invalid YAML: ${firstError.message.split('\n')[0]}`;
    throw new ChangegateError(code, `${file}:${pos.line}:${pos.col}: ${message}`, {
      details: { file, line: pos.line, column: pos.col },
      cause: firstError,
    });
  }
  const { duplicates, unresolved, mostAliased } = inspect(doc, lineCounter);
  if (unresolved.length > 0) throw issuesError({ file }, code, unresolved);
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    // Every alias resolves (checked above): what is left is an expansion past the limit.
    const at = mostAliased ?? { line: 1, column: 1, name: '' };
    throw new ChangegateError(code, `${file}:${at.line}:${at.column}: invalid YAML: aliases repeat their anchors more than ${MAX_ALIAS_COUNT} times (*${at.name} the most), as a file built to exhaust memory does`, {
      details: { file, line: at.line, column: at.column },
      cause: err,
    });
  }
  return {
    file,
    data,
    positionOf(path) {
      for (let depth = path.length; depth >= 0; depth--) {
        const range = nodeRange(doc, path.slice(0, depth));
        if (range) {
          const pos = lineCounter.linePos(range[0]);
          return { line: pos.line, column: pos.col };
        }
      }
      return { line: 1, column: 1 };
    },
    offsetOf(path) {
      const node = nodeAt(doc, path);
      return isNode(node) && node.range ? node.range[0] : null;
    },
    duplicates,
  };
}

export function formatPath(path: YamlPath): string {
  if (path.length === 0) return '(root)';
  return path.map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${String(part)}`)).join('');
}

/** One problem at a place in the file: what `file:line:col path: message` lines are made of. */
export interface PlacedIssue {
  line: number;
  column: number;
  path: string;
  message: string;
}

export function placeIssue(source: YamlSource, path: YamlPath, message: string): PlacedIssue {
  const pos = source.positionOf(path);
  return { line: pos.line, column: pos.column, path: formatPath(path), message };
}

/** The schema's issues in plain words, each placed in the file; `note` adds to the message of an issue at a path (where its value came from). */
export function schemaIssues(source: YamlSource, schema: z.ZodType, data: unknown, issues: readonly z.core.$ZodIssue[], note: (path: YamlPath) => string = () => ''): PlacedIssue[] {
  return issues.flatMap((issue) => plainIssues(issue, data, schema).map((p) => placeIssue(source, p.path, `${p.message}${note(p.path)}`)));
}

/** File order, so the problems read top to bottom as the file does. */
export function issueLines(file: string, issues: readonly PlacedIssue[]): string[] {
  return issues.toSorted((a, b) => a.line - b.line || a.column - b.column).map((i) => `${file}:${i.line}:${i.column} ${i.path}: ${i.message}`);
}

/** One error listing every issue (file order); a single issue is the whole message. */
export function issuesError(source: Pick<YamlSource, 'file'>, code: YamlErrorCode | 'CG_CONFIG_ENV_MISSING', issues: readonly PlacedIssue[], cause?: unknown, details: Record<string, unknown> = {}): ChangegateError {
  const lines = issueLines(source.file, issues);
  const first = issues.toSorted((a, b) => a.line - b.line || a.column - b.column)[0];
  const message = lines.length === 1 ? (lines[0] as string) : `${source.file} has ${lines.length} problems:\n  ${lines.join('\n  ')}`;
  return new ChangegateError(code, message, {
    details: { file: source.file, line: first?.line ?? 1, path: first?.path ?? '', issues: lines, ...details },
    ...(cause === undefined ? {} : { cause }),
  });
}

/** Validate an already-parsed source; throws one error that lists every issue. */
export function validateYamlSource<S extends z.ZodType>(source: YamlSource, schema: S, code: YamlErrorCode, data: unknown = source.data): z.output<S> {
  const result = schema.safeParse(data);
  if (result.success && source.duplicates.length === 0) return result.data;
  const issues = result.success ? [] : schemaIssues(source, schema, data, result.error.issues);
  throw issuesError(source, code, [...source.duplicates, ...issues], result.success ? undefined : result.error);
}

export function loadYamlFile<S extends z.ZodType>(file: string, schema: S, code: YamlErrorCode): z.output<S> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ChangegateError(code, `${file}: cannot read file (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err, details: { file } });
  }
  return validateYamlSource(parseYamlSource(text, file, code), schema, code);
}
