// How the embedded store tells a dead claim owner from a live one: the
// operating system knows which pids run on this host.

import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { judgeOwnerOnThisHost, pidIsRunning, processOwner, type ClaimOwner } from '../../src/store/claim-owner.ts';

const self = processOwner();
const other = (overrides: Partial<ClaimOwner>): ClaimOwner => ({ id: 'another-epoch', host: self.host, pid: process.ppid, startedAt: self.startedAt, ...overrides });

/** The pid of a process that ran and exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '0']);
  return child.pid;
}

describe('claim owners', () => {
  it('is one owner per process, with its host and pid', () => {
    expect(processOwner()).toBe(self);
    expect(self).toMatchObject({ pid: process.pid });
    expect(self.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('judges this process alive, a running pid alive and an exited pid dead', () => {
    expect(judgeOwnerOnThisHost(self, self)).toBe('alive');
    expect(judgeOwnerOnThisHost(other({}), self)).toBe('alive');
    const gone = deadPid();
    expect(pidIsRunning(gone)).toBe(false);
    expect(judgeOwnerOnThisHost(other({ pid: gone }), self)).toBe('dead');
  });

  it('judges an earlier process that had our pid dead (pid 1 in every container start)', () => {
    expect(judgeOwnerOnThisHost(other({ pid: self.pid }), self)).toBe('dead');
  });

  it('cannot judge an owner on another host, whose claims then wait for their lease', () => {
    expect(judgeOwnerOnThisHost(other({ host: 'elsewhere', pid: deadPid() }), self)).toBe('unknown');
  });
});
