// The dependency rule of the layout: parts (connectors/<system>/) import only
// the connector kit, the domain, the error table and the shared HTTP client;
// the core (src/, but the composition root src/app and src/main.ts) never
// imports a part nor names a registered system. A new import across the line
// fails here, naming the file and what it imported.

import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { registry } from '../../src/app/registry.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.(ts|js)$/.test(entry.name))
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)))
    .toSorted();
}

const SPECIFIER = /(?:^|[\s;])(?:import|export)\s[^'";]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^import\s+['"]([^'"]+)['"]/gm;

/** Project-relative targets of a file's relative imports (packages are left out). */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const out: string[] = [];
  for (const match of text.matchAll(SPECIFIER)) {
    const spec = match[1] ?? match[2] ?? match[3] ?? '';
    if (spec.startsWith('.')) out.push(relative(ROOT, resolve(ROOT, dirname(file), spec)));
  }
  return out;
}

const SHARED_FOR_PARTS = [/^src\/kit\//, /^src\/domain\//, /^src\/errors\.ts$/, /^src\/http\//];

function partViolations(): string[] {
  const found: string[] = [];
  for (const file of sourceFiles('connectors')) {
    const system = file.split('/')[1] ?? '';
    const own = file.includes('/', 'connectors/'.length) ? `connectors/${system}/` : null;
    for (const target of importsOf(file)) {
      if (own !== null && target.startsWith(own)) continue;
      if (SHARED_FOR_PARTS.some((allowed) => allowed.test(target))) continue;
      // The registry lists each system's declaration; simulators share one HTTP front.
      if (file === 'connectors/index.ts' && /^connectors\/[^/]+\/index\.ts$/.test(target)) continue;
      if (target === 'connectors/simulator-http.ts' && file.includes('/simulator/')) continue;
      found.push(`${file} imports ${target}`);
    }
  }
  return found;
}

const isCompositionRoot = (file: string): boolean => file.startsWith('src/app/') || file === 'src/main.ts';

describe('import boundaries', () => {
  it('connectors import only the kit, the domain, the error table, the shared HTTP client and their own folder', () => {
    expect(partViolations()).toEqual([]);
  });

  it('the core never imports a part (only the composition root, src/app and src/main.ts, sees the registry)', () => {
    const found = sourceFiles('src')
      .filter((file) => !isCompositionRoot(file))
      .flatMap((file) => importsOf(file).filter((target) => target.startsWith('connectors/')).map((target) => `${file} imports ${target}`));
    expect(found).toEqual([]);
  });

  it('no core file names a registered system (systems are looked up in the registry)', () => {
    const names = registry.systems.flatMap((system) => [`'${system}'`, `"${system}"`]);
    const found = sourceFiles('src')
      .filter((file) => !isCompositionRoot(file))
      .flatMap((file) => {
        const text = readFileSync(join(ROOT, file), 'utf8');
        return names.filter((name) => text.includes(name)).map((name) => `${file} names ${name}`);
      });
    expect(found).toEqual([]);
  });

  it('finds the imports it checks (the scan is not vacuous)', () => {
    expect(importsOf('connectors/index.ts')).toEqual(expect.arrayContaining(['connectors/jira/index.ts', 'connectors/servicenow/index.ts']));
    expect(importsOf('src/main.ts')).toContain('src/app/registry.ts');
    expect(sourceFiles('connectors').length).toBeGreaterThan(50);
  });
});
