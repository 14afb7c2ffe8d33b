// Renders a stored row as the Table API does for each `sysparm_display_value` ×
// `sysparm_exclude_reference_link` combination (reference §1.4).

import { glideDisplayValue } from './glide-time.ts';
import type { SimStore } from './record-store.ts';
import type { FieldDef, Row, TableSchema } from './table-schema.ts';

export type DisplayMode = 'false' | 'true' | 'all';

export interface SerializeOptions {
  display: DisplayMode;
  excludeReferenceLink: boolean;
  /** `sysparm_fields`: names (dot-walks allowed); unknown names are dropped. Empty means every field. */
  fields: readonly string[];
  /** Instance URL used in reference links. */
  instanceUrl: string;
  timeZone: string;
}

type Json = string | Record<string, string>;

const JOURNAL_SOURCES: Record<string, readonly string[]> = {
  comments_and_work_notes: ['comments', 'work_notes'],
};

export class RecordSerializer {
  private readonly store: SimStore;

  constructor(store: SimStore) {
    this.store = store;
  }

  serialize(schema: TableSchema, row: Row, opts: SerializeOptions): Record<string, Json> {
    const out: Record<string, Json> = {};
    if (opts.fields.length > 0) {
      for (const name of opts.fields) {
        if (name.includes('.')) {
          const walked = this.dotWalk(schema, row, name, opts);
          if (walked !== undefined) out[name] = walked;
        } else if (name in row) {
          out[name] = this.render(schema, row, name, opts);
        }
      }
      return out;
    }
    for (const name of Object.keys(row)) out[name] = this.render(schema, row, name, opts);
    return out;
  }

  private render(schema: TableSchema, row: Row, name: string, opts: SerializeOptions): Json {
    const value = row[name] ?? '';
    const def = schema.fields.get(name);
    if (!def) return opts.display === 'all' ? { display_value: value, value } : value;
    if (def.kind === 'reference') return this.renderReference(def, value, opts);
    if (def.kind === 'journal') {
      if (opts.display === 'false') return '';
      const display = this.journalDisplay(schema.name, row.sys_id ?? '', name, opts.timeZone);
      return opts.display === 'true' ? display : { display_value: display, value: '' };
    }
    if (opts.display === 'false') return value;
    const display = this.displayValue(def, value, opts.timeZone);
    return opts.display === 'true' ? display : { display_value: display, value };
  }

  private renderReference(def: FieldDef, value: string, opts: SerializeOptions): Json {
    // An empty reference never carries a link (see table_api_incident_patch_response.json).
    if (opts.display === 'false') {
      if (opts.excludeReferenceLink || value === '') return value;
      return { link: this.link(def, value, opts), value };
    }
    const display = this.referenceDisplay(def, value);
    if (opts.display === 'true') {
      if (opts.excludeReferenceLink || value === '') return display;
      return { display_value: display, link: this.link(def, value, opts) };
    }
    if (opts.excludeReferenceLink || value === '') return { display_value: display, value };
    return { display_value: display, link: this.link(def, value, opts), value };
  }

  private link(def: FieldDef, value: string, opts: SerializeOptions): string {
    return `${opts.instanceUrl}/api/now/table/${def.ref ?? 'sys_metadata'}/${value}`;
  }

  displayValue(def: FieldDef, value: string, timeZone: string): string {
    if (value === '') return '';
    switch (def.kind) {
      case 'datetime':
        return glideDisplayValue(value, timeZone);
      case 'choice':
        return def.choices?.[value] ?? value;
      case 'reference':
        return this.referenceDisplay(def, value);
      default:
        return value;
    }
  }

  referenceDisplay(def: FieldDef, value: string): string {
    if (value === '') return '';
    const target = this.store.table(def.ref ?? '');
    // Tables the simulator does not hold (company, location, domain "global") show the raw value.
    if (!target) return value;
    const row = target.get(value);
    if (!row) return value === 'global' ? 'global' : '';
    const display = row[target.schema.displayField] ?? '';
    return def.document ? `${target.schema.label}: ${display}` : display;
  }

  private dotWalk(schema: TableSchema, row: Row, path: string, opts: SerializeOptions): Json | undefined {
    const [head = '', ...rest] = path.split('.');
    const def = schema.fields.get(head);
    if (!def || def.kind !== 'reference' || rest.length === 0) return undefined;
    const target = this.store.table(def.ref ?? '');
    if (!target) return undefined;
    const refRow = target.get(row[head] ?? '');
    const tail = rest.join('.');
    if (!refRow) return target.schema.fields.has(rest[0] ?? '') ? (opts.display === 'all' ? { display_value: '', value: '' } : '') : undefined;
    if (rest.length > 1) return this.dotWalk(target.schema, refRow, tail, opts);
    if (!target.schema.fields.has(tail)) return undefined;
    return this.render(target.schema, refRow, tail, opts);
  }

  /** Journal display form: newest first, `yyyy-MM-dd HH:mm:ss - Full Name (Label)\ntext`, entries separated by a blank line. */
  journalDisplay(tableName: string, sysId: string, element: string, timeZone: string): string {
    if (sysId === '') return '';
    const elements = JOURNAL_SOURCES[element] ?? [element];
    const journal = this.store.table('sys_journal_field');
    const table = this.store.table(tableName);
    if (!journal || !table) return '';
    const entries = journal
      .lookup('element_id', sysId)
      .filter((j) => j.name === tableName && elements.includes(j.element ?? ''));
    if (entries.length === 0) return '';
    // Insertion order breaks same-second ties: the later write is the newer entry.
    const ordered = entries.map((e, i) => ({ e, i })).toSorted((a, b) => {
      const ta = a.e.sys_created_on ?? '';
      const tb = b.e.sys_created_on ?? '';
      return ta === tb ? b.i - a.i : ta < tb ? 1 : -1;
    });
    return ordered
      .map(({ e }) => {
        const label = table.schema.fields.get(e.element ?? '')?.label ?? e.element;
        const when = glideDisplayValue(e.sys_created_on ?? '', timeZone);
        return `${when} - ${this.userName(e.sys_created_by ?? '')} (${label})\n${e.value ?? ''}\n\n`;
      })
      .join('');
  }

  private userName(userName: string): string {
    const users = this.store.table('sys_user');
    const user = users?.lookup('user_name', userName)[0];
    return user?.name || userName;
  }
}
