// Spaces requests evenly so an instance never exceeds its configured rate.
// Evenly spaced, not bursty: ServiceNow counts per node and commits every 30 s,
// so a burst can overshoot a rule before the 429s start.

import { sleep } from './sleep.ts';

export interface RateLimiter {
  /** Resolves when the caller may send one request. */
  take(signal?: AbortSignal): Promise<void>;
}

export function createRateLimiter(requestsPerSecond: number, now: () => number = Date.now): RateLimiter {
  if (!(requestsPerSecond > 0)) return { take: async () => {} };
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
