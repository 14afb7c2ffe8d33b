// One ServiceNow field, whatever shape the request flags gave it (reference §1.4):
//   "x"                                   display_value=false, links excluded
//   {"link": …, "value": "x"}             display_value=false
//   {"display_value": "X", "value": "x"}  display_value=all, links excluded (what the connector asks for)
//   {"display_value": "X", "link": …, "value": "x"}
//   {"display_value": "3 - Low", "value": 3.0, "display_value_internal": …}   Change Management API, typed
// Mapping always reads `value` (UTC for dates, sys_id for references); `display_value`
// only supplies names. These run tens of times per record, so no allocation beyond the result.

import type { Ref } from '../../src/domain/change.ts';
import { ChangegateError } from '../../src/errors.ts';

type Field = Record<string, unknown>;

function scalarText(value: unknown, name: string): string {
  if (typeof value === 'string') return value;
  // Typed values from sn_chg_rest: 3.0 parses as 3 and prints "3", matching the Table API's "3".
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null || value === undefined) return '';
  throw new ChangegateError('CG_SN_RECORD_INVALID', `field ${name} holds a ${Array.isArray(value) ? 'list' : typeof value}, expected a string or {value}`, {
    details: { field: name },
  });
}

/**
 * The field's stored value as text; '' when empty, `undefined` when the record has no such
 * key at all (an ACL hid it or `sysparm_fields` left it out).
 */
export function fieldValue(record: Field, name: string): string | undefined {
  const field = record[name];
  if (typeof field === 'string') return field;
  if (field === undefined) return undefined;
  if (typeof field === 'object' && field !== null && !Array.isArray(field)) {
    const value = (field as Field)['value'];
    if (typeof value === 'string') return value;
    if (value === undefined) {
      // display_value=true without `all`: only the user-time-zone text is there, nothing safe to map.
      throw new ChangegateError('CG_SN_RECORD_INVALID', `field ${name} has no "value"; request sysparm_display_value=all or false`, {
        details: { field: name },
      });
    }
    return scalarText(value, name);
  }
  return scalarText(field, name);
}

function displayOf(field: unknown): string | null {
  if (typeof field !== 'object' || field === null) return null;
  const display = (field as Field)['display_value'];
  if (typeof display === 'string') return display === '' ? null : display;
  if (typeof display === 'number' || typeof display === 'boolean') return String(display);
  return null;
}

/** `display_value` when the record carries one and it is not empty, else null. */
export function displayValue(record: Field, name: string): string | null {
  return displayOf(record[name]);
}

/** A reference field as a Ref (id = sys_id, name = display value when present); null when empty. */
export function refValue(record: Field, name: string): Ref | null {
  const id = fieldValue(record, name);
  if (id === undefined || id === '') return null;
  return { id, name: displayOf(record[name]) };
}

function splitList(text: string): string[] {
  const out: string[] = [];
  for (const part of text.split(',')) {
    const item = part.trim();
    if (item !== '') out.push(item);
  }
  return out;
}

/**
 * A reference or list field as Refs: a single reference gives one, a glide_list
 * ("id1,id2") gives several. Names are paired with ids only when the display text
 * splits into as many parts, since a display name may itself contain a comma.
 */
export function refListValue(record: Field, name: string): Ref[] {
  const value = fieldValue(record, name);
  if (value === undefined || value === '') return [];
  const display = displayValue(record, name);
  if (value.indexOf(',') < 0) return [{ id: value.trim(), name: display }];
  const ids = splitList(value);
  const names = display === null ? null : splitList(display);
  const paired = names !== null && names.length === ids.length;
  return ids.map((id, i) => ({ id, name: paired ? (names[i] ?? null) : null }));
}

/** A comma-separated text field ("org/repo-a, org/repo-b") as a list; [] when empty or absent. */
export function textListValue(record: Field, name: string): string[] {
  const value = fieldValue(record, name);
  return value === undefined || value === '' ? [] : splitList(value);
}
