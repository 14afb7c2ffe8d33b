// Checks a schedule field by field, so a mistake is named where it is:
// `*/61 * * * *` is "the minute field "*/61": step 61 is outside 1–59", not a bare
// "invalid cron". node-cron's syntax: five fields, or six with seconds first.

interface CronField {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
  /** The number the first name stands for (months count from 1). */
  namesFrom?: number;
}

const SECOND: CronField = { name: 'second', min: 0, max: 59 };
const FIVE: readonly CronField[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'], namesFrom: 1 },
  { name: 'day-of-week', min: 0, max: 7, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'], namesFrom: 0 },
];

function valueProblem(text: string, field: CronField): string | null {
  const lower = text.toLowerCase();
  if (field.names?.some((n) => lower === n || (lower.length > 3 && n.startsWith(lower.slice(0, 3)) && lower.length <= 9))) return null;
  if (!/^\d+$/.test(text)) return `"${text}" is not a number${field.names ? ` nor a name (${field.names.join(', ')})` : ''}`;
  const n = Number(text);
  return n < field.min || n > field.max ? `${n} is outside ${field.min}–${field.max}` : null;
}

function fieldProblem(text: string, field: CronField): string | null {
  for (const item of text.split(',')) {
    const [range = '', step, extra] = item.split('/');
    if (extra !== undefined || range === '') return `"${item}" is not a value, a range, * or a step`;
    if (step !== undefined) {
      if (!/^\d+$/.test(step)) return `step "${step}" is not a number`;
      const n = Number(step);
      const most = field.max - field.min;
      if (n < 1 || n > most) return `step ${n} is outside 1–${most}`;
    }
    if (range === '*') continue;
    const [from = '', to, more] = range.split('-');
    if (more !== undefined) return `"${range}" is not a range such as ${field.min}-${field.max}`;
    const problem = valueProblem(from, field) ?? (to === undefined ? null : valueProblem(to, field));
    if (problem) return problem;
  }
  return null;
}

/** Null when every field is valid; otherwise the first problem in plain words. */
export function cronProblem(expression: string): string | null {
  const parts = expression.trim().split(/\s+/).filter((p) => p !== '');
  if (parts.length !== 5 && parts.length !== 6) {
    return `expected 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, got ${parts.length}; e.g. "*/2 * * * *" (every 2 minutes)`;
  }
  const fields = parts.length === 6 ? [SECOND, ...FIVE] : FIVE;
  for (const [i, part] of parts.entries()) {
    const field = fields[i] as CronField;
    const problem = fieldProblem(part, field);
    if (problem) {
      const range = problem.includes('outside') ? '' : ` (the ${field.name} runs ${field.min}–${field.max})`;
      return `the ${field.name} field "${part}": ${problem}${range}; e.g. "*/2 * * * *" (every 2 minutes)`;
    }
  }
  return null;
}
