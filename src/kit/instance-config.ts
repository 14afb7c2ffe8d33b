// What every connector instance's configuration has in common, and the value
// types its own fields use. A connector declares its instance schema with
// `instanceConfig(system, shape)`; the config file's `instances:` union is
// derived from the registry (src/config/schema.ts), never listed by hand.

import { validate as validCron } from 'node-cron';
import { z } from 'zod';
import { cronProblem } from './cron-fields.ts';

const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `90s`, `2m`, `1h`, or a number of milliseconds. */
export const Duration = z.union([
  z.number().int().nonnegative(),
  z.string().regex(DURATION, 'expected a duration such as 30s, 2m or 1h').transform((text) => {
    const [, amount, unit] = DURATION.exec(text) as unknown as [string, string, keyof typeof UNIT_MS];
    return Number(amount) * UNIT_MS[unit];
  }),
]);

/** A credential: redacted from logs by the logger's paths, never echoed in errors. */
export const Secret = z.string().min(1).describe('A credential (write it as ${VAR} and set the variable; never logged).');

/** A node-cron expression, checked field by field (the message names the field and its range), then by node-cron itself. */
export const CronExpression = z.string().superRefine((expr, ctx) => {
  const problem = cronProblem(expr);
  if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
  else if (!validCron(expr)) ctx.addIssue({ code: 'custom', message: 'expected a cron expression such as */2 * * * * (every 2 minutes)' });
});

export function isTimeZone(zone: string): boolean {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone !== '';
  } catch {
    return false;
  }
}

/** The fields every instance has, whatever its system. */
export const instanceFields = {
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'expected lower-case letters, digits and dashes, such as sn-prod').describe('Instance id used in logs, metrics, the API and webhook URLs, e.g. sn-prod (lower-case letters, digits, dashes).'),
  baseUrl: z.url().transform((u) => u.replace(/\/+$/, '')).describe('Base URL of the site, e.g. https://acme.service-now.com or https://acme.atlassian.net.'),
  /** node-cron expression; the instance is synced on it by `serve`. */
  schedule: CronExpression.default('*/2 * * * *').describe('When `serve` syncs the instance: a cron expression (5 fields, or 6 with seconds first), e.g. */2 * * * * for every 2 minutes.'),
  overlap: Duration.default(120_000).describe('How far before the saved cursor each sync re-reads (e.g. 2m), so records saved in the same second are not missed.'),
  pageSize: z.number().int().min(1).max(10_000).default(1000).describe('Records per API page (1–10000).'),
  /** Per-request timeout. */
  timeout: Duration.default(30_000).describe('Per-request timeout, e.g. 30s.'),
  /** Attempts after the first for a transient failure. */
  retries: z.number().int().min(0).max(20).default(6).describe('Attempts after the first for a transient failure (0–20).'),
  /** Requests per second at most (0: unlimited). */
  maxRequestsPerSecond: z.number().min(0).default(0).describe('Requests per second at most to this instance (0: unlimited).'),
  mapping: z.string().optional().describe('Mapping file of native states, types and fields (default: the system\'s file in mappings/).'),
  /**
   * Post verdicts, notes and reactive enforcement to the tickets (needs write access). Off by default:
   * changegate then assesses and stores every change but writes nothing, so a first start against a
   * busy instance does not put a note on every open change before someone decides it should.
   */
  writeBack: z.boolean().default(false).describe('Post verdicts, notes and enforcement to the tickets (needs write access); off: assess and store only.'),
  /** What reactive enforcement does with a transition the policy forbids: comment only, or move it back and explain. */
  enforcement: z.enum(['advisory', 'enforce']).default('advisory').describe('What happens to a transition the policy forbids: advisory (comment) or enforce (move it back and explain).'),
  /** `POST /v1/validate` when the mirror is stale or lacks the change: allow (open) or deny (closed). */
  failMode: z.enum(['open', 'closed']).default('open').describe('POST /v1/validate when the mirror is stale or lacks the change: open (allow) or closed (deny).'),
  /** The mirror counts as stale when the instance's last successful sync is older than this. */
  maxStaleness: Duration.default(900_000).describe('The mirror counts as stale when the last successful sync is older than this, e.g. 15m.'),
  /**
   * Set: /readyz answers 503 once the last successful sync is older than this. Absent: /readyz still
   * reports the mirror stale past the larger of `maxStaleness` and three of the schedule's longest gaps
   * (so a slow schedule is not stale between its runs), but stays 200 (README: Store health and readiness).
   */
  unreadyAfter: Duration.refine((ms) => ms > 0, 'expected a duration above 0, such as 30m')
    .optional()
    .describe('/readyz answers 503 once the last successful sync is older than this, e.g. 30m (default: unset; the mirror is then reported stale past the larger of maxStaleness and 3 sync intervals, with /readyz still 200).'),
};

/** What the core reads of any instance (the parsed common fields plus its system). */
export interface BaseInstanceConfig {
  id: string;
  system: string;
  baseUrl: string;
  schedule: string;
  overlap: number;
  pageSize: number;
  timeout: number;
  retries: number;
  maxRequestsPerSecond: number;
  mapping?: string | undefined;
  writeBack: boolean;
  enforcement: 'advisory' | 'enforce';
  failMode: 'open' | 'closed';
  maxStaleness: number;
  unreadyAfter?: number | undefined;
}

/**
 * A connector's instance schema: the common fields, `system` fixed to the
 * connector's name, and its own fields; unknown keys are refused.
 */
export function instanceConfig<S extends string, T extends z.ZodRawShape>(system: S, shape: T) {
  return z.object({ ...instanceFields, system: z.literal(system).describe(`The system of this instance: ${system}.`), ...shape }).strict();
}
