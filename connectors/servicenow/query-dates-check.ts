// The keyset reads (keyset-query.ts) compare a literal date-time with the stored
// UTC value: `sys_updated_on>2026-03-01 10:00:00`. That the instance reads such a
// literal as UTC is inferred, not documented (reference §1.3 and §10; a script
// filter, `gs.dateGenerate`, is documented to read the API user's time zone). If
// an instance read it in the user's zone instead, a user west of UTC would make
// every read start hours late and skip what changed in between, without a sign.
//
// So before a read sends a literal, this checks on one row whose UTC value is
// known that the instance finds it by that value: the previous page's last row,
// or at an overlap start the table's newest row. A row found: the literals are
// UTC, checked again an hour later. Not found while the row still holds that
// value: the run stops with CG_SN_QUERY_TIME_ZONE, before anything is skipped.
// A user whose time zone is UTC passes either way, which is the fix it names.

import { ChangegateError } from '../../src/errors.ts';
import type { StreamCursor } from '../../src/kit/connector.ts';
import type { Logger } from '../../src/kit/logger.ts';
import type { KeysetSpec } from './keyset-query.ts';
import type { ServiceNowClient, TableParams } from './servicenow-client.ts';
import { formatServiceNowDate } from './servicenow-date.ts';

/** How long a passed check stands: a user's time zone can be changed while the service runs. */
export const QUERY_DATES_RECHECK_MS = 3_600_000;

export interface QueryDatesCheck {
  /** Resolves when the literals of a read after `after` are known to be read as UTC (or cannot be checked yet). */
  before(spec: KeysetSpec, after: StreamCursor, signal?: AbortSignal): Promise<void>;
}

type Probe = { id: string; time: string };

/** One row's id and stored (UTC) time, no display values. */
function params(spec: KeysetSpec, query: string): TableParams {
  return {
    sysparm_query: query,
    sysparm_fields: `${spec.idField},${spec.timeField}`,
    sysparm_display_value: 'false',
    sysparm_exclude_reference_link: 'true',
    sysparm_limit: 1,
  };
}

function row(records: unknown[], spec: KeysetSpec): Probe | null {
  const first = records[0];
  if (typeof first !== 'object' || first === null) return null;
  const { [spec.idField]: id, [spec.timeField]: time } = first as Record<string, unknown>;
  return typeof id === 'string' && id !== '' && typeof time === 'string' && time !== '' ? { id, time } : null;
}

export function createQueryDatesCheck(client: ServiceNowClient, instanceId: string, logger: Logger, now: () => number = Date.now): QueryDatesCheck {
  let passedAt = Number.NEGATIVE_INFINITY;

  /** A row of the stream with its stored time: the cursor's own, or the newest one visible. */
  async function probeRow(spec: KeysetSpec, after: StreamCursor, signal?: AbortSignal): Promise<Probe | null> {
    if (after.id !== '') return { id: after.id, time: formatServiceNowDate(after.updatedAt) };
    const prefix = spec.extra === null ? '' : `${spec.extra}^`;
    const page = await client.getTable(spec.table, params(spec, `${prefix}ORDERBYDESC${spec.timeField}`), signal);
    return row(page.records, spec);
  }

  return {
    async before(spec, after, signal) {
      if (now() - passedAt < QUERY_DATES_RECHECK_MS) return;
      const probe = await probeRow(spec, after, signal);
      // Nothing visible to check on: no literal can skip a row yet.
      if (probe === null) return;
      const found = await client.getTable(spec.table, params(spec, `${spec.idField}=${probe.id}^${spec.timeField}=${probe.time}`), signal);
      if (row(found.records, spec) !== null) {
        passedAt = now();
        return;
      }
      const current = row((await client.getTable(spec.table, params(spec, `${spec.idField}=${probe.id}`), signal)).records, spec);
      if (current === null || current.time !== probe.time) {
        // Updated (or hidden) since it was read: no answer this time; the next read checks again.
        logger.debug({ instance: instanceId, table: spec.table, row: probe.id }, 'the query-date check row moved; checking on the next read');
        return;
      }
      throw new ChangegateError(
        'CG_SN_QUERY_TIME_ZONE',
        `${instanceId}: ServiceNow did not find ${spec.table} ${probe.id} by its stored ${spec.timeField} (${probe.time} UTC): this instance reads dates in encoded queries in the API user's time zone, so a sync would skip or re-read records. Set the time zone of the user changegate signs in as to GMT (its user record, Time zone), then run again`,
        { details: { instance: instanceId, table: spec.table, row: probe.id, value: probe.time } },
      );
    },
  };
}
