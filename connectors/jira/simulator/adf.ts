// Atlassian Document Format in and out. v3 speaks ADF; v2, Data Center,
// webhooks and changelog strings speak plain text / wiki markup, so the
// simulator stores ADF and flattens it where a string is due.

import type { AdfDoc } from './sim-types.ts';

export function textToAdf(text: string): AdfDoc {
  const paragraphs = text.split(/\n{2,}/);
  return {
    type: 'doc',
    version: 1,
    content: paragraphs.map((p) => {
      const lines = p.split('\n');
      const content: Record<string, unknown>[] = [];
      lines.forEach((line, i) => {
        if (i > 0) content.push({ type: 'hardBreak' });
        if (line.length > 0) content.push({ type: 'text', text: line });
      });
      return content.length > 0 ? { type: 'paragraph', content } : { type: 'paragraph' };
    }),
  };
}

export function isAdfDoc(value: unknown): value is AdfDoc {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return v.type === 'doc' && v.version === 1 && Array.isArray(v.content);
}

const BLOCKS = new Set(['paragraph', 'heading', 'codeBlock', 'blockquote', 'panel', 'listItem', 'tableRow', 'rule', 'mediaSingle']);

function walk(node: unknown, out: string[]): void {
  if (typeof node !== 'object' || node === null) return;
  const n = node as { type?: unknown; text?: unknown; content?: unknown; attrs?: Record<string, unknown> };
  if (n.type === 'text' && typeof n.text === 'string') out.push(n.text);
  else if (n.type === 'hardBreak') out.push('\n');
  else if (n.type === 'mention') out.push(String(n.attrs?.text ?? '@user'));
  else if (n.type === 'tableCell' || n.type === 'tableHeader') out.push('|');
  if (Array.isArray(n.content)) for (const c of n.content) walk(c, out);
  if (typeof n.type === 'string' && BLOCKS.has(n.type)) out.push('\n\n');
}

export function adfToText(doc: AdfDoc | null | undefined): string {
  if (!doc) return '';
  const out: string[] = [];
  walk(doc, out);
  return out.join('').replace(/\n{3,}/g, '\n\n').trim();
}
