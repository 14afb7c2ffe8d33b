// Realistic change content for demo and bulk data: what a change manager would
// actually read on a ticket (title, description, plans, justification).

import type { CiKey, GroupKey } from './demo-catalog.ts';

export interface ChangeScenario {
  title: string;
  description: string;
  implementation: string;
  backout: string;
  test: string;
  justification: string;
  riskAnalysis: string;
  group: GroupKey;
  ci: CiKey;
  /** Types this scenario makes sense for. */
  types: readonly ('normal' | 'emergency')[];
  /** 1 Very High … 4 Low. */
  risk: string;
}

export const SCENARIOS: readonly ChangeScenario[] = [
  {
    title: 'Upgrade Oracle core database from 19.20 to 19.23 (RU)',
    description: 'Apply the quarterly Release Update to the payments core database cluster. Closes 14 CVEs including CVE-2024-21098.',
    implementation: '1. Confirm RMAN level 0 backup completed\n2. Stop GoldenGate extract\n3. Apply RU with opatchauto on node 2, then node 1 (rolling)\n4. Run datapatch\n5. Restart extract and verify lag < 60 s',
    backout: 'Roll back the RU with opatchauto rollback on each node (rolling); run datapatch -rollback; restore from the RMAN backup if the catalog is damaged.',
    test: 'Applied on UAT (ora-core-uat) on the previous Tuesday; payments regression suite 412/412 passed; AWR comparison shows no plan regressions.',
    justification: 'Security baseline requires the latest RU within 45 days of release.',
    riskAnalysis: 'Rolling apply keeps the cluster available; payments may see a 30-second reconnect per node.',
    group: 'dba',
    ci: 'oracore',
    types: ['normal'],
    risk: '2',
  },
  {
    title: 'Migrate Online Banking web tier to new Kubernetes node pool',
    description: 'Move banking-web pods from the n2-standard pool to the new c3 pool and drain the old nodes.',
    implementation: '1. Cordon old node pool\n2. Scale new pool to 12 nodes\n3. Roll deployment with maxUnavailable=1\n4. Drain old nodes one by one\n5. Delete old pool after 24 h',
    backout: 'Uncordon the old pool and roll the deployment back with kubectl rollout undo; the old pool is kept for 24 h.',
    test: 'Load test at 2x peak on pre-prod: p99 latency 180 ms (was 240 ms), no errors.',
    justification: 'Old node pool reaches end of support next month; new pool cuts compute cost by 18%.',
    riskAnalysis: 'Pod rescheduling could drop sessions; sessions are sticky to Redis so users should not be logged out.',
    group: 'platform',
    ci: 'k8s',
    types: ['normal'],
    risk: '3',
  },
  {
    title: 'Replace failed line card on core router core-rtr-dc1',
    description: 'Line card in slot 3 reports parity errors and has been taken out of service; traffic runs on the redundant path without resilience.',
    implementation: '1. Confirm traffic on slot 5 uplinks\n2. Shut slot 3 interfaces\n3. Hot-swap the line card\n4. Restore configuration and bring interfaces up one by one\n5. Verify BGP and OSPF adjacencies',
    backout: 'Shut the new card and run on the redundant path as today; vendor engineer on site with a second spare.',
    test: 'Vendor-qualified spare; procedure rehearsed in the lab on an identical chassis.',
    justification: 'Data centre 1 has no network resilience until the card is replaced.',
    riskAnalysis: 'A mistake on the live chassis could isolate DC1; work is done with the vendor on site and the NOC watching.',
    group: 'network',
    ci: 'rtr',
    types: ['emergency', 'normal'],
    risk: '2',
  },
  {
    title: 'Rotate the SAML signing certificate on the SSO identity provider',
    description: 'The IdP signing certificate expires in 9 days. Publish the new certificate in the metadata and switch signing.',
    implementation: '1. Add the new certificate as secondary\n2. Publish metadata and notify the 37 service providers\n3. Switch the primary signing key\n4. Remove the old certificate after 7 days',
    backout: 'Switch the primary signing key back to the old certificate (valid for 9 more days).',
    test: 'Switched on the staging IdP; logins to 5 representative SPs verified.',
    justification: 'An expired certificate would stop every single sign-on login.',
    riskAnalysis: 'SPs that do not read metadata automatically will fail logins until updated; list of such SPs contacted.',
    group: 'security',
    ci: 'idp',
    types: ['normal', 'emergency'],
    risk: '2',
  },
  {
    title: 'Deploy Payments API release 4.18.0',
    description: 'Release 4.18.0 adds SEPA Instant support and fixes a rounding error in multi-currency refunds (PAY-2231).',
    implementation: '1. Deploy to the canary (5% traffic)\n2. Watch error rate and latency for 30 minutes\n3. Promote to 100%\n4. Run smoke tests',
    backout: 'Roll back to 4.17.3 with the pipeline rollback job (about 4 minutes).',
    test: 'CI run green; 1,284 unit and 212 integration tests passed; UAT sign-off by the payments product owner.',
    justification: 'SEPA Instant is a regulatory requirement from the first of next month.',
    riskAnalysis: 'A fault would affect card and transfer payments; canary limits exposure to 5% for the first 30 minutes.',
    group: 'app_support',
    ci: 'payapi',
    types: ['normal'],
    risk: '2',
  },
  {
    title: 'Hotfix: disable vulnerable XML parser feature on banking-web',
    description: 'Exploit for CVE-2024-38819 seen in the wild. Disable external entity resolution until the library is upgraded.',
    implementation: '1. Set feature flag xml.external-entities=false\n2. Rolling restart of banking-web\n3. Confirm with the scanner that the endpoint is no longer vulnerable',
    backout: 'Re-enable the flag and restart (breaks nothing known; statement imports do not use external entities).',
    test: 'Verified in pre-prod: statement import and PDF rendering work; scanner finding cleared.',
    justification: 'Active exploitation; the security team rates it critical.',
    riskAnalysis: 'Low functional risk; the restart causes a short capacity dip.',
    group: 'app_support',
    ci: 'bankweb',
    types: ['emergency'],
    risk: '3',
  },
  {
    title: 'Increase PostgreSQL max_connections on pg-portal-prod',
    description: 'Portal has hit connection exhaustion twice this week during the morning peak (INC0010432, INC0010467).',
    implementation: '1. Raise max_connections from 300 to 500 and shared_buffers accordingly\n2. Restart the primary during the maintenance window\n3. Fail over and restart the replica',
    backout: 'Restore the previous postgresql.conf from git and restart.',
    test: 'Same settings on pre-prod for a week under replayed production load; memory headroom 35%.',
    justification: 'Customer-facing outages at peak.',
    riskAnalysis: 'Restart causes about 40 seconds of portal unavailability; done in the window.',
    group: 'dba',
    ci: 'pgportal',
    types: ['normal', 'emergency'],
    risk: '3',
  },
  {
    title: 'Firewall policy clean-up on fw-edge-dc1 (remove 212 unused rules)',
    description: 'Rules with zero hits in 180 days, reviewed with application owners.',
    implementation: '1. Export current policy\n2. Disable (not delete) the 212 rules\n3. Watch deny logs for 72 hours\n4. Delete the rules in a follow-up change',
    backout: 'Re-enable the rules from the export (single commit).',
    test: 'Hit counters reviewed; rule list signed off by 11 application owners.',
    justification: 'Audit finding AUD-2024-17: firewall rule base not reviewed.',
    riskAnalysis: 'A wrongly classified rule could block a rarely used flow; deny logs are watched for 72 hours.',
    group: 'network',
    ci: 'fw',
    types: ['normal'],
    risk: '3',
  },
  {
    title: 'Upgrade Exchange Server to CU14 and enable Extended Protection',
    description: 'Cumulative Update 14 with Extended Protection enabled by default.',
    implementation: '1. Put DAG member 1 into maintenance\n2. Install CU14\n3. Take out of maintenance, verify\n4. Repeat for member 2',
    backout: 'Exchange CUs cannot be uninstalled; restore the server from the VM snapshot and reseed the database copy.',
    test: 'Installed on the test DAG; Outlook, OWA and ActiveSync verified.',
    justification: 'CU13 leaves support; Extended Protection mitigates NTLM relay attacks.',
    riskAnalysis: 'Clients may prompt for credentials if Extended Protection is misconfigured.',
    group: 'platform',
    ci: 'exchange',
    types: ['normal'],
    risk: '3',
  },
  {
    title: 'Resize ETL worker fleet and move schedule to 02:00',
    description: 'Nightly ETL overruns into business hours; add 4 workers and start one hour later after the upstream extract.',
    implementation: '1. Update the autoscaling group to 12 workers\n2. Change the Airflow schedule to 02:00\n3. Watch the first two runs',
    backout: 'Revert the autoscaling group and schedule in the infrastructure repository.',
    test: 'Dry run with production volumes on staging finished in 3 h 10 m.',
    justification: 'Finance reports are late three days a week.',
    riskAnalysis: 'Low: internal reporting only.',
    group: 'dba',
    ci: 'etl',
    types: ['normal'],
    risk: '4',
  },
  {
    title: 'Replace load balancer pool members for Customer Portal',
    description: 'Swap the two ageing VMs behind the portal VIP for the new hardened image.',
    implementation: '1. Add the new members disabled\n2. Enable them and drain the old members\n3. Remove the old members',
    backout: 'Re-enable the old members and disable the new ones (seconds).',
    test: 'New image passed CIS benchmark scan and the portal smoke tests on pre-prod.',
    justification: 'Old image is no longer patched.',
    riskAnalysis: 'Session draining avoids user impact.',
    group: 'network',
    ci: 'lb',
    types: ['normal'],
    risk: '4',
  },
  {
    title: 'HR portal: apply vendor security patch 2024-Q3',
    description: 'Vendor patch fixing an authentication bypass in the HR self-service portal.',
    implementation: '1. Put the portal in maintenance mode\n2. Apply the vendor patch\n3. Restart and run the vendor health check',
    backout: 'Restore the application directory and database from the pre-change snapshot.',
    test: 'Applied in the vendor sandbox; payroll and leave workflows tested by HR.',
    justification: 'Authentication bypass rated high by the vendor.',
    riskAnalysis: 'HR portal unavailable for about 1 hour out of hours.',
    group: 'app_support',
    ci: 'hrapp',
    types: ['normal', 'emergency'],
    risk: '3',
  },
  {
    title: 'Enable TLS 1.3 and disable TLS 1.0/1.1 on banking web servers',
    description: 'Align the web tier with the cryptography standard CS-04.',
    implementation: '1. Update the nginx ssl_protocols and cipher list via configuration management\n2. Reload nginx on lnx-web-prod-01 then -02',
    backout: 'Revert the configuration management commit and reload.',
    test: 'SSL Labs grade A+ on pre-prod; client analytics show 0.02% of sessions on TLS 1.1.',
    justification: 'PCI DSS requirement.',
    riskAnalysis: 'Very old clients will no longer connect; accepted by the service owner.',
    group: 'platform',
    ci: 'web01',
    types: ['normal'],
    risk: '3',
  },
  {
    title: 'Restore replication on ora-core-prod standby after archive gap',
    description: 'The standby has an archive log gap after a storage incident; Data Guard is not protecting the payments database.',
    implementation: '1. Identify the gap sequence range\n2. Copy missing archive logs from the primary\n3. Register them on the standby and restart managed recovery',
    backout: 'None needed: the standby is already out of sync; if recovery fails, rebuild the standby from backup.',
    test: 'Procedure from the DBA runbook DB-RB-12, used twice last year.',
    justification: 'No disaster-recovery protection for the payments database.',
    riskAnalysis: 'Work happens on the standby only.',
    group: 'dba',
    ci: 'oracore',
    types: ['emergency'],
    risk: '3',
  },
];

