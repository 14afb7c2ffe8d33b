// Spaces requests evenly so an instance never exceeds its configured rate.
// Evenly spaced, not bursty: ServiceNow counts per node and commits every 30 s,
// so a burst can overshoot a rule before the 429s start.
// One budget per instance in a process (`sharedRateLimiter`): a connector makes
// several HTTP clients of one instance (reads, writes that are not retried,
// OAuth tokens, schedules), and a rate each of them kept on its own would add up
// to a multiple of the configured one while a sync and the outbox run together.

import { sleep } from './sleep.ts';

export interface RateLimiter {
  /** Resolves when the caller may send one request. */
  take(signal?: AbortSignal): Promise<void>;
}

const UNLIMITED: RateLimiter = { take: async () => {} };

export function createRateLimiter(requestsPerSecond: number, now: () => number = Date.now): RateLimiter {
  if (!(requestsPerSecond > 0)) return UNLIMITED;
  const spacingMs = 1000 / requestsPerSecond;
  let nextSlot = 0;
  return {
    async take(signal) {
      const current = now();
      const slot = Math.max(current, nextSlot);
      nextSlot = slot + spacingMs;
      if (slot > current) await sleep(slot - current, signal);
    },
  };
}

const shared = new Map<string, RateLimiter>();

/** The process's one limiter of the upstream `key` (an instance and the origin it is reached at) at this rate. */
export function sharedRateLimiter(key: string, requestsPerSecond: number): RateLimiter {
  if (!(requestsPerSecond > 0)) return UNLIMITED;
  const at = `${requestsPerSecond}\n${key}`;
  let limiter = shared.get(at);
  if (limiter === undefined) {
    limiter = createRateLimiter(requestsPerSecond);
    shared.set(at, limiter);
  }
  return limiter;
}
