// Field values in and out of the internal form: coercing what a client (or a
// test, through the driving API) sends, and describing a change the way Jira's
// changelog does (`from`/`fromString`/`to`/`toString`).

import { adfToText, isAdfDoc, textToAdf } from './adf.ts';
import type { FieldDef, FieldOption } from './field-catalog.ts';
import { PRIORITIES, REQUEST_TYPES, SERVICES } from './field-catalog.ts';
import { jiraTimestamp, jsmDate, parseInputDate } from './jira-time.ts';
import type { Flavor, HistoryItem, SimUser } from './sim-types.ts';

export interface CoerceContext {
  flavor: Flavor;
  /** `driver` accepts shorthand (option value strings, user names, plain text for rich text). */
  mode: 'rest' | 'driver';
  apiVersion: '2' | '3';
  findUser(ref: string): SimUser | undefined;
}

export type Coerced = { ok: true; value: unknown } | { ok: false; error: string };

const ok = (value: unknown): Coerced => ({ ok: true, value });
const fail = (error: string): Coerced => ({ ok: false, error });

function userRef(raw: unknown, ctx: CoerceContext): Coerced {
  if (raw === null) return ok(null);
  let ref: string | undefined;
  if (typeof raw === 'string' && ctx.mode === 'driver') ref = raw;
  else if (typeof raw === 'object' && raw !== null) {
    const r = raw as Record<string, unknown>;
    const v = ctx.flavor === 'cloud' ? (r.accountId ?? (ctx.mode === 'driver' ? r.name : undefined)) : (r.name ?? r.key);
    if (typeof v === 'string') ref = v;
  }
  if (ref === undefined) return fail(ctx.flavor === 'cloud' ? 'Specify the user by accountId.' : 'Specify the user by name.');
  const user = ctx.findUser(ref);
  return user ? ok(user.accountId) : fail(`The user '${ref}' does not exist.`);
}

function optionRef(def: FieldDef, raw: unknown, ctx: CoerceContext): Coerced {
  if (raw === null) return ok(null);
  let wanted: string | undefined;
  if (typeof raw === 'string' && ctx.mode === 'driver') wanted = raw;
  else if (typeof raw === 'object' && raw !== null) {
    const r = raw as Record<string, unknown>;
    if (typeof r.id === 'string') wanted = r.id;
    else if (typeof r.value === 'string') wanted = r.value;
  }
  const opt = wanted === undefined ? undefined : def.options?.find((o) => o.id === wanted || o.value.toLowerCase() === wanted.toLowerCase());
  return opt ? ok({ id: opt.id, value: opt.value }) : fail(`Option value '${String(wanted ?? JSON.stringify(raw))}' is not valid for field ${def.name}.`);
}

/** Converts a client-supplied value into the internal form, or explains why it cannot. */
export function coerceFieldInput(def: FieldDef, raw: unknown, ctx: CoerceContext): Coerced {
  switch (def.kind) {
    case 'string':
      return raw === null || typeof raw === 'string' ? ok(raw) : fail(`Field '${def.id}' must be a string.`);
    case 'richtext':
      if (raw === null || raw === '') return ok(null);
      if (typeof raw === 'string' && (ctx.apiVersion === '2' || ctx.mode === 'driver')) return ok(textToAdf(raw));
      if (isAdfDoc(raw) && ctx.apiVersion === '3') return ok(raw);
      return fail(ctx.apiVersion === '3' ? 'Operation value must be an Atlassian Document (see the Atlassian Document Format).' : 'Operation value must be a string');
    case 'option':
      return optionRef(def, raw, ctx);
    case 'datetime': {
      if (raw === null) return ok(null);
      const ms = parseInputDate(raw);
      return ms === null ? fail(`Field '${def.id}': invalid date format. Please enter the date in the format "yyyy-MM-dd'T'HH:mm:ss.SSSZ".`) : ok(ms);
    }
    case 'date':
      return raw === null || (typeof raw === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(raw)) ? ok(raw) : fail("Error parsing date string. Use format 'yyyy-MM-dd'.");
    case 'user':
      return userRef(raw, ctx);
    case 'users': {
      if (raw === null) return ok([]);
      if (!Array.isArray(raw)) return fail(`Field '${def.id}' must be an array of users.`);
      const ids: string[] = [];
      for (const r of raw) {
        const c = userRef(r, ctx);
        if (!c.ok) return c;
        if (typeof c.value === 'string') ids.push(c.value);
      }
      return ok(ids);
    }
    case 'labels':
      return Array.isArray(raw) && raw.every((l) => typeof l === 'string' && !/\s/.test(l)) ? ok([...raw]) : fail('Labels must be strings without spaces.');
    case 'priority': {
      const ref = typeof raw === 'string' && ctx.mode === 'driver' ? raw : ((raw as Record<string, unknown> | null)?.id ?? (raw as Record<string, unknown> | null)?.name);
      const p = PRIORITIES.find((x) => x.id === ref || x.name.toLowerCase() === String(ref).toLowerCase());
      return p ? ok(p.id) : fail('Specify a valid priority.');
    }
    case 'requesttype': {
      const ref = typeof raw === 'string' ? raw : (raw as Record<string, unknown> | null)?.id;
      const rt = REQUEST_TYPES.find((x) => x.id === ref || x.name === ref);
      return raw === null ? ok(null) : rt ? ok(rt.id) : fail('The request type is invalid.');
    }
    case 'services': {
      if (raw === null) return ok([]);
      if (!Array.isArray(raw)) return fail(`Field '${def.id}' must be an array of services.`);
      const out: { id: string; name: string }[] = [];
      for (const r of raw) {
        const ref = typeof r === 'string' ? r : (r as Record<string, unknown>)?.id;
        const s = SERVICES.find((x) => x.id === ref || x.name === ref);
        if (!s) return fail(`The service '${String(ref)}' does not exist.`);
        out.push({ id: s.id, name: s.name });
      }
      return ok(out);
    }
    default:
      return fail(`Field '${def.id}' cannot be set. It is not on the appropriate screen, or unknown.`);
  }
}

