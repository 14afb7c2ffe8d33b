// ServiceNow blackout and maintenance schedules (`cmn_schedule`, entries in
// `cmn_schedule_span`) read as policy calendar windows. Blackouts become freeze
// windows for every change (their conditions are not evaluated here); a
// maintenance schedule applies to the CIs whose `maintenance_schedule` names it,
// as ServiceNow's own conflict checker does. Only what `calendar.ts` can express
// is read: one-off entries and daily/weekly repeats; the rest is skipped with a
// warning naming the schedule.

import type { Calendar, CalendarWindow, WindowKind } from '../../src/kit/calendar.ts';
import { WEEKDAYS, type Weekday } from '../../src/kit/calendar.ts';
import { isValidTimeZone } from '../../src/kit/calendar.ts';
import type { Logger } from '../../src/kit/logger.ts';
import { ChangegateError } from '../../src/errors.ts';
import type { ServiceNowClient, TableParams } from './servicenow-client.ts';

export interface ScheduleReadOptions {
  logger: Logger;
  /**
   * The zone of a schedule whose time zone is empty or "Floating" (ServiceNow
   * then uses the viewing user's zone; changegate has no user, so the API
   * user's zone is the honest stand-in). Default UTC.
   */
  floatingTimeZone?: string;
  pageSize?: number;
  signal?: AbortSignal;
}

type Row = Record<string, unknown>;

const SCHEDULE_QUERY = 'type=blackout^ORtype=maintenance^ORsys_class_name=cmn_schedule_blackout^ORDERBYsys_id';
const SPAN_FIELDS = 'sys_id,name,schedule,type,all_day,start_date_time,end_date_time,repeat_type,repeat_count,days_of_week,repeat_until';
// sys_ids per `IN` term: keeps the URL well under proxy limits.
const ID_CHUNK = 50;
const DAY = 86_400_000;
/** A server that keeps saying "next" (or a table far larger than a calendar) must not keep a calendar refresh going forever. */
const MAX_PAGES = 100;

function text(row: Row, field: string): string {
  const v = row[field];
  if (typeof v === 'string') return v.trim();
  // A reference read without sysparm_exclude_reference_link is {link, value}.
  if (typeof v === 'object' && v !== null && typeof (v as { value?: unknown }).value === 'string') return ((v as { value: string }).value).trim();
  return '';
}

/**
 * Every row of a query, page by page. Past `MAX_PAGES` the read fails rather
 * than return what it has: a calendar missing a freeze would let a change
 * through as if the schedules had been read. `about` says what the rows are, in
 * the error.
 */
async function readAll(client: ServiceNowClient, table: string, params: TableParams, options: ScheduleReadOptions, about: string): Promise<Row[]> {
  const limit = options.pageSize ?? 1000;
  const out: Row[] = [];
  let total: number | null = null;
  for (let offset = 0, pages = 0; pages < MAX_PAGES; offset += limit, pages++) {
    const page = await client.getTable(table, { ...params, sysparm_limit: limit, sysparm_offset: offset, sysparm_exclude_reference_link: true }, options.signal);
    out.push(...(page.records.filter((r) => typeof r === 'object' && r !== null) as Row[]));
    total = page.total;
    // ACLs apply after sysparm_limit, so a hidden page comes back empty mid-way; X-Total-Count still bounds the walk.
    if (!page.hasNext || (page.total !== null ? offset + limit >= page.total : page.records.length === 0)) return out;
  }
  const instance = client.instanceId;
  const count = total === null ? '' : ` (X-Total-Count ${total})`;
  throw new ChangegateError(
    'CG_SN_TOO_MANY_ROWS',
    `${instance}: ServiceNow ${table} had more rows after ${MAX_PAGES} pages of ${limit}${count}, reading ${about}; the schedules are not used rather than used in part`,
    { details: { instance, table, pages: MAX_PAGES, pageSize: limit, total, about } },
  );
}

async function readByIds(client: ServiceNowClient, table: string, field: string, ids: string[], fields: string, options: ScheduleReadOptions, about: (chunk: string[]) => string): Promise<Row[]> {
  const out: Row[] = [];
  for (let i = 0; i < ids.length; i += ID_CHUNK) {
    const chunk = ids.slice(i, i + ID_CHUNK);
    out.push(...(await readAll(client, table, { sysparm_query: `${field}IN${chunk.join(',')}^ORDERBYsys_id`, sysparm_fields: fields }, options, about(chunk))));
  }
  return out;
}

/** A parsed `start_date_time`: a wall time in the schedule's zone, or a UTC instant. */
export type SpanTime = { kind: 'wall'; date: string; time: string } | { kind: 'utc'; iso: string };

/**
 * Both storage formats the reference leaves open: the Table API's UTC
 * `yyyy-MM-dd HH:mm:ss`, and the schedule format `yyyyMMddTHHmmss` in the
 * schedule's zone (a trailing `Z` there means UTC).
 */
