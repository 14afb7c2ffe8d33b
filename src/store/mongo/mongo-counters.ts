// Sequence numbers without a transaction: one counter document per sequence,
// bumped by an atomic find-and-modify. A number taken by a write that then
// failed (a duplicate) is skipped, never reused: ids stay unique and ordered,
// not dense.

import type { Db } from 'mongodb';

interface CounterDoc {
  _id: string;
  n: number;
}

export async function nextSeq(db: Db, name: string): Promise<number> {
  const doc = await db.collection<CounterDoc>('counters').findOneAndUpdate({ _id: name }, { $inc: { n: 1 } }, { upsert: true, returnDocument: 'after' });
  if (doc === null) throw new Error(`counter ${name} was not returned by the server`);
  return doc.n;
}
