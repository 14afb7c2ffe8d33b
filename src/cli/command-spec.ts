// Each subcommand's options, help text and examples, and the argument parsing
// that turns a mistake (an unknown option, a missing value, a missing argument)
// into a usage error: exit 2 with that command's own help, never a stack trace
// or exit 1 (which `check` uses for "not allowed").

import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';

export interface CommandSpec {
  /** `check`, `mappings validate`. */
  name: string;
  /** The synopsis after `changegate `. */
  usage: string;
  summary: string;
  options: Record<string, { type: 'string' | 'boolean'; help: string; value?: string; short?: string }>;
  examples: readonly string[];
  /** Positional arguments after the command words: at least `min`, at most `max`. */
  positionals: { min: number; max: number; names: string };
}

export class UsageError extends Error {
  readonly command: CommandSpec | null;
  /** A command group (`config`) named without one of its subcommands: its list is the help. */
  readonly group: string | null;

  constructor(message: string, command: CommandSpec | null, group: string | null = null) {
    super(message);
    this.name = 'UsageError';
    this.command = command;
    this.group = group;
  }
}

const COMMON = {
  help: { type: 'boolean', short: 'h', help: 'this text' },
} as const;

const CONFIG = { config: { type: 'string', value: 'FILE', help: 'configuration file (default: CHANGEGATE_CONFIG; neither: the built-in demo)' } } as const;
const JSON_OUT = { json: { type: 'boolean', help: 'print the result as JSON on stdout (shape documented in the README)' } } as const;

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'serve',
    usage: 'serve [--config FILE]',
    summary: 'run the schedules and the HTTP API (no configuration: the built-in demo instances)',
    options: { ...CONFIG },
    examples: ['changegate serve --config changegate.yaml', 'changegate serve            # the built-in demo'],
    positionals: { min: 0, max: 0, names: '' },
  },
  {
    name: 'demo',
    usage: 'demo',
    summary: 'run the service against the seeded built-in simulators',
    options: {},
    examples: ['changegate demo'],
    positionals: { min: 0, max: 0, names: '' },
  },
  {
    name: 'sync',
    usage: 'sync [--instance ID] [--full] [--config FILE] [--json]',
    summary: 'sync once (every instance, or one) and exit; exit 1 when a sync failed or records were rejected',
    options: {
      instance: { type: 'string', value: 'ID', help: 'sync this instance only' },
      full: { type: 'boolean', help: 're-read everything instead of from the saved cursor' },
      ...CONFIG,
      ...JSON_OUT,
    },
    examples: ['changegate sync --config changegate.yaml', 'changegate sync --instance sn-prod --full --json'],
    positionals: { min: 0, max: 0, names: '' },
  },
  {
    name: 'check',
    usage: 'check KEY [--to STATE] [--explain] [--instance ID] [--at INSTANT] [--config FILE] [--json]',
    summary:
      'dry run of the policy on a mirrored change, on the same facts as the service (policy calendar, ITSM schedules, waivers): ' +
      'the gates of one transition and the verdict, or without --to the whole assessment. ' +
      'Exit 0 allowed (or, without --to, assessed), 1 not allowed, 2 usage or configuration, ' +
      '3 judged without the ITSM schedules (the instance could not be reached; an "allowed" may miss a freeze)',
    options: {
      to: { type: 'string', value: 'STATE', help: 'canonical state, or a native state value or label of the instance (one starting with "-" as --to=-2)' },
      explain: { type: 'boolean', help: 'add the rule parameters in force and where each came from' },
      instance: { type: 'string', value: 'ID', help: 'look the key up on this instance only' },
      at: { type: 'string', value: 'INSTANT', help: 'judge the change as it stood at this ISO-8601 instant, or this long ago (36h, 7d): the revision current then' },
      ...CONFIG,
      ...JSON_OUT,
    },
    examples: [
      'changegate check CHG0030001',
      'changegate check CHG0030001 --to implement --explain',
      'changegate check CHG0030001 --to=-2 --json',
      'changegate check ITSM-12 --to "Awaiting implementation"',
      'changegate check CHG0030001 --at 2026-12-01T09:00:00Z --json',
    ],
    positionals: { min: 1, max: 1, names: 'KEY' },
  },
  {
    name: 'history',
    usage: 'history KEY [--limit N] [--order asc|desc] [--instance ID] [--config FILE] [--json]',
    summary:
      'what happened to a mirrored change, for an auditor: revisions with their author, approvals with group and decision time, ' +
      'assessments with their decision, write-backs and enforcement, each saying who acted (changegate for its own writes). ' +
      'Exit 0 listed, 2 usage, configuration or unknown change',
    options: {
      limit: { type: 'string', value: 'N', help: 'at most N entries (1 to 1000, default 100)' },
      order: { type: 'string', value: 'asc|desc', help: 'desc (default) newest first, asc oldest first' },
      instance: { type: 'string', value: 'ID', help: 'look the key up on this instance only' },
      ...CONFIG,
      ...JSON_OUT,
    },
    examples: ['changegate history CHG0030001', 'changegate history ITSM-12 --order asc --limit 20', 'changegate history CHG0030001 --json'],
    positionals: { min: 1, max: 1, names: 'KEY' },
  },
  {
    name: 'evidence export',
    usage: 'evidence export KEY [--format json|html|in-toto] [--out FILE] [--signing-key FILE] [--config FILE] | evidence export --since DATE --until DATE [--instance ID] --out DIR',
    summary:
      'an auditor\'s bundle of a change\'s evidence ledger (every entry with its payload and hash chain, optionally signed with an Ed25519 key), ' +
      'as JSON, a self-contained page (html) or an in-toto statement (in a signed DSSE envelope with a key); ' +
      'or one bundle and one page per change with evidence in a period plus index.json and index.html. Exit 0 written, 2 usage, configuration or unknown change',
    options: {
      out: { type: 'string', value: 'FILE|DIR', help: 'write the bundle here (default: stdout); a directory for a period' },
      format: { type: 'string', value: 'json|html|in-toto', help: 'json (default): the bundle; html: a page of it to read or print; in-toto: a Statement v1 with the bundle as predicate' },
      since: { type: 'string', value: 'DATE', help: 'a period\'s first instant (2026-01-01 or an ISO 8601 instant)' },
      until: { type: 'string', value: 'DATE', help: 'the instant after the period' },
      instance: { type: 'string', value: 'ID', help: 'this instance only' },
      'signing-key': { type: 'string', value: 'FILE', help: 'Ed25519 private key (PEM) to sign the bundle\'s head with' },
      ...CONFIG,
    },
    examples: [
      'changegate evidence export CHG0030001 --out CHG0030001.evidence.json',
      'changegate evidence export CHG0030001 --format html --out CHG0030001.evidence.html',
      'changegate evidence export CHG0030001 --format in-toto --signing-key changegate-evidence.pem --out CHG0030001.intoto.json',
      'changegate evidence export --since 2026-01-01 --until 2026-04-01 --out audit-q1/',
    ],
    positionals: { min: 0, max: 1, names: '[KEY]' },
  },
  {
    name: 'evidence verify',
    usage: 'evidence verify FILE [--public-key FILE] [--json]',
    summary:
      'check an evidence bundle offline (or an in-toto statement carrying one, bare or in a DSSE envelope whose signature is checked too): ' +
      'every entry\'s hashes, the chain, the head, and the signature (against --public-key when given). ' +
      'Exit 0 intact, 1 altered (naming the first altered entry and field), 2 usage or unreadable',
    options: {
      'public-key': { type: 'string', value: 'FILE', help: 'the Ed25519 public key (PEM) the deployment publishes; the bundle must be signed by it' },
      ...JSON_OUT,
    },
    examples: ['changegate evidence verify CHG0030001.evidence.json', 'changegate evidence verify CHG0030001.evidence.json --public-key changegate-evidence.pub'],
    positionals: { min: 1, max: 1, names: 'FILE' },
  },
  {
    name: 'evidence public-key',
    usage: 'evidence public-key [--config FILE]',
    summary:
      'print the public key of the deployment\'s evidence signing key (evidence.signingKey) as PEM, to publish in the deployment\'s README for auditors ' +
      '(its SHA-256 fingerprint on stderr). Exit 0 printed, 2 no key configured or configuration',
    options: { ...CONFIG },
    examples: ['changegate evidence public-key --config changegate.yaml > changegate-evidence.pub'],
    positionals: { min: 0, max: 0, names: '' },
  },
  {
    name: 'evidence publish',
    usage: 'evidence publish KEY [--instance ID] [--config FILE]',
    summary:
      'queue the change\'s evidence summary (work note or comment naming the head hash) and its bundle (attachment) for its ticket now, ' +
      'for policy evidence.note: on-demand; serve\'s outbox worker posts them. The same head is queued once however often it is asked. ' +
      'Exit 0 queued or already queued, 2 usage, configuration, unknown change, no ledger or write-back off',
    options: { instance: { type: 'string', value: 'ID', help: 'the instance the change is on, when a key is on several' }, ...CONFIG },
    examples: ['changegate evidence publish CHG0030001', 'changegate evidence publish ITSM-42 --instance jsm-prod'],
    positionals: { min: 1, max: 1, names: 'KEY' },
  },
  {
    name: 'mappings validate',
    usage: 'mappings validate [DIR|FILE] [--config FILE] [--json] | mappings validate --instance ID [--config FILE] [--json]',
    summary:
      'check mapping and policy files (default: ./mappings), naming file, line and path of each error and warning; ' +
      'with a configuration, a policy override or waiver on an instance it does not have is a warning; ' +
      'with --instance, an instance\'s mapping against its live site (systems that can: Jira). Exit 0 valid, 2 invalid',
    options: {
      instance: { type: 'string', value: 'ID', help: 'check this instance\'s mapping against its live site' },
      ...CONFIG,
      ...JSON_OUT,
    },
    examples: ['changegate mappings validate', 'changegate mappings validate mappings/servicenow.acme.yaml --json', 'changegate mappings validate --instance jsm-cloud --config changegate.yaml'],
    positionals: { min: 0, max: 1, names: '[DIR|FILE]' },
  },
  {
    name: 'config validate',
    usage: 'config validate [--config FILE] [--json]',
    summary:
      'check changegate.yaml and the policy file it names: every problem in one pass, in line order, then warnings ' +
      '(valid but probably a mistake, as serve logs them at start). Exit 0 valid (warnings included), 2 invalid',
    options: { ...CONFIG, ...JSON_OUT },
    examples: ['changegate config validate --config changegate.yaml'],
    positionals: { min: 0, max: 0, names: '' },
  },
  {
    name: 'config schema',
    usage: 'config schema',
    summary: 'print the JSON Schema of changegate.yaml (for editors; every key is described)',
    options: {},
    examples: ['changegate config schema > changegate.schema.json'],
    positionals: { min: 0, max: 0, names: '' },
  },
  {
    name: 'openapi',
    usage: 'openapi',
    summary: 'print the OpenAPI 3.1 document of the HTTP API',
    options: {},
    examples: ['changegate openapi > openapi.json'],
    positionals: { min: 0, max: 0, names: '' },
  },
];

