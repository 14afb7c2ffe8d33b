// Every write the simulator accepts, from the Table API or from a test driving it:
// defaults on insert, sys_* bookkeeping at one-second resolution, journal appends
// into sys_journal_field, the change business rules, and the change's approval
// derived from its approvers.

import { checkChangeWrite, deriveApproval, priorityFor, stateEntryEffects, TRANSITION_RULE_SYS_ID } from './change-rules.ts';
import { toGlideDateTime } from './glide-time.ts';
import type { SimStore, SimTable } from './record-store.ts';
import type { Row } from './table-schema.ts';

export interface WriteContext {
  /** user_name written to sys_created_by / sys_updated_by. */
  user: string;
  at: Date;
  /** Driver writes may set sys_* fields on insert; API writes may not. */
  trusted: boolean;
  /** Run the change business rules (API writes do; driver writes by default do not). */
  enforceRules: boolean;
  /** Propagate to the parent change: approvals re-derive `approval`, journals bump the change. */
  touchParent: boolean;
}

export type WriteResult =
  | { ok: true; row: Row }
  | { ok: false; status: 404 }
  | { ok: false; status: 403; table: string; rule: string; ruleSysId: string; reason: string };

export interface SimWriteEvent {
  table: string;
  sysId: string;
  operation: 'insert' | 'update' | 'delete';
  row: Row;
}

/**
 * The table name a change's journal rows (`sys_journal_field.name`) and approvals
 * (`sysapproval_approver.source_table`) carry when the change is of an extension
 * class: `table`, the table written through (`change_request`), or `class`, the
 * record's `sys_class_name`. The reference leaves it unverified (§3.1, §4).
 */
export type ChildRowsNamed = 'table' | 'class';

const READ_ONLY = new Set(['sys_created_by', 'sys_created_on', 'sys_updated_by', 'sys_updated_on', 'sys_mod_count']);

export function asFieldValue(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}

export class RecordWriter {
  private readonly store: SimStore;
  private readonly newSysId: () => string;
  private readonly emit: (event: SimWriteEvent) => void;
  private readonly childRowsNamed: ChildRowsNamed;
  private changeNumber = 30000;

  constructor(store: SimStore, newSysId: () => string, emit: (event: SimWriteEvent) => void, childRowsNamed: ChildRowsNamed = 'table') {
    this.store = store;
    this.newSysId = newSysId;
    this.emit = emit;
    this.childRowsNamed = childRowsNamed;
  }

  /** The name a child row (journal entry, approval) of `sysId` in `tableName` gives its record's table. */
  private childTableName(tableName: string, sysId: string): string {
    if (this.childRowsNamed === 'table') return tableName;
    return this.store.table(tableName)?.get(sysId)?.sys_class_name || tableName;
  }

  insert(tableName: string, fields: Record<string, unknown>, ctx: WriteContext): Row {
    const table = this.store.require(tableName);
    const now = toGlideDateTime(ctx.at);
    const row = this.blankRow(table, ctx.user, now);
    if (tableName === 'change_request') Object.assign(row, this.changeDefaults(ctx, now));
    if (tableName === 'sysapproval_approver') Object.assign(row, { source_table: 'change_request', state: 'requested', approval_source: 'workflow' });
    const journal = this.apply(table, row, fields, ctx.trusted, true);
    if (!row.sys_id) row.sys_id = this.newSysId();
    if (tableName === 'change_request') this.finishChange(row, fields);
    if (tableName === 'sysapproval_approver' && !row.document_id) row.document_id = row.sysapproval ?? '';
    if (tableName === 'sysapproval_approver' && !('source_table' in fields)) row.source_table = this.childTableName('change_request', row.sysapproval ?? '');
    table.put(row);
    for (const [element, text] of journal) this.journalRow(tableName, row.sys_id, element, text, ctx.user, now);
    this.emit({ table: tableName, sysId: row.sys_id, operation: 'insert', row });
    if (tableName === 'sysapproval_approver' && ctx.touchParent) this.deriveParentApproval(row, ctx);
    return row;
  }

  update(tableName: string, sysId: string, fields: Record<string, unknown>, ctx: WriteContext): WriteResult {
    const table = this.store.require(tableName);
    const current = table.get(sysId);
    if (!current) return { ok: false, status: 404 };
    const next: Row = { ...current };
    const journal = this.apply(table, next, fields, false, false);
    const now = toGlideDateTime(ctx.at);
    if (tableName === 'change_request') {
      if (ctx.enforceRules) {
        const violation = checkChangeWrite(current, next);
        if (violation) return { ok: false, status: 403, table: tableName, rule: violation.rule, ruleSysId: TRANSITION_RULE_SYS_ID, reason: violation.reason };
      }
      Object.assign(next, stateEntryEffects(current, next, now, this.userSysId(ctx.user)));
      this.finishChange(next, fields);
    }
    const changed = journal.length > 0 || Object.keys(next).some((k) => next[k] !== current[k]);
    // ServiceNow skips the database write when nothing changed: no sys_mod_count bump.
    if (!changed) return { ok: true, row: current };
    next.sys_mod_count = String(Number(current.sys_mod_count || 0) + 1);
    next.sys_updated_on = now;
    next.sys_updated_by = ctx.user;
    table.put(next);
    for (const [element, text] of journal) this.journalRow(tableName, sysId, element, text, ctx.user, now);
    this.emit({ table: tableName, sysId, operation: 'update', row: next });
    if (tableName === 'sysapproval_approver' && ctx.touchParent && next.state !== current.state) this.deriveParentApproval(next, ctx);
    return { ok: true, row: next };
  }

