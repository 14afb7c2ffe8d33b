// The Table API (reference §1): list with paging headers, read, create, update,
// delete, answering with the shapes and statuses a real instance uses.

import { HttpResponse } from 'msw';
import type { SimStore } from './record-store.ts';
import type { RecordSerializer, SerializeOptions } from './record-serializer.ts';
import type { RecordWriter, WriteResult } from './record-writer.ts';
import { badRequestBody, businessRuleAbort, invalidTable, jsonResponse, noRecordFound } from './sim-responses.ts';
import type { Row } from './table-schema.ts';
import { glideWallToUtc } from './glide-time.ts';

export const DEFAULT_LIMIT = 10_000;

export interface TableApiHost {
  readonly store: SimStore;
  readonly writer: RecordWriter;
  readonly serializer: RecordSerializer;
  readonly timeZone: string;
  /** How literal date-times in `sysparm_query` are read (ServiceNowSimulatorOptions.queryDates). */
  readonly queryDates?: 'utc' | 'user';
  instanceUrl(): string;
  now(): Date;
  /** ACL emulation: true hides the row from this API. */
  isHidden(row: Row, table: string): boolean;
  /** Field-level write ACL emulation: true means the API user may not write the field. */
  isWriteDenied(field: string, table: string): boolean;
}

function flag(url: URL, name: string): boolean {
  return url.searchParams.get(name)?.toLowerCase() === 'true';
}

function intParam(url: URL, name: string, fallback: number, min: number): number {
  const n = Number.parseInt(url.searchParams.get(name) ?? '', 10);
  return Number.isNaN(n) || n < min ? fallback : n;
}

/** A literal date-time after a comparison operator, as a client writes one in an encoded query. */
const LITERAL_DATE = /(>=|<=|!=|=|>|<)(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})/g;

/** `sysparm_query`, or the `name=value` pairs the API accepts instead of it. */
function encodedQuery(url: URL, host: TableApiHost): string {
  const q = url.searchParams.get('sysparm_query');
  // An instance that reads query dates in the user's zone compares their UTC equivalent with the stored value.
  if (q !== null && host.queryDates === 'user') return q.replace(LITERAL_DATE, (_, op: string, text: string) => `${op}${glideWallToUtc(text, host.timeZone)}`);
  if (q !== null) return q;
  const terms: string[] = [];
  for (const [k, v] of url.searchParams) if (!k.startsWith('sysparm_')) terms.push(`${k}=${v}`);
  return terms.join('^');
}

function pageUrl(url: URL, offset: number, limit: number): string {
  const u = new URL(url);
  u.searchParams.set('sysparm_offset', String(offset));
  u.searchParams.set('sysparm_limit', String(limit));
  return u.toString();
}

/** RFC 5988 `Link` with first/prev/next/last, as the instance builds it from the request. */
export function linkHeader(url: URL, offset: number, limit: number, total: number | undefined, fullPage: boolean): string {
  const links = [`<${pageUrl(url, 0, limit)}>;rel="first"`];
  if (offset > 0) links.push(`<${pageUrl(url, Math.max(0, offset - limit), limit)}>;rel="prev"`);
  const hasNext = total === undefined ? fullPage : offset + limit < total;
  if (hasNext) links.push(`<${pageUrl(url, offset + limit, limit)}>;rel="next"`);
  if (total !== undefined) {
    const last = total === 0 ? 0 : Math.floor((total - 1) / limit) * limit;
    links.push(`<${pageUrl(url, last, limit)}>;rel="last"`);
  }
  return links.join(',');
}

/**
 * The fields of a write the API user may write. The Table API ignores a field a write ACL
 * denies, as it ignores an unknown one: no error, the answer is 200 (or 201) with the
 * field as it was.
 */
function writableFields(body: Record<string, unknown>, tableName: string, host: TableApiHost): Record<string, unknown> {
  return Object.fromEntries(Object.entries(body).filter(([field]) => !host.isWriteDenied(field, tableName)));
}

async function readJsonObject(request: Request): Promise<Record<string, unknown> | undefined> {
  let body: unknown;
  try {
    body = await request.json();
  } catch {
    return undefined;
  }
  // "If you send several, only the first is used."
  if (Array.isArray(body)) body = body[0];
  return body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined;
}

export class TableApi {
  private readonly host: TableApiHost;

  constructor(host: TableApiHost) {
    this.host = host;
  }