function optionLine(name: string, o: CommandSpec['options'][string]): string {
  const flag = `${o.short ? `-${o.short}, ` : ''}--${name}${o.value ? ` ${o.value}` : ''}`;
  return `  ${flag.padEnd(22)}  ${o.help}`;
}

export function commandHelp(spec: CommandSpec): string {
  const options = { ...spec.options, ...COMMON };
  return [
    `usage: changegate ${spec.usage}`,
    '',
    ...wrap(spec.summary, 78).map((l) => l),
    '',
    'Options:',
    ...Object.entries(options).map(([name, o]) => optionLine(name, o)),
    '',
    'Examples:',
    ...spec.examples.map((e) => `  ${e}`),
    '',
  ].join('\n');
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + word.length + 1 > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(line);
  return lines;
}

/** One line per command: its name and the first sentence of its summary. */
function commandLines(specs: readonly CommandSpec[]): string[] {
  return specs.map((c) => `  ${c.name.padEnd(19)}  ${wrap(c.summary.split('. ')[0] ?? '', 56).join(`\n  ${' '.repeat(19)}  `)}`);
}

/** The commands whose first word is `word` when it names a group (`config`, `evidence`, `mappings`), else null. */
export function commandGroup(word: string | undefined): readonly CommandSpec[] | null {
  const members = COMMANDS.filter((c) => c.name.startsWith(`${word} `));
  return word === undefined || members.length === 0 ? null : members;
}

