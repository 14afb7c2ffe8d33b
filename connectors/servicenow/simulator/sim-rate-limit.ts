// Inbound REST rate limiting (reference §6): a fixed window per rule, counted by
// the simulator clock, with `X-RateLimit-*` on every response the rule covers
// and 429 + `Retry-After` over the limit.

export interface RateLimitOptions {
  /** Requests allowed per window. */
  limit: number;
  /** Window length; ServiceNow rules count per hour (3600). */
  windowSec: number;
}

/** sys_id of the simulated sys_rate_limit_rules row (invented). */
export const RATE_LIMIT_RULE_SYS_ID = '3c1f5a0fdb2330104f5ef6f3f39619a4';

export interface RateLimitDecision {
  allowed: boolean;
  headers: Record<string, string>;
}

export class SimRateLimit {
  readonly options: RateLimitOptions;
  private readonly now: () => Date;
  private windowStart = 0;
  private count = 0;

  constructor(options: RateLimitOptions, now: () => Date) {
    if (options.limit < 1 || options.windowSec <= 0) throw new RangeError('rateLimit needs limit ≥ 1 and windowSec > 0');
    this.options = options;
    this.now = now;
  }

  check(): RateLimitDecision {
    const nowMs = this.now().getTime();
    const windowMs = this.options.windowSec * 1000;
    const start = Math.floor(nowMs / windowMs) * windowMs;
    if (start !== this.windowStart) {
      this.windowStart = start;
      this.count = 0;
    }
    this.count++;
    const resetMs = start + windowMs;
    const headers: Record<string, string> = {
      'x-ratelimit-limit': String(this.options.limit),
      'x-ratelimit-reset': String(Math.floor(resetMs / 1000)),
      'x-ratelimit-rule': RATE_LIMIT_RULE_SYS_ID,
    };
    if (this.count <= this.options.limit) return { allowed: true, headers };
    headers['retry-after'] = String(Math.max(1, Math.ceil((resetMs - nowMs) / 1000)));
    return { allowed: false, headers };
  }
}
