// Builds changegate.update-set.xml from update-set-records.ts and the business
// rule script, so the script has one source. Run it after editing either:
//
//   npx node connectors/servicenow/plugin/build-update-set.ts
//
// The layout is the one "Export to XML" produces: an <unload> holding one
// sys_remote_update_set and one sys_update_xml per record, each carrying its
// record as an XML document escaped into <payload>.

import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { XMLBuilder } from 'fast-xml-parser';
import { UPDATE_SET, sysIdFor, updateSetRecords } from './update-set-records.ts';
import type { FieldValue, UpdateRecord } from './update-set-records.ts';

export const BUSINESS_RULE_PATH = fileURLToPath(new URL('./changegate-business-rule.js', import.meta.url));
export const UPDATE_SET_PATH = fileURLToPath(new URL('./changegate.update-set.xml', import.meta.url));

type XmlNode = Record<string, unknown>;

const ATTR = '@_';

function element(value: FieldValue): unknown {
  return typeof value === 'string' ? value : { [`${ATTR}display_value`]: value.display, '#text': value.value };
}

function withAttributes(attributes: Record<string, string>, children: XmlNode): XmlNode {
  const node: XmlNode = {};
  for (const [name, value] of Object.entries(attributes)) node[`${ATTR}${name}`] = value;
  return Object.assign(node, children);
}

function fieldsNode(fields: Record<string, FieldValue>): XmlNode {
  const node: XmlNode = {};
  for (const name of Object.keys(fields).toSorted()) {
    const value = fields[name];
    if (value !== undefined) node[name] = element(value);
  }
  return node;
}

const payloadBuilder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: ATTR, suppressEmptyNode: true });
const fileBuilder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: ATTR, suppressEmptyNode: true, format: true, indentBy: '  ' });

/** The record as ServiceNow's update loader reads it: `<record_update table="…"><table action="INSERT_OR_UPDATE">…`. */
export function payloadOf(record: UpdateRecord): string {
  const body = withAttributes({ action: 'INSERT_OR_UPDATE', ...record.attributes }, fieldsNode(record.fields));
  const doc = {
    '?xml': { [`${ATTR}version`]: '1.0', [`${ATTR}encoding`]: 'UTF-8' },
    record_update: { [`${ATTR}table`]: record.table, [record.table]: body },
  };
  return payloadBuilder.build(doc) as string;
}

// Java's String.hashCode, which is what payload_hash values in exports look like; it only feeds collision hints.
function javaHash(text: string): string {
  let hash = 0;
  for (let i = 0; i < text.length; i++) hash = (Math.imul(hash, 31) + text.charCodeAt(i)) | 0;
  return String(hash);
}

const REMOTE_SET_ID = sysIdFor(`sys_remote_update_set|${UPDATE_SET.name}`);
const AUDIT = { sys_created_by: 'admin', sys_created_on: UPDATE_SET.date, sys_updated_by: 'admin', sys_updated_on: UPDATE_SET.date, sys_mod_count: '0' };
const GLOBAL: FieldValue = { value: 'global', display: 'Global' };

function remoteUpdateSet(): XmlNode {
  return withAttributes({ action: 'INSERT_OR_UPDATE' }, fieldsNode({
    application: GLOBAL,
    application_name: 'Global',
    application_scope: 'global',
    description: UPDATE_SET.description,
    name: UPDATE_SET.name,
    origin_sys_id: '',
    release_date: '',
    remote_sys_id: sysIdFor(`sys_update_set|${UPDATE_SET.name}`),
    state: 'loaded',
    summary: '',
    sys_class_name: 'sys_remote_update_set',
    sys_id: REMOTE_SET_ID,
    update_source: '',
    ...AUDIT,
  }));
}

function updateXml(record: UpdateRecord): XmlNode {
  const payload = payloadOf(record);
  const guid = sysIdFor(`update_guid|${record.updateName}`);
  return withAttributes({ action: 'INSERT_OR_UPDATE' }, fieldsNode({
    action: 'INSERT_OR_UPDATE',
    application: GLOBAL,
    category: 'customer',
    comments: '',
    name: record.updateName,
    payload,
    payload_hash: javaHash(payload),
    remote_update_set: { value: REMOTE_SET_ID, display: UPDATE_SET.name },
    replace_on_upgrade: 'false',
    sys_id: sysIdFor(`sys_update_xml|${record.updateName}`),
    table: record.customises,
    target_name: record.targetName,
    type: record.type,
    update_domain: 'global',
    update_guid: guid,
    update_guid_history: `${guid}:0`,
    update_set: '',
    view: '',
    ...AUDIT,
  }));
}

/** The whole update set file for the given business rule script. */
export function buildUpdateSet(businessRuleScript: string): string {
  const doc = {
    '?xml': { [`${ATTR}version`]: '1.0', [`${ATTR}encoding`]: 'UTF-8' },
    unload: {
      [`${ATTR}unload_date`]: UPDATE_SET.date,
      sys_remote_update_set: remoteUpdateSet(),
      sys_update_xml: updateSetRecords(businessRuleScript).map(updateXml),
    },
  };
  return fileBuilder.build(doc) as string;
}

if (import.meta.main) {
  writeFileSync(UPDATE_SET_PATH, buildUpdateSet(readFileSync(BUSINESS_RULE_PATH, 'utf8')));
  process.stdout.write(`wrote ${UPDATE_SET_PATH}\n`);
}
