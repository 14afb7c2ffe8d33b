// The Jira side of the mirror benchmark (mirror.bench.ts runs it with
// `--system jira`): the baseline that fetches and parses exactly the requests
// the Jira connector's full sync makes, the full sync itself, and the minimum
// number of API calls such a sync needs.

import { join } from 'node:path';
import type { Logger } from '../../src/log.ts';
import type { StreamCursor } from '../../src/kit/connector.ts';
import { createJiraClient, type CallContext, type JiraClient, type ListPage, type RawIssue, type SearchPosition } from '../../connectors/jira/jira-client.ts';
import { changesSearch, createJiraConnector } from '../../connectors/jira/jira-connector.ts';
import { parseJiraDateTime } from '../../connectors/jira/jira-date.ts';
import { resolveFieldRefs } from '../../connectors/jira/jira-fields.ts';
import { compareIssueKeys } from '../../connectors/jira/jira-jql.ts';
import { loadJiraMapping } from '../../connectors/jira/jira-mapping.ts';
import { JiraInstance } from '../../connectors/jira/jira-config.ts';
import { isTimeZone } from '../../src/config/schema.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { SqliteChangeStore } from '../../src/store/sqlite/sqlite-change-store.ts';
import { SyncEngine } from '../../src/sync/sync-engine.ts';

/** The simulator's integration user (serve-jira.ts registers it; a throwaway local credential). */
export const BENCH_JIRA_USER = { email: 'ops@acme.example', apiToken: 'bench-api-token' };

/** What one phase process reports back (the same figures as the ServiceNow phases). */
export interface PhaseResult {
  ms: number;
  cpuMs: number;
  calls: number;
  records: number;
  mirrored: number;
  peakRssMb: number;
}

/** Jira Cloud answers at most this many issues a search page once fields are asked for. */
export const CLOUD_FIELDS_PAGE_CAP = 100;
/** Issues whose children the connector reads at once (its default). */
const CONCURRENCY = 4;

export function benchJiraInstance(url: string, pageSize: number): JiraInstance {
  return JiraInstance.parse({ id: 'bench', system: 'jira', baseUrl: url, auth: { kind: 'basic', ...BENCH_JIRA_USER }, projects: ['ITSM'], pageSize });
}

type Obj = Record<string, unknown>;
const asObj = (v: unknown): Obj | null => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : null);

interface Row {
  id: string;
  key: string;
  ms: number;
  updatedAt: string;
}

function rowOf(issue: RawIssue): Row | null {
  const updatedAt = parseJiraDateTime(asObj(issue['fields'])?.['updated'], 'updated');
  const id = issue['id'];
  if (updatedAt === null || (typeof id !== 'string' && typeof id !== 'number')) return null;
  return { id: String(id), key: typeof issue['key'] === 'string' ? issue['key'] : '', ms: Date.parse(updatedAt), updatedAt };
}

/** The connector's skip rule: rows before the cursor in (updated, key) order were stored by an earlier page. */
function stored(row: Row, after: Row | null): boolean {
  if (after === null) return false;
  if (row.ms !== after.ms) return row.ms < after.ms;
  return row.id === after.id || compareIssueKeys(row.key, after.key) < 0;
}

async function readAll(read: (start: number) => Promise<ListPage>): Promise<unknown[]> {
  const values: unknown[] = [];
  for (let start: number | null = 0; start !== null; ) {
    const page: ListPage = await read(start);
    values.push(...page.values);
    start = page.next;
  }
  return values;
}

async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<number>): Promise<number> {
  let next = 0;
  let sum = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const records = await fn(items[next++] as T);
      sum += records;
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return sum;
}

/** What one issue costs beyond its search row, exactly as the connector's issue reader asks for it; returns its records. */
async function children(client: JiraClient, issue: RawIssue, approvalsField: string | null, ctx: CallContext): Promise<number> {
  const id = String(issue['id']);
  const changelog = asObj(issue['changelog']);
  const shown = Array.isArray(changelog?.['histories']) ? (changelog['histories'] as unknown[]).length : 0;
  if (typeof changelog?.['total'] === 'number' && changelog['total'] > shown) await readAll((start) => client.changelog(id, start, ctx));
  const comment = asObj(asObj(issue['fields'])?.['comment']);
  const inline = Array.isArray(comment?.['comments']) ? (comment['comments'] as unknown[]) : [];
  const fields = asObj(issue['fields']) ?? {};
  const carried = approvalsField !== null && approvalsField in fields ? (fields[approvalsField] ?? []) : null;
  const [approvals, comments] = await Promise.all([
    Array.isArray(carried) ? (carried as unknown[]) : readAll((start) => client.approvals(id, start, ctx)),
    typeof comment?.['total'] === 'number' && comment['total'] > inline.length ? readAll((start) => client.comments(id, start, ctx)) : Promise.resolve(inline),
  ]);
  // The mirror keeps one approval row per approver, so count them that way here too.
  const approvalRows = approvals.reduce<number>((sum, a) => sum + Math.max(1, (asObj(a)?.['approvers'] as unknown[] | undefined)?.length ?? 0), 0);
  return 1 + approvalRows + comments.length;
}

