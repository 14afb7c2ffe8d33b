import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { BUSINESS_RULE_PATH, UPDATE_SET_PATH, buildUpdateSet } from '../../connectors/servicenow/plugin/build-update-set.ts';

type Node = Record<string, unknown>;

const committed = readFileSync(UPDATE_SET_PATH, 'utf8');
const script = readFileSync(BUSINESS_RULE_PATH, 'utf8');

// parseTagValue off keeps "true", "-3" and script text as the exact strings ServiceNow would load.
const fileParser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@_', parseTagValue: false, isArray: (name) => name === 'sys_update_xml' });
const payloadParser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@_', parseTagValue: false, trimValues: false });

function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && '#text' in value) return String((value as Node)['#text']);
  return '';
}

interface Update {
  name: string;
  type: string;
  table: string;
  remoteSet: string;
  recordTable: string;
  attributes: Node;
  fields: Node;
}

function updates(xml: string): { remote: Node; list: Update[] } {
  const unload = (fileParser.parse(xml) as Node)['unload'] as Node;
  const list = (unload['sys_update_xml'] as Node[]).map((u) => {
    const payload = text(u['payload']);
    if (XMLValidator.validate(payload) !== true) throw new Error(`payload of ${text(u['name'])} is not well-formed XML`);
    const recordUpdate = (payloadParser.parse(payload) as Node)['record_update'] as Node;
    const recordTable = String(recordUpdate['@_table']);
    const record = recordUpdate[recordTable] as Node;
    const attributes: Node = {};
    const fields: Node = {};
    for (const [k, v] of Object.entries(record)) {
      if (k.startsWith('@_')) attributes[k.slice(2)] = v;
      else fields[k] = v;
    }
    return { name: text(u['name']), type: text(u['type']), table: text(u['table']), remoteSet: text(u['remote_update_set']), recordTable, attributes, fields };
  });
  return { remote: unload['sys_remote_update_set'] as Node, list };
}

const { remote, list } = updates(committed);
const byTable = (table: string) => list.filter((u) => u.recordTable === table);
const only = (table: string): Update => {
  const found = byTable(table);
  expect(found).toHaveLength(1);
  return found[0] as Update;
};

describe('changegate update set', () => {
  it('is exactly what the build script produces from the business rule file (no drift)', () => {
    expect(committed).toBe(buildUpdateSet(script));
  });

  it('is well-formed and shaped like an exported update set, loaded and global', () => {
    expect(XMLValidator.validate(committed)).toBe(true);
    expect(committed.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<unload unload_date="')).toBe(true);
    expect(remote['@_action']).toBe('INSERT_OR_UPDATE');
    expect(text(remote['state'])).toBe('loaded');
    expect(text(remote['application_scope'])).toBe('global');
    const remoteId = text(remote['sys_id']);
    expect(remoteId).toMatch(/^[0-9a-f]{32}$/);
    expect(list.filter((u) => u.remoteSet !== remoteId).map((u) => u.name)).toEqual([]);
    expect(new Set(list.map((u) => u.name)).size).toBe(list.length);
    expect(list.filter((u) => !/^[0-9a-f]{32}$/.test(String(u.fields['sys_id']))).map((u) => u.name)).toEqual([]);
  });

  it('defines the six verdict fields on change_request, each with its label', () => {
    const fields = byTable('sys_dictionary').map((u) => ({
      element: u.attributes['element'],
      table: u.attributes['table'],
      type: text(u.fields['internal_type']),
      maxLength: text(u.fields['max_length']),
      updateName: u.name,
    }));
    expect(fields).toEqual([
      { element: 'u_changegate_verdict', table: 'change_request', type: 'string', maxLength: '16', updateName: 'sys_dictionary_change_request_u_changegate_verdict' },
      { element: 'u_changegate_allowed', table: 'change_request', type: 'string', maxLength: '100', updateName: 'sys_dictionary_change_request_u_changegate_allowed' },
      { element: 'u_changegate_reasons', table: 'change_request', type: 'string', maxLength: '4000', updateName: 'sys_dictionary_change_request_u_changegate_reasons' },
      { element: 'u_changegate_policy_version', table: 'change_request', type: 'string', maxLength: '100', updateName: 'sys_dictionary_change_request_u_changegate_policy_version' },
      { element: 'u_changegate_allowed_with_reason', table: 'change_request', type: 'string', maxLength: '1000', updateName: 'sys_dictionary_change_request_u_changegate_allowed_with_reason' },
      { element: 'u_changegate_assessed_at', table: 'change_request', type: 'glide_date_time', maxLength: '40', updateName: 'sys_dictionary_change_request_u_changegate_assessed_at' },
    ]);
    expect(byTable('sys_documentation').map((u) => u.attributes['element'])).toEqual(fields.map((f) => f.element));
  });

  it('installs the business rule before update on change_request with the script file verbatim', () => {
    const rule = only('sys_script');
    expect(rule.type).toBe('Business Rule');
    expect(rule.table).toBe('change_request');
    const f = (name: string) => text(rule.fields[name]);
    expect({ collection: f('collection'), when: f('when'), update: f('action_update'), insert: f('action_insert'), del: f('action_delete'), query: f('action_query') }).toEqual({
      collection: 'change_request', when: 'before', update: 'true', insert: 'false', del: 'false', query: 'false',
    });
    expect({ active: f('active'), advanced: f('advanced'), condition: f('condition') }).toEqual({ active: 'true', advanced: 'true', condition: 'current.state.changes()' });
    expect(f('script')).toBe(script);
  });

  it('ships the "changegate validate" REST message with a post method bound to it', () => {
    const message = only('sys_rest_message');
    const method = only('sys_rest_message_fn');
    expect(text(message.fields['name'])).toBe('changegate validate');
    expect(text(method.fields['function_name'])).toBe('post');
    expect(text(method.fields['http_method'])).toBe('post');
    expect(text(method.fields['rest_message'])).toBe(text(message.fields['sys_id']));
    expect(text(method.fields['rest_endpoint'])).toMatch(/\/v1\/validate$/);
  });

  it('creates the x_changegate system properties with safe defaults', () => {
    const props = Object.fromEntries(byTable('sys_properties').map((u) => [text(u.fields['name']), { value: text(u.fields['value']), type: text(u.fields['type']) }]));
    expect(props).toEqual({
      'x_changegate.url': { value: '', type: 'string' },
      'x_changegate.timeout_ms': { value: '3000', type: 'integer' },
      'x_changegate.fail_mode': { value: 'open', type: 'string' },
      'x_changegate.validate_mode': { value: 'fields', type: 'string' },
      'x_changegate.max_verdict_age_minutes': { value: '0', type: 'integer' },
      'x_changegate.instance_id': { value: '', type: 'string' },
      'x_changegate.bypass_users': { value: '', type: 'string' },
    });
  });

  it('orders the fields before the rule that reads them', () => {
    const order = list.map((u) => u.recordTable);
    expect(order.lastIndexOf('sys_dictionary')).toBeLessThan(order.indexOf('sys_script'));
  });

  it('changes when the business rule changes, so an edited script without a rebuild fails the drift check', () => {
    expect(buildUpdateSet(`${script}// edited\n`)).not.toBe(committed);
  });
});
