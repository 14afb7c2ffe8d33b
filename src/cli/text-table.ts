// Plain-text tables for the CLI. Colour is applied after padding, so columns
// line up with or without it; callers turn it off when stdout is not a TTY.

export type Tone = 'good' | 'bad' | 'warn' | 'info' | 'dim' | 'strong';

export interface Cell {
  text: string;
  tone?: Tone;
}

const ANSI: Record<Tone, [string, string]> = {
  good: ['\u001B[32m', '\u001B[39m'],
  bad: ['\u001B[31m', '\u001B[39m'],
  warn: ['\u001B[33m', '\u001B[39m'],
  info: ['\u001B[36m', '\u001B[39m'],
  dim: ['\u001B[2m', '\u001B[22m'],
  strong: ['\u001B[1m', '\u001B[22m'],
};

export function paint(text: string, tone: Tone | undefined, color: boolean): string {
  if (!color || tone === undefined) return text;
  const [on, off] = ANSI[tone];
  return `${on}${text}${off}`;
}

/** Columns separated by two spaces; the last column is not padded (long reasons do not drag blanks along). */
export function renderTable(headers: readonly string[], rows: readonly (readonly (Cell | string)[])[], color: boolean): string {
  const cells = rows.map((row) => row.map((c) => (typeof c === 'string' ? { text: c } : c)));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i]?.text.length ?? 0)));
  const line = (row: readonly Cell[]) =>
    row
      .map((cell, i) => {
        const padded = i === row.length - 1 ? cell.text : cell.text.padEnd(widths[i] ?? 0);
        return paint(padded, cell.tone, color);
      })
      .join('  ')
      .trimEnd();
  const head = line(headers.map((h) => ({ text: h, tone: 'dim' as const })));
  return [head, ...cells.map(line)].join('\n');
}
