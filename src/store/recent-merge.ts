// A bounded k-way merge of id streams that each come most recently updated
// first (`updated_at DESC, id`): the neighbour lookup reads one such stream per
// shared service/CI (and day) from an index and stops once it has `limit`
// distinct changes, so it reads about `limit` rows whatever the streams hold.
//
// A change found under several refs or days appears in several streams, always
// with the same (updatedAt, id): equal keys leave the heap one after another,
// so skipping a repeat of the id just taken removes every duplicate.

/** One row of a stream: the change's normalised updatedAt, then its id. */
export type RecentRow = readonly [updatedAt: string, id: string];

interface Head {
  row: RecentRow;
  rest: Iterator<RecentRow>;
}

/** The first `limit` distinct ids across `streams`, most recently updated first, then by id. */
export function mergeMostRecent(streams: readonly Iterator<RecentRow>[], limit: number): string[] {
  const heap: Head[] = [];
  for (const rest of streams) {
    const first = rest.next();
    if (first.done !== true) push(heap, { row: first.value, rest });
  }
  const ids: string[] = [];
  let last: string | undefined;
  while (heap.length > 0 && ids.length < limit) {
    const top = heap[0] as Head;
    const id = top.row[1];
    if (id !== last) ids.push((last = id));
    const next = top.rest.next();
    if (next.done === true) {
      const tail = heap.pop() as Head;
      if (heap.length > 0) {
        heap[0] = tail;
        siftDown(heap, 0);
      }
    } else {
      top.row = next.value;
      siftDown(heap, 0);
    }
  }
  return ids;
}

/** Whether `a` comes before `b`: more recently updated, or as recent with the smaller id. */
function before(a: RecentRow, b: RecentRow): boolean {
  return a[0] === b[0] ? a[1] < b[1] : a[0] > b[0];
}

function push(heap: Head[], head: Head): void {
  heap.push(head);
  let at = heap.length - 1;
  while (at > 0) {
    const parent = (at - 1) >> 1;
    if (!before(head.row, (heap[parent] as Head).row)) break;
    heap[at] = heap[parent] as Head;
    at = parent;
  }
  heap[at] = head;
}

function siftDown(heap: Head[], from: number): void {
  const head = heap[from] as Head;
  let at = from;
  for (;;) {
    const left = 2 * at + 1;
    if (left >= heap.length) break;
    const right = left + 1;
    const child = right < heap.length && before((heap[right] as Head).row, (heap[left] as Head).row) ? right : left;
    if (!before((heap[child] as Head).row, head.row)) break;
    heap[at] = heap[child] as Head;
    at = child;
  }
  heap[at] = head;
}
