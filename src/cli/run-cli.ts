// The `changegate` command line. Exit codes: 0 done, 1 failed or denied, 2 invalid configuration or usage.

import { parseArgs } from 'node:util';
import { z } from 'zod';
import { createApp } from '../app/changegate-app.ts';
import { demoConfig, loadConfig } from '../config/load-config.ts';
import { configSchemaFor } from '../config/schema.ts';
import { asChangegateError, type ChangegateError } from '../errors.ts';
import type { ConnectorRegistry } from '../kit/connector-registry.ts';
import { createLogger } from '../log.ts';
import { mappingKindsOf } from '../mapping/mapping-kinds.ts';
import { validateMappingFiles } from '../mapping/validate-mappings.ts';
import { runCheck } from './check-command.ts';
import { runOpenApi } from './openapi-command.ts';
import { createProgressReporter } from './progress-line.ts';
import { validateLiveMapping } from './validate-live-mapping-command.ts';

const USAGE = `changegate <command> [options]

Commands:
  serve                       run the schedules and the HTTP API (no config: built-in demo instances)
  demo                        run the service against the seeded built-in simulators
  sync [--instance ID] [--full]
                              sync once (every instance, or one) and exit
  check KEY [--to STATE] [--explain] [--instance ID] [--at INSTANT]
                              dry run of the policy on a mirrored change: the gates of one
                              transition and the verdict (exit 0 allowed, 1 not), or without
                              --to the whole assessment; --explain adds the rule parameters
                              in force and where each came from; STATE is canonical or the
                              instance's native value (one starting with "-" as --to=-3)
  mappings validate [DIR]     check mapping files (default: ./mappings)
  mappings validate --instance ID [--config FILE]
                              check an instance's mapping against its live site
                              (systems that can: Jira)
  config schema               print the JSON Schema of changegate.yaml
  openapi                     print the OpenAPI 3.1 document of the HTTP API

Options:
  --config FILE               configuration file (or CHANGEGATE_CONFIG)
  -h, --help                  this text
`;

function exitCodeFor(error: ChangegateError): number {
  return error.kind === 'config' || error.code === 'CG_INSTANCE_UNKNOWN' ? 2 : 1;
}

async function waitForSignal(): Promise<void> {
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

export async function runCli(argv: string[], registry: ConnectorRegistry): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      config: { type: 'string' },
      instance: { type: 'string' },
      full: { type: 'boolean', default: false },
      to: { type: 'string' },
      explain: { type: 'boolean', default: false },
      at: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, sub, arg] = positionals;
  if (values.help || command === undefined || command === 'help') {
    process.stdout.write(USAGE);
    return command === undefined && !values.help ? 2 : 0;
  }
  switch (command) {
    case 'serve':
    case 'demo': {
      const loaded = command === 'demo' ? demoConfig(registry) : loadConfig(registry, { path: values.config });
      const app = await createApp(loaded);
      await app.serve();
      await waitForSignal();
      app.logger.info('shutting down');
      await app.close();
      return 0;
    }
    case 'sync': {
      const loaded = loadConfig(registry, { path: values.config });
      const logger = createLogger({ level: loaded.config.log.level, destination: process.stderr });
      const app = await createApp(loaded, { logger });
      const progress = createProgressReporter(process.stderr);
      let failed = false;
      try {
        // Assessments made by this run see the ServiceNow blackout and maintenance schedules, as serve's do.
        await app.readItsmCalendars();
        const ids = values.instance ? [values.instance] : app.engine.instanceIds();
        for (const id of ids) {
          try {
            const report = await app.engine.sync(id, { full: values.full, onProgress: (p) => progress.update(p) });
            progress.done();
            process.stdout.write(`${JSON.stringify(report)}\n`);
          } catch (err) {
            progress.done();
            const error = asChangegateError(err);
            process.stderr.write(`changegate: sync of ${id} failed: [${error.code}] ${error.message}\n`);
            if (error.code === 'CG_INSTANCE_UNKNOWN') return 2;
            failed = true;
          }
        }
      } finally {
        await app.close();
      }
      return failed ? 1 : 0;
    }
    case 'check': {
      if (sub === undefined) {
        process.stderr.write(`changegate check: name the change, e.g. changegate check CHG0030001 --to implement\n`);
        return 2;
      }
      return runCheck(
        registry,
        {
          key: sub,
          explain: values.explain,
          ...(values.to === undefined ? {} : { to: values.to }),
          ...(values.config === undefined ? {} : { config: values.config }),
          ...(values.instance === undefined ? {} : { instance: values.instance }),
          ...(values.at === undefined ? {} : { at: values.at }),
        },
        { stdout: process.stdout, stderr: process.stderr },
      );
    }
    case 'mappings': {
      if (sub !== 'validate') break;
      if (values.instance) return await validateLiveMapping(registry, values.instance, values.config, process.stdout);
      const results = validateMappingFiles(arg ?? 'mappings', mappingKindsOf(registry));
      if (results.length === 0) {
        process.stderr.write(`changegate: no mapping files (*.yaml) in ${arg ?? 'mappings'}\n`);
        return 2;
      }
      for (const r of results) {
        process.stdout.write(r.ok ? `ok      ${r.file}\n` : `invalid ${r.file}\n${r.errors.map((e) => `  ${e}\n`).join('')}`);
      }
      return results.every((r) => r.ok) ? 0 : 2;
    }
    case 'config': {
      if (sub !== 'schema') break;
      process.stdout.write(`${JSON.stringify(z.toJSONSchema(configSchemaFor(registry), { io: 'input' }), null, 2)}\n`);
      return 0;
    }
    case 'openapi':
      return runOpenApi(registry, process.stdout);
    default:
      break;
  }
  process.stderr.write(`changegate: unknown command "${[command, sub].filter(Boolean).join(' ')}"\n\n${USAGE}`);
  return 2;
}

export async function main(argv: string[], registry: ConnectorRegistry): Promise<void> {
  try {
    process.exitCode = await runCli(argv, registry);
  } catch (err) {
    const error = asChangegateError(err);
    process.stderr.write(`changegate: [${error.code}] ${error.message}\n`);
    process.exitCode = exitCodeFor(error);
  }
}
