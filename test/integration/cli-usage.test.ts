// The `changegate` command line where an operator's input is odd: a file that is not one, an
// option whose value is empty or looks like another option. Each is refused with exit 2, naming
// the option or the file, and never with a stack trace.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changegate } from '../support/cli-child.ts';

const STACK = /\n\s+at |CG_INTERNAL/;

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cg-cli-usage-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('changegate CLI input', () => {
  it('refuses a directory given as the configuration file, naming it, with exit 2 and no stack trace', async () => {
    const folder = join(dir, 'conf dir ü');
    mkdirSync(folder);
    const [sync, validated] = await Promise.all([changegate(['sync', '--config', folder]), changegate(['config', 'validate', '--json'], { CHANGEGATE_CONFIG: folder })]);
    expect(sync.code).toBe(2);
    expect(sync.stderr).toBe(`changegate: [CG_CONFIG_INVALID] ${folder}: cannot read configuration file (EISDIR)\n`);
    expect(validated.code).toBe(2);
    expect(validated.stderr).not.toMatch(STACK);
    expect(JSON.parse(validated.stdout)).toEqual({ format: 1, exitCode: 2, file: folder, code: 'CG_CONFIG_INVALID', issues: [`${folder}: cannot read configuration file (EISDIR)`], warnings: [] });
  });

  it('refuses an empty option value, naming the option, rather than acting as if it were not given', async () => {
    // An unset shell variable (`--config "$CONFIG"`) must not fall back to the built-in demo, nor over CHANGEGATE_CONFIG.
    const [config, instance] = await Promise.all([
      changegate(['config', 'validate', '--config', '', '--json'], { CHANGEGATE_CONFIG: join(dir, 'missing.yaml') }),
      changegate(['mappings', 'validate', '--instance=', '--json']),
    ]);
    expect(config).toMatchObject({ code: 2, stdout: '' });
    expect(config.stderr).toMatch(/^changegate config validate: --config is empty: expected FILE\n\nusage: changegate config validate /);
    expect(instance).toMatchObject({ code: 2, stdout: '' });
    expect(instance.stderr).toMatch(/^changegate mappings validate: --instance is empty: expected ID\n\nusage: changegate mappings validate /);
  });

  it('answers a command group named without its subcommand with the group\'s subcommands, exit 2', async () => {
    const [config, evidence, mappings, unknown, helped] = await Promise.all([
      changegate(['config']),
      changegate(['evidence']),
      changegate(['mappings', '--json']),
      changegate(['config', 'nope']),
      changegate(['help', 'evidence']),
    ]);
    expect(config).toMatchObject({ code: 2, stdout: '' });
    expect(config.stderr).toMatch(/^changegate config: missing subcommand\n\nusage: changegate config <subcommand> /);
    expect(config.stderr).toMatch(/^ {2}config validate {6}check changegate\.yaml and the policy file it names/m);
    expect(config.stderr).toMatch(/^ {2}config schema {8}print the JSON Schema of changegate\.yaml/m);
    // Only the group's own: the other commands are not what the operator asked about.
    expect(config.stderr).not.toMatch(/^ {2}(sync|mappings validate) /m);
    expect(evidence).toMatchObject({ code: 2, stdout: '' });
    expect([...evidence.stderr.matchAll(/^ {2}(evidence [a-z-]+) /gm)].map((m) => m[1])).toEqual(['evidence export', 'evidence verify', 'evidence public-key', 'evidence publish']);
    expect(mappings).toMatchObject({ code: 2, stdout: '' });
    expect(mappings.stderr).toMatch(/^changegate mappings: missing subcommand\n[^]*^ {2}mappings validate {4}check mapping and policy files/m);
    expect(unknown).toMatchObject({ code: 2, stdout: '' });
    expect(unknown.stderr).toMatch(/^changegate config: unknown subcommand "nope"\n\nusage: changegate config <subcommand> /);
    // Asked for, the same list is the answer: stdout, exit 0.
    expect(helped).toMatchObject({ code: 0, stderr: '' });
    expect(helped.stdout).toMatch(/^usage: changegate evidence <subcommand> [^]*^ {2}evidence verify {6}check an evidence bundle offline/m);
  });

  it('takes, for mappings validate --instance without a configuration, the built-in demo\'s instances as sync and check do, naming them for an unknown id', async () => {
    const [unknown, jira, servicenow] = await Promise.all([
      changegate(['mappings', 'validate', '--instance', 'nope']),
      changegate(['mappings', 'validate', '--instance', 'jsm-demo', '--json']),
      changegate(['mappings', 'validate', '--instance', 'sn-demo']),
    ]);
    expect(unknown).toMatchObject({ code: 2, stdout: '' });
    expect(unknown.stderr).toBe('changegate: [CG_INSTANCE_UNKNOWN] no configuration given (--config or CHANGEGATE_CONFIG), and the built-in demo has no instance "nope" (known: sn-demo, jsm-demo)\n');
    // The demo's Jira site is its simulator, started for the check as check starts it; its workflow is the mapping's.
    expect(jira).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(jira.stdout)).toMatchObject({ exitCode: 0, instance: 'jsm-demo', checked: true, mappingFile: expect.stringMatching(/mappings\/jira\.default\.yaml$/), problems: [] });
    expect(servicenow).toMatchObject({ code: 0, stdout: 'sn-demo is a ServiceNow instance: its mapping is checked offline only (mappings validate DIR); its states are fixed by the platform\n' });
  });

  it('refuses a value that looks like an option, saying how to give one that starts with "-"', async () => {
    const [limit, instance] = await Promise.all([changegate(['history', 'CHG0030001', '--limit', '-1']), changegate(['sync', '--instance', '--json'])]);
    expect(limit).toMatchObject({ code: 2, stdout: '' });
    expect(limit.stderr).toMatch(/^changegate history: --limit is followed by "-1", which looks like an option: give --limit its N, or write --limit=-1 for a value starting with "-"\n\nusage: changegate history /);
    expect(instance).toMatchObject({ code: 2, stdout: '' });
    expect(instance.stderr).toMatch(/^changegate sync: --instance is followed by "--json", which looks like an option: give --instance its ID, or write --instance=--json for a value starting with "-"\n\nusage: changegate sync /);
  });

  it('gives, in the help of a command with two forms, each synopsis the README\'s Commands table gives', async () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const synopses = [...readme.matchAll(/^\| `((?:evidence export|mappings validate) [^`]*)` \|/gm)].map((m) => (m[1] as string).replaceAll('\\|', '|'));
    expect(synopses).toHaveLength(3);
    const [exported, mappings] = await Promise.all([changegate(['evidence', 'export', '--help']), changegate(['mappings', 'validate', '--help'])]);
    const forms = [exported, mappings].flatMap((help) => (/^usage: changegate (.*)$/m.exec(help.stdout)?.[1] ?? '').split(' | '));
    expect(forms).toEqual(expect.arrayContaining(synopses));
  });

  it('refuses an option given twice with a value, naming it and both values, rather than taking the last', async () => {
    const [broken, fine] = [join(dir, 'broken.yaml'), join(dir, 'fine.yaml')];
    writeFileSync(broken, 'instances: 3\n');
    writeFileSync(fine, 'log: { level: warn }\n');
    const twice = await changegate(['config', 'validate', '--config', broken, '--config', fine]);
    expect(twice).toMatchObject({ code: 2, stdout: '' });
    expect(twice.stderr).toMatch(new RegExp(`^changegate config validate: --config given twice \\(${JSON.stringify(broken)}, ${JSON.stringify(fine)}\\): give it once\n\nusage: changegate config validate `));
  });
});
