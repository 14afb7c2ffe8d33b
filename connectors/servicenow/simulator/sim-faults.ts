// Fault injection: tests and benchmarks queue the failures a real instance shows
// (429 with Retry-After, 5xx, an HTML login page on an expired session, an HTML
// error page, a dropped connection, a slow answer) and the simulator serves them
// before its normal handling.

import { delay, HttpResponse } from 'msw';
import { RATE_LIMIT_RULE_SYS_ID } from './sim-rate-limit.ts';
import { errorPageHtml, errorResponse, htmlResponse, LOGIN_PAGE_HTML, rateLimited } from './sim-responses.ts';

export type SimFault =
  /** 429 gets `Retry-After` and `X-RateLimit-*`; 502/503/504 default to an HTML proxy page, others to the JSON envelope. */
  | { kind: 'status'; status: number; retryAfterSec?: number; body?: 'json' | 'html' }
  /** 200 text/html login form: what an expired session or SSO redirect returns. */
  | { kind: 'html-login' }
  /** An HTML error page instead of the JSON envelope (default 500). */
  | { kind: 'non-json'; status?: number }
  /** The connection drops: fetch rejects (msw `HttpResponse.error()`; a socket reset over real HTTP). */
  | { kind: 'reset' }
  /** Waits, then answers normally. */
  | { kind: 'delay'; ms: number };

export interface FaultFilter {
  /** A string matches when the path contains it; a RegExp is tested against the path. */
  path?: string | RegExp;
  method?: string;
}

export interface FiredFault {
  fault: SimFault;
  method: string;
  path: string;
}

interface Rule {
  fault: SimFault;
  filter: FaultFilter;
  remaining: number;
  period: number;
  seen: number;
}

function matches(filter: FaultFilter, method: string, path: string): boolean {
  if (filter.method && filter.method.toUpperCase() !== method) return false;
  if (filter.path === undefined) return true;
  return typeof filter.path === 'string' ? path.includes(filter.path) : filter.path.test(path);
}

export class SimFaults {
  /** Every fault served, in order. */
  readonly fired: FiredFault[] = [];
  private queue: Rule[] = [];
  private periodic: Rule[] = [];
  private readonly now: () => Date;

  constructor(now: () => Date) {
    this.now = now;
  }

  /** Serves `fault` to the next matching request. Calls queue in order. */
  next(fault: SimFault, filter: FaultFilter = {}): this {
    return this.times(1, fault, filter);
  }

  /** Serves `fault` to each of the next `n` matching requests. */
  times(n: number, fault: SimFault, filter: FaultFilter = {}): this {
    this.queue.push({ fault, filter, remaining: n, period: 1, seen: 0 });
    return this;
  }

  /** Serves `fault` to every `n`th matching request until the returned function is called. */
  every(n: number, fault: SimFault, filter: FaultFilter = {}): () => void {
    if (!Number.isInteger(n) || n < 1) throw new RangeError('faults.every needs a positive integer period');
    const rule: Rule = { fault, filter, remaining: Number.POSITIVE_INFINITY, period: n, seen: 0 };
    this.periodic.push(rule);
    return () => {
      this.periodic = this.periodic.filter((r) => r !== rule);
    };
  }

  clear(): void {
    this.queue = [];
    this.periodic = [];
  }

  /** Queued one-shot faults not yet served. */
  get pending(): number {
    return this.queue.reduce((n, r) => n + r.remaining, 0);
  }

  /** Picks the fault for this request, if any, and records it. */
  take(method: string, path: string): SimFault | undefined {
    let chosen: SimFault | undefined;
    const queued = this.queue.find((r) => matches(r.filter, method, path));
    if (queued) {
      chosen = queued.fault;
      if (--queued.remaining <= 0) this.queue = this.queue.filter((r) => r !== queued);
    }
    for (const rule of this.periodic) {
      if (!matches(rule.filter, method, path)) continue;
      rule.seen++;
      if (!chosen && rule.seen % rule.period === 0) chosen = rule.fault;
    }
    if (chosen) this.fired.push({ fault: chosen, method, path });
    return chosen;
  }

  /** The response for a fault; undefined means "carry on with normal handling" (after a delay). */
  async respond(fault: SimFault): Promise<Response | undefined> {
    switch (fault.kind) {
      case 'delay':
        await delay(fault.ms);
        return undefined;
      case 'reset':
        return HttpResponse.error();
      case 'html-login':
        return htmlResponse(LOGIN_PAGE_HTML, 200);
      case 'non-json':
        return htmlResponse(errorPageHtml(fault.status ?? 500), fault.status ?? 500);
      case 'status': {
        if (fault.status === 429) {
          const retryAfter = fault.retryAfterSec ?? 1;
          const reset = Math.floor(this.now().getTime() / 1000) + retryAfter;
          return rateLimited(100, 3600, {
            'retry-after': String(retryAfter),
            'x-ratelimit-limit': '100',
            'x-ratelimit-reset': String(reset),
            'x-ratelimit-rule': RATE_LIMIT_RULE_SYS_ID,
          });
        }
        const html = fault.body ? fault.body === 'html' : fault.status >= 502 && fault.status <= 504;
        if (html) return htmlResponse(errorPageHtml(fault.status), fault.status);
        return errorResponse(fault.status, fault.status >= 500 ? 'Internal server error' : 'Request failed', `Injected fault ${fault.status}`);
      }
    }
  }
}
