// The site's people. Cloud identifies users by accountId; Data Center by
// username (`name`) and user key. Both identities exist on every user so one
// data set serves both flavours.

import type { BasicCredential, SimUser } from './sim-types.ts';

function accountIdFor(n: number): string {
  const hex = n.toString(16).padStart(12, '0');
  return `712020:5c1d2e3f-0000-4000-8000-${hex}`;
}

function person(n: number, name: string, displayName: string, timeZone = 'Europe/London'): SimUser {
  return { accountId: accountIdFor(n), name, key: `JIRAUSER${10000 + n}`, displayName, emailAddress: `${name}@example.com`, timeZone, active: true };
}

/** People the seeded data uses: requesters, implementers, change managers, CAB members. */
export function defaultUsers(): SimUser[] {
  return [
    person(1, 'svc-changegate', 'changegate integration', 'UTC'),
    person(2, 'alice.requester', 'Alice Requester'),
    person(3, 'bob.implementer', 'Bob Implementer'),
    person(4, 'carol.changemgr', 'Carol Change-Manager'),
    person(5, 'dan.cab', 'Dan CAB', 'America/New_York'),
    person(6, 'erin.cab', 'Erin CAB', 'Asia/Kolkata'),
    person(7, 'frank.oncall', 'Frank On-Call', 'Australia/Sydney'),
  ];
}

export class UserDirectory {
  private readonly users: SimUser[];
  private readonly index = new Map<string, SimUser>();

  constructor(users: SimUser[] = defaultUsers(), credentials: BasicCredential[] = []) {
    this.users = [...users];
    for (const u of this.users) this.indexUser(u);
    let n = 100;
    for (const c of credentials) {
      if (this.find(c.email) || (c.accountId && this.find(c.accountId))) continue;
      const local = c.email.split('@')[0] ?? c.email;
      this.add({
        accountId: c.accountId ?? accountIdFor(n++),
        name: local,
        key: `JIRAUSER${10000 + n}`,
        displayName: c.displayName ?? local,
        emailAddress: c.email,
        timeZone: 'UTC',
        active: true,
      });
    }
  }

  private indexUser(u: SimUser): void {
    for (const k of [u.accountId, u.name, u.key, u.emailAddress.toLowerCase()]) this.index.set(k, u);
  }

  add(user: SimUser): SimUser {
    this.users.push(user);
    this.indexUser(user);
    return user;
  }

  all(): readonly SimUser[] {
    return this.users;
  }

  /** By accountId, username, user key or email. */
  find(ref: string): SimUser | undefined {
    return this.index.get(ref) ?? this.index.get(ref.toLowerCase());
  }

  byName(name: string): SimUser {
    const u = this.find(name);
    if (!u) throw new Error(`Unknown simulator user "${name}"`);
    return u;
  }
}
