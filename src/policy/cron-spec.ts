// A five-field cron expression (minute hour day-of-month month day-of-week) as
// sets, for recurring calendar windows. Only matching is needed, never "next
// run", because windows are enumerated day by day in their own time zone.

export interface CronSpec {
  minutes: readonly number[];
  hours: readonly number[];
  daysOfMonth: ReadonlySet<number>;
  months: ReadonlySet<number>;
  weekdays: ReadonlySet<number>;
  /** Vixie cron: when both day fields are restricted, a day matches if either does. */
  dayOr: boolean;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

interface Field {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
  namesFrom?: number;
}

const FIELDS: readonly Field[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS, namesFrom: 1 },
  { name: 'day of week', min: 0, max: 7, names: WEEKDAYS, namesFrom: 0 },
];

function value(text: string, field: Field): number {
  const named = field.names?.indexOf(text.toLowerCase()) ?? -1;
  if (named >= 0) return named + (field.namesFrom ?? 0);
  if (!/^\d+$/.test(text)) throw new Error(`${field.name}: "${text}" is not a number`);
  const n = Number(text);
  if (n < field.min || n > field.max) throw new Error(`${field.name}: ${n} is outside ${field.min}-${field.max}`);
  return n;
}

function parseField(text: string, field: Field): { values: number[]; star: boolean } {
  const values = new Set<number>();
  for (const item of text.split(',')) {
    const [range = '', stepText] = item.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new Error(`${field.name}: bad step "${stepText}"`);
    let lo: number;
    let hi: number;
    if (range === '*') [lo, hi] = [field.min, field.max];
    else if (range.includes('-')) {
      const [a = '', b = ''] = range.split('-');
      [lo, hi] = [value(a, field), value(b, field)];
      if (lo > hi) throw new Error(`${field.name}: range ${range} runs backwards`);
    } else {
      lo = value(range, field);
      hi = stepText === undefined ? lo : field.max;
    }
    for (let v = lo; v <= hi; v += step) values.add(v);
  }
  return { values: [...values].toSorted((a, b) => a - b), star: text === '*' };
}

/** Throws an Error naming the bad field; callers wrap it into their own error code. */
export function parseCron(expression: string): CronSpec {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 5) throw new Error(`expected 5 fields (minute hour day-of-month month day-of-week), got ${parts.length}`);
  const [minute, hour, dom, month, dow] = parts.map((p, i) => parseField(p, FIELDS[i] as Field)) as [
    ReturnType<typeof parseField>,
    ReturnType<typeof parseField>,
    ReturnType<typeof parseField>,
    ReturnType<typeof parseField>,
    ReturnType<typeof parseField>,
  ];
  return {
    minutes: minute.values,
    hours: hour.values,
    daysOfMonth: new Set(dom.values),
    months: new Set(month.values),
    weekdays: new Set(dow.values.map((d) => d % 7)),
    dayOr: !dom.star && !dow.star,
  };
}

export function cronMatchesDay(spec: CronSpec, month: number, day: number, weekday: number): boolean {
  if (!spec.months.has(month)) return false;
  const domOk = spec.daysOfMonth.has(day);
  const dowOk = spec.weekdays.has(weekday);
  return spec.dayOr ? domOk || dowOk : domOk && dowOk;
}
