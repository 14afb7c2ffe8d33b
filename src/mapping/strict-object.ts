// A zod object that rejects unknown keys like `.strict()`, but reports each one at
// its own path ("fields.asignee: unknown key; did you mean assignee?") instead of
// one issue on the parent. With file:line:path errors that points the ops team at
// the line holding the typo, not at the top of the enclosing block.

import { z } from 'zod';

function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The known key closest to `key` when it looks like a typo of it (case or up to two edits). */
export function suggestKey(key: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = 3;
  for (const candidate of known) {
    const d = candidate.toLowerCase() === key.toLowerCase() ? 0 : distance(key, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

export function strictObject<T extends z.ZodRawShape>(shape: T): z.ZodObject<T, z.core.$strict> {
  const known = Object.keys(shape);
  const schema = z.looseObject(shape).superRefine(
    (value, ctx) => {
      if (typeof value !== 'object' || value === null) return;
      for (const key of Object.keys(value)) {
        if (known.includes(key)) continue;
        const hint = suggestKey(key, known);
        ctx.addIssue({
          code: 'custom',
          path: [key],
          input: value,
          message: hint ? `unknown key "${key}"; did you mean "${hint}"?` : `unknown key "${key}"; expected one of ${known.join(', ')}`,
        });
      }
    },
    // Run even when sibling values failed, so one pass reports typos and wrong types together.
    { when: () => true },
  );
  // The refinement rejects every key the loose object would pass through, so the output is the strict shape.
  return schema as unknown as z.ZodObject<T, z.core.$strict>;
}
