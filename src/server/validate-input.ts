// Validate API input at the edge with zod; the error names the field.

import type { z } from 'zod';
import { ChangegateError } from '../errors.ts';

export function parseInput<S extends z.ZodType>(schema: S, value: unknown, where: 'query' | 'body' | 'params'): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue ? (issue.code === 'unrecognized_keys' ? [...issue.path, ...issue.keys.slice(0, 1)] : issue.path) : [];
  const field = path.length > 0 ? path.map(String).join('.') : where;
  // The input as a whole (a body that is not an object) is named once: `body: …`.
  const named = path.length > 0 ? `${where} ${field}` : where;
  throw new ChangegateError('CG_INPUT_INVALID', `${named}: ${issue?.message ?? 'invalid'}`, {
    details: { field, where, issues: result.error.issues.map((i) => ({ field: i.path.map(String).join('.'), message: i.message })) },
  });
}
