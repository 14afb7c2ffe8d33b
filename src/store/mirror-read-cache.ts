// Parsed change cores (a change without its source payload) and their child
// records, kept between reads for as long as the mirror has not changed.
//
// The validate endpoint and the overlap gate read the same active changes over
// and over (a change and, for each of its neighbours on a shared service, the
// neighbour itself); parsing ~2 KB of JSON per change per read was most of a
// validation's cost. A write through the owning store drops the whole cache at
// once (`invalidate`). A write from another connection or process (a one-shot
// `changegate sync` beside `serve`) is seen through `mirror_generation`, which
// triggers bump on every write to the cores, approvals and journal: the store
// reads it at most every `recheckMs` (a statement costs as much as the rest of
// a cached read), so another process's write reaches cached readers within
// that bound, well inside how far any mirror trails its source. A changed
// generation drops the whole cache; nothing is patched in place.
//
// Entries are deep-frozen: every reader shares them, so a caller that tried to
// modify one would corrupt the next reader's answer. It throws instead.
//
// Bounded by bytes, least recently used first: a server's and a sync's memory
// stays flat however large the mirror grows, and the changes read most (the
// active ones on busy services, each the neighbour of many) stay parsed. An
// entry's bytes are estimated from the JSON it was parsed from.

import type { Approval, Change, JournalEntry } from '../domain/change.ts';
import { GenerationCheck } from './generation-check.ts';

export interface CachedCore {
  change: Change;
  instance: string;
  nativeId: string;
  /** Read on first demand (most validations need neither list). */
  approvals?: readonly Approval[];
  journal?: readonly JournalEntry[];
}

export const DEFAULT_CACHE_ENTRIES = 50_000;
/** Neighbour answers kept at most (each up to 200 changes). */
const MAX_LOOKUPS = 1_000;
/**
 * Changes the kept answers may hold in all. Answers hold changes the byte bound
 * evicted, out of its reach: a thousand answers of 200 distinct changes each
 * (a sync assessing changes in id order meets few twice) held most of a
 * 100,000-change mirror alive.
 */
const MAX_LOOKUP_ITEMS = 10_000;
/** What the parsed entries may take, estimated: 16 MB (96 MB measured 18% less server CPU per validation on a 100,000-change skewed mirror, no gain in a sync). */
export const DEFAULT_CACHE_BYTES = 16 * 1024 * 1024;
/** A parsed object takes several times the bytes of its JSON text (property maps, boxed strings); measured about 3×. */
const PARSED_PER_JSON_BYTE = 3;
/** Per entry besides the change: the maps' slots, the entry object, its keys. */
const ENTRY_OVERHEAD_BYTES = 200;
export { DEFAULT_RECHECK_MS } from './generation-check.ts';

export interface MirrorReadCacheOptions {
  /** Entries at most (default DEFAULT_CACHE_ENTRIES). */
  capacity?: number;
  /** Estimated bytes at most (default DEFAULT_CACHE_BYTES). */
  maxBytes?: number;
  recheckMs?: number;
  /** Monotonic milliseconds. */
  clock?: () => number;
}

export class MirrorReadCache {
  readonly #capacity: number;
  readonly #maxBytes: number;
  #bytes = 0;
  /** The estimated bytes of each entry, by canonical id. */
  readonly #sizes = new Map<string, number>();
  readonly #generation: GenerationCheck;
  /** By canonical id, in insertion order (the oldest is evicted first). */
  readonly #byId = new Map<string, CachedCore>();
  /** Instance (empty when the caller named none) → key as asked → canonical id, as the store's key lookup resolved it. */
  readonly #idByKey = new Map<string, Map<string, string>>();
  #keysRemembered = 0;
  /** Answers of repeated lookups (a change's neighbours), by the lookup's parameters; dropped with everything else. */
  readonly #lookups = new Map<string, readonly unknown[]>();
  /** The items the kept answers hold. */
  #lookupItems = 0;

  constructor(readGeneration: () => number, options: MirrorReadCacheOptions = {}) {
    this.#generation = new GenerationCheck(readGeneration, options.recheckMs, options.clock);
    this.#capacity = Math.max(1, options.capacity ?? DEFAULT_CACHE_ENTRIES);
    this.#maxBytes = Math.max(1, options.maxBytes ?? DEFAULT_CACHE_BYTES);
  }

