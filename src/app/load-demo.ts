// The demo's simulators serve msw handlers, and msw is a development dependency:
// a production install (`npm ci --omit=dev`, the Docker image) has none. So the
// demo is imported only when it runs, and a production `serve` without
// configuration says what to do instead of failing on a missing package.

import { ChangegateError } from '../errors.ts';

export async function loadDemo(): Promise<typeof import('./demo-instances.ts')> {
  try {
    return await import('./demo-instances.ts');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw err;
    throw new ChangegateError(
      'CG_CONFIG_NOT_FOUND',
      'No configuration given (--config or CHANGEGATE_CONFIG), and the built-in demo needs the development install (its simulators use msw): give a configuration file, or run the demo from a full `npm ci`',
      { cause: err },
    );
  }
}
