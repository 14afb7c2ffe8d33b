// Deterministic randomness for demo and bulk data: the same seed gives the same
// instance, so demos, golden tests and benchmarks are repeatable.

import { createHash } from 'node:crypto';

export class SeededRandom {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }

  /** mulberry32: fast, good enough for test data, not for secrets. */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }

  int(min: number, maxInclusive: number): number {
    return min + Math.floor(this.next() * (maxInclusive - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new RangeError('pick from an empty list');
    return item;
  }

  /** Picks by weight: `[[value, weight], ...]`. */
  weighted<T>(items: readonly (readonly [T, number])[]): T {
    const total = items.reduce((sum, [, w]) => sum + w, 0);
    let r = this.next() * total;
    for (const [value, w] of items) {
      r -= w;
      if (r < 0) return value;
    }
    const last = items[items.length - 1];
    if (!last) throw new RangeError('weighted pick from an empty list');
    return last[0];
  }

  /** A 32-hex sys_id. */
  sysId(): string {
    let out = '';
    for (let i = 0; i < 4; i++) out += Math.floor(this.next() * 4_294_967_296).toString(16).padStart(8, '0');
    return out;
  }
}

/** A stable 32-hex sys_id derived from a name, so reference data has the same ids in every run. */
export function stableSysId(name: string): string {
  let id = stableIds.get(name);
  if (id === undefined) {
    id = createHash('md5').update(name).digest('hex');
    stableIds.set(name, id);
  }
  return id;
}

// Bulk generation asks for the same few hundred names millions of times.
const stableIds = new Map<string, string>();
