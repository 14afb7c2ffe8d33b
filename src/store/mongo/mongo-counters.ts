// Sequence numbers without a transaction: one counter document per sequence,
// bumped by an atomic find-and-modify. A number taken by a write that then
// failed (a duplicate) is skipped, never reused: ids stay unique and ordered,
// not dense. The counter's first bump is an upsert: two processes making it at
// once race to insert, and the loser (a duplicate key) bumps the document the
// winner made.

import type { Db } from 'mongodb';
import { isDuplicateKey } from './mongo-connection.ts';

interface CounterDoc {
  _id: string;
  n: number;
}

export async function nextSeq(db: Db, name: string): Promise<number> {
  const bump = () => db.collection<CounterDoc>('counters').findOneAndUpdate({ _id: name }, { $inc: { n: 1 } }, { upsert: true, returnDocument: 'after' });
  const doc = await bump().catch((err: unknown) => {
    if (isDuplicateKey(err)) return bump();
    throw err;
  });
  if (doc === null) throw new Error(`counter ${name} was not returned by the server`);
  return doc.n;
}
