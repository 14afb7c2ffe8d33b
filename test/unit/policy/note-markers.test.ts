// The marker a journal gate looks for (closed.pir, canceled.reason): found in
// any case, anywhere, as the policy configures it, unless a negation just
// before it in the same clause says the opposite.

import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mentions } from '../../../src/policy/note-markers.ts';

const CANCEL = ['cancel'];
const PIR = ['[PIR]', 'PIR:', 'post-implementation review'];

describe('a note mentions a marker', () => {
  it.each([
    ['Canceled: the vendor pulled 4.2.', CANCEL],
    ['CANCELLING, superseded by CHG0030007', CANCEL],
    ['Cancel: no budget left this quarter.', CANCEL],
    ['No, cancel it: the vendor pulled 4.2.', CANCEL],
    ['Not canceled by us: the vendor canceled the release.', CANCEL],
    ["We couldn't get a window. Cancel.", CANCEL],
    ['[PIR] Root cause: expired certificate.', PIR],
    ['pir: no customer impact; actions filed.', PIR],
    ['Post-implementation review held on 12 March.', PIR],
    ['Reason (c++ rebuild): per vendor', ['(c++ rebuild)']],
  ])('%s', (text, markers) => expect(mentions(text, markers)).toBe(true));

  it.each([
    ['Do not cancel: CAB wants it live before the PCI deadline.', CANCEL],
    ["Please don't cancel this one, the vendor fix is in.", CANCEL],
    ['Please don’t cancel this one.', CANCEL],
    ['We are not going to cancel; rescheduling instead.', CANCEL],
    ['Never cancel a change without a reason.', CANCEL],
    ['Rolled out without cancelling anything', CANCEL],
    ['No post-implementation review held yet; booked for Friday.', PIR],
    ['Implemented, no [PIR] needed.', PIR],
    ['The change went in smoothly.', CANCEL],
  ])('not: %s', (text, markers) => expect(mentions(text, markers)).toBe(false));

  it('finds a configured marker wherever no negation word stands before it, in any case', () => {
    const word = fc.constantFrom('the', 'vendor', 'pulled', 'release', 'CAB', 'agreed', 'today', 'we', 'will', 'so');
    const text = fc.array(word, { maxLength: 6 }).map((ws) => ws.join(' '));
    const marker = fc.constantFrom('cancel', '[PIR]', 'PIR:', 'post-implementation review', 'Reason (vendor)');
    fc.assert(
      fc.property(text, marker, text, fc.boolean(), (before, m, after, upper) => {
        const written = upper ? m.toUpperCase() : m;
        expect(mentions(`${before} ${written} ${after}`, [m])).toBe(true);
        expect(mentions(`${before} do not ${written} ${after}`, [m])).toBe(false);
      }),
    );
  });
});
