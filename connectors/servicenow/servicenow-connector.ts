// The ServiceNow connector: three keyset-paged streams (changes, their
// approvals, their journal) and a re-fetch of one change with its children.
// It reads one page when asked; the engine in src/sync owns the loop and cursors.

import type { ConnectorInstance, PageRequest, PageResult, StreamCursor, StreamDeclaration, StreamItem } from '../../src/kit/connector.ts';
import type { ServiceNowInstance } from './servicenow-config.ts';
import { ChangegateError, isChangegateError } from '../../src/errors.ts';
import type { RequestInfo } from '../../src/http/http-client.ts';
import type { Logger } from '../../src/kit/logger.ts';
import type { RetryPolicy } from '../../src/http/retry-classifier.ts';
import { fieldValue } from './field-value.ts';
import { CHANGE_TABLE, approvalsSpec, changeTables, changesSpec, checkExtraQuery, journalExtra, journalSpec, keysetQuery, type KeysetSpec } from './keyset-query.ts';
import { createServiceNowClient, TABLE_PATH, type ServiceNowClient, type TableParams } from './servicenow-client.ts';
import { parseServiceNowDate } from './servicenow-date.ts';
import { createQueryDatesCheck } from './query-dates-check.ts';
import {
  mapServiceNowApproval,
  mapServiceNowChange,
  mapServiceNowJournal,
  type ServiceNowMapContext,
  type ServiceNowMapping,
} from './servicenow-mapping.ts';

export interface ServiceNowConnectorDeps {
  mapping: ServiceNowMapping;
  logger: Logger;
  onRequest?: (info: RequestInfo) => void;
  /** Defaults to a client built from the instance config. */
  client?: ServiceNowClient;
  /** Overrides of the retry policy (tests shorten the backoff). */
  retry?: Partial<RetryPolicy>;
}

// Children first: when a page of changes is stored, their approvals and notes up to the run's start are
// already in the mirror, so the page is judged while the next one is fetched (sync-engine.ts).
export const SERVICENOW_STREAMS: readonly StreamDeclaration[] = [
  { name: 'approvals', description: 'sysapproval_approver rows of change requests by (sys_updated_on, sys_id)' },
  { name: 'journal', description: 'work notes and comments of change requests (sys_journal_field) by (sys_created_on, sys_id)' },
  { name: 'changes', description: 'change_request records by (sys_updated_on, sys_id)' },
];

/** Every read asks for both value and display value, without reference links (reference §1.4). */
const READ_PARAMS = { sysparm_display_value: 'all', sysparm_exclude_reference_link: 'true' } as const;

type Raw = Record<string, unknown>;
type Mapper = (raw: Raw, ctx: ServiceNowMapContext) => StreamItem;

const toChange: Mapper = (raw, ctx) => ({ kind: 'change', change: mapServiceNowChange(raw, ctx), author: updatedBy(raw) });

/** `sys_updated_by` is a user name (a string field, not a reference): the id, with no display name of its own. */
function updatedBy(raw: Raw): { id: string; name: null } | null {
  const user = textOf(raw, 'sys_updated_by');
  return user === null ? null : { id: user, name: null };
}
const toApproval: Mapper = (raw, ctx) => ({ kind: 'approval', ...mapServiceNowApproval(raw, ctx) });
const toJournal: Mapper = (raw, ctx) => ({ kind: 'journal', ...mapServiceNowJournal(raw, ctx) });

/**
 * A server that keeps saying "next" must not keep one re-fetch going forever.
 * Past it the re-fetch fails (see readAll): the streams, keyset-paged, read
 * any number of children.
 */
const MAX_CHILD_PAGES = 100;

/** A safe native id: it goes into a URL path and an encoded query. */
const NATIVE_ID = /^[A-Za-z0-9_.-]{1,64}$/;

function textOf(raw: Raw, field: string): string | null {
  try {
    const value = fieldValue(raw, field);
    return value === undefined || value === '' ? null : value;
  } catch {
    return null;
  }
}

/** The row's cursor key from its raw fields, or null when it has none usable. */
function keyOf(raw: Raw, spec: KeysetSpec): StreamCursor | null {
  const id = textOf(raw, spec.idField);
  const time = textOf(raw, spec.timeField);
  if (id === null || time === null) return null;
  try {
    const updatedAt = parseServiceNowDate(time, spec.timeField);
    return updatedAt === null ? null : { updatedAt, id };
  } catch {
    return null;
  }
}

