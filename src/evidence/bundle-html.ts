// The evidence bundle as a page an auditor opens in a browser or prints: the
// same content as the JSON bundle (evidence-bundle.ts), self-contained (inline
// CSS, no script, no external resource), readable offline. The change, the head
// hash, the signature and what a check at export found; every entry with its
// hashes; the approval decisions and waivers the chain records; the approvals,
// gate results and CAB scorecard of the last decision; each entry's payload.
// Every piece of text is escaped: a summary is whatever the ticket said.

import { createHash } from 'node:crypto';
import type { EvidenceBundle } from './evidence-bundle.ts';
import { EVIDENCE_KINDS, type EvidenceEntry } from './evidence-entry.ts';
import { verifyBundle } from './verify-bundle.ts';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\'': '&#39;' };
export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => ESCAPES[c] as string);

const PREFIX = 12;

const STYLE = `
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1f24; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
h2 { font-size: 1.15rem; margin: 2rem 0 .5rem; border-bottom: 1px solid #d0d7de; padding-bottom: .25rem; }
code, pre, .hash { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .9em; }
.hash { word-break: break-all; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: .5rem 0; }
dt { font-weight: 600; }
dd { margin: 0; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0; }
th, td { border: 1px solid #d0d7de; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
.status { display: inline-block; padding: .1rem .5rem; border-radius: .25rem; font-weight: 600; }
.ok, .pass, .Go { background: #dafbe1; color: #116329; }
.bad, .fail, .No-Go { background: #ffebe9; color: #a40e26; }
.neutral, .pending, .waived, .unknown, .Conditional-Go { background: #fff8c5; color: #7d4e00; }
pre { background: #f6f8fa; padding: .5rem; overflow-x: auto; white-space: pre-wrap; word-break: break-word; }
details { margin: .25rem 0; }
summary { cursor: pointer; }
footer { margin-top: 2rem; color: #57606a; font-size: .85em; }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; }
  h2 { break-after: avoid; }
  tr, dl, pre { break-inside: avoid; }
  th { background: none; }
  .status { border: 1px solid currentColor; background: none; }
  details > summary { list-style: none; }
}
`;

interface ApprovalRow {
  ref: string;
  summary: string;
  at: string | null;
}

interface LastDecision {
  seq: number;
  at: string;
  gates: { id: string; into: string; result: string; reason: string }[];
  approvals: ApprovalRow[];
  scorecard: { recommendation: string; conditions: string[]; criteria: { label: string; result: string; reason: string }[] } | null;
}

const record = (value: unknown): Record<string, unknown> | null => (typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null);
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const textOf = (value: unknown): string => (typeof value === 'string' ? value : value === undefined || value === null ? '' : JSON.stringify(value));

/** The last assessment in the chain: the gates, approvals and scorecard the change stands on now. */
function lastDecision(entries: readonly EvidenceEntry[]): LastDecision | null {
  const entry = entries.findLast((e) => e.kind === 'assessment' && record(e.payload) !== null);
  if (entry === undefined) return null;
  const payload = record(entry.payload) as Record<string, unknown>;
  const gates = list(payload['gates']).map(record).filter((g) => g !== null);
  const approvals = new Map<string, ApprovalRow>();
  const card = record(payload['scorecard']);
  const criteria = list(card?.['criteria']).map(record).filter((c) => c !== null);
  for (const holder of [...gates, ...criteria]) {
    for (const ref of list(holder['evidence']).map(record)) {
      if (ref?.['kind'] !== 'approval') continue;
      const key = textOf(ref['ref']);
      if (!approvals.has(key)) approvals.set(key, { ref: key, summary: textOf(ref['summary']), at: typeof ref['at'] === 'string' ? ref['at'] : null });
    }
  }
  return {
    seq: entry.seq,
    at: entry.at,
    gates: gates.map((g) => ({ id: textOf(g['id']), into: textOf(g['into']), result: textOf(g['result']), reason: textOf(g['reason']) })),
    approvals: [...approvals.values()],
    scorecard:
      card === null
        ? null
        : {
            recommendation: textOf(card['recommendation']),
            conditions: list(card['conditions']).map(textOf),
            criteria: criteria.map((c) => ({ label: textOf(c['label'] ?? c['id']), result: textOf(c['result']), reason: textOf(c['reason']) })),
          },
  };
}

/**
 * When an approval entry's approver was asked, which places it in its approval round: the source may give no
 * time (null), and entries recorded before changegate kept it carry none.
 */
function requestedText(entry: EvidenceEntry): string {
  const approval = record(record(entry.payload)?.['approval']);
  const at = approval?.['requestedAt'];
  if (typeof at === 'string') return at;
  return approval !== null && Object.hasOwn(approval, 'requestedAt') ? 'not given by the source' : 'not recorded (an entry of an earlier build)';
}

