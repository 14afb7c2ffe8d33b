// `changegate mappings validate [DIR|FILE] [--json]`: every mapping and policy
// file, errors and warnings in line order. Exit 0 valid (warnings included),
// 2 invalid or nothing to check.

import type { ConnectorRegistry } from '../kit/connector-registry.ts';
import { mappingKindsOf } from '../mapping/mapping-kinds.ts';
import { validateMappingFiles } from '../mapping/validate-mappings.ts';
import { terminalJson, terminalText } from './terminal-text.ts';
import { paint } from './text-table.ts';

export function runMappingsValidate(
  registry: ConnectorRegistry,
  target: string,
  json: boolean,
  out: { stdout: { write(t: string): unknown }; stderr: { write(t: string): unknown } },
  color: boolean,
  options: { instances?: readonly string[] } = {},
): number {
  const results = validateMappingFiles(target, mappingKindsOf(registry, options));
  const code = results.length > 0 && results.every((r) => r.ok) ? 0 : 2;
  if (json) {
    // Errors and warnings quote the files (a key, a value): JSON escapes for their controls, the same value.
    out.stdout.write(`${terminalJson(JSON.stringify({ format: 1, exitCode: code, files: results }, null, 2))}\n`);
    return code;
  }
  if (results.length === 0) {
    out.stderr.write(`${terminalText(`changegate: no mapping files (*.yaml) in ${target}`)}\n`);
    return 2;
  }
  for (const r of results) {
    const head = !r.ok ? paint('invalid', 'bad', color) : r.warnings.length > 0 ? paint('warn   ', 'warn', color) : paint('ok     ', 'good', color);
    const lines = [...r.errors.map((e) => `  error: ${e}`), ...r.warnings.map((w) => `  warning: ${w}`)];
    // A file's text quoted in an error prints as it reads: a control or bidirectional character escaped.
    out.stdout.write(`${head} ${terminalText(r.file)}\n${lines.map((l) => `${terminalText(l)}\n`).join('')}`);
  }
  return code;
}