export function createServiceNowConnector(instance: ServiceNowInstance, deps: ServiceNowConnectorDeps): ConnectorInstance {
  const extra = checkExtraQuery(instance.query, instance.id);
  const { logger } = deps;
  const client =
    deps.client ??
    createServiceNowClient(instance, {
      logger,
      ...(deps.onRequest ? { onRequest: deps.onRequest } : {}),
      ...(deps.retry ? { retry: deps.retry } : {}),
    });
  const ctx: ServiceNowMapContext = { instance: instance.id, baseUrl: instance.baseUrl, mapping: deps.mapping };
  const queryDates = createQueryDatesCheck(client, instance.id, logger);
  // The changes stream reads change_request, which returns the records of its extension classes too; their
  // approvals and notes may name either table (keyset-query.ts), so the children streams match both.
  const tables = changeTables(deps.mapping.classes);
  const streams: Record<string, { spec: KeysetSpec; map: Mapper }> = {
    changes: { spec: changesSpec(extra), map: toChange },
    approvals: { spec: approvalsSpec(tables), map: toApproval },
    journal: { spec: journalSpec(tables), map: toJournal },
  };

  function mapRow(record: unknown, k: number, path: string, stream: string, map: Mapper): StreamItem {
    const raw = (typeof record === 'object' && record !== null && !Array.isArray(record) ? record : {}) as Raw;
    try {
      if (raw !== record) throw new ChangegateError('CG_SN_RECORD_INVALID', 'the row is not a JSON object');
      return map(raw, ctx);
    } catch (err) {
      const ref = textOf(raw, 'number') ?? textOf(raw, 'sys_id') ?? `record #${k + 1} of ${path}`;
      const error = isChangegateError(err)
        ? err
        : new ChangegateError('CG_SN_RECORD_INVALID', `${instance.id}: ${ref} could not be mapped: ${err instanceof Error ? err.message : String(err)}`, {
            cause: err,
            details: { instance: instance.id, record: ref },
          });
      // Not logged here: the engine logs and counts every rejected record once, for every connector.
      return { kind: 'invalid', ref, error };
    }
  }

  /**
   * Every page of a small child query (one change's approvals or journal), by
   * offset. Past `MAX_CHILD_PAGES` it fails rather than return what it has: the
   * mirror would hold, and the change be judged on, a truncated list until the
   * next sync. `change` names the change in the error.
   */
  async function readAll(spec: KeysetSpec, stream: string, map: Mapper, change: string, signal?: AbortSignal): Promise<StreamItem[]> {
    const items: StreamItem[] = [];
    const path = `${TABLE_PATH}/${spec.table}`;
    const query = keysetQuery(spec, null);
    let total: number | null = null;
    for (let offset = 0, pages = 0; pages < MAX_CHILD_PAGES; offset += instance.pageSize, pages++) {
      const params: TableParams = { ...READ_PARAMS, sysparm_limit: instance.pageSize, sysparm_offset: offset, sysparm_query: query };
      const page = await client.getTable(spec.table, params, signal);
      page.records.forEach((record, k) => items.push(mapRow(record, offset + k, path, stream, map)));
      total = page.total;
      const seen = offset + instance.pageSize;
      // ACLs can empty a page mid-way; X-Total-Count still bounds the walk.
      if (!page.hasNext || (page.total !== null ? seen >= page.total : page.records.length === 0)) return items;
    }
    const count = total === null ? '' : ` (X-Total-Count ${total})`;
    throw new ChangegateError(
      'CG_SN_TOO_MANY_ROWS',
      `${instance.id}: ServiceNow ${spec.table} had more rows after ${MAX_CHILD_PAGES} pages of ${instance.pageSize}${count}, re-fetching the ${stream} of ${change}; the change is not mirrored from a partial list, and the next sync reads them all`,
      { details: { instance: instance.id, table: spec.table, pages: MAX_CHILD_PAGES, pageSize: instance.pageSize, total, change } },
    );
  }

  return {
    system: 'servicenow',
    instanceId: instance.id,
    streams: SERVICENOW_STREAMS,

    async readPage(request: PageRequest): Promise<PageResult> {
      const stream = streams[request.stream];
      if (stream === undefined) {
        throw new ChangegateError('CG_INTERNAL', `${instance.id}: ServiceNow has no stream "${request.stream}"`, { details: { instance: instance.id, stream: request.stream } });
      }
      const { spec, map } = stream;
      // Its query compares a literal date with stored UTC values: known to be read so first.
      if (request.after !== null) await queryDates.before(spec, request.after, request.signal);
      const params: TableParams = {
        ...READ_PARAMS,
        sysparm_limit: request.pageSize,
        sysparm_offset: request.offset,
        sysparm_query: keysetQuery(spec, request.after),
      };
      const page = await client.getTable(spec.table, params, request.signal);
      const path = `${TABLE_PATH}/${spec.table}?sysparm_offset=${request.offset}`;
      const items: StreamItem[] = [];
      let last: StreamCursor | null = null;
      page.records.forEach((record, k) => {
        items.push(mapRow(record, k, path, request.stream, map));
        if (typeof record === 'object' && record !== null) last = keyOf(record as Raw, spec) ?? last;
      });
      return { items, last, total: page.total, hasMore: page.hasNext, apiCalls: page.apiCalls };
    },

    async fetchOne(nativeId: string, signal?: AbortSignal): Promise<StreamItem[] | null> {
      if (!NATIVE_ID.test(nativeId)) {
        throw new ChangegateError('CG_INPUT_INVALID', `"${nativeId}" is not a ServiceNow sys_id`, { details: { instance: instance.id, nativeId } });
      }
      const { record } = await client.getRecord(CHANGE_TABLE, nativeId, READ_PARAMS, signal);
      if (record === null) return null;
      const change = mapRow(record, 0, `${TABLE_PATH}/${CHANGE_TABLE}/${nativeId}`, 'changes', toChange);
      const name = textOf(record, 'number') ?? nativeId;
      const [approvals, journal] = await Promise.all([
        readAll({ ...approvalsSpec(tables), extra: `sysapproval=${nativeId}` }, 'approvals', toApproval, name, signal),
        readAll({ ...journalSpec(tables), extra: `element_id=${nativeId}^${journalExtra(tables)}` }, 'journal', toJournal, name, signal),
      ]);
      return [change, ...approvals, ...journal];
    },
  };
}
