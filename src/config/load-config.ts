// Loads changegate.yaml: the only module that reads process.env. `${VAR}` and
// `${VAR:-default}` are substituted in the parsed values (src/config/env-placeholders.ts),
// so an error still points at the line the placeholder is on and names the variable.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ChangegateError } from '../errors.ts';
import type { ConnectorRegistry } from '../kit/connector-registry.ts';
import { originOf, parseSubstituted, quoteBarePlaceholders, substitute, type Env } from './env-placeholders.ts';
import { configSchemaFor, eventSourceWarnings, ServerConfig, type ChangegateConfig } from './schema.ts';
import { issueLines, issuesError, parseYamlSource, placeIssue, schemaIssues, type YamlPath } from './yaml-source.ts';
import { demoEventSources } from './demo-event-sources.ts';

export type { Env } from './env-placeholders.ts';

export interface LoadedConfig {
  config: ChangegateConfig;
  /** The systems the configuration was validated against; the app opens its instances through it. */
  registry: ConnectorRegistry;
  /** Absolute path of the file, or null when no configuration was given (demo mode). */
  file: string | null;
  /** What is valid but probably a mistake, as `file:line:col path: message` lines: `config validate` prints them, `serve` logs them. */
  warnings?: readonly string[];
}

const EMPTY_FILE_WARNING = 'the file is empty (blank, or only comments): every setting takes its default and there is no instance, so serve syncs nothing; add the instances, or name the file that has them';

const startsWith = (path: readonly PropertyKey[], prefix: YamlPath): boolean => prefix.every((p, i) => path[i] === p);

export function parseConfigText(text: string, file: string, env: Env, registry: ConnectorRegistry): ChangegateConfig {
  return readConfigText(text, file, env, registry).config;
}

/** The configuration and its warnings; throws one error listing every problem. */
export function readConfigText(text: string, file: string, env: Env, registry: ConnectorRegistry): { config: ChangegateConfig; warnings: string[] } {
  const { text: quoted, bare } = quoteBarePlaceholders(text);
  const source = parseYamlSource(quoted, file, 'CG_CONFIG_INVALID');
  const substitution = substitute(source, bare, env);
  const { missing, substituted } = substitution;
  const schema = configSchemaFor(registry);
  const { result, data } = parseSubstituted(schema, substitution);
  if (result.success && missing.length === 0 && source.duplicates.length === 0) {
    const config = result.data;
    const warnings = config.instances.flatMap((instance, index) =>
      (registry.get(instance.system).configWarnings?.(instance) ?? []).map((w) => placeIssue(source, ['instances', index, ...w.path], w.message)),
    );
    const sourceWarnings = config.events.sources.flatMap((s, index) => eventSourceWarnings(s).map((w) => placeIssue(source, ['events', 'sources', index, ...w.path], w.message)));
    // Blank or only comments reads as `{}`, which is valid; but a truncated file, or the wrong one named, would
    // have serve start with no instance and sync nothing without a word.
    const empty = source.data === null || source.data === undefined ? [placeIssue(source, [], EMPTY_FILE_WARNING)] : [];
    return { config, warnings: issueLines(file, [...empty, ...warnings, ...sourceWarnings]) };
  }
  // A value still holding its placeholder fails the schema too: that is the variable's problem, said once.
  const schemaProblems = result.success ? [] : result.error.issues.filter((issue) => !missing.some((m) => startsWith(issue.path, m.path)));
  const issues = [
    ...source.duplicates,
    ...missing.map((m) => placeIssue(source, m.path, `environment variable ${m.variable} is not set; export it, or give a default as \${${m.variable}:-value}`)),
    ...schemaIssues(source, schema, data, schemaProblems, (path) => originOf(substituted, path)),
  ];
  const onlyEnv = schemaProblems.length === 0 && source.duplicates.length === 0;
  const variables = [...new Set(missing.map((m) => m.variable))];
  throw issuesError(source, onlyEnv ? 'CG_CONFIG_ENV_MISSING' : 'CG_CONFIG_INVALID', issues, result.success ? undefined : result.error, variables.length > 0 ? { variables, variable: variables[0] } : {});
}

/** No configuration: the built-in demo instances against the embedded store (`changegate demo`), and the demo's event sources. */
export function demoConfig(registry: ConnectorRegistry, env: Env = process.env): LoadedConfig {
  return { config: withServerEnv(configSchemaFor(registry).parse({ events: { sources: demoEventSources() } }), env), file: null, registry };
}

/**
 * `CHANGEGATE_LISTEN` (host:port) and `CHANGEGATE_API_TOKENS` (comma-separated) win over
 * `server.listen` and `server.apiTokens`, also in demo mode, which has no file to set them in
 * (a contract run against the demo picks a free port and a token this way).
 */
function withServerEnv(config: ChangegateConfig, env: Env): ChangegateConfig {
  const listen = env['CHANGEGATE_LISTEN'];
  const tokens = env['CHANGEGATE_API_TOKENS'];
  if ((listen === undefined || listen === '') && (tokens === undefined || tokens === '')) return config;
  const server = ServerConfig.safeParse({
    listen: listen === undefined || listen === '' ? config.server.listen : listen,
    apiTokens: tokens === undefined || tokens === '' ? config.server.apiTokens : tokens.split(',').map((t) => t.trim()).filter((t) => t !== ''),
  });
  if (!server.success) {
    const issue = server.error.issues[0];
    const variable = issue?.path[0] === 'listen' ? 'CHANGEGATE_LISTEN' : 'CHANGEGATE_API_TOKENS';
    throw new ChangegateError('CG_CONFIG_INVALID', `environment ${variable}: ${issue?.message ?? 'invalid'}`, { details: { variable } });
  }
  // Only the two fields the variables name: the rest of server (shutdownTimeout) stays as the file says.
  return { ...config, server: { ...config.server, listen: server.data.listen, apiTokens: server.data.apiTokens } };
}

/** `--config` wins over `CHANGEGATE_CONFIG`; neither means demo mode. */
export function loadConfig(registry: ConnectorRegistry, options: { path?: string | undefined; env?: Env } = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const given = options.path ?? env['CHANGEGATE_CONFIG'];
  if (given === undefined || given === '') {
    return demoConfig(registry, env);
  }
  const file = resolve(given);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ChangegateError('CG_CONFIG_NOT_FOUND', `${file}: configuration file not found`, { cause: err, details: { file } });
    // A directory or a file the user may not read is the operator's to fix, as the policy file's is: never an internal error.
    throw new ChangegateError('CG_CONFIG_INVALID', `${file}: cannot read configuration file (${code ?? 'error'})`, { cause: err, details: { file } });
  }
  const { config, warnings } = readConfigText(text, file, env, registry);
  return { config: withServerEnv(config, env), file, registry, warnings };
}