export const WORK_NOTES: readonly string[] = [
  'Pre-checks complete, all health dashboards green.',
  'Vendor ticket opened for reference: case 0481-22917.',
  'Rescheduled by one day to avoid the payroll run.',
  'Implementation started; maintenance page enabled.',
  'Step 3 took longer than planned (25 min), still within the window.',
  'Post-implementation checks complete; monitoring quiet for 30 minutes.',
  'Backout plan rehearsed on staging this morning.',
  'Waiting for the security team to confirm the scan result.',
  'Linked incident INC0010467 for context.',
  'Deployment pipeline run #4821 finished green.',
];

export const COMMENTS: readonly string[] = [
  'Please make sure the service desk is briefed before the window.',
  'Customer communication sent to affected business units.',
  'Can we move this to the Thursday window? The trading desk is busy on Wednesday.',
  'Service owner informed and agrees with the timing.',
];

export const APPROVAL_COMMENTS: Readonly<Record<'approved' | 'rejected', readonly string[]>> = {
  approved: ['Approved. Backout plan is clear.', 'Approved, please keep the NOC informed.', 'OK from the service owner side.'],
  rejected: [
    'Rejected: the backout plan does not cover a failed data migration.',
    'Rejected: overlaps with the quarter-end freeze. Please reschedule.',
    'Rejected: no evidence of testing in a lower environment.',
  ],
};

export const CLOSE_NOTES: Readonly<Record<'successful' | 'successful_issues' | 'unsuccessful', readonly string[]>> = {
  successful: ['Completed successfully, no issues.', 'Implemented as planned; post checks green.'],
  successful_issues: ['Completed, but step 2 needed a retry; 10 minutes over the window.', 'Done; minor alert noise during the change, resolved.'],
  unsuccessful: ['Backed out after smoke tests failed; follow-up change to be raised.', 'Not completed: vendor patch failed to install; system restored.'],
};
