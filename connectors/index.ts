// The registry: every system changegate speaks to, listed once. The config
// schema, `mappings validate`, the webhook routes, the validation instances and
// the CLI are derived from this list; adding a system is a folder and a line here.

import { jira } from './jira/index.ts';
import { servicenow } from './servicenow/index.ts';

export const connectors = [servicenow, jira] as const;
