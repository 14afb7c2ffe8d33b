// msw handler playing Prometheus's HTTP API instant query, GET /api/v1/query
// (docs/querying/api.md): `query` and `time` (unix seconds, fractions
// allowed), the envelope {"status":"success","data":{"resultType":"vector",
// "result":[{"metric":{...},"value":[<unix ts>,"<value as a string>"]}]}},
// and {"status":"error","errorType":"bad_data","error":...} with 400 for an
// expression it cannot parse.

import { http, HttpResponse, type HttpHandler } from 'msw';

/** The value of an expression at a time (epoch ms); null: the query returns no series. */
export type Series = (atMs: number) => number | null;

export class FakePrometheus {
  readonly series = new Map<string, Series>();
  readonly queries: { query: string; atMs: number }[] = [];
  readonly base: string;

  constructor(base: string) {
    this.base = base;
  }

  handler(): HttpHandler {
    return http.get(`${this.base}/api/v1/query`, ({ request }) => {
      const q = new URL(request.url).searchParams;
      const query = q.get('query') ?? '';
      const time = Number(q.get('time'));
      if (query === '' || !Number.isFinite(time)) {
        return HttpResponse.json({ status: 'error', errorType: 'bad_data', error: 'invalid parameter "query": parse error: unexpected end of input' }, { status: 400 });
      }
      const atMs = Math.round(time * 1000);
      this.queries.push({ query, atMs });
      const series = this.series.get(query);
      if (series === undefined) {
        return HttpResponse.json({ status: 'error', errorType: 'bad_data', error: `invalid parameter "query": 1:1: parse error: unknown expression ${query.slice(0, 20)}` }, { status: 400 });
      }
      const value = series(atMs);
      const result = value === null ? [] : [{ metric: { job: 'payments' }, value: [time, String(value)] }];
      return HttpResponse.json({ status: 'success', data: { resultType: 'vector', result } });
    });
  }
}
