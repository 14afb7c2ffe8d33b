// YAML files that remember where each value came from, so every validation
// error names file, line and path (config, mappings and policy all use this).

import { readFileSync } from 'node:fs';
import { isNode, isPair, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { ChangegateError, type ErrorCode } from '../errors.ts';

export type YamlPath = readonly PropertyKey[];

export interface YamlSource {
  file: string;
  data: unknown;
  /** 1-based line and column of the value at `path`, or of its nearest existing parent. */
  positionOf(path: YamlPath): { line: number; column: number };
}

export type YamlErrorCode = Extract<ErrorCode, 'CG_CONFIG_INVALID' | 'CG_MAPPING_INVALID' | 'CG_POLICY_INVALID'>;

function nodeRange(doc: Document.Parsed, path: YamlPath): [number, number] | null {
  const node = doc.getIn(path as unknown[], true);
  if (isNode(node) && node.range) return [node.range[0], node.range[1]];
  if (isPair(node) && isScalar(node.key) && node.key.range) return [node.key.range[0], node.key.range[1]];
  return null;
}

export function parseYamlSource(text: string, file: string, code: YamlErrorCode): YamlSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const firstError = doc.errors[0];
  if (firstError) {
    const pos = lineCounter.linePos(firstError.pos[0]);
    throw new ChangegateError(code, `${file}:${pos.line}:${pos.col}: invalid YAML: ${firstError.message.split('\n')[0]}`, {
      details: { file, line: pos.line, column: pos.col },
      cause: firstError,
    });
  }
  return {
    file,
    data: doc.toJS({ maxAliasCount: 100 }) as unknown,
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
  };
}

export function formatPath(path: YamlPath): string {
  if (path.length === 0) return '(root)';
  return path.map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${String(part)}`)).join('');
}

/** An unknown key is reported at the key itself, not at its parent object. */
function issuePath(issue: z.core.$ZodIssue): YamlPath {
  return issue.code === 'unrecognized_keys' && issue.keys.length === 1 ? [...issue.path, issue.keys[0] as string] : issue.path;
}

/** One line per issue: `file:line:col path: message`. */
export function formatIssues(issues: readonly z.core.$ZodIssue[], source: YamlSource): string[] {
  return issues.map((issue) => {
    const path = issuePath(issue);
    const pos = source.positionOf(path);
    return `${source.file}:${pos.line}:${pos.column} ${formatPath(path)}: ${issue.message}`;
  });
}

/** Validate an already-parsed source; throws one error that lists every issue. */
export function validateYamlSource<S extends z.ZodType>(source: YamlSource, schema: S, code: YamlErrorCode, data: unknown = source.data): z.output<S> {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const lines = formatIssues(result.error.issues, source);
  const first = result.error.issues[0];
  const firstPos = first ? source.positionOf(issuePath(first)) : { line: 1, column: 1 };
  throw new ChangegateError(code, `${source.file} is invalid:\n  ${lines.join('\n  ')}`, {
    details: { file: source.file, line: firstPos.line, path: first ? formatPath(issuePath(first)) : '', issues: lines },
    cause: result.error,
  });
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