/** The floor: the connector's requests (caller check, field list, searches, per-issue reads), JSON-parsed by the same client, nothing mapped or stored. */
export async function jiraBaseline(instance: JiraInstance, logger: Logger): Promise<PhaseResult> {
  let calls = 0;
  const client = createJiraClient(instance, { logger, onRequest: () => (calls += 1) });
  const mapping = loadJiraMapping();
  const ctx: CallContext = { calls: 0 };
  const cpu = process.cpuUsage();
  const started = performance.now();
  const zone = (await client.myself(ctx))['timeZone'];
  const zones = typeof zone === 'string' && zone !== instance.siteTimeZone && isTimeZone(zone) ? [instance.siteTimeZone, zone] : [instance.siteTimeZone];
  const resolution = resolveFieldRefs(mapping.fieldRefs, await client.fields(ctx), client.flavor);
  const approvalsField = resolution.approvals?.id ?? null;
  let records = 0;
  let after: Row | null = null;
  for (;;) {
    const cursor: StreamCursor | null = after === null ? null : { updatedAt: after.updatedAt, id: after.id };
    const query = changesSearch(instance, resolution, cursor, zones, instance.pageSize, client.flavor);
    const fresh: RawIssue[] = [];
    let position: SearchPosition | null = null;
    let hasMore = false;
    for (;;) {
      const page = await client.search(query, position, ctx);
      for (const issue of page.issues) {
        const row = rowOf(issue);
        if (row === null || !stored(row, after)) fresh.push(issue);
      }
      hasMore = page.next !== null;
      if (fresh.length > 0 || page.next === null) break;
      position = page.next;
    }
    records += await mapLimit(fresh, CONCURRENCY, (issue) => children(client, issue, approvalsField, ctx));
    const last = fresh.length > 0 ? rowOf(fresh.at(-1) as RawIssue) : null;
    if (!hasMore || last === null) break;
    after = last;
  }
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return { ms, cpuMs: (used.user + used.system) / 1000, calls, records, mirrored: 0, peakRssMb: process.resourceUsage().maxRSS / 1024 };
}

export async function jiraFullSync(instance: JiraInstance, logger: Logger, dir: string): Promise<PhaseResult> {
  let calls = 0;
  const store = SqliteChangeStore.open(join(dir, 'bench.db'));
  const engine = new SyncEngine({ store, logger, metrics: createMetrics({ defaultMetrics: false }) });
  const connector = createJiraConnector(instance, { mapping: loadJiraMapping(), logger, onRequest: () => (calls += 1) });
  engine.register({ connector, pageSize: instance.pageSize, overlapMs: instance.overlap });
  const cpu = process.cpuUsage();
  const started = performance.now();
  const report = await engine.sync('bench', { full: true });
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const mirrored = await store.countChanges('bench');
  await store.close();
  const records = report.streams.reduce((sum, s) => sum + s.records, 0);
  return { ms, cpuMs: (used.user + used.system) / 1000, calls, records, mirrored, peakRssMb: process.resourceUsage().maxRSS / 1024 };
}

export interface JiraMinimum {
  calls: number;
  /** How the minimum is made up, for the report. */
  explain: string;
}

/**
 * The fewest requests a full sync can make: the caller check and the field list
 * (one each), then the issues in search pages of at most 100 (Cloud's cap with
 * fields). A site without JSM's Approvals field adds one approvals read per issue,
 * which its search cannot carry.
 */
export function jiraMinimum(issues: number, pageSize: number, approvalsField: boolean): JiraMinimum {
  const perPage = Math.min(pageSize, CLOUD_FIELDS_PAGE_CAP);
  const pages = Math.max(1, Math.ceil(issues / perPage));
  const perIssue = approvalsField ? 0 : issues;
  return {
    calls: 2 + pages + perIssue,
    explain: `1 caller check + 1 field list + ${pages} search pages of ≤${perPage} issues${
      approvalsField ? ' (approvals ride in the search through JSM\'s Approvals field: no per-issue call)' : ` + ${perIssue} per-issue JSM approval reads`
    }`,
  };
}
