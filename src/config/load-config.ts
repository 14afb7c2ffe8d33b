// Loads changegate.yaml: the only module that reads process.env. `${VAR}` and
// `${VAR:-default}` are substituted in string values after parsing, so an error
// still points at the line the placeholder is on.

import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ChangegateError } from '../errors.ts';
import type { ConnectorRegistry } from '../kit/connector-registry.ts';
import { configSchemaFor, ServerConfig, type ChangegateConfig } from './schema.ts';
import { issuesError, parseYamlSource, placeIssue, schemaIssues, type YamlPath } from './yaml-source.ts';
import { demoEventSources } from './demo-event-sources.ts';

export interface LoadedConfig {
  config: ChangegateConfig;
  /** The systems the configuration was validated against; the app opens its instances through it. */
  registry: ConnectorRegistry;
  /** Absolute path of the file, or null when no configuration was given (demo mode). */
  file: string | null;
}

export type Env = Readonly<Record<string, string | undefined>>;

const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

interface MissingVariable {
  path: YamlPath;
  variable: string;
}

/** Substitutes every placeholder it can; the unset ones are collected (and left as written), so one pass reports them all. */
function substitute(value: unknown, path: YamlPath, env: Env, missing: MissingVariable[]): unknown {
  if (typeof value === 'string') {
    return value.replace(PLACEHOLDER, (match, name: string, fallback: string | undefined) => {
      const found = env[name];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      missing.push({ path, variable: name });
      return match;
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => substitute(item, [...path, i], env, missing));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, substitute(item, [...path, key], env, missing)]));
  }
  return value;
}

const startsWith = (path: readonly PropertyKey[], prefix: YamlPath): boolean => prefix.every((p, i) => path[i] === p);

// A placeholder that is a whole unquoted value, e.g. `{ password: ${SN_PASSWORD} }`:
// in a YAML flow map `{` would open a nested map, so it is quoted before parsing
// (line numbers are unchanged). Quoted or embedded placeholders are left alone.
const BARE_PLACEHOLDER = /(?<=(?:^|[:[{,]|-\s)[ \t]*)\$\{[A-Za-z_]\w*(?::-[^}"'\n]*)?\}(?=[ \t]*(?:[,}\]]|[ \t]#|$))/gm;

export function parseConfigText(text: string, file: string, env: Env, registry: ConnectorRegistry): ChangegateConfig {
  const source = parseYamlSource(text.replace(BARE_PLACEHOLDER, (m) => `"${m}"`), file, 'CG_CONFIG_INVALID');
  const missing: MissingVariable[] = [];
  const data = substitute(source.data ?? {}, [], env, missing);
  const schema = configSchemaFor(registry);
  const result = schema.safeParse(data);
  if (result.success && missing.length === 0) return result.data;
  // A value still holding its placeholder fails the schema too: that is the variable's problem, said once.
  const schemaProblems = result.success ? [] : result.error.issues.filter((issue) => !missing.some((m) => startsWith(issue.path, m.path)));
  const issues = [
    ...missing.map((m) => placeIssue(source, m.path, `environment variable ${m.variable} is not set; export it, or give a default as \${${m.variable}:-value}`)),
    ...schemaIssues(source, schema, data, schemaProblems),
  ];
  const onlyEnv = schemaProblems.length === 0;
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
  return { ...config, server: server.data };
}

/** `--config` wins over `CHANGEGATE_CONFIG`; neither means demo mode. */
export function loadConfig(registry: ConnectorRegistry, options: { path?: string | undefined; env?: Env } = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const given = options.path ?? env['CHANGEGATE_CONFIG'];
  if (given === undefined || given === '') {
    return demoConfig(registry, env);
  }
  const file = resolve(given);
  if (!existsSync(file)) {
    throw new ChangegateError('CG_CONFIG_NOT_FOUND', `${file}: configuration file not found`, { details: { file } });
  }
  return { config: withServerEnv(parseConfigText(readFileSync(file, 'utf8'), file, env, registry), env), file, registry };
}
