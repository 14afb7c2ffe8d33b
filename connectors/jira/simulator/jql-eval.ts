// Compiles parsed JQL into a predicate and a comparator over issue views.
// Date clauses compare at minute precision in the site's time zone, as Jira
// does: `updated > "2024-01-01 10:00"` does NOT match an issue updated at
// 10:00:45, and `updated >= "…10:01"` does not either.

import type { Workflow } from './change-workflow.ts';
import type { FieldCatalog, FieldDef } from './field-catalog.ts';
import { ISSUE_TYPES } from './field-catalog.ts';
import { floorMinute, parseJqlDate } from './jira-time.ts';
import { JqlError, parseJql, type JqlNode, type JqlValue } from './jql-parser.ts';
import type { IssueState, SimIssue, SimProject, SimUser } from './sim-types.ts';

export interface IssueView {
  issue: SimIssue;
  state: IssueState;
}

export interface JqlEnv {
  catalog: FieldCatalog;
  workflow: Workflow;
  projects: SimProject[];
  timeZone: string;
  now: number;
  currentUser: SimUser | null;
  findUser(ref: string): SimUser | undefined;
}

export interface CompiledJql {
  /** Jira refuses a search without any restriction ("unbounded") on /search/jql. */
  bounded: boolean;
  matches(view: IssueView): boolean;
  compare(a: IssueView, b: IssueView): number;
}

type Predicate = (v: IssueView) => boolean;
type Scalar = string | number | null;

const DATE_KINDS = new Set(['timestamp', 'datetime', 'date']);

function dateHelp(value: string, field: string): JqlError {
  return new JqlError(
    `Date value '${value}' for field '${field}' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'.`,
  );
}

/** The comparable values of a field on one issue (several for multi-value fields). */
function fieldValues(def: FieldDef, v: IssueView, env: JqlEnv): Scalar[] {
  const raw = v.state.fields[def.id];
  switch (def.kind) {
    case 'key':
      return [v.issue.key, v.issue.id];
    case 'project':
      return [v.issue.project.key, v.issue.project.id, v.issue.project.name];
    case 'issuetype': {
      const t = ISSUE_TYPES.find((x) => x.id === raw);
      return t ? [t.id, t.name] : [null];
    }
    case 'status':
      return [raw as string, env.workflow.status(raw as string)?.name ?? null];
    case 'option':
      return raw ? [(raw as { id: string }).id, (raw as { value: string }).value] : [null];
    case 'user':
      return raw ? [raw as string, env.findUser(raw as string)?.name ?? null] : [null];
    case 'users':
    case 'labels':
      return (raw as string[] | undefined)?.length ? (raw as string[]) : [null];
    case 'timestamp':
    case 'datetime':
      return [typeof raw === 'number' ? floorMinute(raw) : null];
    case 'date':
      return [typeof raw === 'string' ? Date.parse(raw) : null];
    default:
      return [raw === undefined || raw === null ? null : typeof raw === 'string' ? raw : JSON.stringify(raw)];
  }
}

function resolveValue(def: FieldDef, value: JqlValue, env: JqlEnv): Scalar {
  if (value.kind === 'empty') return null;
  if (value.kind === 'function') {
    const name = value.name.toLowerCase();
    if (name === 'currentuser') return env.currentUser?.accountId ?? '\u0000nobody';
    if (name === 'now') return floorMinute(env.now);
    throw new JqlError(`Error in the JQL Query: The function '${value.name}' is not supported by this simulator.`);
  }
  if (DATE_KINDS.has(def.kind)) {
    if (/^\d{10,}$/.test(value.text)) return floorMinute(Number(value.text));
    const ms = parseJqlDate(value.text, env.now, env.timeZone);
    if (ms === null) throw dateHelp(value.text, def.clauseNames[0] ?? def.id);
    return ms;
  }
  if (def.kind === 'project' && !env.projects.some((p) => [p.key, p.id, p.name].some((x) => x.toLowerCase() === value.text.toLowerCase()))) {
    throw new JqlError(`The value '${value.text}' does not exist for the field 'project'.`);
  }
  if (def.kind === 'issuetype' && !ISSUE_TYPES.some((t) => t.id === value.text || t.name.toLowerCase() === value.text.toLowerCase())) {
    throw new JqlError(`The value '${value.text}' does not exist for the field 'issuetype'.`);
  }
  if (def.kind === 'user') return env.findUser(value.text)?.accountId ?? value.text;
  return value.text;
}

