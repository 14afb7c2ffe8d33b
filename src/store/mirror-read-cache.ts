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
//
// Beside the cores it keeps neighbour views (`NeighbourChange`: the fields the
// overlap gate reads, about a seventh of a core), under a byte bound of their
// own. A busy service's neighbours are read on every validation into authorize
// and every assessment; as views, several times as many stay parsed in the
// same memory, and a view not kept costs a small parse instead of a whole core's.

import type { Approval, Change, JournalEntry, NeighbourChange } from '../domain/change.ts';
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
/** What the parsed cores may take, estimated: 16 MB, some 6,600 cores of a real instance's size (1.8 KB of JSON each). */
export const DEFAULT_CACHE_BYTES = 16 * 1024 * 1024;
/** What the neighbour views may take, estimated: 16 MB, some 20,000 views. */
export const DEFAULT_VIEW_BYTES = 16 * 1024 * 1024;
/**
 * Heap bytes per byte of JSON, with a margin. Measured on the skewed
 * 100,000-change bench mirror (heap used before and after parsing and freezing
 * 20,000 of each, the JSON dropped): a core took 1.03× its JSON (1,844 bytes for
 * 1,790: its text fields dominate), a view 664 bytes for 207 of JSON (its id
 * and small objects dominate, hence the larger overhead below).
 */
const PARSED_PER_JSON_BYTE = 1.25;
/** Per core besides the change: the maps' slots, the entry object, its keys. */
const ENTRY_OVERHEAD_BYTES = 300;
/** Per view besides its JSON: the id and instance strings, the objects and arrays. */
const VIEW_OVERHEAD_BYTES = 500;
export { DEFAULT_RECHECK_MS } from './generation-check.ts';

const MB = 1024 * 1024;

/** The configuration's `store.readCache` (sizes in MB) as the cache's options; absent, the defaults. */
export function readCacheOptions(config: { changesMB: number; neighboursMB: number } | undefined): MirrorReadCacheOptions {
  return config === undefined ? {} : { maxBytes: config.changesMB * MB, maxViewBytes: config.neighboursMB * MB };
}

/** One bound of the cache as /metrics shows it (changegate_read_cache_*): an operator sizes `store.readCache` by it. */
export interface ReadCacheFigures {
  /** Estimated bytes held, and the bound. */
  bytes: number;
  limitBytes: number;
  entries: number;
  /** Reads answered from the cache, and reads that went to the store and were kept, since start. */
  hits: number;
  misses: number;
}

export interface ReadCacheStats {
  changes: ReadCacheFigures;
  neighbours: ReadCacheFigures;
}

export interface MirrorReadCacheOptions {
  /** Entries at most (default DEFAULT_CACHE_ENTRIES). */
  capacity?: number;
  /** Estimated bytes at most (default DEFAULT_CACHE_BYTES). */
  maxBytes?: number;
  /** Estimated bytes of neighbour views at most (default DEFAULT_VIEW_BYTES). */
  maxViewBytes?: number;
  recheckMs?: number;
  /** Monotonic milliseconds. */
  clock?: () => number;
}

export class MirrorReadCache {
  readonly #capacity: number;
  readonly #generation: GenerationCheck;
  /** Cores by canonical id, least recently used first, under the entry and byte bounds. */
  readonly #byId: LruBytes<CachedCore>;
  /** Instance (empty when the caller named none) → key as asked → canonical id, as the store's key lookup resolved it. */
  readonly #idByKey = new Map<string, Map<string, string>>();
  #keysRemembered = 0;
  /** Neighbour views by canonical id, least recently used first, under their own bound. */
  readonly #views: LruBytes<NeighbourChange>;
  /** Answers of repeated lookups (a change's neighbours), by the lookup's parameters; dropped with everything else. */
  readonly #lookups = new Map<string, readonly unknown[]>();
  /** The items the kept answers hold. */
  #lookupItems = 0;

  constructor(readGeneration: () => number, options: MirrorReadCacheOptions = {}) {
    this.#generation = new GenerationCheck(readGeneration, options.recheckMs, options.clock);
    this.#capacity = Math.max(1, options.capacity ?? DEFAULT_CACHE_ENTRIES);
    this.#byId = new LruBytes(Math.max(1, options.maxBytes ?? DEFAULT_CACHE_BYTES), this.#capacity);
    this.#views = new LruBytes(Math.max(1, options.maxViewBytes ?? DEFAULT_VIEW_BYTES));
  }

  get size(): number {
    return this.#byId.size;
  }

  /** The estimated bytes the entries take. */
  get bytes(): number {
    return this.#byId.bytes;
  }