  delete(tableName: string, sysId: string): boolean {
    const table = this.store.require(tableName);
    const row = table.get(sysId);
    if (!row || !table.delete(sysId)) return false;
    this.emit({ table: tableName, sysId, operation: 'delete', row });
    return true;
  }

  /** A fresh change row with every default but no sys_id or number, for bulk generation. */
  changeTemplate(user: string, at: Date): Row {
    const row = this.blankRow(this.store.require('change_request'), user, toGlideDateTime(at));
    Object.assign(row, this.changeDefaults({ user, at, trusted: true, enforceRules: false, touchParent: false }, row.sys_created_on ?? ''));
    this.changeNumber--;
    row.number = '';
    return row;
  }

  /** Reserves `n` consecutive change numbers; returns the first. */
  reserveChangeNumbers(n: number): number {
    const first = this.changeNumber + 1;
    this.changeNumber += n;
    return first;
  }

  /** Appends a journal entry; with `touchParent` the record is updated like a PATCH of that field. */
  appendJournal(tableName: string, sysId: string, element: string, text: string, ctx: WriteContext): WriteResult {
    const table = this.store.require(tableName);
    if (!table.get(sysId)) return { ok: false, status: 404 };
    if (ctx.touchParent) return this.update(tableName, sysId, { [element]: text }, { ...ctx, enforceRules: false });
    this.journalRow(tableName, sysId, element, text, ctx.user, toGlideDateTime(ctx.at));
    return { ok: true, row: table.get(sysId) as Row };
  }

  /** Copies known, writable fields onto `row`; returns the journal entries to append. */
  private apply(table: SimTable, row: Row, fields: Record<string, unknown>, trusted: boolean, inserting: boolean): [string, string][] {
    const journal: [string, string][] = [];
    for (const [name, raw] of Object.entries(fields)) {
      const def = table.schema.fields.get(name);
      if (!def) continue;
      if (def.kind === 'journal') {
        const text = asFieldValue(raw);
        if (def.writable && text !== '') journal.push([name, text]);
        continue;
      }
      if (READ_ONLY.has(name) && !(trusted && inserting)) continue;
      if (name === 'sys_id' && !inserting) continue;
      const text = asFieldValue(raw);
      // The instance keeps what fits the column and drops the rest, without an error.
      row[name] = def.maxLength !== undefined && text.length > def.maxLength ? text.slice(0, def.maxLength) : text;
    }
    return journal;
  }

  private blankRow(table: SimTable, user: string, now: string): Row {
    const system: Row = { sys_created_by: user, sys_created_on: now, sys_mod_count: '0', sys_updated_by: user, sys_updated_on: now };
    // fromEntries keeps a 100-field row in V8's fast-properties mode; adding keys one by one would not.
    return Object.fromEntries([...table.schema.fields.keys()].map((name) => [name, system[name] ?? '']));
  }

  private changeDefaults(ctx: WriteContext, now: string): Row {
    const number = `CHG${String(++this.changeNumber).padStart(7, '0')}`;
    const userId = this.userSysId(ctx.user);
    return {
      active: 'true',
      approval: 'not requested',
      cab_required: 'false',
      category: 'Other',
      conflict_status: 'Not Run',
      escalation: '0',
      impact: '3',
      knowledge: 'false',
      made_sla: 'true',
      number,
      on_hold: 'false',
      opened_at: now,
      opened_by: userId,
      outside_maintenance_schedule: 'false',
      phase: 'requested',
      phase_state: 'open',
      priority: '4',
      production_system: 'false',
      reassignment_count: '0',
      requested_by: userId,
      risk: '3',
      scope: '3',
      state: '-5',
      sys_class_name: 'change_request',
      sys_domain: 'global',
      sys_domain_path: '/',
      type: 'normal',
      unauthorized: 'false',
      upon_approval: 'proceed',
      upon_reject: 'cancel',
      urgency: '3',
    };
  }

  private finishChange(row: Row, fields: Record<string, unknown>): void {
    if (!('priority' in fields) && ('impact' in fields || 'urgency' in fields)) {
      const p = priorityFor(row.impact ?? '', row.urgency ?? '');
      if (p) row.priority = p;
    }
    const digits = /^CHG(\d+)$/.exec(row.number ?? '');
    if (digits) this.changeNumber = Math.max(this.changeNumber, Number(digits[1]));
    row.task_effective_number = row.number ?? '';
  }

  private journalRow(table: string, sysId: string, element: string, text: string, user: string, at: string): void {
    // Column order of sys_journal_field_rows.json.
    this.store.require('sys_journal_field').put({
      sys_id: this.newSysId(),
      sys_created_on: at,
      name: this.childTableName(table, sysId),
      element_id: sysId,
      sys_tags: '',
      value: text,
      sys_created_by: user,
      element,
    });
  }

  private deriveParentApproval(approval: Row, ctx: WriteContext): void {
    const changes = this.store.require('change_request');
    const parentId = approval.sysapproval ?? '';
    const parent = changes.get(parentId);
    if (!parent) return;
    const states = this.store.require('sysapproval_approver').lookup('sysapproval', parentId).map((r) => r.state ?? '');
    const derived = deriveApproval(states);
    if (derived === parent.approval) return;
    const fields: Row = { approval: derived };
    if (derived === 'approved' || derived === 'rejected') fields.approval_set = toGlideDateTime(ctx.at);
    this.update('change_request', parentId, fields, { ...ctx, enforceRules: false });
  }

  userSysId(userName: string): string {
    return this.store.table('sys_user')?.lookup('user_name', userName)[0]?.sys_id ?? '';
  }
}
