// A work note as HTML inside `[code]…[/code]`, for instances configured with
// `workNotes: html`. ServiceNow renders the HTML between the tags in the
// activity stream only where the instance allows it (the
// `glide.ui.security.allow_codetag` property, and journal HTML rules that vary
// by release), so the default stays plain text (ticket-note.ts). The markers stay
// outside the block, as plain text on the last line: the writer's
// `valueLIKE` search and the journal filter read them as they read a text note.

import type { TicketNote } from '../../src/kit/connector.ts';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\'': '&#39;' };
const escape = (text: string): string => text.replace(/[&<>"']/g, (c) => ESCAPES[c] as string);

/** Escaped text with each `backticked` span in `<code>`; a line with an odd number of backticks is kept as it is. */
function inline(line: string): string {
  const parts = line.split('`');
  if (parts.length < 3 || parts.length % 2 === 0) return escape(line);
  return parts.map((part, i) => (i % 2 === 1 ? `<code>${escape(part)}</code>` : escape(part))).join('');
}

/**
 * `[code]` would end the block early: a closing tag in the text is broken up so
 * the block holds everything the note says (ServiceNow reads the tags literally,
 * not as HTML, so escaping `<` does not hide them).
 */
const noTags = (html: string): string => html.replace(/\[(\/?code)\]/gi, '[\u200b$1]');

const TONES: Record<TicketNote['tone'], string> = { info: '#0b5cad', success: '#116329', warning: '#7d4e00', error: '#a40e26' };

function table(t: { columns: string[]; rows: string[][] } | undefined): string[] {
  if (t === undefined || t.rows.length === 0) return [];
  const head = t.columns.map((c) => `<th style="text-align:left">${escape(c)}</th>`).join('');
  const rows = t.rows.map((r) => `<tr>${r.map((c) => `<td>${escape(c)}</td>`).join('')}</tr>`);
  return ['<table border="1" cellpadding="4" style="border-collapse:collapse">', `<tr>${head}</tr>`, ...rows, '</table>'];
}

export function htmlWorkNote(note: TicketNote, marker: string): string {
  const out: string[] = [`<h3 style="color:${TONES[note.tone]}">changegate: ${escape(note.title)}</h3>`, ...note.lines.map((l) => `<p>${inline(l)}</p>`)];
  if (note.items && note.items.length > 0) out.push('<ul>', ...note.items.map((i) => `<li>${inline(i)}</li>`), '</ul>');
  out.push(...(note.footer ?? []).map((l) => `<p>${inline(l)}</p>`));
  out.push(...table(note.table));
  if (note.details) out.push(`<h4>${escape(note.details.title)}</h4>`, ...note.details.lines.map((l) => `<p>${inline(l)}</p>`), ...table(note.details.table));
  return `[code]${noTags(out.join('\n'))}[/code]\n\n${marker}`;
}
