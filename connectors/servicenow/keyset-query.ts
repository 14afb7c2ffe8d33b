// Encoded queries for keyset paging over ServiceNow tables. ServiceNow has no
// row-value comparison, so "after (T, ID)" is two blocks joined by ^NQ (an OR
// between whole blocks): `time>T` OR `time=T AND id>ID`. Because ^NQ starts a
// fresh block, the instance's extra filter is repeated in each one. The
// simulator parses exactly these strings; change them together.

import type { StreamCursor } from '../../src/kit/connector.ts';
import { ChangegateError } from '../../src/errors.ts';
import { formatServiceNowDate } from './servicenow-date.ts';

export interface KeysetSpec {
  table: string;
  /** Encoded query ANDed to every block; null for none. Validated by `checkExtraQuery`. */
  extra: string | null;
  /** Sort key and cursor time field, e.g. `sys_updated_on`. */
  timeField: string;
  /** Tie-breaker and cursor id field, e.g. `sys_id`. */
  idField: string;
}

export const CHANGE_TABLE = 'change_request';
export const APPROVAL_TABLE = 'sysapproval_approver';
export const JOURNAL_TABLE = 'sys_journal_field';

/**
 * The tables a change's approvals (`source_table`) and journal rows (`name`) may
 * name: change_request and the mapping's change classes. Whether ServiceNow
 * names the table written through or the record's extension class there is
 * unverified (reference §3.1, §4), so both match.
 */
export function changeTables(classes: Iterable<string> = []): string[] {
  return [...new Set([CHANGE_TABLE, ...classes])].toSorted((a, b) => (a === CHANGE_TABLE ? -1 : b === CHANGE_TABLE ? 1 : a.localeCompare(b)));
}

/** `field=table`, or `fieldINa,b` for several. */
function tableCondition(field: string, tables: readonly string[]): string {
  return tables.length === 1 ? `${field}=${tables[0] ?? CHANGE_TABLE}` : `${field}IN${tables.join(',')}`;
}

export function approvalsExtra(tables: readonly string[] = [CHANGE_TABLE]): string {
  return tableCondition('source_table', tables);
}

export function journalExtra(tables: readonly string[] = [CHANGE_TABLE]): string {
  return `${tableCondition('name', tables)}^elementINwork_notes,comments`;
}

export const APPROVALS_EXTRA = approvalsExtra();
export const JOURNAL_EXTRA = journalExtra();

/** `^` inside a value is written `^^`. */
function escapeValue(value: string): string {
  return value.replaceAll('^', '^^');
}

/** Why an instance's extra query cannot be used, or null when it can. */
export function extraQueryProblem(extra: string): string | null {
  if (extra.includes('^NQ') || extra.startsWith('NQ')) return 'contains ^NQ, which would split the cursor condition into a block that ignores it';
  if (extra.includes('ORDERBY')) return 'contains ORDERBY, which would override the cursor order (sys_updated_on, sys_id)';
  return null;
}

/**
 * Normalises an instance's `query` (trims stray `^`) and rejects one the keyset
 * cannot carry; called when the connector is built, so a bad config fails at start-up.
 */
export function checkExtraQuery(extra: string | undefined, instanceId: string): string | null {
  const trimmed = (extra ?? '').trim().replace(/^\^+|\^+$/g, '');
  if (trimmed === '') return null;
  const problem = extraQueryProblem(trimmed);
  if (problem !== null) {
    throw new ChangegateError('CG_CONFIG_INVALID', `instance "${instanceId}": query "${trimmed}" ${problem}; keep it to plain conditions joined by ^ and ^OR`, {
      details: { instance: instanceId, path: 'query', value: trimmed },
    });
  }
  return trimmed;
}

function orderBy(spec: KeysetSpec): string {
  return `ORDERBY${spec.timeField}^ORDERBY${spec.idField}`;
}

/**
 * The `sysparm_query` for rows strictly after `after` in (time, id) order. A cursor
 * with an empty id is an overlap start chosen by the engine: everything from T on.
 */
export function keysetQuery(spec: KeysetSpec, after: StreamCursor | null): string {
  const prefix = spec.extra === null ? '' : `${spec.extra}^`;
  if (after === null) return `${prefix}${orderBy(spec)}`;
  const t = formatServiceNowDate(after.updatedAt);
  if (after.id === '') return `${prefix}${spec.timeField}>=${t}^${orderBy(spec)}`;
  const id = escapeValue(after.id);
  return `${prefix}${spec.timeField}>${t}^NQ${prefix}${spec.timeField}=${t}^${spec.idField}>${id}^${orderBy(spec)}`;
}

export function changesSpec(extra: string | null): KeysetSpec {
  return { table: CHANGE_TABLE, extra, timeField: 'sys_updated_on', idField: 'sys_id' };
}

export function approvalsSpec(tables: readonly string[] = [CHANGE_TABLE]): KeysetSpec {
  return { table: APPROVAL_TABLE, extra: approvalsExtra(tables), timeField: 'sys_updated_on', idField: 'sys_id' };
}

export function journalSpec(tables: readonly string[] = [CHANGE_TABLE]): KeysetSpec {
  return { table: JOURNAL_TABLE, extra: journalExtra(tables), timeField: 'sys_created_on', idField: 'sys_id' };
}

export const APPROVALS_SPEC: KeysetSpec = approvalsSpec();

export const JOURNAL_SPEC: KeysetSpec = journalSpec();
