// Scripted failures for retry and backoff tests: one-shot (`next`) or
// periodic (`every`) 429s with Retry-After and an optional RateLimit-Reason,
// 5xx answers, connection resets and added latency, optionally limited to
// requests whose method/path match.

export type SimFault =
  | { kind: 'rate-limit'; retryAfterSec?: number; reason?: string }
  | { kind: 'server-error'; status?: 500 | 502 | 503 | 504; retryAfterSec?: number }
  | { kind: 'reset' }
  | { kind: 'delay'; ms: number };

export interface FaultMatch {
  method?: string;
  /** Substring of, or pattern for, the path below the base URL. */
  path?: string | RegExp;
}

interface Rule {
  fault: SimFault;
  match: FaultMatch | undefined;
  every: number;
  seen: number;
  remaining: number;
}

function matches(m: FaultMatch | undefined, method: string, path: string): boolean {
  if (!m) return true;
  if (m.method && m.method.toUpperCase() !== method.toUpperCase()) return false;
  if (m.path === undefined) return true;
  return typeof m.path === 'string' ? path.includes(m.path) : m.path.test(path);
}

export class FaultInjector {
  private rules: Rule[] = [];

  /** The next matching request fails with `fault` (queue several by calling again; `times` repeats it). */
  next(fault: SimFault, match?: FaultMatch, times = 1): this {
    this.rules.push({ fault, match, every: 1, seen: 0, remaining: times });
    return this;
  }

  /** Every n-th matching request fails with `fault`, until `clear()`. */
  every(n: number, fault: SimFault, match?: FaultMatch): this {
    if (!Number.isInteger(n) || n < 1) throw new RangeError('faults.every(n) needs a positive integer n');
    this.rules.push({ fault, match, every: n, seen: 0, remaining: Number.POSITIVE_INFINITY });
    return this;
  }

  clear(): void {
    this.rules = [];
  }

  get pending(): number {
    return this.rules.filter((r) => Number.isFinite(r.remaining)).reduce((n, r) => n + r.remaining, 0);
  }

  /** The fault for this request, if any; one-shot rules are consumed in order. */
  take(method: string, path: string): SimFault | undefined {
    for (const rule of this.rules) {
      if (!matches(rule.match, method, path)) continue;
      rule.seen++;
      if (rule.seen % rule.every !== 0) continue;
      rule.remaining--;
      if (rule.remaining <= 0) this.rules = this.rules.filter((r) => r !== rule);
      return rule.fault;
    }
    return undefined;
  }
}