  private serializeOptions(url: URL): SerializeOptions {
    const display = url.searchParams.get('sysparm_display_value')?.toLowerCase();
    const fields = (url.searchParams.get('sysparm_fields') ?? '')
      .split(',')
      .map((f) => f.trim())
      .filter((f) => f !== '');
    return {
      display: display === 'true' || display === 'all' ? display : 'false',
      excludeReferenceLink: flag(url, 'sysparm_exclude_reference_link'),
      fields,
      instanceUrl: this.host.instanceUrl(),
      timeZone: this.host.timeZone,
    };
  }

  list(url: URL, version: string | undefined, tableName: string): Response {
    const table = this.host.store.table(tableName);
    if (!table) return invalidTable(tableName);
    const limit = intParam(url, 'sysparm_limit', DEFAULT_LIMIT, 1);
    const offset = intParam(url, 'sysparm_offset', 0, 0);
    const { rows: ordered, total } = this.host.store.select(tableName, encodedQuery(url, this.host), offset + limit);
    const page = ordered.slice(offset, offset + limit);
    // v1 answers an empty result with 404; v2 (the unversioned default) with 200 [].
    if (version === 'v1' && page.length === 0) return noRecordFound();
    // The limit is applied before ACLs, so hidden rows make a page short (§1.2).
    const visible = page.filter((row) => !this.host.isHidden(row, tableName));
    const opts = this.serializeOptions(url);
    const result = visible.map((row) => this.host.serializer.serialize(table.schema, row, opts));
    const headers: Record<string, string> = {};
    const noCount = flag(url, 'sysparm_no_count');
    if (!noCount) headers['x-total-count'] = String(total);
    if (!flag(url, 'sysparm_suppress_pagination_header')) {
      headers.link = linkHeader(url, offset, limit, noCount ? undefined : total, page.length === limit);
    }
    return jsonResponse({ result }, 200, headers);
  }

  read(url: URL, tableName: string, sysId: string): Response {
    const table = this.host.store.table(tableName);
    if (!table) return invalidTable(tableName);
    const row = this.visibleRow(tableName, sysId);
    if (!row) return noRecordFound();
    return jsonResponse({ result: this.host.serializer.serialize(table.schema, row, this.serializeOptions(url)) });
  }

  async create(request: Request, url: URL, tableName: string, user: string): Promise<Response> {
    const table = this.host.store.table(tableName);
    if (!table) return invalidTable(tableName);
    const body = await readJsonObject(request);
    if (!body) return badRequestBody();
    const row = this.host.writer.insert(tableName, writableFields(body, tableName, this.host), this.context(user));
    const location = `${this.host.instanceUrl()}/api/now/table/${tableName}/${row.sys_id}`;
    return jsonResponse({ result: this.host.serializer.serialize(table.schema, row, this.serializeOptions(url)) }, 201, { location });
  }

  async update(request: Request, url: URL, tableName: string, sysId: string, user: string): Promise<Response> {
    const table = this.host.store.table(tableName);
    if (!table) return invalidTable(tableName);
    if (!this.visibleRow(tableName, sysId)) return noRecordFound();
    const body = await readJsonObject(request);
    if (!body) return badRequestBody();
    const outcome: WriteResult = this.host.writer.update(tableName, sysId, writableFields(body, tableName, this.host), this.context(user));
    if (!outcome.ok) {
      return outcome.status === 404 ? noRecordFound() : businessRuleAbort(outcome.table, outcome.rule, outcome.ruleSysId);
    }
    return jsonResponse({ result: this.host.serializer.serialize(table.schema, outcome.row, this.serializeOptions(url)) });
  }

  remove(tableName: string, sysId: string): Response {
    if (!this.host.store.table(tableName)) return invalidTable(tableName);
    if (!this.visibleRow(tableName, sysId)) return noRecordFound();
    this.host.writer.delete(tableName, sysId);
    return new HttpResponse(null, { status: 204 });
  }

  private visibleRow(tableName: string, sysId: string): Row | undefined {
    const row = this.host.store.table(tableName)?.get(sysId);
    return row && !this.host.isHidden(row, tableName) ? row : undefined;
  }

  private context(user: string): { user: string; at: Date; trusted: false; enforceRules: true; touchParent: true } {
    return { user, at: this.host.now(), trusted: false, enforceRules: true, touchParent: true };
  }
}