  /** What each bound holds and how often it answered. */
  stats(): ReadCacheStats {
    return { changes: this.#byId.figures(), neighbours: this.#views.figures() };
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
    return this.#byId.get(id);
  }

  /** What the overlap gate reads of a change: its kept core when there is one, else its kept view. */
  viewById(id: string): NeighbourChange | undefined {
    return this.#byId.get(id)?.change ?? this.#views.get(id);
  }

  /** The estimated bytes the neighbour views take. */
  get viewBytes(): number {
    return this.#views.bytes;
  }

  /** Keeps a freshly read neighbour view (frozen here) and returns it; `jsonBytes` is the length of the JSON it was parsed from. */
  addView(view: NeighbourChange, jsonBytes: number): NeighbourChange {
    const frozen = deepFreeze(view);
    this.#views.set(view.id, frozen, Math.ceil(jsonBytes * PARSED_PER_JSON_BYTE) + VIEW_OVERHEAD_BYTES);
    return frozen;
  }

  byKey(key: string, instance: string | undefined): CachedCore | undefined {
    const id = this.#idByKey.get(instance ?? '')?.get(key);
    return id === undefined ? undefined : this.#byId.get(id);
  }

  /** Keeps a freshly read core (frozen here) and returns its entry; `jsonBytes` is the length of the JSON it was parsed from. */
  add(change: Change, instance: string, nativeId: string, jsonBytes: number): CachedCore {
    const existing = this.#byId.get(change.id);
    if (existing !== undefined) return existing;
    const entry: CachedCore = { change: deepFreeze(change), instance, nativeId };
    this.#byId.set(change.id, entry, Math.ceil(jsonBytes * PARSED_PER_JSON_BYTE) + ENTRY_OVERHEAD_BYTES);
    return entry;
  }

  #forgetEntries(): void {
    this.#byId.clear();
    this.#views.clear();
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

/** One entry of LruBytes: the value and its place in the recency list. */
interface LruNode<T> {
  id: string;
  value: T;
  bytes: number;
  older: LruNode<T> | null;
  newer: LruNode<T> | null;
}

/**
 * Values by id, least recently used first, bounded by their estimated bytes and, optionally, their number. The
 * order is a doubly linked list beside the Map: a hit relinks its node, an eviction unlinks the oldest, each in
 * constant time. (Re-inserting into the Map on each hit, and evicting by iterating it from the start, walked the
 * slots that hits had deleted since the Map last compacted: up to its capacity, on every eviction.)
 */
class LruBytes<T> {
  readonly #max: number;
  readonly #maxEntries: number;
  readonly #entries = new Map<string, LruNode<T>>();
  #oldest: LruNode<T> | null = null;
  #newest: LruNode<T> | null = null;
  bytes = 0;
  /** Found by `get`; stored by `set` (each after a read that missed). */
  #hits = 0;
  #misses = 0;

  constructor(max: number, maxEntries = Number.POSITIVE_INFINITY) {
    this.#max = max;
    this.#maxEntries = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(id: string): T | undefined {
    const node = this.#entries.get(id);
    if (node === undefined) return undefined;
    this.#hits++;
    this.#unlink(node);
    this.#append(node);
    return node.value;
  }

  set(id: string, value: T, bytes: number): void {
    this.#misses++;
    const known = this.#entries.get(id);
    if (known !== undefined) this.#remove(known);
    while (this.#oldest !== null && (this.#entries.size >= this.#maxEntries || this.bytes + bytes > this.#max)) this.#remove(this.#oldest);
    const node: LruNode<T> = { id, value, bytes, older: null, newer: null };
    this.#entries.set(id, node);
    this.#append(node);
    this.bytes += bytes;
  }

  clear(): void {
    this.#entries.clear();
    this.#oldest = null;
    this.#newest = null;
    this.bytes = 0;
  }

  figures(): ReadCacheFigures {
    return { bytes: this.bytes, limitBytes: this.#max, entries: this.#entries.size, hits: this.#hits, misses: this.#misses };
  }

  #remove(node: LruNode<T>): void {
    this.#unlink(node);
    this.#entries.delete(node.id);
    this.bytes -= node.bytes;
  }

  #unlink(node: LruNode<T>): void {
    if (node.older === null) this.#oldest = node.newer;
    else node.older.newer = node.newer;
    if (node.newer === null) this.#newest = node.older;
    else node.newer.older = node.older;
    node.older = null;
    node.newer = null;
  }

  #append(node: LruNode<T>): void {
    node.older = this.#newest;
    if (this.#newest === null) this.#oldest = node;
    else this.#newest.newer = node;
    this.#newest = node;
  }
}

export function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  for (const child of Object.values(value)) deepFreeze(child);
  return Object.freeze(value);
}
