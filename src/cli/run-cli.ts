// The `changegate` command line. Exit codes: 0 done (check: allowed), 1 failed
// or not allowed, 2 invalid configuration or usage (with the command's own
// help), 3 `check` judged without the ITSM schedules. Expected errors print
// `changegate: [CODE] message`, never a stack trace.

import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { createApp } from '../app/changegate-app.ts';
import { configuredPolicy } from '../app/configured-policy.ts';
import { demoConfig, loadConfig, type LoadedConfig } from '../config/load-config.ts';
import { configSchemaFor } from '../config/schema.ts';
import { asChangegateError, isChangegateError, type ChangegateError } from '../errors.ts';
import type { ConnectorRegistry } from '../kit/connector-registry.ts';
import { createLogger } from '../log.ts';
import type { Policy } from '../policy/policy-config.ts';
import { runCheck } from './check-command.ts';
import { commandGroup, commandHelp, findCommand, globalHelp, groupHelp, parseCommand, UsageError, type CommandSpec } from './command-spec.ts';
import { runEvidenceExport, runEvidencePublicKey, runEvidencePublish, runEvidenceVerify } from './evidence-command.ts';
import { runHistory } from './history-command.ts';
import { runMappingsValidate } from './mappings-command.ts';
import { runOpenApi } from './openapi-command.ts';
import { runSync } from './sync-command.ts';
import { colorFor, createTerminal, logDestination } from './terminal-log.ts';
import { terminalJson, terminalText } from './terminal-text.ts';
import { paint } from './text-table.ts';
import { validateLiveMapping } from './validate-live-mapping-command.ts';

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? '0.0.0';
}

function exitCodeFor(error: ChangegateError): number {
  return error.kind === 'config' || error.code === 'CG_INSTANCE_UNKNOWN' ? 2 : 1;
}

async function waitForSignal(): Promise<void> {
  await new Promise<void>((resolve) => {
    const first = (): void => {
      // A second signal, of either kind, meets no listener: its default action ends the process at once.
      process.off('SIGINT', first);
      process.off('SIGTERM', first);
      resolve();
    };
    process.on('SIGINT', first);
    process.on('SIGTERM', first);
  });
}

