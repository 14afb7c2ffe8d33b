// `npm start` as a newcomer runs it: the demo instances at their default size,
// whose first sync stores ServiceNow's changes over several pages. Each story the
// README promises (a gate story per instance, the hypercare story on ServiceNow)
// starts, whichever page the changes it needs arrive on.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type ChangegateApp } from '../../src/app/changegate-app.ts';
import type { DemoStory } from '../../src/app/demo-events.ts';
import { registry } from '../../src/app/registry.ts';
import { demoConfig } from '../../src/config/load-config.ts';
import { createLogger } from '../../src/log.ts';

let dir: string;
let app: ChangegateApp;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cg-demo-default-'));
  const base = demoConfig(registry, {}).config;
  app = await createApp(
    { config: { ...base, server: { ...base.server, listen: '127.0.0.1:0' }, store: { kind: 'sqlite', path: join(dir, 'changegate.db') } }, file: null, registry },
    // The default size (no demoCount); long steps: the stories need only start.
    { logger: createLogger({ level: 'silent' }), demoStepMs: 60_000 },
  );
  await app.serve();
}, 120_000);

afterAll(async () => {
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The stories begun so far, by kind and instance. */
const started = (): Pick<DemoStory, 'kind' | 'instance'>[] => (app.demoEvents()?.stories() ?? []).map((s) => ({ kind: s.kind, instance: s.instance }));

describe('npm start without configuration, at the demo\'s default size', () => {
  it('starts the gate story on both demo instances and the hypercare story on ServiceNow', async () => {
    const wanted: Pick<DemoStory, 'kind' | 'instance'>[] = [
      { kind: 'gate', instance: 'sn-demo' },
      { kind: 'gate', instance: 'jsm-demo' },
      { kind: 'hypercare', instance: 'sn-demo' },
    ];
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline && !wanted.every((w) => started().some((s) => s.kind === w.kind && s.instance === w.instance))) {
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(started()).toEqual(expect.arrayContaining(wanted));
  }, 120_000);
});