/** `3 revision, 2 approval, 1 waiver`: each kind the chain holds, in the order kinds are listed. */
function kindCounts(entries: readonly EvidenceEntry[]): string {
  const parts = EVIDENCE_KINDS.map((k) => [k, entries.filter((e) => e.kind === k).length] as const).filter(([, n]) => n > 0);
  return parts.length === 0 ? 'none' : parts.map(([k, n]) => `${n} ${k}`).join(', ');
}

const cell = (text: string): string => `<td>${escapeHtml(text)}</td>`;
/** A result in a coloured box; `tone` is its class (the result itself by default: pass, fail, Go, No-Go…). */
const status = (text: string, tone: string = text): string => `<span class="status ${escapeHtml(tone.replaceAll(' ', '-'))}">${escapeHtml(text)}</span>`;
const hashCell = (hash: string): string => `<td><code class="hash" title="${escapeHtml(hash)}">${escapeHtml(hash.slice(0, PREFIX))}</code></td>`;

function table(columns: string[], rows: string[][], id: string): string {
  const head = columns.map((c) => `<th scope="col">${escapeHtml(c)}</th>`).join('');
  return `<table id="${id}"><thead><tr>${head}</tr></thead><tbody>\n${rows.map((r) => `<tr>${r.join('')}</tr>`).join('\n')}\n</tbody></table>`;
}

function signatureText(bundle: EvidenceBundle): { text: string; fingerprint: string | null } {
  const signature = bundle.signature;
  if (signature === null) return { text: 'not signed', fingerprint: null };
  const fingerprint = createHash('sha256').update(Buffer.from(String(signature.publicKey), 'base64')).digest('hex');
  return { text: `signed (${signature.algorithm})`, fingerprint };
}