  get size(): number {
    return this.#byId.size;
  }

  /** The estimated bytes the entries take. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Call once before a read: forgets everything if another connection wrote the mirror since the entries were read. */
  refresh(): void {
    if (!this.#generation.moved()) return;
    this.#forgetEntries();
    this.#forgetKeys();
  }

  /** The owning store wrote (or tried to): forget everything, and read the generation again on the next read. */
  invalidate(): void {
    this.#forgetEntries();
    this.#forgetKeys();
    this.#generation.reset();
  }

  byId(id: string): CachedCore | undefined {
    return this.#touch(id);
  }

  byKey(key: string, instance: string | undefined): CachedCore | undefined {
    const id = this.#idByKey.get(instance ?? '')?.get(key);
    return id === undefined ? undefined : this.#touch(id);
  }

  /** Keeps a freshly read core (frozen here) and returns its entry; `jsonBytes` is the length of the JSON it was parsed from. */
  add(change: Change, instance: string, nativeId: string, jsonBytes = 0): CachedCore {
    const existing = this.#touch(change.id);
    if (existing !== undefined) return existing;
    const bytes = jsonBytes * PARSED_PER_JSON_BYTE + ENTRY_OVERHEAD_BYTES;
    // The least recently used first (a Map iterates in insertion order, and a hit re-inserts).
    for (const oldest of this.#byId.keys()) {
      if (this.#byId.size < this.#capacity && this.#bytes + bytes <= this.#maxBytes) break;
      this.#drop(oldest);
    }
    const entry: CachedCore = { change: deepFreeze(change), instance, nativeId };
    this.#byId.set(change.id, entry);
    this.#sizes.set(change.id, bytes);
    this.#bytes += bytes;
    return entry;
  }

  /** The entry, now the most recently used. */
  #touch(id: string): CachedCore | undefined {
    const entry = this.#byId.get(id);
    if (entry === undefined) return undefined;
    this.#byId.delete(id);
    this.#byId.set(id, entry);
    return entry;
  }

  #drop(id: string): void {
    this.#byId.delete(id);
    this.#bytes -= this.#sizes.get(id) ?? 0;
    this.#sizes.delete(id);
  }

  #forgetEntries(): void {
    this.#byId.clear();
    this.#sizes.clear();
    this.#bytes = 0;
  }

  /** Remembers which change a key lookup resolved to (a later lookup of the same spelling skips SQLite). */
  rememberKey(key: string, instance: string | undefined, id: string): void {
    // Keys outlive evicted entries; past twice the capacity the maps start over rather than growing.
    if (this.#keysRemembered >= this.#capacity * 2) this.#forgetKeys();
    const scope = instance ?? '';
    let keys = this.#idByKey.get(scope);
    if (keys === undefined) this.#idByKey.set(scope, (keys = new Map()));
    if (!keys.has(key)) this.#keysRemembered++;
    keys.set(key, id);
  }

  /** A lookup's answer while the mirror is unchanged: computed (and frozen) on the first call with `key`. */
  lookup<T>(key: string, compute: () => T[]): readonly T[] {
    const known = this.#lookups.get(key);
    if (known !== undefined) return known as readonly T[];
    const answer = Object.freeze(compute());
    // Answers hold changes the byte bound may have evicted: few are kept, so they cannot hold the mirror alive.
    if (this.#lookups.size >= MAX_LOOKUPS || this.#lookupItems + answer.length > MAX_LOOKUP_ITEMS) this.#forgetLookups();
    this.#lookups.set(key, answer);
    this.#lookupItems += answer.length;
    return answer;
  }

  #forgetKeys(): void {
    this.#idByKey.clear();
    this.#keysRemembered = 0;
    this.#forgetLookups();
  }

  #forgetLookups(): void {
    this.#lookups.clear();
    this.#lookupItems = 0;
  }
}

export function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  for (const child of Object.values(value)) deepFreeze(child);
  return Object.freeze(value);
}
