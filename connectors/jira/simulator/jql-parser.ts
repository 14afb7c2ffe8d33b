// Parses the JQL subset a sync connector needs: clauses joined by AND / OR /
// NOT with parentheses, the operators = != < <= > >= ~ !~ IN, NOT IN, IS,
// IS NOT, list and function values, and ORDER BY. Errors carry Jira's wording.

export class JqlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JqlError';
  }
}

export type JqlValue = { kind: 'literal'; text: string; quoted: boolean } | { kind: 'function'; name: string; args: string[] } | { kind: 'empty' };

export type JqlOperator = '=' | '!=' | '<' | '<=' | '>' | '>=' | '~' | '!~' | 'in' | 'not in' | 'is' | 'is not';

export type JqlNode =
  | { kind: 'and' | 'or'; children: JqlNode[] }
  | { kind: 'not'; child: JqlNode }
  | { kind: 'clause'; field: string; op: JqlOperator; values: JqlValue[]; list: boolean; position: number };

export interface JqlSort {
  field: string;
  direction: 'asc' | 'desc';
}

export interface JqlQuery {
  where: JqlNode | null;
  orderBy: JqlSort[];
}

interface Token {
  type: 'word' | 'string' | 'op' | 'lparen' | 'rparen' | 'comma';
  text: string;
  pos: number;
}

const OPS = ['!=', '<=', '>=', '!~', '=', '<', '>', '~'];

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const ch = input[i] as string;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (ch === '(' || ch === ')' || ch === ',') {
      tokens.push({ type: ch === '(' ? 'lparen' : ch === ')' ? 'rparen' : 'comma', text: ch, pos: i });
      i++;
      continue;
    }
    if (ch === '"' || ch === "'") {
      let j = i + 1;
      let text = '';
      while (j < input.length && input[j] !== ch) {
        if (input[j] === '\\' && j + 1 < input.length) j++;
        text += input[j];
        j++;
      }
      if (j >= input.length) throw new JqlError(`Error in the JQL Query: The quoted string '${text}' has not been completed. (line 1, character ${i + 1})`);
      tokens.push({ type: 'string', text, pos: i });
      i = j + 1;
      continue;
    }
    const op = OPS.find((o) => input.startsWith(o, i));
    if (op) {
      tokens.push({ type: 'op', text: op, pos: i });
      i += op.length;
      continue;
    }
    let j = i;
    while (j < input.length && /[^\s()",'=!<>~]/.test(input[j] as string)) j++;
    if (j === i) throw new JqlError(`Error in the JQL Query: The character '${ch}' is a reserved JQL character. (line 1, character ${i + 1})`);
    tokens.push({ type: 'word', text: input.slice(i, j), pos: i });
    i = j;
  }
  return tokens;
}

class Parser {
  private i = 0;
  private readonly tokens: Token[];
  private readonly length: number;

  constructor(input: string) {
    this.tokens = tokenize(input);
    this.length = input.length;
  }

  private peek(): Token | undefined {
    return this.tokens[this.i];
  }

  private isWord(t: Token | undefined, ...words: string[]): boolean {
    return t?.type === 'word' && words.includes(t.text.toLowerCase());
  }

  private expected(what: string): JqlError {
    const t = this.peek();
    const where = t ? `but got '${t.text}'. (line 1, character ${t.pos + 1})` : `before the end of the query.`;
    return new JqlError(`Error in the JQL Query: Expecting ${what} ${where}`);
  }

  parse(): JqlQuery {
    let where: JqlNode | null = null;
    if (this.peek() && !this.isOrderBy()) where = this.or();
    const orderBy: JqlSort[] = [];
    if (this.isOrderBy()) {
      this.i += 2;
      do {
        const t = this.peek();
        if (!t || (t.type !== 'word' && t.type !== 'string')) throw this.expected('a field name');
        this.i++;
        let direction: 'asc' | 'desc' = 'asc';
        if (this.isWord(this.peek(), 'asc', 'desc')) direction = (this.tokens[this.i++] as Token).text.toLowerCase() as 'asc' | 'desc';
        orderBy.push({ field: t.text, direction });
      } while (this.peek()?.type === 'comma' && ++this.i);
    }
    if (this.peek()) throw this.expected(where ? "either 'AND', 'OR' or 'ORDER BY'" : 'a field name');
    return { where, orderBy };
  }

