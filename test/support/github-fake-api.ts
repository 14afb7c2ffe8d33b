// msw handlers playing GitHub's REST API for the scheduled pull, as GitHub
// documents it ("List workflow runs for a repository", "List deployments",
// "List deployment statuses", "Rate limits for the REST API", "Using
// pagination"): runs and deployments in the shapes of the webhook samples
// (the same objects), `created=>=` filtering, `per_page`/`page` with a Link
// header naming the repository by id as GitHub's do (`/repositories/{id}/…`),
// a weak ETag per answer and 304 to a matching If-None-Match (which costs no
// quota), X-RateLimit-* on every answer, 401 without a token.

import { createHash } from 'node:crypto';
import { http, HttpResponse, type HttpHandler } from 'msw';
import { fixtureJson } from './source-delivery.ts';

export const GITHUB_API = 'https://api.github.test';
type Obj = Record<string, unknown>;

/** A run in the REST shape: the sample webhook's `workflow_run`, with the given fields. */
export function run(fields: Obj): Obj {
  const base = structuredClone(fixtureJson('github_workflow_run_completed.json')['workflow_run']) as Obj;
  return { ...base, ...fields };
}

export function deployment(fields: Obj): Obj {
  const base = structuredClone(fixtureJson('github_deployment_status.json')['deployment']) as Obj;
  return { ...base, ...fields };
}

export function deploymentStatus(fields: Obj): Obj {
  const base = structuredClone(fixtureJson('github_deployment_status.json')['deployment_status']) as Obj;
  return { ...base, ...fields };
}

export interface FakeGithubRequest {
  path: string;
  query: URLSearchParams;
  ifNoneMatch: string | null;
  status: number;
}

export class FakeGithub {
  readonly runs = new Map<string, Obj[]>();
  readonly deployments = new Map<string, Obj[]>();
  readonly statuses = new Map<string, Obj[]>();
  readonly requests: FakeGithubRequest[] = [];
  token = 'ghp_test';
  /** Quota left; a 304 does not spend it. */
  remaining = 5000;
  resetAt = 0;
  /** Answers to play before the normal ones (a throttle), consumed in order. */
  readonly throttles: { status: number; headers: Record<string, string> }[] = [];

  /** Repository ids, as GitHub's Link headers name repositories (`/repositories/{id}/...`). */
  readonly #ids = new Map<string, string>();

  #repoOf(params: Record<string, unknown>): string {
    if (params['id'] === undefined) return `${String(params['owner'])}/${String(params['repo'])}`;
    return [...this.#ids].find(([, id]) => id === String(params['id']))?.[0] ?? '';
  }

  #idOf(repo: string): string {
    if (!this.#ids.has(repo)) this.#ids.set(repo, String(1_296_269 + this.#ids.size));
    return this.#ids.get(repo) as string;
  }

  handlers(): HttpHandler[] {
    const runs = ({ request, params }: { request: Request; params: Record<string, unknown> }) =>
      this.#answer(request, this.#repoOf(params), () => {
        const q = new URL(request.url).searchParams;
        const since = /^>=(.+)$/.exec(q.get('created') ?? '')?.[1];
        const all = (this.runs.get(this.#repoOf(params)) ?? [])
          .filter((r) => since === undefined || Date.parse(String(r['created_at'])) >= Date.parse(since))
          .toSorted((a, b) => Date.parse(String(b['created_at'])) - Date.parse(String(a['created_at'])));
        return { list: all, wrap: (page: Obj[]) => ({ total_count: all.length, workflow_runs: page }) };
      });
    const deployments = ({ request, params }: { request: Request; params: Record<string, unknown> }) =>
      this.#answer(request, this.#repoOf(params), () => {
        const all = (this.deployments.get(this.#repoOf(params)) ?? []).toSorted((a, b) => Number(b['id']) - Number(a['id']));
        return { list: all, wrap: (page: Obj[]) => page };
      });
    return [
      http.get(`${GITHUB_API}/repos/:owner/:repo/actions/runs`, runs),
      http.get(`${GITHUB_API}/repositories/:id/actions/runs`, runs),
      http.get(`${GITHUB_API}/repos/:owner/:repo/deployments`, deployments),
      http.get(`${GITHUB_API}/repositories/:id/deployments`, deployments),
      http.get(`${GITHUB_API}/repos/:owner/:repo/deployments/:id/statuses`, ({ request, params }) =>
        this.#answer(request, `${String(params['owner'])}/${String(params['repo'])}`, () => {
          const all = (this.statuses.get(String(params['id'])) ?? []).toSorted((a, b) => Number(b['id']) - Number(a['id']));
          return { list: all, wrap: (page: Obj[]) => page };
        }),
      ),
      http.get(`${GITHUB_API}/repos/:owner/:repo/deployments/:id`, ({ request, params }) =>
        this.#answer(request, `${String(params['owner'])}/${String(params['repo'])}`, () => {
          const found = [...this.deployments.values()].flat().find((d) => String(d['id']) === String(params['id']));
          return found === undefined ? null : { list: [found], wrap: (page: Obj[]) => page[0] as Obj };
        }),
      ),
    ];
  }

  #answer(request: Request, repo: string, read: () => { list: Obj[]; wrap: (page: Obj[]) => unknown } | null): Response {
    const url = new URL(request.url);
    const record = (status: number): void =>
      void this.requests.push({ path: url.pathname, query: url.searchParams, ifNoneMatch: request.headers.get('if-none-match'), status });
    const rate = (): Record<string, string> => ({
      'x-ratelimit-limit': '5000',
      'x-ratelimit-remaining': String(this.remaining),
      'x-ratelimit-used': String(5000 - this.remaining),
      'x-ratelimit-reset': String(this.resetAt),
      'x-ratelimit-resource': 'core',
    });
    if (request.headers.get('authorization') !== `Bearer ${this.token}`) {
      record(401);
      return HttpResponse.json({ message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' }, { status: 401 });
    }
    const throttle = this.throttles.shift();
    if (throttle !== undefined) {
      record(throttle.status);
      return HttpResponse.json(
        { message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.', documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api', status: String(throttle.status) },
        { status: throttle.status, headers: { ...rate(), ...throttle.headers } },
      );
    }
    const found = read();
    if (found === null) {
      record(404);
      return HttpResponse.json({ message: 'Not Found', documentation_url: 'https://docs.github.com/rest', status: '404' }, { status: 404 });
    }
    const perPage = Math.min(100, Number(url.searchParams.get('per_page') ?? 30));
    const page = Number(url.searchParams.get('page') ?? 1);
    const body = found.wrap(found.list.slice((page - 1) * perPage, page * perPage));
    const etag = `W/"${createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 32)}"`;
    if (request.headers.get('if-none-match') === etag) {
      record(304);
      return new HttpResponse(null, { status: 304, headers: { etag, ...rate() } });
    }
    this.remaining = Math.max(0, this.remaining - 1);
    const headers: Record<string, string> = { etag, ...rate() };
    const last = Math.max(1, Math.ceil(found.list.length / perPage));
    if (page < last) {
      // GitHub's links name the repository by id: /repositories/1296269/actions/runs?...&page=2.
      const link = (p: number): string => {
        const u = new URL(url);
        u.pathname = u.pathname.replace(/^\/repos\/[^/]+\/[^/]+/, `/repositories/${this.#idOf(repo)}`);
        u.searchParams.set('page', String(p));
        return u.toString();
      };
      headers['link'] = `<${link(page + 1)}>; rel="next", <${link(last)}>; rel="last"`;
    }
    record(200);
    return HttpResponse.json(body as Obj, { headers });
  }
}