export function parseSpanTime(value: string): SpanTime | null {
  const utc = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value);
  if (utc) return { kind: 'utc', iso: `${utc[1]}-${utc[2]}-${utc[3]}T${utc[4]}:${utc[5]}:${utc[6] ?? '00'}Z` };
  const sched = /^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})?(Z)?)?$/.exec(value);
  if (!sched) return null;
  const date = `${sched[1]}-${sched[2]}-${sched[3]}`;
  const time = `${sched[4] ?? '00'}:${sched[5] ?? '00'}`;
  if (sched[7] === 'Z') return { kind: 'utc', iso: `${date}T${time}:${sched[6] ?? '00'}Z` };
  return { kind: 'wall', date, time };
}

/** The same moment as a wall time in `timeZone`, so repeats keep their local clock time. */
function wallIn(t: SpanTime, timeZone: string): { date: string; time: string } {
  if (t.kind === 'wall') return { date: t.date, time: t.time };
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(new Date(t.iso));
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '00';
  return { date: `${get('year')}-${get('month')}-${get('day')}`, time: `${get('hour')}:${get('minute')}` };
}

function asCalendarTime(t: SpanTime): string {
  return t.kind === 'utc' ? t.iso : `${t.date}T${t.time}`;
}

function minutesOf(time: string): number {
  const [h = '0', m = '0'] = time.split(':');
  return Number(h) * 60 + Number(m);
}

// `repeat_type` values that fix the days; `weekly` and `daily` are handled apart.
const FIXED_DAYS: Record<string, Weekday[]> = {
  weekdays: ['mon', 'tue', 'wed', 'thu', 'fri'],
  weekends: ['sat', 'sun'],
  mwf: ['mon', 'wed', 'fri'],
  tt: ['tue', 'thu'],
};

/** `days_of_week` is digits, 1 = Monday … 7 = Sunday. */
function daysOfWeek(value: string): Weekday[] {
  const order: Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
  return [...new Set([...value].filter((c) => c >= '1' && c <= '7').map((c) => order[Number(c) - 1] as Weekday))];
}

function weekdayOfDate(date: string): Weekday {
  return WEEKDAYS[new Date(`${date}T00:00:00Z`).getUTCDay()] as Weekday;
}

interface ScheduleInfo {
  sysId: string;
  name: string;
  kind: WindowKind;
  timeZone: string;
  services: string[];
}

/** One span as a window, or the reason it cannot be one. */
export function spanToWindow(span: Row, schedule: ScheduleInfo, instance: string): CalendarWindow | { skip: string } {
  const spanId = text(span, 'sys_id');
  const start = parseSpanTime(text(span, 'start_date_time'));
  let end = parseSpanTime(text(span, 'end_date_time'));
  if (!start || !end) return { skip: `entry ${spanId} has unreadable dates "${text(span, 'start_date_time')}" – "${text(span, 'end_date_time')}"` };
  // An all-day entry ends at 23:59:59 of its last day; the window must cover that last minute too.
  if (text(span, 'all_day') === 'true' && end.kind === 'wall' && end.time === '23:59') end = { kind: 'wall', date: new Date(Date.parse(`${end.date}T00:00:00Z`) + DAY).toISOString().slice(0, 10), time: '00:00' };
  const spanName = text(span, 'name');
  const base = {
    id: `servicenow:${instance}:${schedule.sysId}:${spanId}`,
    name: spanName && spanName !== schedule.name ? `${schedule.name}: ${spanName}` : schedule.name,
    kind: schedule.kind,
    timeZone: schedule.timeZone,
    services: schedule.services,
  };
  const repeat = text(span, 'repeat_type').toLowerCase();
  if (repeat === '' || repeat === 'none') return { ...base, schedule: 'once', start: asCalendarTime(start), end: asCalendarTime(end) };
  const every = text(span, 'repeat_count');
  if (every !== '' && every !== '0' && every !== '1') return { skip: `entry ${spanId} repeats every ${every} ${repeat} periods, which the policy calendar cannot express` };
  const from = wallIn(start, schedule.timeZone);
  const to = wallIn(end, schedule.timeZone);
  let days: Weekday[] | null;
  if (repeat === 'daily') days = null;
  else if (repeat in FIXED_DAYS) days = FIXED_DAYS[repeat] ?? null;
  else if (repeat === 'weekly') {
    const listed = daysOfWeek(text(span, 'days_of_week'));
    days = listed.length > 0 ? listed : [weekdayOfDate(from.date)];
  } else return { skip: `entry ${spanId} repeats "${repeat}", which the policy calendar cannot express` };
  const lengthMs = Date.parse(`${to.date}T${to.time}:00Z`) - Date.parse(`${from.date}T${from.time}:00Z`);
  if (lengthMs <= 0) return { skip: `entry ${spanId} ends before it starts` };
  // Under a day the wall end time keeps the local clock across DST; longer spans need a duration.
  const wallEnd = lengthMs < DAY && minutesOf(to.time) !== minutesOf(from.time);
  const until = parseSpanTime(text(span, 'repeat_until'));
  return {
    ...base,
    schedule: 'recurring',
    days,
    start: from.time,
    cron: null,
    end: wallEnd ? to.time : null,
    durationMs: wallEnd ? null : lengthMs,
    validFrom: from.date,
    validUntil: until ? wallIn(until, schedule.timeZone).date : null,
  };
}

