// The remote end of the fake system: an in-memory ticket table per base URL,
// with the keyset order a real source pages in (updatedAt, id).

export interface FakeTicket {
  id: string;
  key: string;
  title: string;
  /** Native status: open, doing, done. */
  status: string;
  updatedAt: string;
}

const sites = new Map<string, FakeSite>();

export class FakeSite {
  readonly tickets = new Map<string, FakeTicket>();
  fetches = 0;

  static at(baseUrl: string): FakeSite {
    let site = sites.get(baseUrl);
    if (site === undefined) {
      site = new FakeSite();
      sites.set(baseUrl, site);
    }
    return site;
  }

  put(ticket: FakeTicket): void {
    this.tickets.set(ticket.id, ticket);
  }

  /** Tickets strictly after `(updatedAt, id)`, in keyset order. */
  after(cursor: { updatedAt: string; id: string } | null, limit: number): FakeTicket[] {
    return [...this.tickets.values()]
      .filter((t) => cursor === null || t.updatedAt > cursor.updatedAt || (t.updatedAt === cursor.updatedAt && t.id > cursor.id))
      .toSorted((a, b) => (a.updatedAt === b.updatedAt ? (a.id < b.id ? -1 : 1) : a.updatedAt < b.updatedAt ? -1 : 1))
      .slice(0, limit);
  }
}