/** Whether `closing` finishes within `ms` (a rejection propagates, as an awaited close would). */
async function closesWithin(closing: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([closing.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

const str = (v: string | boolean | undefined): string | undefined => (typeof v === 'string' ? v : undefined);

async function runCommand(spec: CommandSpec, args: readonly string[], registry: ConnectorRegistry): Promise<number> {
  const { values, positionals } = parseCommand(spec, args);
  if (values['help'] === true) {
    process.stdout.write(commandHelp(spec));
    return 0;
  }
  const json = values['json'] === true;
  const config = str(values['config']);
  const stderr = createTerminal(process.stderr);
  switch (spec.name) {
    case 'serve':
    case 'demo': {
      const loaded = spec.name === 'demo' ? demoConfig(registry) : loadConfig(registry, { path: config });
      // Logs go to stdout, where a service's logs are collected; readable when that is a terminal.
      const logger = createLogger({ level: loaded.config.log.level, destination: logDestination(createTerminal(process.stdout)) });
      const app = await createApp(loaded, { logger });
      await app.serve();
      await waitForSignal();
      app.logger.info('shutting down');
      const deadline = loaded.config.server.shutdownTimeout;
      if (await closesWithin(app.close(), deadline)) return 0;
      // Whatever hangs may hold the event loop open for ever: a supervisor would kill the process later and say nothing.
      const waitingFor = app.closing() ?? 'nothing it can name';
      app.logger.error({ waitingFor, shutdownTimeoutMs: deadline }, `shutdown did not finish within ${deadline} ms (server.shutdownTimeout): still waiting for ${waitingFor}; exiting with status 1`);
      process.exit(1);
    }
    case 'sync':
      return runSync(registry, { full: values['full'] === true, json, ...(config ? { config } : {}), ...(str(values['instance']) ? { instance: str(values['instance']) as string } : {}) }, process.stdout, stderr);
    case 'check': {
      const to = str(values['to']);
      const instance = str(values['instance']);
      const at = str(values['at']);
      return runCheck(
        registry,
        { key: positionals[0] as string, explain: values['explain'] === true, json, ...(to === undefined ? {} : { to }), ...(config ? { config } : {}), ...(instance ? { instance } : {}), ...(at ? { at } : {}) },
        { stdout: process.stdout, stderr: process.stderr },
      );
    }
    case 'history': {
      const [limit, order, instance] = [str(values['limit']), str(values['order']), str(values['instance'])];
      return runHistory(
        registry,
        { key: positionals[0] as string, json, ...(limit === undefined ? {} : { limit }), ...(order === undefined ? {} : { order }), ...(instance ? { instance } : {}), ...(config ? { config } : {}) },
        { stdout: process.stdout, stderr: process.stderr },
      );
    }
    case 'evidence export': {
      const [out, since, until, instance, signingKey, format] = [str(values['out']), str(values['since']), str(values['until']), str(values['instance']), str(values['signing-key']), str(values['format'])];
      return runEvidenceExport(
        registry,
        {
          ...(positionals[0] === undefined ? {} : { key: positionals[0] }),
          ...(out === undefined ? {} : { out }),
          ...(since === undefined ? {} : { since }),
          ...(until === undefined ? {} : { until }),
          ...(instance === undefined ? {} : { instance }),
          ...(signingKey === undefined ? {} : { signingKey }),
          ...(format === undefined ? {} : { format }),
          ...(config ? { config } : {}),
        },
        { stdout: process.stdout, stderr: process.stderr },
      );
    }
    case 'evidence verify': {
      const publicKey = str(values['public-key']);
      return runEvidenceVerify(positionals[0] as string, { json, ...(publicKey === undefined ? {} : { publicKey }) }, { stdout: process.stdout, stderr: process.stderr });
    }
    case 'evidence publish': {
      const instance = str(values['instance']);
      return runEvidencePublish(registry, { key: positionals[0] as string, ...(instance === undefined ? {} : { instance }), ...(config ? { config } : {}) }, { stdout: process.stdout, stderr: process.stderr });
    }
    case 'evidence public-key':
      return runEvidencePublicKey(registry, config ? { config } : {}, { stdout: process.stdout, stderr: process.stderr });
    case 'mappings validate': {
      const instance = str(values['instance']);
      if (instance) return validateLiveMapping(registry, instance, config, process.stdout, json);
      // With a configuration, a policy's overrides and waivers are held against its instances.
      const loaded = loadConfig(registry, { path: config });
      const instances = loaded.file === null ? {} : { instances: loaded.config.instances.map((i) => i.id) };
      return runMappingsValidate(registry, positionals[0] ?? 'mappings', json, { stdout: process.stdout, stderr: process.stderr }, colorFor(process.stdout), instances);
    }
    case 'config validate': {
      let loaded: LoadedConfig;
      let policy: Policy;
      try {
        loaded = loadConfig(registry, { path: config });
        // As `serve` loads it: an invalid policy stops the start, an override on an unknown instance is warned of.
        policy = configuredPolicy(loaded);
      } catch (err) {
        if (!json || !isChangegateError(err) || err.kind !== 'config') throw err;
        const issues = Array.isArray(err.details['issues']) ? err.details['issues'] : [err.message];
        // Issues and warnings quote the files (a name, a value): JSON escapes for their controls, the same value.
        process.stdout.write(`${terminalJson(JSON.stringify({ format: 1, exitCode: 2, file: err.details['file'] ?? config ?? null, code: err.code, issues, warnings: [] }, null, 2))}\n`);
        return 2;
      }
      const file = loaded.file;
      const warnings = [...(loaded.warnings ?? []), ...(policy.warnings ?? [])];
      if (json) process.stdout.write(`${terminalJson(JSON.stringify({ format: 1, exitCode: 0, file, issues: [], warnings }, null, 2))}\n`);
      else {
        // Valid with warnings still exits 0, as `mappings validate` does.
        const color = colorFor(process.stdout);
        const head = warnings.length > 0 ? paint('warn   ', 'warn', color) : paint('ok     ', 'good', color);
        process.stdout.write(`${head} ${terminalText(file ?? '(no configuration: the built-in demo)')}\n${warnings.map((w) => `  warning: ${terminalText(w)}\n`).join('')}`);
      }
      return 0;
    }
    case 'config schema':
      process.stdout.write(`${JSON.stringify(z.toJSONSchema(configSchemaFor(registry), { io: 'input' }), null, 2)}\n`);
      return 0;
    case 'openapi':
      return runOpenApi(registry, process.stdout);
    default:
      throw new UsageError(`unknown command "${spec.name}"`, null);
  }
}

export async function runCli(argv: string[], registry: ConnectorRegistry): Promise<number> {
  const words = argv.filter((a) => !a.startsWith('-'));
  const firstOption = argv.findIndex((a) => a.startsWith('-'));
  const leading = argv.slice(0, firstOption === -1 ? argv.length : firstOption);
  const found = findCommand(leading);
  if (found === null) {
    if (argv.includes('--version')) {
      process.stdout.write(`changegate ${packageVersion()}\n`);
      return 0;
    }
    // `changegate help sync` is `changegate sync --help`.
    const topic = words[0] === 'help' ? findCommand(words.slice(1)) : null;
    if (topic !== null) {
      process.stdout.write(commandHelp(topic.spec));
      return 0;
    }
    const help = argv.includes('--help') || argv.includes('-h') || words[0] === 'help';
    // `changegate config` alone: which subcommands it has, not that there is no command "config".
    const group = words[0] === 'help' ? words[1] : leading[0];
    if (group !== undefined && commandGroup(group) !== null) {
      if (help) {
        process.stdout.write(groupHelp(group));
        return 0;
      }
      const sub = leading[1];
      throw new UsageError(sub === undefined ? 'missing subcommand' : `unknown subcommand ${JSON.stringify(sub)}`, null, group);
    }
    if (help || argv.length === 0) {
      process.stdout.write(globalHelp(packageVersion()));
      return help ? 0 : 2;
    }
    const unknown = words.length > 0 ? `unknown command "${words.slice(0, 2).join(' ')}"` : `unknown option ${JSON.stringify(argv[0])}`;
    throw new UsageError(unknown, null);
  }
  return runCommand(found.spec, argv.slice(found.rest), registry);
}

export async function main(argv: string[], registry: ConnectorRegistry): Promise<void> {
  // A reader that stops early (`| head`) closes the pipe: the rest of the output has no reader,
  // so it is dropped and the command ends as it would have, rather than on an unhandled EPIPE.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
  });
  try {
    process.exitCode = await runCli(argv, registry);
  } catch (err) {
    if (err instanceof UsageError) {
      const name = err.command?.name ?? err.group;
      const help = err.command !== null ? commandHelp(err.command) : err.group !== null ? groupHelp(err.group) : globalHelp(packageVersion());
      process.stderr.write(`changegate${name === null ? '' : ` ${name}`}: ${err.message}\n\n${help}`);
      process.exitCode = 2;
      return;
    }
    const error = asChangegateError(err);
    // A message may quote the ITSM tool's own error text or a configuration file's: each line escaped, so it prints as it reads.
    process.stderr.write(`${`changegate: [${error.code}] ${error.message}`.split('\n').map(terminalText).join('\n')}\n`);
    // An internal error is a bug: its stack is what a report needs.
    if (!isChangegateError(err) || error.kind === 'internal') {
      const stack = (isChangegateError(err) ? err.cause : err) as { stack?: unknown } | undefined;
      if (typeof stack?.stack === 'string') process.stderr.write(`${stack.stack}\n`);
    }
    process.exitCode = exitCodeFor(error);
  }
}