export interface DisplayContext {
  flavor: Flavor;
  timeZone: string;
  user(accountId: string): SimUser | undefined;
  statusName(id: string): string;
}

function userIdOut(id: string, ctx: DisplayContext): string {
  return ctx.flavor === 'cloud' ? id : (ctx.user(id)?.name ?? id);
}

/** `[from, fromString]`-style pair for a value in the internal form. */
function describe(def: FieldDef, value: unknown, ctx: DisplayContext): [string | null, string | null] {
  if (value === null || value === undefined) return [null, null];
  switch (def.kind) {
    case 'richtext':
      return [null, adfToText(value as never)];
    case 'option':
      return [(value as FieldOption).id, (value as FieldOption).value];
    case 'datetime':
      return [jiraTimestamp(value as number, 'UTC'), jsmDate(value as number, ctx.timeZone).friendly];
    case 'user':
      return [userIdOut(value as string, ctx), ctx.user(value as string)?.displayName ?? null];
    case 'users': {
      const ids = value as string[];
      if (ids.length === 0) return [null, null];
      return [`[${ids.map((i) => userIdOut(i, ctx)).join(', ')}]`, ids.map((i) => ctx.user(i)?.displayName ?? i).join(', ')];
    }
    case 'labels':
      return [null, (value as string[]).join(' ') || null];
    case 'priority':
      return [value as string, PRIORITIES.find((p) => p.id === value)?.name ?? null];
    case 'status':
      return [value as string, ctx.statusName(value as string)];
    case 'requesttype':
      return [value as string, REQUEST_TYPES.find((r) => r.id === value)?.name ?? null];
    case 'services':
      return [null, (value as { name: string }[]).map((s) => s.name).join(', ') || null];
    default:
      return [null, typeof value === 'string' ? value : JSON.stringify(value)];
  }
}

export function historyItem(def: FieldDef, from: unknown, to: unknown, ctx: DisplayContext): HistoryItem {
  const [f, fs] = describe(def, from, ctx);
  const [t, ts] = describe(def, to, ctx);
  const item: HistoryItem = {
    field: def.custom ? def.name : def.id,
    fieldtype: def.custom ? 'custom' : 'jira',
    fieldId: def.id,
    from: def.kind === 'string' || def.kind === 'richtext' || def.kind === 'labels' ? null : f,
    fromString: fs,
    to: def.kind === 'string' || def.kind === 'richtext' || def.kind === 'labels' ? null : t,
    toString: ts,
  };
  if (def.kind === 'user' && ctx.flavor === 'cloud') {
    item.tmpFromAccountId = (from as string | null) ?? null;
    item.tmpToAccountId = (to as string | null) ?? null;
  }
  return item;
}

export function sameValue(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}
