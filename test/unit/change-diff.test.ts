import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Change } from '../../src/domain/change.ts';
import type { FieldDiff } from '../../src/store/change-store.ts';
import { diffChanges } from '../../src/store/change-diff.ts';
import { stableStringify } from '../../src/store/content-hash.ts';
import { at, buildChange } from '../support/change-builder.ts';

/** Applies a diff to a JSON value the way a reader replaying revisions would. */
function replay(base: unknown, diff: FieldDiff[]): unknown {
  const root = structuredClone(base ?? {}) as Record<string, unknown>;
  for (const d of diff) {
    const parts = splitPath(d.path);
    const leaf = parts.pop() as string;
    let node = root;
    for (const p of parts) {
      if (typeof node[p] !== 'object' || node[p] === null || Array.isArray(node[p])) setOwn(node, p, {});
      node = node[p] as Record<string, unknown>;
    }
    if ('to' in d) setOwn(node, leaf, structuredClone(d.to));
    else delete node[leaf];
  }
  return root;
}

/** Assigns as JSON.parse does, so a key named `__proto__` stays a plain key. */
function setOwn(node: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(node, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Splits a diff path on unescaped dots. */
function splitPath(path: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < path.length; i++) {
    const ch = path[i] as string;
    if (ch === '\\') current += path[++i] ?? '';
    else if (ch === '.') {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts;
}

const asChange = (value: Record<string, unknown>): Change => value as unknown as Change;

describe('diffChanges', () => {
  it('lists nothing for two equal versions', () => {
    expect(diffChanges(buildChange(), buildChange())).toEqual([]);
  });

  it('names nested fields by dotted path with both values', () => {
    const before = buildChange();
    const after = buildChange({ risk: { ...before.risk, level: 'high' }, nativeRevision: 4, updatedAt: at(5) });
    expect(diffChanges(before, after)).toEqual([
      { path: 'nativeRevision', from: 3, to: 4 },
      { path: 'raw.risk.display_value', from: 'medium', to: 'high' },
      { path: 'raw.risk.value', from: '3', to: '2' },
      { path: 'raw.sys_mod_count.display_value', from: '3', to: '4' },
      { path: 'raw.sys_mod_count.value', from: 3, to: 4 },
      { path: 'raw.sys_updated_on.display_value', from: '2026-03-02 09:00:00', to: '2026-03-02 09:05:00' },
      { path: 'raw.sys_updated_on.value', from: '2026-03-02 09:00:00', to: '2026-03-02 09:05:00' },
      { path: 'risk.level', from: 'medium', to: 'high' },
      { path: 'updatedAt', from: at(0), to: at(5) },
    ]);
  });

  it('compares arrays as one value, whatever changed inside them', () => {
    const before = buildChange();
    const services = [{ ...before.services[0], name: 'Payments API v2' }];
    const after = { ...before, services } as Change;
    expect(diffChanges(before, after)).toEqual([{ path: 'services', from: before.services, to: services }]);
  });

  it('marks fields that appear or vanish with only `to` or only `from`, and treats undefined as absent', () => {
    const before = asChange({ custom: { a: '1', gone: 'x' }, raw: { kept: 1 } });
    const after = asChange({ custom: { a: '1', added: null, ignored: undefined }, raw: { kept: 1, nested: { deep: true } } });
    expect(diffChanges(before, after)).toEqual([
      { path: 'custom.added', to: null },
      { path: 'custom.gone', from: 'x' },
      { path: 'raw.nested.deep', to: true },
    ]);
  });

  it('reports an object replaced by a scalar (or null) as one entry with both whole values', () => {
    const before = asChange({ assignee: { id: 'u1', name: 'Ada' }, raw: { cmdb_ci: '' } });
    const after = asChange({ assignee: null, raw: { cmdb_ci: { value: 'ci1', display_value: 'db01' } } });
    expect(diffChanges(before, after)).toEqual([
      { path: 'assignee', from: { id: 'u1', name: 'Ada' }, to: null },
      { path: 'raw.cmdb_ci', from: '', to: { value: 'ci1', display_value: 'db01' } },
    ]);
  });

  it('reports an object that vanishes as one entry holding the whole old value', () => {
    const before = asChange({ custom: { a: '1' }, raw: { variables: { env: 'prod', window: 'w1' } } });
    const after = asChange({ custom: { a: '1' }, raw: {} });
    expect(diffChanges(before, after)).toEqual([{ path: 'raw.variables', from: { env: 'prod', window: 'w1' } }]);
  });

  it('keeps an empty object that appears, so replaying the diff restores it', () => {
    expect(diffChanges(asChange({ custom: { a: '1' } }), asChange({ custom: { a: '1' }, raw: {} }))).toEqual([{ path: 'raw', to: {} }]);
  });

  it('escapes dots inside source keys so a path stays unambiguous', () => {
    const before = asChange({ raw: { 'assigned_to.name': 'Ada', assigned_to: { name: 'Ada' } } });
    const after = asChange({ raw: { 'assigned_to.name': 'Grace', assigned_to: { name: 'Grace' } } });
    expect(diffChanges(before, after).map((d) => d.path)).toEqual(['raw.assigned_to.name', 'raw.assigned_to\\.name']);
  });

  it('lists every leaf with only `to` on a first revision', () => {
    const change = buildChange();
    const diff = diffChanges(null, change);
    expect(diff.every((d) => !('from' in d) && 'to' in d)).toBe(true);
    expect(diff).toContainEqual({ path: 'plans.backout', to: change.plans.backout });
    expect(diff).toContainEqual({ path: 'links.commits', to: change.links.commits });
    expect(diff).toContainEqual({ path: 'raw.state.value', to: -4 });
    expect(replay(null, diff)).toEqual(JSON.parse(JSON.stringify(change)));
  });

  it('reads only own fields: a field named like an Object method that disappears is a removal', () => {
    const before = { a: { valueOf: null, constructor: 'x' } } as unknown as Change;
    const after = { a: {} } as unknown as Change;
    expect(diffChanges(before, after)).toEqual([
      { path: 'a.constructor', from: 'x' },
      { path: 'a.valueOf', from: null },
    ]);
  });

  it('turns any version into the next when replayed on it (property)', () => {
    const json = fc.jsonValue({ maxDepth: 4 });
    const record = fc.dictionary(fc.constantFrom('a', 'b', 'c', 'raw', 'risk'), json, { maxKeys: 5 });
    // jsonValue's own keys include '', '.', and '\\', which paths must survive.
    fc.assert(
      fc.property(record, record, (before, after) => {
        const b = JSON.parse(JSON.stringify(before)) as Record<string, unknown>;
        const a = JSON.parse(JSON.stringify(after)) as Record<string, unknown>;
        const diff = diffChanges(asChange(b), asChange(a));
        expect(stableStringify(replay(b, diff))).toBe(stableStringify(a));
        expect(diff.length === 0).toBe(stableStringify(b) === stableStringify(a));
      }),
    );
  });
});
