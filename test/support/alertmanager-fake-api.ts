// msw handler playing Alertmanager's API v2 `GET /api/v2/alerts` as its
// OpenAPI document (api/v2/openapi.yaml) describes it: `active`, `silenced`,
// `inhibited`, `unprocessed` booleans (default true) and repeatable `filter`
// matchers; each gettableAlert has labels, annotations, receivers,
// fingerprint, startsAt, updatedAt, endsAt (the resolve timeout ahead, never
// 0001-01-01 as in webhooks), generatorURL and status {state, silencedBy,
// inhibitedBy}. A bad matcher is answered 400 with a JSON string, as it does.

import { http, HttpResponse, type HttpHandler } from 'msw';

type Obj = Record<string, unknown>;

export interface FakeAlert {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  fingerprint: string;
  startsAt: string;
  silenced?: boolean;
  inhibited?: boolean;
  state?: 'active' | 'suppressed' | 'unprocessed';
}

function gettable(a: FakeAlert): Obj {
  const suppressed = a.silenced === true || a.inhibited === true;
  return {
    annotations: a.annotations ?? {},
    endsAt: new Date(Date.parse(a.startsAt) + 4 * 3_600_000).toISOString(),
    fingerprint: a.fingerprint,
    receivers: [{ name: 'team-payments' }],
    startsAt: a.startsAt,
    status: { inhibitedBy: a.inhibited ? ['4f0a6b3e1c2d'] : [], silencedBy: a.silenced ? ['d8b6a1f0-0000-4000-8000-000000000001'] : [], state: a.state ?? (suppressed ? 'suppressed' : 'active') },
    updatedAt: a.startsAt,
    generatorURL: `http://prometheus.test:9090/graph?g0.expr=${encodeURIComponent(a.labels['alertname'] ?? '')}`,
    labels: a.labels,
  };
}

export class FakeAlertmanager {
  alerts: FakeAlert[] = [];
  readonly queries: URLSearchParams[] = [];
  /** Answer the next request with this status instead (a restarting Alertmanager). */
  failNext: number | null = null;

  readonly base: string;

  constructor(base: string) {
    this.base = base;
  }

  handler(): HttpHandler {
    return http.get(`${this.base}/api/v2/alerts`, ({ request }) => {
      const q = new URL(request.url).searchParams;
      this.queries.push(q);
      if (this.failNext !== null) {
        const status = this.failNext;
        this.failNext = null;
        return new HttpResponse('upstream connect error', { status });
      }
      const flag = (name: string): boolean => q.get(name) !== 'false';
      const matchers: [string, string][] = [];
      for (const f of q.getAll('filter')) {
        const m = /^([A-Za-z_]\w*)="([^"]*)"$/.exec(f);
        if (m === null) return HttpResponse.json(`bad matcher format: ${f}`, { status: 400 });
        matchers.push([m[1] as string, m[2] as string]);
      }
      const shown = this.alerts.filter(
        (a) =>
          (flag('silenced') || a.silenced !== true) &&
          (flag('inhibited') || a.inhibited !== true) &&
          (flag('active') || a.silenced === true || a.inhibited === true) &&
          (flag('unprocessed') || a.state !== 'unprocessed') &&
          matchers.every(([k, v]) => a.labels[k] === v),
      );
      return HttpResponse.json(shown.map(gettable));
    });
  }
}