function kindOf(row: Row): WindowKind | null {
  const type = text(row, 'type').toLowerCase();
  if (type === 'blackout' || text(row, 'sys_class_name') === 'cmn_schedule_blackout') return 'freeze';
  if (type === 'maintenance') return 'maintenance';
  return null;
}

/**
 * The CIs that name one of the maintenance schedules. A CMDB the API user may
 * not read costs the maintenance windows (they could apply to nobody), not the
 * blackouts: those apply to every change.
 */
async function maintainedCis(client: ServiceNowClient, ids: string[], options: ScheduleReadOptions): Promise<Row[]> {
  try {
    return await readByIds(client, 'cmdb_ci', 'maintenance_schedule', ids, 'sys_id,name,maintenance_schedule', options, () => 'the CIs of the maintenance schedules');
  } catch (error) {
    if (options.signal?.aborted) throw error;
    const why = error instanceof Error ? error.message : String(error);
    options.logger.warn({ instance: client.instanceId, err: error }, `${client.instanceId}: the CIs of ServiceNow maintenance schedules could not be read, so maintenance schedules are left out (${why})`);
    return [];
  }
}

/**
 * Every blackout and maintenance schedule of one instance as calendar windows.
 * Throws what the client throws (an ACL's 403 is `CG_SN_FORBIDDEN`), and
 * `CG_SN_TOO_MANY_ROWS` naming the schedules when a table has more rows than
 * the reader takes: the caller decides whether a missing ITSM calendar
 * matters (the service keeps the last calendar read in full; `check` says it
 * judged with the policy calendar only).
 */
export async function readServiceNowSchedules(client: ServiceNowClient, options: ScheduleReadOptions): Promise<Calendar> {
  const instance = client.instanceId;
  const log = options.logger;
  const floating = options.floatingTimeZone ?? 'UTC';
  const rows = await readAll(client, 'cmn_schedule', { sysparm_query: SCHEDULE_QUERY, sysparm_fields: 'sys_id,name,type,time_zone,sys_class_name' }, options, 'the blackout and maintenance schedules');
  const schedules = new Map<string, ScheduleInfo>();
  for (const row of rows) {
    const kind = kindOf(row);
    const sysId = text(row, 'sys_id');
    if (kind === null || sysId === '') continue;
    const name = text(row, 'name') || sysId;
    const zone = text(row, 'time_zone');
    let timeZone = zone === '' || zone.toLowerCase() === 'floating' ? floating : zone;
    if (!isValidTimeZone(timeZone)) {
      log.warn({ instance, schedule: name, timeZone: zone }, `ServiceNow schedule "${name}" has time zone "${zone}", which is not an IANA zone; reading it in ${floating}`);
      timeZone = floating;
    }
    schedules.set(sysId, { sysId, name, kind, timeZone, services: [] });
  }
  if (schedules.size === 0) return { windows: [] };
  const maintenanceIds = [...schedules.values()].filter((s) => s.kind === 'maintenance').map((s) => s.sysId);
  for (const ci of await maintainedCis(client, maintenanceIds, options)) {
    const schedule = schedules.get(text(ci, 'maintenance_schedule'));
    if (!schedule) continue;
    schedule.services.push(...[text(ci, 'sys_id'), text(ci, 'name')].filter((v) => v !== ''));
  }
  const windows: CalendarWindow[] = [];
  // The rows come ordered by sys_id, not by schedule: any schedule of the chunk may lack entries.
  const named = (chunk: string[]) => {
    const names = chunk.map((id) => `"${schedules.get(id)?.name ?? id}"`);
    return `the entries of schedule${names.length === 1 ? '' : 's'} ${names.slice(0, 5).join(', ')}${names.length > 5 ? ` and ${names.length - 5} more` : ''}`;
  };
  for (const span of await readByIds(client, 'cmn_schedule_span', 'schedule', [...schedules.keys()], SPAN_FIELDS, options, named)) {
    const schedule = schedules.get(text(span, 'schedule'));
    if (!schedule) continue;
    // An "excluded" entry carves time out of a schedule; the calendar has no exclusions, so it is ignored rather than read as a window.
    if (text(span, 'type').toLowerCase() === 'exclude' || text(span, 'type').toLowerCase() === 'excluded') continue;
    // A maintenance schedule no CI names restricts no change: ServiceNow applies it to nobody.
    if (schedule.kind === 'maintenance' && schedule.services.length === 0) continue;
    const window = spanToWindow(span, schedule, instance);
    if ('skip' in window) log.warn({ instance, schedule: schedule.name, scheduleId: schedule.sysId }, `ServiceNow schedule "${schedule.name}" skipped an entry: ${window.skip}`);
    else windows.push(window);
  }
  return { windows };
}
