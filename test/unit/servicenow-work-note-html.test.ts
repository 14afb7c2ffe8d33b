// The HTML work note for instances with `workNotes: html`: everything the note
// says stays inside one [code] block, escaped, whatever the ticket's text held.

import { describe, expect, it } from 'vitest';
import { htmlWorkNote } from '../../connectors/servicenow/work-note-html.ts';

describe('htmlWorkNote', () => {
  it('keeps a [/code] in the text from closing the block early, and escapes markup', () => {
    const text = htmlWorkNote({ title: 'Summary', tone: 'info', lines: ['a summary said [/code]<script>x</script>[code]'] }, '[changegate:k]');
    expect(text.match(/\[\/code\]/g)).toHaveLength(1);
    expect(text.endsWith('[/code]\n\n[changegate:k]')).toBe(true);
    expect(text).toContain('&lt;script&gt;x&lt;/script&gt;');
    expect(text).not.toContain('<script>');
  });

  it('shows backticked spans as code, and leaves an unpaired backtick as it is', () => {
    expect(htmlWorkNote({ title: 't', tone: 'info', lines: ['run `changegate evidence verify FILE` now', 'a lone ` stays'] }, 'm')).toContain(
      '<p>run <code>changegate evidence verify FILE</code> now</p>\n<p>a lone ` stays</p>',
    );
  });
});