/** What `changegate config` (a group without its subcommand) answers: the group's subcommands. */
export function groupHelp(group: string): string {
  return [
    `usage: changegate ${group} <subcommand> [options]      changegate ${group} <subcommand> --help`,
    '',
    'Subcommands:',
    ...commandLines(commandGroup(group) ?? []),
    '',
  ].join('\n');
}

export function globalHelp(version: string): string {
  return [
    `changegate ${version}: change governance for ServiceNow and Jira Service Management`,
    '',
    'usage: changegate <command> [options]      changegate <command> --help',
    '',
    'Commands:',
    ...commandLines(COMMANDS),
    '',
    'Options:',
    '  -h, --help             this text, or a command\'s own with the command',
    '  --version              print the version',
    '',
    'Exit codes: 0 done (check: allowed), 1 failed (check: not allowed; sync: records rejected),',
    '2 usage or configuration error, 3 check judged without the ITSM schedules (instance unreachable).',
    'NO_COLOR=1 turns colour off; logs go to stderr, readable on a terminal and JSON lines otherwise.',
    '',
  ].join('\n');
}

/** The command named by the leading words of argv (`mappings validate`), or null. */
export function findCommand(words: readonly string[]): { spec: CommandSpec; rest: number } | null {
  for (const spec of COMMANDS) {
    const parts = spec.name.split(' ');
    if (parts.every((p, i) => words[i] === p)) return { spec, rest: parts.length };
  }
  return null;
}

