// Builds webhook deliveries for the event-source tests: the raw bytes a sender
// signs and the parsed body a source normalises, from one fixture file.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { SourceDelivery } from '../../src/events/event-source-kit.ts';

const FIXTURES = resolve(import.meta.dirname, '../fixtures/events');

export function fixtureBytes(name: string): Buffer {
  return readFileSync(resolve(FIXTURES, name));
}

export function fixtureJson(name: string): Record<string, unknown> {
  return JSON.parse(fixtureBytes(name).toString('utf8')) as Record<string, unknown>;
}

export function delivery(rawBody: Buffer | string, headers: Record<string, string> = {}): SourceDelivery {
  return { headers, rawBody: typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody };
}

/** Drops the fields at the given dotted paths from a deep copy, to play an older or slimmer sender. */
export function without(body: Record<string, unknown>, ...paths: string[]): Record<string, unknown> {
  const copy = structuredClone(body);
  for (const path of paths) {
    const parts = path.split('.');
    let node: unknown = copy;
    for (const part of parts.slice(0, -1)) node = (node as Record<string, unknown> | undefined)?.[part];
    if (typeof node === 'object' && node !== null) delete (node as Record<string, unknown>)[parts.at(-1) ?? ''];
  }
  return copy;
}