const eq = (a: Scalar, b: Scalar): boolean =>
  a === b || (typeof a === 'string' && typeof b === 'string' && a.toLowerCase() === b.toLowerCase());

function compileClause(node: Extract<JqlNode, { kind: 'clause' }>, env: JqlEnv): Predicate {
  const def = env.catalog.resolve(node.field);
  if (!def) throw new JqlError(`Field '${node.field}' does not exist or you do not have permission to view it.`);
  const wanted = node.values.map((v) => resolveValue(def, v, env));
  const valuesOf = (v: IssueView): Scalar[] => fieldValues(def, v, env);
  switch (node.op) {
    case '=':
    case 'in':
    case 'is':
      return (v) => valuesOf(v).some((a) => wanted.some((b) => eq(a, b)));
    case '!=':
    case 'not in':
    case 'is not':
      // JQL's != never matches an empty field unless EMPTY is named.
      return (v) => {
        const vals = valuesOf(v);
        if (vals.every((a) => a === null) && !wanted.includes(null)) return false;
        return !vals.some((a) => wanted.some((b) => eq(a, b)));
      };
    case '~':
    case '!~': {
      const needle = String(wanted[0] ?? '').toLowerCase().replace(/\*/g, '');
      const hit: Predicate = (v) => valuesOf(v).some((a) => typeof a === 'string' && a.toLowerCase().includes(needle));
      return node.op === '~' ? hit : (v) => !hit(v);
    }
    default: {
      const b = wanted[0] ?? null;
      if (!DATE_KINDS.has(def.kind) && def.kind !== 'key') {
        throw new JqlError(`The operator '${node.op}' is not supported by the '${node.field}' field.`);
      }
      const cmp = (a: Scalar): number | null => {
        if (a === null || b === null) return null;
        if (def.kind === 'key') return keyCompare(String(a), String(b));
        return (a as number) - (b as number);
      };
      const ok = { '<': (c: number) => c < 0, '<=': (c: number) => c <= 0, '>': (c: number) => c > 0, '>=': (c: number) => c >= 0 }[node.op];
      return (v) => {
        const c = cmp(valuesOf(v)[0] ?? null);
        return c !== null && ok(c);
      };
    }
  }
}

function compileNode(node: JqlNode, env: JqlEnv): Predicate {
  if (node.kind === 'clause') return compileClause(node, env);
  if (node.kind === 'not') {
    const inner = compileNode(node.child, env);
    return (v) => !inner(v);
  }
  const parts = node.children.map((c) => compileNode(c, env));
  return node.kind === 'and' ? (v) => parts.every((p) => p(v)) : (v) => parts.some((p) => p(v));
}

export function keyCompare(a: string, b: string): number {
  const [pa = '', na = '0'] = a.split('-');
  const [pb = '', nb = '0'] = b.split('-');
  return pa === pb ? Number(na) - Number(nb) : pa < pb ? -1 : 1;
}

function sortValue(def: FieldDef, v: IssueView): number | string {
  if (def.kind === 'key') return v.issue.key;
  const raw = v.state.fields[def.id];
  if (typeof raw === 'number' || typeof raw === 'string') return raw;
  if (def.kind === 'status') return String(raw);
  if (raw && typeof raw === 'object' && 'value' in raw) return String((raw as { value: string }).value);
  return '';
}

export function compileJql(jql: string, env: JqlEnv): CompiledJql {
  const q = parseJql(jql);
  const matches = q.where ? compileNode(q.where, env) : () => true;
  // Jira's default order when none is given; [UNVERIFIED] for /search/jql.
  const order = q.orderBy.length > 0 ? q.orderBy : [{ field: 'key', direction: 'desc' as const }];
  const sorters = order.map((s) => {
    const def = env.catalog.resolve(s.field);
    if (!def) throw new JqlError(`Not able to sort using field '${s.field}'.`);
    const dir = s.direction === 'desc' ? -1 : 1;
    return (a: IssueView, b: IssueView): number => {
      if (def.kind === 'key') return dir * keyCompare(a.issue.key, b.issue.key);
      const x = sortValue(def, a);
      const y = sortValue(def, b);
      return dir * (x < y ? -1 : x > y ? 1 : 0);
    };
  });
  return {
    bounded: q.where !== null,
    matches,
    compare: (a, b) => {
      for (const s of sorters) {
        const c = s(a, b);
        if (c !== 0) return c;
      }
      return Number(a.issue.id) - Number(b.issue.id);
    },
  };
}

export { JqlError };
