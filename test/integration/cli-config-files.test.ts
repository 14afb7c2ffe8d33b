// The `changegate` command line handed a file an operator got slightly wrong: a configuration or
// mapping holding two YAML documents, an empty configuration. Each answer names the file and the
// line to look at, in changegate's words rather than the YAML library's.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changegate } from '../support/cli-child.ts';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cg-cli-files-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('changegate CLI with configuration and mapping files', () => {
  it('refuses a file holding a second YAML document, naming file and the line it starts on, in config validate and mappings validate', async () => {
    const config = join(dir, 'two-documents.yaml');
    writeFileSync(config, 'log: { level: warn }\n---\nlog: { level: info }\n');
    // Two documents pasted into one file (a second mapping after a "---"): the first would be read and the second silently lost.
    const mapping = join(dir, 'servicenow.two.yaml');
    const servicenow = readFileSync(new URL('../../mappings/servicenow.default.yaml', import.meta.url), 'utf8');
    writeFileSync(mapping, `${servicenow.trimEnd()}\n---\n${servicenow}`);
    const second = servicenow.trimEnd().split('\n').length + 1;
    const [text, json, mapped] = await Promise.all([
      changegate(['config', 'validate', '--config', config]),
      changegate(['config', 'validate', '--config', config, '--json']),
      changegate(['mappings', 'validate', mapping, '--json']),
    ]);
    const said = 'a changegate file holds one YAML document, but a second one starts on line';
    expect(text).toMatchObject({ code: 2, stdout: '' });
    expect(text.stderr).toBe(`changegate: [CG_CONFIG_INVALID] ${config}:2:1: ${said} 2; remove the --- (or ...) that separates them, or move the second document to a file of its own\n`);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toMatchObject({ exitCode: 2, code: 'CG_CONFIG_INVALID', issues: [`${config}:2:1: ${said} 2; remove the --- (or ...) that separates them, or move the second document to a file of its own`] });
    expect(mapped.code).toBe(2);
    const [file] = (JSON.parse(mapped.stdout) as { files: { ok: boolean; errors: string[] }[] }).files;
    expect(file?.ok).toBe(false);
    expect(file?.errors).toEqual([expect.stringMatching(new RegExp(`^${mapping.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:${second}:1 \\(root\\): ${said} ${second}; `))]);
    expect(text.stderr + json.stdout + mapped.stdout).not.toContain('parseAllDocuments');
  });

  it('warns of an empty configuration (blank, or only comments), naming the file, while one with settings and no instance stays ok', async () => {
    const [blank, comments, settings] = [join(dir, 'blank.yaml'), join(dir, 'comments.yaml'), join(dir, 'settings.yaml')];
    writeFileSync(blank, '');
    writeFileSync(comments, '# changegate.yaml: instances to come\n\n');
    writeFileSync(settings, 'log: { level: warn }\n');
    const [text, json, quiet] = await Promise.all([
      changegate(['config', 'validate', '--config', blank]),
      changegate(['config', 'validate', '--config', comments, '--json']),
      changegate(['config', 'validate', '--config', settings]),
    ]);
    const warning = 'the file is empty (blank, or only comments): every setting takes its default and there is no instance, so serve syncs nothing; add the instances, or name the file that has them';
    // Valid with a warning: exit 0, as every config validate warning.
    expect(text).toMatchObject({ code: 0, stderr: '' });
    expect(text.stdout).toBe(`warn    ${blank}\n  warning: ${blank}:1:1 (root): ${warning}\n`);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ format: 1, exitCode: 0, file: comments, issues: [], warnings: [`${comments}:1:1 (root): ${warning}`] });
    expect(quiet).toMatchObject({ code: 0, stdout: `ok      ${settings}\n` });
  });
});
