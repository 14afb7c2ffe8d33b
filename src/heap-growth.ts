// How far V8 lets the heap grow past what survived its last full collection
// before it collects again. Left to itself V8 picks a factor of up to 4 when
// collections are quick, so a sync whose live objects take some 80 MB (the
// read caches, a page in flight, the modules) ran with 200-240 MB of heap,
// most of it garbage waiting. At 1.5 the same sync of 20,000 changes peaked at
// 300 MB of resident memory instead of 390, for the same CPU (at 1.25 it cost
// 7% more CPU and saved nothing more). Young-generation sizing is a start-up
// flag (--max-semi-space-size on the command lines); this one V8 reads at
// each collection, so the process sets it itself and no command line can
// leave it out.

import { setFlagsFromString } from 'node:v8';

export const HEAP_GROWING_PERCENT = 50;

export function boundHeapGrowth(): void {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
