// A process on the embedded store does not load the MongoDB driver (some 30 MB of
// resident memory it would never use), and the store still opens and works.

import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The packages and built-in modules (`node:sqlite`) a fresh process resolves while opening a store of `kind`, and what the store answered. */
function packagesLoadedOpening(kind: 'sqlite'): { packages: string[]; changes: number } {
  const script = `
    import { registerHooks } from 'node:module';
    const packages = new Set();
    registerHooks({ resolve(specifier, context, next) {
      if (!specifier.startsWith('.') && !specifier.startsWith('file:') && !specifier.startsWith('/')) packages.add(specifier.split('/')[0]);
      return next(specifier, context);
    } });
    const { openStores } = await import('./src/store/open-stores.ts');
    const stores = await openStores({ kind: '${kind}', path: ':memory:' });
    const changes = await stores.changes.countChanges();
    await stores.close();
    console.log(JSON.stringify({ packages: [...packages].sort(), changes }));
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1) ?? '') as { packages: string[]; changes: number };
}

describe('store modules', () => {
  it('opens the embedded store without loading the MongoDB driver', () => {
    const { packages, changes } = packagesLoadedOpening('sqlite');
    expect(changes).toBe(0);
    // The hook does see what is loaded: the embedded store's own module is resolved through it.
    expect(packages).toContain('node:sqlite');
    expect(packages).not.toContain('mongodb');
    expect(packages).not.toContain('bson');
  });
});
