// ServiceNow stores date-times as UTC 'yyyy-MM-dd HH:mm:ss' (reference §1.4); the
// display value is in the API user's time zone, so only `value` is ever parsed.
// Checked by character codes: this runs several times per record on 50k-record syncs.

import { ChangegateError } from '../../src/errors.ts';

const ZERO = 48;

function digits(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = text.charCodeAt(i) - ZERO;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** True for a calendar day 'yyyy-MM-dd' whose month and day are in range. */
function isDay(text: string): boolean {
  if (text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45) return false;
  const month = digits(text, 5, 7);
  const day = digits(text, 8, 10);
  return digits(text, 0, 4) >= 0 && month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

function isDateTime(text: string): boolean {
  if (text.length !== 19 || text.charCodeAt(10) !== 32 || !isDay(text)) return false;
  if (text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58) return false;
  const hour = digits(text, 11, 13);
  const minute = digits(text, 14, 16);
  const second = digits(text, 17, 19);
  return hour >= 0 && hour <= 23 && minute >= 0 && minute <= 59 && second >= 0 && second <= 59;
}

function malformed(value: string, field: string, expected: string): ChangegateError {
  return new ChangegateError('CG_SN_RECORD_INVALID', `field ${field} holds "${value}", expected ${expected} (UTC) or empty`, {
    details: { field, value },
  });
}

/** 'yyyy-MM-dd HH:mm:ss' (UTC) → ISO 'yyyy-MM-ddTHH:mm:ssZ'; '' → null; anything else throws CG_SN_RECORD_INVALID naming the field. */
export function parseServiceNowDate(value: string, field: string): string | null {
  if (value === '') return null;
  if (!isDateTime(value)) throw malformed(value, field, "'yyyy-MM-dd HH:mm:ss'");
  return `${value.slice(0, 10)}T${value.slice(11)}Z`;
}

/**
 * For fields that are a date on some instances and a date-time on others (`cab_date`):
 * a day stays 'yyyy-MM-dd', a date-time becomes ISO UTC.
 */
export function parseServiceNowDay(value: string, field: string): string | null {
  if (value.length === 10) {
    if (!isDay(value)) throw malformed(value, field, "'yyyy-MM-dd'");
    return value;
  }
  return parseServiceNowDate(value, field);
}

/** ISO → 'yyyy-MM-dd HH:mm:ss' UTC, for queries. Sub-second parts are dropped (ServiceNow keeps whole seconds). */
export function formatServiceNowDate(iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) {
    throw new ChangegateError('CG_INPUT_INVALID', `"${iso}" is not an ISO-8601 date-time`, { details: { value: iso } });
  }
  const text = new Date(ms).toISOString();
  return `${text.slice(0, 10)} ${text.slice(11, 19)}`;
}
