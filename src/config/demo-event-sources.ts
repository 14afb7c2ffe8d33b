// The demo's event sources (no configuration given): the demo pipeline posts
// GitHub webhooks to `/v1/events/github`, the demo Alertmanager to
// `/v1/events/alertmanager`, each signed with a secret only this process
// knows. Part of the demo configuration, so `serve` and `check` judge the demo
// changes with the same monitoring source watching them.

import { randomBytes } from 'node:crypto';

export const DEMO_EVENT_SOURCES = { github: 'github', alertmanager: 'alertmanager' } as const;

export function demoEventSources(): { id: string; kind: string; secrets: string[] }[] {
  return [
    { id: DEMO_EVENT_SOURCES.github, kind: 'github', secrets: [randomBytes(24).toString('base64url')] },
    { id: DEMO_EVENT_SOURCES.alertmanager, kind: 'alertmanager', secrets: [randomBytes(24).toString('base64url')] },
  ];
}