export function bundleHtml(bundle: EvidenceBundle): string {
  const { change, entries, head } = bundle;
  const check = verifyBundle(bundle);
  const signature = signatureText(bundle);
  const decision = lastDecision(entries);
  const title = `Evidence for ${change.key}`;
  const out: string[] = [];
  out.push(
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    // No script, no fetch, no frame: the page shows what it carries and nothing else.
    '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'">',
    `<title>${escapeHtml(`${title}: ${change.title}`)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    '<header>',
    `<h1 id="change-key">${escapeHtml(title)}</h1>`,
    `<p id="change-title">${escapeHtml(change.title)}</p>`,
    '<dl>',
    `<dt>Change</dt><dd>${escapeHtml(change.key)} on ${escapeHtml(change.instance)} (<code>${escapeHtml(change.id)}</code>)</dd>`,
    `<dt>Exported</dt><dd>${escapeHtml(bundle.exportedAt)}</dd>`,
    `<dt>Entries</dt><dd id="entry-count">${entries.length}</dd>`,
    `<dt>By kind</dt><dd id="entry-kinds">${escapeHtml(kindCounts(entries))}</dd>`,
    `<dt>Head</dt><dd>${head === null ? 'none (no entries yet)' : `entry ${head.seq}: <code class="hash" id="head-hash">${escapeHtml(head.hash)}</code>`}</dd>`,
    `<dt>Signature</dt><dd id="signature">${status(signature.text, signature.fingerprint === null ? 'neutral' : 'ok')}${signature.fingerprint === null ? '' : ` public key SHA-256 <code class="hash">${escapeHtml(signature.fingerprint)}</code>: compare it with the key the deployment publishes`}</dd>`,
    `<dt>Check at export</dt><dd id="check">${
      check.ok ? `${status('intact', 'ok')} every hash recomputed, the chain unbroken${check.signed ? ', the signature valid over the head' : ''}` : `${status('ALTERED', 'bad')} ${escapeHtml(check.problems.map((p) => `${p.entry === null ? '' : `entry ${p.entry} `}${p.field} ${p.reason}`).join('; '))}`
    }</dd>`,
    `<dt>Format</dt><dd><code>${escapeHtml(bundle.format)}</code></dd>`,
    '</dl>',
    '<p>This page shows the bundle; the proof is the JSON bundle itself: <code>changegate evidence verify FILE --public-key KEY</code> recomputes every hash and must report the head above.</p>',
    '</header>',
  );

  out.push('<section>', '<h2>Entries</h2>');
  if (entries.length === 0) out.push('<p>No entries yet.</p>');
  else {
    out.push(
      table(
        ['#', 'time (UTC)', 'kind', 'actor', 'source', 'summary', 'hash', 'previous', 'payload'],
        entries.map((e) => [
          `<td><a href="#entry-${e.seq}">${e.seq}</a></td>`,
          cell(e.at),
          cell(e.kind),
          cell(e.actor ?? 'changegate'),
          cell(e.source),
          cell(e.summary),
          hashCell(e.hash),
          hashCell(e.prevHash),
          hashCell(e.payloadHash),
        ]),
        'entries',
      ),
    );
  }
  out.push('</section>');

  const decisions = entries.filter((e) => e.kind === 'approval' || e.kind === 'waiver');
  out.push('<section>', '<h2>Approvals and waivers</h2>');
  out.push(
    decisions.length === 0
      ? '<p>No approval decision or waiver is recorded.</p>'
      : table(
          ['#', 'time (UTC)', 'kind', 'step', 'requested (UTC)', 'by', 'source', 'summary'],
          decisions.map((e) => [
            `<td><a href="#entry-${e.seq}">${e.seq}</a></td>`,
            cell(e.at),
            cell(e.kind),
            cell(textOf(record(e.payload)?.[e.kind === 'approval' ? 'decision' : 'step'])),
            cell(e.kind === 'approval' ? requestedText(e) : ''),
            cell(e.actor ?? 'changegate'),
            cell(e.source),
            cell(e.summary),
          ]),
          'decisions',
        ),
  );
  out.push('</section>');

  out.push('<section>', '<h2>The last decision</h2>');
  if (decision === null) out.push('<p>No assessment in the chain yet.</p>');
  else {
    out.push(`<p>From entry <a href="#entry-${decision.seq}">${decision.seq}</a>, assessed ${escapeHtml(decision.at)}.</p>`, '<h3>Approvals</h3>');
    out.push(
      decision.approvals.length === 0
        ? '<p>No approval is cited by the gates.</p>'
        : table(['approval', 'what', 'when'], decision.approvals.map((a) => [cell(a.ref), cell(a.summary), cell(a.at ?? '')]), 'approvals'),
    );
    out.push('<h3>Gate results</h3>');
    out.push(
      decision.gates.length === 0
        ? '<p>No gate applies in this state.</p>'
        : table(['into', 'gate', 'result', 'reason'], decision.gates.map((g) => [cell(g.into), cell(g.id), `<td>${status(g.result)}</td>`, cell(g.reason)]), 'gates'),
    );
    out.push('<h3>CAB scorecard</h3>');
    if (decision.scorecard === null) out.push('<p>No scorecard.</p>');
    else {
      const card = decision.scorecard;
      out.push(`<p id="recommendation">Recommendation: ${status(card.recommendation)}</p>`);
      out.push(table(['criterion', 'result', 'reason'], card.criteria.map((c) => [cell(c.label), `<td>${status(c.result)}</td>`, cell(c.reason)]), 'scorecard'));
      if (card.conditions.length > 0) out.push(`<ul>${card.conditions.map((c) => `<li>${escapeHtml(c)}</li>`).join('')}</ul>`);
    }
  }
  out.push('</section>');

  out.push('<section>', '<h2>Payloads</h2>', '<p>Each entry\'s full record; its SHA-256 over the canonical JSON (RFC 8785) is the entry\'s payload hash.</p>');
  for (const e of entries) {
    out.push(
      `<details id="entry-${e.seq}"><summary>Entry ${e.seq}: ${escapeHtml(e.kind)}, ${escapeHtml(e.at)}, hash <code class="hash">${escapeHtml(e.hash)}</code></summary>`,
      `<pre>${escapeHtml(JSON.stringify(e.payload, null, 2))}</pre></details>`,
    );
  }
  out.push('</section>');
  out.push(`<footer>changegate evidence bundle, ${escapeHtml(bundle.format)}, for ${escapeHtml(change.key)}; exported ${escapeHtml(bundle.exportedAt)}.</footer>`, '</body>', '</html>', '');
  return out.join('\n');
}

export interface PeriodIndexRow {
  key: string;
  instance: string;
  title: string;
  entries: number;
  head: string | null;
  signed: boolean;
  /** The bundle (JSON or in-toto), beside the index. */
  file: string;
  /** The change's page, beside the index. */
  page: string;
}

/** index.html of a period's export: one row per change, linking its page and its bundle. */
export function periodIndexHtml(index: { since: string; until: string; instance: string | null; changes: readonly PeriodIndexRow[] }): string {
  const title = `Evidence from ${index.since} to ${index.until}${index.instance === null ? '' : ` on ${index.instance}`}`;
  const rows = index.changes.map((c) => [
    `<td><a href="${escapeHtml(encodeURIComponent(c.page))}">${escapeHtml(c.key)}</a></td>`,
    cell(c.instance),
    cell(c.title),
    `<td>${c.entries}</td>`,
    c.head === null ? cell('none') : hashCell(c.head),
    `<td>${status(c.signed ? 'signed' : 'not signed', c.signed ? 'ok' : 'neutral')}</td>`,
    `<td><a href="${escapeHtml(encodeURIComponent(c.file))}">${escapeHtml(c.file)}</a></td>`,
  ]);
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    `<h1>${escapeHtml(title)}</h1>`,
    `<p><span id="change-count">${index.changes.length}</span> change${index.changes.length === 1 ? '' : 's'} with evidence. Each page shows a bundle; check the bundle itself with <code>changegate evidence verify FILE --public-key KEY</code>.</p>`,
    index.changes.length === 0 ? '<p>No change has evidence in this period.</p>' : table(['change', 'instance', 'title', 'entries', 'head', 'signature', 'bundle'], rows, 'changes'),
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
