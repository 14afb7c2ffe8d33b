// The scheduled GitHub Actions pull: for each configured repository, the
// workflow runs created since the saved bound (GET /repos/{o}/{r}/actions/runs,
// paged by the Link header) and the recent deployments with their latest status
// (GET /repos/{o}/{r}/deployments, /deployments/{id}/statuses). Each run or
// deployment becomes a delivery in the webhook's own shape, normalised by the
// github source like any webhook (pulled-delivery.ts), so webhooks and pulls
// agree on event ids and a run seen both ways is stored once.
//
// Costs: every first page is a conditional request (If-None-Match with the
// ETag saved by the last pull), and GitHub does not count a 304 against the
// rate limit; a quiet repository costs nothing. The rate-limit headers are read
// on every answer: with X-RateLimit-Remaining at 0 the source pauses until
// X-RateLimit-Reset, and 403/429 throttles go through the one retry classifier.

import type { EventPullConfig } from '../../config/schema.ts';
import type { HttpClient, HttpResult } from '../../http/http-client.ts';
import { headerValue, parseWait } from '../../http/retry-classifier.ts';
import type { Logger } from '../../log.ts';
import type { EventStore } from '../../store/event-store.ts';
import { obj, str, type Json } from '../event-fields.ts';
import { githubSource } from '../sources/github.ts';
import { badResponse } from './pull-http.ts';
import { recordPulled, type PulledItem } from './pulled-delivery.ts';

/** GitHub's recommended media type and the REST API version the shapes were read from. */
export const GITHUB_HEADERS = { Accept: 'application/vnd.github+json', 'X-GitHub-Api-Version': '2022-11-28' };

const PER_PAGE = 100;
/** At most this many pages per list and pull (GitHub returns at most 1,000 filtered runs anyway). */
const MAX_PAGES = 10;
/** A deployment whose latest status is one of these is not read again. */
const FINAL_DEPLOY_STATES = new Set(['success', 'failure', 'error', 'inactive']);

/** Where one repository's pull stands, saved after what it read is recorded. */
interface RepoState {
  /** The `created>=` bound of the runs query: the oldest run still open at the last pull, else the newest run seen. */
  runsSince: string;
  /** The first page's ETag by request path, kept only when the list fit in that page (a 304 then means nothing moved). */
  etags: Record<string, string>;
  /** Deployments not yet in a final state: their statuses are read again, conditionally. */
  openDeployments: Record<string, { createdAt: string; etag: string | null }>;
}

export interface RepoPullReport {
  repo: string;
  /** Requests answered 304 (no rate-limit cost). */
  notModified: number;
  requests: number;
  recorded: number;
  /** Items the store already held in the same state (a webhook came first, or an earlier pull). */
  known: number;
}

export interface GithubPullDeps {
  sourceId: string;
  pull: Pick<EventPullConfig, 'repos' | 'since'>;
  http: HttpClient;
  events: EventStore;
  logger: Logger;
  clock?: () => Date;
}

