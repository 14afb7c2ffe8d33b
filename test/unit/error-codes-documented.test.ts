// Every error code is documented in the README's "Error codes" table with the
// status and kind src/errors.ts gives it, and the table names no code that
// does not exist. A failure prints the rows to paste.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/errors.ts';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** The rows of the table under `### Error codes`: `| \`CODE\` | status | kind | meaning |`. */
function documentedRows(): string[] {
  const section = README.split(/^### Error codes$/m)[1];
  if (section === undefined) return [];
  const rows: string[] = [];
  for (const line of section.split('\n').slice(1)) {
    if (line.trim() === '') {
      if (rows.length > 0) break;
      continue;
    }
    if (line.startsWith('| `CG_')) rows.push(line.trim());
  }
  return rows;
}

const expectedRow = (code: string, e: { status: number; kind: string; doc: string }): string => `| \`${code}\` | ${e.status} | ${e.kind} | ${e.doc.replaceAll('|', '\\|')} |`;

describe('error codes in the README', () => {
  it('lists every code of src/errors.ts with its HTTP status, kind and meaning, and nothing else', () => {
    const expected = Object.entries(ERROR_CODES).map(([code, e]) => expectedRow(code, e));
    const documented = documentedRows();
    expect(documented.filter((row) => !expected.includes(row)), 'rows in README.md that src/errors.ts does not have (or has differently)').toEqual([]);
    expect(expected.filter((row) => !documented.includes(row)), 'rows missing from the "Error codes" table in README.md').toEqual([]);
  });

});
