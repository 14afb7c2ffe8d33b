// Reference data of the demo instance: people, groups, configuration items,
// business services and standard change templates. sys_ids derive from names,
// so every run (and every seed) refers to the same records.

import { stableSysId } from './seeded-random.ts';
import type { ServiceNowSimulator } from './servicenow-simulator.ts';

export type GroupKey =
  | 'cab'
  | 'ecab'
  | 'change_mgmt'
  | 'network'
  | 'dba'
  | 'platform'
  | 'cloud'
  | 'security'
  | 'app_support'
  | 'service_desk';

export interface DemoUser {
  userName: string;
  name: string;
  title: string;
  department: string;
  groups: readonly GroupKey[];
}

export const DEMO_USERS: readonly DemoUser[] = [
  { userName: 'alice.nguyen', name: 'Alice Nguyen', title: 'Change Manager', department: 'IT Service Management', groups: ['change_mgmt', 'cab'] },
  { userName: 'bob.kowalski', name: 'Bob Kowalski', title: 'Network Engineer', department: 'Infrastructure', groups: ['network'] },
  { userName: 'carmen.diaz', name: 'Carmen Diaz', title: 'Database Administrator', department: 'Data Platform', groups: ['dba'] },
  { userName: 'david.okafor', name: 'David Okafor', title: 'Head of Infrastructure', department: 'Infrastructure', groups: ['cab', 'ecab'] },
  { userName: 'emma.larsen', name: 'Emma Larsen', title: 'Security Architect', department: 'Security', groups: ['security', 'cab'] },
  { userName: 'farid.haddad', name: 'Farid Haddad', title: 'Site Reliability Engineer', department: 'Platform Engineering', groups: ['platform'] },
  { userName: 'grace.liu', name: 'Grace Liu', title: 'Application Support Lead', department: 'Digital Channels', groups: ['app_support'] },
  { userName: 'hannah.schmidt', name: 'Hannah Schmidt', title: 'Service Owner, Online Banking', department: 'Digital Channels', groups: ['cab'] },
  { userName: 'ivan.petrov', name: 'Ivan Petrov', title: 'Cloud Engineer', department: 'Cloud Infrastructure', groups: ['cloud'] },
  { userName: 'julia.rossi', name: 'Julia Rossi', title: 'Release Manager', department: 'IT Service Management', groups: ['change_mgmt', 'ecab'] },
  { userName: 'kenji.tanaka', name: 'Kenji Tanaka', title: 'Network Architect', department: 'Infrastructure', groups: ['network', 'cab'] },
  { userName: 'laura.bennett', name: 'Laura Bennett', title: 'Senior Database Administrator', department: 'Data Platform', groups: ['dba'] },
  { userName: 'marcus.johnson', name: 'Marcus Johnson', title: 'Platform Engineer', department: 'Platform Engineering', groups: ['platform', 'cloud'] },
  { userName: 'nadia.rahman', name: 'Nadia Rahman', title: 'Service Desk Manager', department: 'IT Operations', groups: ['service_desk'] },
  { userName: 'oliver.brown', name: 'Oliver Brown', title: 'Chief Information Officer', department: 'Executive', groups: ['ecab'] },
  { userName: 'priya.sharma', name: 'Priya Sharma', title: 'Application Developer', department: 'Digital Channels', groups: ['app_support'] },
  { userName: 'quentin.moreau', name: 'Quentin Moreau', title: 'Security Engineer', department: 'Security', groups: ['security'] },
  { userName: 'rachel.cohen', name: 'Rachel Cohen', title: 'Change Analyst', department: 'IT Service Management', groups: ['change_mgmt'] },
];