/** GitHub's date filter syntax takes whole seconds: `2026-03-12T10:00:07Z` (truncated, so the bound only widens). */
export function githubTime(iso: string): string {
  return new Date(Math.floor(Date.parse(iso) / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** `<https://api.github.com/...&page=2>; rel="next", <...>; rel="last"` → the next URL. */
export function nextLink(link: string | undefined): string | null {
  if (link === undefined) return null;
  for (const part of link.split(',')) {
    const m = /<([^>]+)>\s*;\s*rel="?([^";]+)"?/.exec(part.trim());
    if (m && m[2]?.split(/\s+/).includes('next')) return m[1] ?? null;
  }
  return null;
}

export class GithubPuller {
  readonly #deps: GithubPullDeps;
  readonly #baseUrl: string;
  /** Epoch ms until which the primary rate limit is spent: no request before it. */
  #pausedUntil = 0;

  constructor(deps: GithubPullDeps, baseUrl: string) {
    this.#deps = deps;
    this.#baseUrl = baseUrl.replace(/\/+$/, '');
  }

  #now(): Date {
    return this.#deps.clock?.() ?? new Date();
  }

  /** The pause a spent rate limit imposes, if any (ISO-8601 UTC). */
  pausedUntil(): string | null {
    return this.#pausedUntil > this.#now().getTime() ? new Date(this.#pausedUntil).toISOString() : null;
  }

  /** Pulls every configured repository; one failing does not stop the others. Throws only when all failed. */
  async pullAll(): Promise<RepoPullReport[]> {
    const reports: RepoPullReport[] = [];
    let lastError: unknown = null;
    for (const repo of this.#deps.pull.repos) {
      const paused = this.pausedUntil();
      if (paused !== null) {
        this.#deps.logger.warn({ source: this.#deps.sourceId, until: paused }, `${this.#deps.sourceId}: GitHub rate limit spent; pulls resume after ${paused}`);
        break;
      }
      try {
        reports.push(await this.pullRepo(repo));
      } catch (err) {
        lastError = err;
        this.#deps.logger.error({ err, source: this.#deps.sourceId, repo }, `${this.#deps.sourceId}: pulling ${repo} failed`);
      }
    }
    if (reports.length === 0 && lastError !== null) throw lastError;
    return reports;
  }

  async pullRepo(repo: string): Promise<RepoPullReport> {
    const { events, sourceId } = this.#deps;
    const key = `${sourceId}:${repo}`;
    const now = this.#now();
    const saved = await events.pullState(key);
    const state: RepoState = saved === null ? { runsSince: new Date(now.getTime() - this.#deps.pull.since).toISOString(), etags: {}, openDeployments: {} } : (JSON.parse(saved) as RepoState);
    const report: RepoPullReport = { repo, notModified: 0, requests: 0, recorded: 0, known: 0 };
    const etags: Record<string, string> = {};
    const runs = await this.#list(repo, `/repos/${repo}/actions/runs?${new URLSearchParams({ per_page: String(PER_PAGE), created: `>=${githubTime(state.runsSince)}` })}`, 'workflow_runs', state, etags, report);
    // Oldest first, as the webhooks would have come.
    const byAge = (runs ?? []).toSorted((a, b) => Date.parse(str(a['created_at']) ?? '') - Date.parse(str(b['created_at']) ?? ''));
    for (const run of byAge) await this.#record(this.#runItem(repo, run), now, report);
    const deployments = await this.#list(repo, `/repos/${repo}/deployments?per_page=${PER_PAGE}`, null, state, etags, report, state.runsSince);
    const open = await this.#deployments(repo, deployments, state, now, report);
    const next: RepoState = { runsSince: runs === null ? state.runsSince : this.#nextSince(runs, state.runsSince, now), etags, openDeployments: open };
    await events.savePullState(key, JSON.stringify(next), now.toISOString());
    this.#deps.logger.info({ source: sourceId, ...report }, `${sourceId}: pulled ${repo}: ${report.recorded} new, ${report.known} known, ${report.notModified}/${report.requests} requests not modified`);
    return report;
  }

  /**
   * Reads a list, following `rel="next"`. The first page is conditional when the
   * last pull's list fit in it; null when it answered 304 (nothing moved). With
   * `until`, a list sorted newest first stops at the first item created before it.
   */
  async #list(repo: string, first: string, field: string | null, state: RepoState, etags: Record<string, string>, report: RepoPullReport, until?: string): Promise<Json[] | null> {
    const items: Json[] = [];
    let path: string | null = first;
    for (let page = 1; path !== null && page <= MAX_PAGES; page++) {
      const etag = page === 1 ? state.etags[first] : undefined;
      const res = await this.#get(path, etag);
      report.requests++;
      if (res.status === 304) {
        report.notModified++;
        etags[first] = etag as string;
        return null;
      }
      const list = field === null ? res.data : obj(res.data)?.[field];
      if (!Array.isArray(list)) throw badResponse(this.#deps.sourceId, path, field === null ? 'expected a JSON array' : `expected a JSON object with a ${field} array`);
      const kept = list.map(obj).filter((i): i is Json => i !== null);
      const older = until === undefined ? -1 : kept.findIndex((i) => Date.parse(str(i['created_at']) ?? '') < Date.parse(until));
      items.push(...(older === -1 ? kept : kept.slice(0, older)));
      const next = older === -1 ? nextLink(res.headers['link']) : null;
      if (page === 1 && next === null && res.headers['etag'] !== undefined) etags[first] = res.headers['etag'];
      path = next === null ? null : this.#relative(next, repo);
    }
    if (path !== null) this.#deps.logger.warn({ source: this.#deps.sourceId, repo, pages: MAX_PAGES }, `${this.#deps.sourceId}: ${repo}: read the newest ${MAX_PAGES} pages only; older items are left to the webhooks`);
    return items;
  }

  /** A Link URL as a path under the configured API root; the token is never sent to another host. */
  #relative(url: string, repo: string): string {
    if (!url.startsWith(`${this.#baseUrl}/`)) throw badResponse(this.#deps.sourceId, `/repos/${repo}`, `a Link header points outside ${this.#baseUrl}`);
    return url.slice(this.#baseUrl.length);
  }

  async #get(path: string, etag: string | undefined): Promise<HttpResult> {
    const res = await this.#deps.http.request({ path, pathTemplate: path.replace(/^\/repos\/[^/]+\/[^/?]+|^\/repositories\/\d+/, '/repos/{owner}/{repo}').replace(/\/deployments\/\d+/, '/deployments/{id}').split('?')[0] as string, acceptStatuses: [304], ...(etag === undefined ? {} : { headers: { 'If-None-Match': etag } }) });
    this.#noteRateLimit(res);
    return res;
  }

  #noteRateLimit(res: HttpResult): void {
    if (headerValue(res.headers, 'x-ratelimit-remaining') !== '0') return;
    const reset = headerValue(res.headers, 'x-ratelimit-reset');
    const now = this.#now().getTime();
    const waitMs = reset === null ? 60_000 : (parseWait(reset, 'epoch-or-iso', now) ?? 60_000);
    this.#pausedUntil = now + waitMs;
  }

  #runItem(repo: string, run: Json): PulledItem {
    const status = str(run['status']) ?? 'queued';
    const action = status === 'completed' ? 'completed' : status === 'in_progress' ? 'in_progress' : 'requested';
    return {
      headers: { 'x-github-event': 'workflow_run' },
      body: { action, workflow_run: run, repository: obj(run['repository']) ?? { full_name: repo } },
      deliveryId: `pull:run:${str(run['id'])}:${str(run['run_attempt']) ?? '1'}:${status}:${str(run['conclusion']) ?? ''}`,
    };
  }

  async #record(item: PulledItem, now: Date, report: RepoPullReport): Promise<void> {
    const outcome = await recordPulled(this.#deps.events, githubSource, this.#deps.sourceId, item, now);
    report[outcome === 'recorded' ? 'recorded' : 'known']++;
  }

  /** The latest status of each new or still-open deployment; returns the deployments still open after it. */
  async #deployments(repo: string, listed: Json[] | null, state: RepoState, now: Date, report: RepoPullReport): Promise<RepoState['openDeployments']> {
    const todo = new Map<string, { deployment: Json | null; createdAt: string; etag: string | null }>();
    for (const [id, o] of Object.entries(state.openDeployments)) todo.set(id, { deployment: null, createdAt: o.createdAt, etag: o.etag });
    for (const d of listed ?? []) {
      const id = str(d['id']);
      if (id !== null) todo.set(id, { deployment: d, createdAt: str(d['created_at']) ?? now.toISOString(), etag: todo.get(id)?.etag ?? null });
    }
    const open: RepoState['openDeployments'] = {};
    const horizon = now.getTime() - this.#deps.pull.since;
    for (const [id, t] of todo) {
      const path = `/repos/${repo}/deployments/${id}/statuses?per_page=${PER_PAGE}`;
      const res = await this.#get(path, t.etag ?? undefined);
      report.requests++;
      if (res.status === 304) {
        report.notModified++;
        open[id] = { createdAt: t.createdAt, etag: t.etag };
        continue;
      }
      if (!Array.isArray(res.data)) throw badResponse(this.#deps.sourceId, path, 'expected a JSON array of deployment statuses');
      const statuses = res.data.map(obj).filter((s): s is Json => s !== null);
      // Newest first as GitHub lists them; sorted anyway, so a reordered page cannot pick a stale state.
      const latest = statuses.toSorted((a, b) => (str(b['created_at']) ?? '').localeCompare(str(a['created_at']) ?? '') || Number(str(b['id'])) - Number(str(a['id'])))[0] ?? null;
      const deployment = t.deployment ?? (await this.#deployment(repo, id, report));
      if (deployment === null) continue;
      const body = latest === null ? { action: 'created', deployment, repository: { full_name: repo } } : { action: 'created', deployment, deployment_status: latest, repository: { full_name: repo } };
      await this.#record({ headers: { 'x-github-event': latest === null ? 'deployment' : 'deployment_status' }, body, deliveryId: `pull:deployment:${id}:${latest === null ? 'none' : str(latest['id'])}` }, now, report);
      const final = latest !== null && FINAL_DEPLOY_STATES.has(str(latest['state']) ?? '');
      if (!final && Date.parse(t.createdAt) >= horizon) open[id] = { createdAt: t.createdAt, etag: res.headers['etag'] ?? null };
    }
    return open;
  }

  /** A deployment still open from an earlier pull but no longer on the first pages: read it by id (null once deleted). */
  async #deployment(repo: string, id: string, report: RepoPullReport): Promise<Json | null> {
    const path = `/repos/${repo}/deployments/${id}`;
    const res = await this.#deps.http.request({ path, pathTemplate: '/repos/{owner}/{repo}/deployments/{id}', acceptStatuses: [404] });
    this.#noteRateLimit(res);
    report.requests++;
    return res.status === 404 ? null : obj(res.data);
  }

  /** The oldest run still open (its completion must still be seen), else the newest run created; never older than the `since` window. */
  #nextSince(runs: Json[], current: string, now: Date): string {
    const created = runs.map((r) => ({ at: str(r['created_at']) ?? '', open: str(r['status']) !== 'completed' })).filter((r) => r.at !== '');
    const oldestOpen = created.filter((r) => r.open).map((r) => r.at).toSorted()[0];
    const newest = created.map((r) => r.at).toSorted().at(-1) ?? current;
    const floor = new Date(now.getTime() - this.#deps.pull.since).toISOString();
    const next = oldestOpen ?? newest;
    return next < floor ? floor : next;
  }
}