export interface ParsedCommand {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/**
 * `--limit -1`, `--at -5h`, `--instance --json`: node:util only calls the value "ambiguous", and its
 * advice (`--limit=-XYZ`) is in the sentence that also speaks of `--`. Said here whole, with the value.
 */
function refuseOptionLikeValues(spec: CommandSpec, args: readonly string[]): void {
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i] as string;
    if (arg === '--') return;
    const option = arg.startsWith('--') ? spec.options[arg.slice(2)] : undefined;
    if (option?.type !== 'string') continue;
    const next = args[i + 1];
    if (next !== undefined && next.length > 1 && next.startsWith('-')) {
      throw new UsageError(`${arg} is followed by ${JSON.stringify(next)}, which looks like an option: give ${arg} its ${option.value ?? 'value'}, or write ${arg}=${next} for a value starting with "-"`, spec);
    }
    i += 1;
  }
}

/** Parses the arguments after the command words; a mistake throws UsageError naming it. */
export function parseCommand(spec: CommandSpec, args: readonly string[]): ParsedCommand {
  const options: ParseArgsOptionsConfig = {};
  for (const [name, o] of Object.entries({ ...spec.options, ...COMMON })) options[name] = { type: o.type, ...(o.short ? { short: o.short } : {}) };
  refuseOptionLikeValues(spec, args);
  let parsed: { values: Record<string, string | boolean | (string | boolean)[] | undefined>; positionals: string[]; tokens: { kind: string; name?: string; value?: string | undefined }[] };
  try {
    parsed = parseArgs({ args: [...args], options, allowPositionals: true, strict: true, tokens: true });
  } catch (err) {
    // node:util's messages are plain and name the option; only its advice about `--` is dropped.
    const text = err instanceof Error ? err.message.replace(/\s*To specify a positional argument.*$/s, '').replace(/\s*Did you forget.*$/s, '') : String(err);
    throw new UsageError(text, spec);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values['help'] === true) return { values, positionals: parsed.positionals };
  // node:util keeps the last of a repeated option: `--instance a --instance b` would sync b alone, and say nothing.
  for (const name of Object.keys(values)) {
    const given = parsed.tokens.filter((t) => t.kind === 'option' && t.name === name && t.value !== undefined).map((t) => JSON.stringify(t.value));
    if (given.length > 1) throw new UsageError(`--${name} given ${given.length === 2 ? 'twice' : `${given.length} times`} (${given.join(', ')}): give it once`, spec);
  }
  // An empty value is most often an unset shell variable (`--config "$CONFIG"`): taken as absent, it
  // would quietly run the built-in demo, judge now instead of --at, or look on every instance.
  for (const [name, value] of Object.entries(values)) {
    if (value === '') throw new UsageError(`--${name} is empty: expected ${spec.options[name]?.value ?? 'a value'}`, spec);
  }
  const { min, max, names } = spec.positionals;
  if (parsed.positionals.length < min) throw new UsageError(`missing ${names}`, spec);
  if (parsed.positionals.length > max) throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals[max])}`, spec);
  return { values, positionals: parsed.positionals };
}