export const DEMO_GROUPS: Readonly<Record<GroupKey, { name: string; description: string; manager: string }>> = {
  cab: { name: 'Change Advisory Board', description: 'Weekly CAB: authorises normal changes of high and very high risk.', manager: 'alice.nguyen' },
  ecab: { name: 'Emergency CAB', description: 'Authorises emergency changes out of cycle.', manager: 'david.okafor' },
  change_mgmt: { name: 'Change Management', description: 'Owns the change process, schedules and the forward schedule of change.', manager: 'alice.nguyen' },
  network: { name: 'Network', description: 'Routers, switches, firewalls and load balancers in both data centres.', manager: 'kenji.tanaka' },
  dba: { name: 'Database Administration', description: 'Oracle and PostgreSQL estates, backups and replication.', manager: 'laura.bennett' },
  platform: { name: 'Platform Engineering', description: 'Kubernetes platform, CI/CD and observability.', manager: 'farid.haddad' },
  cloud: { name: 'Cloud Infrastructure', description: 'Cloud accounts, networking and managed services.', manager: 'ivan.petrov' },
  security: { name: 'Security Operations', description: 'Identity, certificates, vulnerability management.', manager: 'emma.larsen' },
  app_support: { name: 'Application Support', description: 'Digital banking applications and their releases.', manager: 'grace.liu' },
  service_desk: { name: 'Service Desk', description: 'First line support.', manager: 'nadia.rahman' },
};

export type ServiceKey = 'banking' | 'payments' | 'portal' | 'email' | 'hr' | 'dwh' | 'sso';

export const DEMO_SERVICES: Readonly<Record<ServiceKey, { name: string; criticality: string; group: GroupKey }>> = {
  banking: { name: 'Online Banking', criticality: '1 - most critical', group: 'app_support' },
  payments: { name: 'Payments Gateway', criticality: '1 - most critical', group: 'app_support' },
  portal: { name: 'Customer Portal', criticality: '2 - somewhat critical', group: 'app_support' },
  email: { name: 'Corporate Email', criticality: '2 - somewhat critical', group: 'platform' },
  hr: { name: 'HR Self-Service', criticality: '3 - less critical', group: 'app_support' },
  dwh: { name: 'Data Warehouse', criticality: '3 - less critical', group: 'dba' },
  sso: { name: 'Identity and Single Sign-On', criticality: '1 - most critical', group: 'security' },
};

export type CiKey =
  | 'web01'
  | 'web02'
  | 'oracore'
  | 'pgportal'
  | 'rtr'
  | 'fw'
  | 'lb'
  | 'k8s'
  | 'exchange'
  | 'idp'
  | 'payapi'
  | 'bankweb'
  | 'etl'
  | 'hrapp';

export const DEMO_CIS: Readonly<Record<CiKey, { name: string; className: string; group: GroupKey; service: ServiceKey }>> = {
  web01: { name: 'lnx-web-prod-01', className: 'cmdb_ci_server', group: 'platform', service: 'banking' },
  web02: { name: 'lnx-web-prod-02', className: 'cmdb_ci_server', group: 'platform', service: 'banking' },
  oracore: { name: 'ora-core-prod', className: 'cmdb_ci_db_instance', group: 'dba', service: 'payments' },
  pgportal: { name: 'pg-portal-prod', className: 'cmdb_ci_db_instance', group: 'dba', service: 'portal' },
  rtr: { name: 'core-rtr-dc1', className: 'cmdb_ci_netgear', group: 'network', service: 'banking' },
  fw: { name: 'fw-edge-dc1', className: 'cmdb_ci_netgear', group: 'network', service: 'payments' },
  lb: { name: 'lb-f5-prod', className: 'cmdb_ci_netgear', group: 'network', service: 'portal' },
  k8s: { name: 'k8s-prod-euw1', className: 'cmdb_ci_appl', group: 'platform', service: 'portal' },
  exchange: { name: 'exchange-prod', className: 'cmdb_ci_appl', group: 'platform', service: 'email' },
  idp: { name: 'sso-idp-prod', className: 'cmdb_ci_appl', group: 'security', service: 'sso' },
  payapi: { name: 'payments-api', className: 'cmdb_ci_appl', group: 'app_support', service: 'payments' },
  bankweb: { name: 'banking-web', className: 'cmdb_ci_appl', group: 'app_support', service: 'banking' },
  etl: { name: 'dwh-etl-prod', className: 'cmdb_ci_appl', group: 'dba', service: 'dwh' },
  hrapp: { name: 'hr-portal-app', className: 'cmdb_ci_appl', group: 'app_support', service: 'hr' },
};

