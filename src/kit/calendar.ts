// Calendar values a connector may read from its system (ServiceNow blackout and
// maintenance schedules): the window model the policy judges with, weekdays and
// time-zone helpers.

export type { Calendar, CalendarWindow, WindowKind } from '../policy/calendar.ts';
export { WEEKDAYS, type Weekday } from '../policy/cron-spec.ts';
export { fromWall, isValidTimeZone, offsetAt } from '../policy/zoned-time.ts';
