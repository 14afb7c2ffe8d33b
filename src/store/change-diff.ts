// Field-level difference between two versions of a change, as a revision
// records it. Objects are walked to their leaves so a reader sees
// `risk.level` or `raw.state.value` rather than "risk changed"; arrays are one
// value, because a list of services or commits is read as a whole.
//
// It runs for every changed record of a sync, over `raw` payloads of ~100
// fields, so equal leaves cost a comparison and nothing else: no path string
// is built unless an entry is emitted.

import type { Change } from '../domain/change.ts';
import type { FieldDiff } from './change-store.ts';
import { stableStringify } from './content-hash.ts';

/**
 * Dotted-path differences from `before` to `after`, ordered by path segment.
 * With no `before` (a first revision) every leaf of `after` is listed with only
 * `to`. A new object is listed leaf by leaf with only `to`; a removed field is
 * one entry with only `from` (the whole value); a value that turns from an
 * object into something else (or back) is one entry with both whole values.
 * `undefined` counts as absent, as in JSON. A key holding `.` or `\` has them
 * escaped with `\` in the path (`raw.assigned_to\.name`).
 */
export function diffChanges(before: Change | null, after: Change): FieldDiff[] {
  const out: FieldDiff[] = [];
  walkObject([], before as Record<string, unknown> | null, after as unknown as Record<string, unknown>, out);
  return out;
}

// Source keys can hold dots (ServiceNow dot-walked fields such as `assigned_to.name`); escaping keeps paths unambiguous.
const SPECIAL = /[.\\]/;
const ESCAPABLE = /[.\\]/g;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function segmentOf(key: string): string {
  return SPECIAL.test(key) ? key.replaceAll(ESCAPABLE, '\\$&') : key;
}

/** Keys of both sides, each once, in code-unit order (the canonical JSON's order for non-index keys). */
function unionKeys(a: Record<string, unknown> | null, b: Record<string, unknown> | null): string[] {
  const keys = b === null ? [] : Object.keys(b);
  if (a !== null) for (const key of Object.keys(a)) if (b === null || !Object.hasOwn(b, key)) keys.push(key);
  for (let i = 1; i < keys.length; i++) if ((keys[i - 1] as string) > (keys[i] as string)) return keys.toSorted();
  return keys;
}

/** `a` null means absent (the whole subtree is new); `b` is never absent here. */
function walkObject(path: string[], a: Record<string, unknown> | null, b: Record<string, unknown>, out: FieldDiff[]): void {
  const keys = unionKeys(a, b);
  if (keys.length === 0 && a === null && path.length > 0) {
    // An empty object appearing is still a change a reader should see.
    out.push({ path: path.join('.'), to: b });
    return;
  }
  for (const key of keys) {
    // Own properties only: a source field named `valueOf` or `constructor` must not read the prototype's.
    const from = a === null || !Object.hasOwn(a, key) ? undefined : a[key];
    const to = Object.hasOwn(b, key) ? b[key] : undefined;
    if (from === to) continue;
    const fromObj = isPlainObject(from);
    const toObj = isPlainObject(to);
    if (toObj && (fromObj || from === undefined)) {
      path.push(segmentOf(key));
      walkObject(path, fromObj ? from : null, to, out);
      path.pop();
      continue;
    }
    if (from !== undefined && to !== undefined && sameValue(from, to)) continue;
    const entry: FieldDiff = { path: path.length === 0 ? segmentOf(key) : `${path.join('.')}.${segmentOf(key)}` };
    // A whole object that vanishes is one entry: listing its leaves would not say the object itself is gone.
    if (from !== undefined) entry.from = from;
    if (to !== undefined) entry.to = to;
    out.push(entry);
  }
}

function sameValue(a: unknown, b: unknown): boolean {
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  return stableStringify(a) === stableStringify(b);
}
