// A small Atlassian Document Format → HTML renderer, for looking at changegate's
// Jira comments as a reader sees them: an `expand` is a closed <details> (its
// title shows, its body does not until opened), a panel a box, code marks
// <code>. It renders the nodes changegate writes and refuses any other, so a
// new node in a note is noticed here rather than rendered wrong.

type Node = { type?: unknown; text?: unknown; attrs?: Record<string, unknown>; marks?: { type: string }[]; content?: unknown[] };

const escape = (s: string): string => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');

function children(node: Node): string {
  return (node.content ?? []).map((c) => render(c as Node)).join('');
}

function marked(node: Node): string {
  let out = escape(String(node.text ?? ''));
  for (const mark of node.marks ?? []) {
    const tag = { code: 'code', strong: 'strong', em: 'em' }[mark.type];
    if (tag === undefined) throw new Error(`adf-html: unsupported mark ${mark.type}`);
    out = `<${tag}>${out}</${tag}>`;
  }
  return out;
}

function render(node: Node): string {
  switch (node.type) {
    case 'doc':
      return children(node);
    case 'heading': {
      const level = Number(node.attrs?.['level'] ?? 3);
      return `<h${level}>${children(node)}</h${level}>\n`;
    }
    case 'paragraph':
      return `<p>${children(node)}</p>\n`;
    case 'text':
      return marked(node);
    case 'hardBreak':
      return '<br>';
    case 'panel':
      return `<div class="panel panel-${escape(String(node.attrs?.['panelType'] ?? 'info'))}">\n${children(node)}</div>\n`;
    case 'bulletList':
      return `<ul>\n${children(node)}</ul>\n`;
    case 'listItem':
      return `<li>${children(node).replaceAll(/<\/?p>|\n/g, '')}</li>\n`;
    case 'table':
      return `<table>\n${children(node)}</table>\n`;
    case 'tableRow':
      return `<tr>${children(node)}</tr>\n`;
    case 'tableHeader':
      return `<th>${children(node).replaceAll(/<\/?p>|\n/g, '')}</th>`;
    case 'tableCell':
      return `<td>${children(node).replaceAll(/<\/?p>|\n/g, '')}</td>`;
    case 'expand':
      return `<details>\n<summary>${escape(String(node.attrs?.['title'] ?? ''))}</summary>\n${children(node)}</details>\n`;
    default:
      throw new Error(`adf-html: unsupported node ${String(node.type)}`);
  }
}

/** The document as HTML, one block a line. */
export function adfToHtml(doc: unknown): string {
  return render(doc as Node);
}

const BLOCK_END = /<\/(h\d|p|li|tr|div|ul|table|summary)>|<br>/g;

/** What a reader sees before opening anything: the text of the HTML with closed <details> bodies left out, one block a line. */
export function visibleText(html: string): string {
  const closed = html.replaceAll(/<details>\s*<summary>([\s\S]*?)<\/summary>[\s\S]*?<\/details>/g, '<p>▸ $1</p>');
  return closed
    .replaceAll(BLOCK_END, '\n')
    .replaceAll(/<\/t[dh]><t[dh]>/g, ' | ')
    .replaceAll(/<[^>]+>/g, '')
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&quot;', '"')
    .replaceAll('&amp;', '&')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .join('\n');
}

/** The list items a reader sees, as text. */
export function visibleItems(html: string): string[] {
  const open = html.replaceAll(/<details>[\s\S]*?<\/details>/g, '');
  return [...open.matchAll(/<li>([\s\S]*?)<\/li>/g)].map((m) => visibleText(`<p>${m[1] ?? ''}</p>`));
}
