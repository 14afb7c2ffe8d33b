// The scan for a member name given twice, against a model: JSON text written
// from a tree whose objects may repeat a name, each string spelled with escapes
// chosen at random (\u0061 for a, \" or \u0022 for a quote, \/ for a slash), is
// found to repeat exactly the names the tree repeats, at their paths. And no
// bundle as export writes it has one.

import { generateKeyPairSync } from 'node:crypto';
import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildBundle } from '../../src/evidence/evidence-bundle.ts';
import { chainEntry, EVIDENCE_KINDS, type EvidenceDraft, type EvidenceEntry } from '../../src/evidence/evidence-entry.ts';
import { repeatedMembers } from '../../src/evidence/repeated-members.ts';
import { verifyEvidenceText } from '../../src/evidence/verify-evidence-text.ts';

type Node = null | number | string | { items: Node[] } | { members: [string, Node][] };

/** Text that tempts a scanner: quotes, backslashes, brackets, surrogates (paired and lone), and names that differ by case. */
const tricky = fc.oneof(
  fc.constantFrom('summary', 'Summary', 'a', '"', '\\', '\\"', 'a"b', '/', '', '{', '],[', 'é', '\u2028', '\ud83d', '🚀', '\u0000'),
  fc.string({ maxLength: 4, unit: 'binary' }),
);
const { node } = fc.letrec<{ node: Node; array: Node; object: Node }>((tie) => ({
  node: fc.oneof({ depthSize: 'small' }, fc.constant(null), fc.integer(), tricky, tie('array'), tie('object')),
  array: fc.array(tie('node'), { maxLength: 4 }).map((items) => ({ items })),
  object: fc.array(fc.tuple(tricky, tie('node')), { maxLength: 5 }).map((members) => ({ members })),
}));

/** The names each object repeats, at the second time, in document order. */
function repeatsOf(n: Node, path: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (typeof n !== 'object' || n === null) return out;
  if ('items' in n) n.items.forEach((item, i) => repeatsOf(item, [...path, i], out));
  else {
    const seen = new Map<string, number>();
    for (const [name, value] of n.members) {
      const count = (seen.get(name) ?? 0) + 1;
      seen.set(name, count);
      if (count === 2) out.push([...path, name]);
      repeatsOf(value, [...path, name], out);
    }
  }
  return out;
}

const SHORT: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '/': '\\/' };

/** JSON text of the tree, each code unit of a string escaped or not as `random` picks, with spaces here and there. */
function write(n: Node, random: () => number): string {
  const space = () => (random() < 0.2 ? ' \n'.repeat(1 + Math.floor(random() * 2)) : '');
  const text = (s: string) => {
    let out = '"';
    for (let i = 0; i < s.length; i++) {
      const c = s[i] as string;
      const pick = random();
      if (!(c < ' ' || c === '"' || c === '\\') && pick < 0.6) out += c;
      else if (SHORT[c] !== undefined && pick < 0.8) out += SHORT[c];
      else {
        const hex = c.charCodeAt(0).toString(16).padStart(4, '0');
        out += `\\u${random() < 0.5 ? hex : hex.toUpperCase()}`;
      }
    }
    return `${out}"`;
  };
  if (n === null) return 'null';
  if (typeof n === 'number') return String(n);
  if (typeof n === 'string') return text(n);
  if ('items' in n) return `[${n.items.map((item) => `${space()}${write(item, random)}${space()}`).join(',')}]`;
  return `{${n.members.map(([name, value]) => `${space()}${text(name)}${space()}:${space()}${write(value, random)}${space()}`).join(',')}}`;
}

/** mulberry32: the spelling of a text follows from the seed, so a failure replays. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

describe('repeatedMembers (property)', () => {
  it('finds exactly the names the text repeats, however each is spelled, at their paths', () => {
    fc.assert(
      fc.property(node, fc.integer(), (tree, seed) => {
        const text = write(tree, seeded(seed));
        JSON.parse(text); // the text is JSON
        expect(repeatedMembers(text)).toEqual(repeatsOf(tree));
      }),
      { numRuns: 1000 },
    );
  });

  it('finds none in a bundle as export writes it, which verifies', () => {
    const CHANGE = { id: 'servicenow:sn-prod:c0ffee', key: 'CHG0030001', instance: 'sn-prod', title: 'Upgrade the payments gateway' };
    const keys = generateKeyPairSync('ed25519');
    const draft = fc.record({
      kind: fc.constantFrom(...EVIDENCE_KINDS),
      at: fc.integer({ min: 1_700_000_000_000, max: 1_900_000_000_000 }).map((ms) => new Date(ms).toISOString()),
      actor: fc.option(fc.string({ minLength: 1 }), { nil: null }),
      source: fc.constantFrom('servicenow:sn-prod', 'jira:jsm-cloud', 'changegate'),
      summary: fc.string(),
      payload: fc.jsonValue(),
    });
    fc.assert(
      fc.property(fc.array(draft, { maxLength: 6 }), fc.boolean(), fc.boolean(), (drafts, signed, pretty) => {
        const entries: EvidenceEntry[] = [];
        for (const d of drafts as EvidenceDraft[]) entries.push(chainEntry(CHANGE.id, entries.at(-1) ?? null, d));
        const text = JSON.stringify(buildBundle(CHANGE, entries, '2026-03-12T00:00:00Z', signed ? keys.privateKey : null), null, pretty ? 2 : undefined);
        expect(repeatedMembers(text)).toEqual([]);
        expect(verifyEvidenceText(text)).toMatchObject({ ok: true, problems: [] });
      }),
      { numRuns: 200 },
    );
  });
});
