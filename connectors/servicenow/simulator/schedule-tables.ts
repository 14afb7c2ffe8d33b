// Blackout and maintenance schedules (shared reference §8): `cmn_schedule`
// (blackouts are the `cmn_schedule_blackout` class, read through the base
// table) and its entries in `cmn_schedule_span`. Entry dates are plain strings
// so a test can store either candidate format: the Table API's UTC
// `yyyy-MM-dd HH:mm:ss` or the schedule format `yyyyMMddTHHmmss` in the
// schedule's zone (the reference leaves the real one unverified).

import { ciSysId } from './demo-catalog.ts';
import { stableSysId } from './seeded-random.ts';
import type { ServiceNowSimulator } from './servicenow-simulator.ts';
import { BOOL, choice, defineTable, INT, ref, S, SYS_FIELDS } from './table-schema.ts';

export const CMN_SCHEDULE = defineTable('cmn_schedule', 'Schedule', 'name', {
  description: S,
  name: S,
  sys_class_name: choice({ cmn_schedule: 'Schedule', cmn_schedule_condition: 'Condition Schedule', cmn_schedule_blackout: 'Blackout Schedule', cmn_schedule_maintenance: 'Maintenance Schedule' }),
  time_zone: S,
  type: choice({ '': '-- None --', blackout: 'Blackout', maintenance: 'Maintenance', excluded: 'Excluded' }),
  ...SYS_FIELDS,
});

export const CMN_SCHEDULE_SPAN = defineTable('cmn_schedule_span', 'Schedule Entry', 'name', {
  all_day: BOOL,
  days_of_week: S,
  end_date_time: S,
  name: S,
  repeat_count: INT,
  repeat_type: choice({ '': '-- None --', daily: 'Daily', weekdays: 'Every Weekday (Mon-Fri)', weekends: 'Every Weekend (Sat, Sun)', mwf: 'Every Mon, Wed, Fri', tt: 'Every Tue, Thu', weekly: 'Weekly', monthly: 'Monthly', yearly: 'Yearly' }),
  repeat_until: S,
  schedule: ref('cmn_schedule'),
  show_as: choice({ busy: 'Busy', free: 'Free', tentative: 'Tentative', on_call: 'On call' }),
  start_date_time: S,
  type: choice({ '': '-- None --', exclude: 'Excluded', maintenance: 'Maintenance', blackout: 'Blackout' }),
  ...SYS_FIELDS,
});

export const DEMO_BLACKOUT_SYS_ID = stableSysId('cmn_schedule:year-end-blackout');
export const DEMO_MAINTENANCE_SYS_ID = stableSysId('cmn_schedule:weekend-maintenance');

/**
 * One blackout (the year-end freeze of the simulator clock's year, Berlin time)
 * and one maintenance schedule (Saturday nights, Los Angeles time) that the
 * payments API CI names as its maintenance schedule.
 */
export function seedDemoSchedules(sim: ServiceNowSimulator): void {
  if (sim.store.require('cmn_schedule').get(DEMO_BLACKOUT_SYS_ID)) return;
  const year = sim.now().getUTCFullYear();
  const opts = { at: new Date(Date.UTC(2023, 0, 9, 9, 0, 0)), user: 'admin', touchParent: false };
  sim.insertRecord('cmn_schedule', { sys_id: DEMO_BLACKOUT_SYS_ID, name: 'Year-end change freeze', type: 'blackout', sys_class_name: 'cmn_schedule_blackout', time_zone: 'Europe/Berlin' }, opts);
  sim.insertRecord('cmn_schedule_span', {
    sys_id: stableSysId('cmn_schedule_span:year-end-blackout'),
    schedule: DEMO_BLACKOUT_SYS_ID,
    name: 'Year-end change freeze',
    type: 'blackout',
    show_as: 'busy',
    start_date_time: `${year}1219T000000`,
    end_date_time: `${year + 1}0104T000000`,
  }, opts);
  sim.insertRecord('cmn_schedule', { sys_id: DEMO_MAINTENANCE_SYS_ID, name: 'Weekend maintenance', type: 'maintenance', sys_class_name: 'cmn_schedule', time_zone: 'America/Los_Angeles' }, opts);
  sim.insertRecord('cmn_schedule_span', {
    sys_id: stableSysId('cmn_schedule_span:weekend-maintenance'),
    schedule: DEMO_MAINTENANCE_SYS_ID,
    name: 'Saturday night',
    type: 'maintenance',
    show_as: 'busy',
    start_date_time: '20230107T220000',
    end_date_time: '20230108T040000',
    repeat_type: 'weekly',
    repeat_count: '1',
    days_of_week: '6',
  }, opts);
  const cis = sim.store.require('cmdb_ci');
  const payApi = cis.get(ciSysId('payapi'));
  if (payApi) cis.put({ ...payApi, maintenance_schedule: DEMO_MAINTENANCE_SYS_ID });
}
