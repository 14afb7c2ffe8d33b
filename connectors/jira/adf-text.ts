// Atlassian Document Format → plain text, for the mirror's text fields and
// journal (the ADF itself stays in the change's `raw`). Rules read text, not
// layout, so blocks become lines, list items get a dash and table cells a bar;
// inline nodes that carry their text in attrs (mention, emoji, status, date,
// cards) contribute it. Unknown nodes contribute their children's text.

type Node = Record<string, unknown>;

// An action or decision item holds its text inline, with no paragraph around it, and a
// layout column holds blocks: each is a line of its own, or a checklist reads as one run-on line.
const BLOCKS = new Set([
  'paragraph',
  'heading',
  'blockquote',
  'codeBlock',
  'panel',
  'rule',
  'mediaSingle',
  'mediaGroup',
  'expand',
  'nestedExpand',
  'decisionList',
  'decisionItem',
  'taskList',
  'taskItem',
  'blockTaskItem',
  'layoutSection',
  'layoutColumn',
]);

function attr(node: Node, name: string): string | null {
  const attrs = node['attrs'];
  if (typeof attrs !== 'object' || attrs === null) return null;
  const value = (attrs as Node)[name];
  return typeof value === 'string' && value !== '' ? value : typeof value === 'number' ? String(value) : null;
}

function children(node: Node): Node[] {
  const content = node['content'];
  return Array.isArray(content) ? content.filter((c): c is Node => typeof c === 'object' && c !== null) : [];
}

function inline(node: Node): string {
  switch (node['type']) {
    case 'text':
      return typeof node['text'] === 'string' ? node['text'] : '';
    case 'hardBreak':
      return '\n';
    case 'mention':
      return attr(node, 'text') ?? attr(node, 'id') ?? '';
    case 'emoji':
      return attr(node, 'text') ?? attr(node, 'shortName') ?? '';
    case 'status':
      return attr(node, 'text') ?? '';
    case 'date': {
      const ts = Number(attr(node, 'timestamp'));
      return Number.isFinite(ts) ? new Date(ts).toISOString().slice(0, 10) : '';
    }
    case 'inlineCard':
    case 'blockCard':
    case 'embedCard':
      return attr(node, 'url') ?? '';
    default:
      return blocks(children(node));
  }
}

function listItems(node: Node, marker: (i: number) => string): string {
  return children(node)
    .map((item, i) => {
      const text = blocks(children(item));
      return `${marker(i)} ${text.replaceAll('\n', '\n  ')}`;
    })
    .join('\n');
}

function block(node: Node): string {
  switch (node['type']) {
    case 'bulletList':
      return listItems(node, () => '-');
    case 'orderedList': {
      const start = Number(attr(node, 'order') ?? 1);
      return listItems(node, (i) => `${(Number.isFinite(start) ? start : 1) + i}.`);
    }
    case 'table':
      return children(node)
        .map((row) => children(row).map((cell) => blocks(children(cell)).replaceAll('\n', ' ')).join(' | '))
        .join('\n');
    case 'rule':
      return '---';
    default:
      return BLOCKS.has(String(node['type'])) ? blocks(children(node)) : inline(node);
  }
}

function blocks(nodes: Node[]): string {
  const out: string[] = [];
  let line = '';
  for (const node of nodes) {
    const type = String(node['type']);
    const isBlock = BLOCKS.has(type) || type === 'bulletList' || type === 'orderedList' || type === 'table' || type === 'listItem';
    if (isBlock) {
      if (line !== '') out.push(line);
      line = '';
      out.push(block(node));
    } else {
      line += inline(node);
    }
  }
  if (line !== '') out.push(line);
  return out.filter((text) => text !== '').join('\n');
}

export function isAdfDocument(value: unknown): value is { type: 'doc'; content: unknown[] } {
  return typeof value === 'object' && value !== null && (value as Node)['type'] === 'doc' && Array.isArray((value as Node)['content']);
}

/** Plain text of an ADF document (or of a string, returned as is); null when empty. */
export function adfToPlainText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value === '' ? null : value;
  if (!isAdfDocument(value)) return null;
  const text = blocks(children(value as unknown as Node)).trim();
  return text === '' ? null : text;
}