  private isOrderBy(): boolean {
    return this.isWord(this.peek(), 'order') && this.isWord(this.tokens[this.i + 1], 'by');
  }

  private or(): JqlNode {
    const children = [this.and()];
    while (this.isWord(this.peek(), 'or')) {
      this.i++;
      children.push(this.and());
    }
    return children.length === 1 ? (children[0] as JqlNode) : { kind: 'or', children };
  }

  private and(): JqlNode {
    const children = [this.not()];
    while (this.isWord(this.peek(), 'and')) {
      this.i++;
      children.push(this.not());
    }
    return children.length === 1 ? (children[0] as JqlNode) : { kind: 'and', children };
  }

  private not(): JqlNode {
    if (this.isWord(this.peek(), 'not')) {
      this.i++;
      return { kind: 'not', child: this.not() };
    }
    if (this.peek()?.type === 'lparen') {
      this.i++;
      const inner = this.or();
      if (this.peek()?.type !== 'rparen') throw this.expected("')'");
      this.i++;
      return inner;
    }
    return this.clause();
  }

  private clause(): JqlNode {
    const f = this.peek();
    if (!f || (f.type !== 'word' && f.type !== 'string')) throw this.expected('a field name');
    this.i++;
    const op = this.operator();
    if (op === 'in' || op === 'not in') {
      if (this.peek()?.type !== 'lparen') throw this.expected("'('");
      this.i++;
      const values: JqlValue[] = [];
      while (this.peek()?.type !== 'rparen') {
        values.push(this.value());
        if (this.peek()?.type === 'comma') this.i++;
        else if (this.peek()?.type !== 'rparen') throw this.expected("',' or ')'");
      }
      this.i++;
      return { kind: 'clause', field: f.text, op, values, list: true, position: f.pos };
    }
    return { kind: 'clause', field: f.text, op, values: [this.value()], list: false, position: f.pos };
  }

  private operator(): JqlOperator {
    const t = this.peek();
    if (t?.type === 'op') {
      this.i++;
      return t.text as JqlOperator;
    }
    if (this.isWord(t, 'in')) {
      this.i++;
      return 'in';
    }
    if (this.isWord(t, 'is')) {
      this.i++;
      if (this.isWord(this.peek(), 'not')) {
        this.i++;
        return 'is not';
      }
      return 'is';
    }
    if (this.isWord(t, 'not') && this.isWord(this.tokens[this.i + 1], 'in')) {
      this.i += 2;
      return 'not in';
    }
    throw this.expected("operator such as '=', '!=', '<', '>', '<=', '>=', '~', '!~', 'IN', 'NOT IN', 'IS' or 'IS NOT'");
  }

  private value(): JqlValue {
    const t = this.peek();
    if (!t || (t.type !== 'word' && t.type !== 'string')) throw this.expected('either a value, list or function');
    this.i++;
    if (t.type === 'word' && this.isWord(t, 'empty', 'null')) return { kind: 'empty' };
    if (t.type === 'word' && this.peek()?.type === 'lparen') {
      this.i++;
      const args: string[] = [];
      while (this.peek() && this.peek()?.type !== 'rparen') {
        const a = this.tokens[this.i++] as Token;
        if (a.type !== 'comma') args.push(a.text);
      }
      if (this.peek()?.type !== 'rparen') throw this.expected("')'");
      this.i++;
      return { kind: 'function', name: t.text, args };
    }
    return { kind: 'literal', text: t.text, quoted: t.type === 'string' };
  }

  get inputLength(): number {
    return this.length;
  }
}

export function parseJql(input: string): JqlQuery {
  return new Parser(input).parse();
}