export const STANDARD_TEMPLATES: readonly { name: string; ci: CiKey; group: GroupKey }[] = [
  { name: 'Clear BGP sessions on a Cisco router - 1', ci: 'rtr', group: 'network' },
  { name: 'Apply monthly OS security patches - 3', ci: 'web01', group: 'platform' },
  { name: 'Renew TLS certificate on load balancer - 2', ci: 'lb', group: 'security' },
  { name: 'Add firewall rule from approved catalog - 4', ci: 'fw', group: 'network' },
  { name: 'Restart application service pool - 1', ci: 'bankweb', group: 'app_support' },
  { name: 'Increase database tablespace - 2', ci: 'oracore', group: 'dba' },
];

export const userSysId = (userName: string): string => stableSysId(`sys_user:${userName}`);
export const groupSysId = (key: GroupKey): string => stableSysId(`sys_user_group:${key}`);
export const ciSysId = (key: CiKey): string => stableSysId(`cmdb_ci:${key}`);
export const serviceSysId = (key: ServiceKey): string => stableSysId(`cmdb_ci_service:${key}`);
export const templateSysId = (index: number): string => stableSysId(`std_change_producer_version:${index}`);

export function groupMembers(key: GroupKey): DemoUser[] {
  return DEMO_USERS.filter((u) => u.groups.includes(key));
}

/** Inserts the reference data once; later calls are no-ops. */
export function ensureReferenceData(sim: ServiceNowSimulator): void {
  const users = sim.store.require('sys_user');
  if (users.get(userSysId(DEMO_USERS[0]?.userName ?? ''))) return;
  const at = new Date(Date.UTC(2023, 0, 9, 9, 0, 0));
  const opts = { at, user: 'admin', touchParent: false };
  for (const u of DEMO_USERS) {
    const [first = '', last = ''] = u.name.split(' ');
    sim.insertRecord('sys_user', {
      sys_id: userSysId(u.userName),
      user_name: u.userName,
      name: u.name,
      first_name: first,
      last_name: last,
      email: `${u.userName}@example.com`,
      title: u.title,
      department: u.department,
      active: 'true',
    }, opts);
  }
  for (const [key, g] of Object.entries(DEMO_GROUPS) as [GroupKey, (typeof DEMO_GROUPS)[GroupKey]][]) {
    sim.insertRecord('sys_user_group', {
      sys_id: groupSysId(key),
      name: g.name,
      description: g.description,
      manager: userSysId(g.manager),
      email: `${key.replace('_', '-')}@example.com`,
      type: key === 'cab' || key === 'ecab' ? 'cab' : 'itil',
      active: 'true',
    }, opts);
    for (const member of groupMembers(key)) {
      sim.insertRecord('sys_user_grmember', { sys_id: stableSysId(`grmember:${key}:${member.userName}`), group: groupSysId(key), user: userSysId(member.userName) }, opts);
    }
  }
  for (const [key, s] of Object.entries(DEMO_SERVICES) as [ServiceKey, (typeof DEMO_SERVICES)[ServiceKey]][]) {
    sim.insertRecord('cmdb_ci_service', {
      sys_id: serviceSysId(key),
      name: s.name,
      busines_criticality: s.criticality,
      support_group: groupSysId(s.group),
      owned_by: userSysId(groupMembers(s.group)[0]?.userName ?? 'admin'),
      operational_status: '1',
      install_status: '1',
      sys_class_name: 'cmdb_ci_service',
    }, opts);
  }
  for (const [key, ci] of Object.entries(DEMO_CIS) as [CiKey, (typeof DEMO_CIS)[CiKey]][]) {
    sim.insertRecord('cmdb_ci', {
      sys_id: ciSysId(key),
      name: ci.name,
      sys_class_name: ci.className,
      support_group: groupSysId(ci.group),
      environment: 'Production',
      operational_status: '1',
      install_status: '1',
      short_description: `${ci.name} (${DEMO_SERVICES[ci.service].name})`,
    }, opts);
  }
  STANDARD_TEMPLATES.forEach((t, i) => {
    sim.insertRecord('std_change_producer_version', { sys_id: templateSysId(i), name: t.name, version: t.name.split(' - ').pop() ?? '1' }, opts);
  });
}
