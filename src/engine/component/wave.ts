/**
 * WAVE, the component model's value text (design/mvp/WAVE.md of the component model), for WIT-typed values
 * in the shape jco's glue takes and returns: u64/s64 as bigint, lists of numbers as typed arrays, records and
 * flags as objects with camelCase keys, variants as `{ tag, val }`, options as the value or undefined, results
 * inside values as `{ tag: 'ok' | 'err', val }`. Parsing is driven by the type; errors name where and what.
 */
import { IsolaError } from '../../errors.js';
import type { WitType } from '../../wasm/component/types.js';
import { formatType } from '../../wasm/component/types.js';
import { formatValue } from '../values.js';

const KEYWORDS = new Set(['true', 'false', 'inf', 'nan', 'some', 'none', 'ok', 'err']);
const INT_RANGES: Record<string, [bigint, bigint]> = {
  u8: [0n, 255n], s8: [-128n, 127n], u16: [0n, 65535n], s16: [-32768n, 32767n], u32: [0n, 4294967295n],
  s32: [-2147483648n, 2147483647n], u64: [0n, 2n ** 64n - 1n], s64: [-(2n ** 63n), 2n ** 63n - 1n],
};
type TypedArrayCtor = new (values: ArrayLike<number> & ArrayLike<bigint>) => ArrayLike<unknown>;
const TYPED_LISTS: Record<string, TypedArrayCtor> = {
  u8: Uint8Array as unknown as TypedArrayCtor, s8: Int8Array as unknown as TypedArrayCtor, u16: Uint16Array as unknown as TypedArrayCtor,
  s16: Int16Array as unknown as TypedArrayCtor, u32: Uint32Array as unknown as TypedArrayCtor, s32: Int32Array as unknown as TypedArrayCtor,
  u64: BigUint64Array as unknown as TypedArrayCtor, s64: BigInt64Array as unknown as TypedArrayCtor,
  f32: Float32Array as unknown as TypedArrayCtor, f64: Float64Array as unknown as TypedArrayCtor,
};

/** jco's name for a WIT label: lower camel case (`field-a` → `fieldA`, `HTTP3` → `http3`). */
export function camelCase(label: string): string {
  return label.split('-').map((w, i) => (i === 0 ? w.toLowerCase() : w.charAt(0).toUpperCase() + w.slice(1).toLowerCase())).join('');
}

const labelText = (l: string): string => (KEYWORDS.has(l) ? `%${l}` : l);
const isOptionOrResult = (t: WitType): boolean => t.kind === 'option' || t.kind === 'result';

// ---------------------------------------------------------------- printing

function escapeChar(c: string, quote: string): string {
  switch (c) {
    case '\\': return '\\\\';
    case '\n': return '\\n';
    case '\r': return '\\r';
    case '\t': return '\\t';
    case quote: return `\\${quote}`;
    default: {
      const cp = c.codePointAt(0)!;
      return cp < 0x20 || cp === 0x7f ? `\\u{${cp.toString(16)}}` : c;
    }
  }
}

/** The WAVE text of a value of type `t`. */
export function printWave(t: WitType, v: unknown): string {
  switch (t.kind) {
    case 'bool': return v ? 'true' : 'false';
    case 'f32': case 'f64': return formatValue(t.kind, v);
    case 'u8': case 's8': case 'u16': case 's16': case 'u32': case 's32': case 'u64': case 's64': return String(v);
    case 'char': return `'${[...String(v)].map((c) => escapeChar(c, "'")).join('')}'`;
    case 'string': return `"${[...String(v)].map((c) => escapeChar(c, '"')).join('')}"`;
    case 'list': return `[${Array.from(v as ArrayLike<unknown>, (x) => printWave(t.of, x)).join(', ')}]`;
    case 'tuple': return `(${t.of.map((ty, i) => printWave(ty, (v as unknown[])[i])).join(', ')})`;
    case 'record': {
      const o = v as Record<string, unknown>;
      return `{${t.fields.map(([n, ty]) => `${n}: ${printWave(ty, o[camelCase(n)])}`).join(', ')}}`;
    }
    case 'variant': {
      const { tag, val } = v as { tag: string; val?: unknown };
      const c = t.cases.find(([n]) => n === tag);
      if (c === undefined) return labelText(String(tag));
      return c[1] === null ? labelText(tag) : `${labelText(tag)}(${printWave(c[1], val)})`;
    }
    case 'enum': return labelText(String(v));
    case 'flags': {
      const o = v as Record<string, boolean>;
      return `{${t.names.filter((n) => o[camelCase(n)]).join(', ')}}`;
    }
    case 'option': {
      if (t.of.kind === 'option') {
        const tagged = v as { tag: string; val?: unknown };
        return tagged.tag === 'none' ? 'none' : `some(${printWave(t.of, tagged.val)})`;
      }
      return v === undefined || v === null ? 'none' : `some(${printWave(t.of, v)})`;
    }
    case 'result': {
      const { tag, val } = v as { tag: 'ok' | 'err'; val?: unknown };
      const payload = tag === 'ok' ? t.ok : t.err;
      return payload === null ? tag : `${tag}(${printWave(payload, val)})`;
    }
    default: return `<${formatType(t)}>`;
  }
}

// ---------------------------------------------------------------- parsing

class WaveError extends Error {
  constructor(readonly at: number, message: string) {
    super(message);
  }
}

export class WaveParser {
  pos = 0;
  constructor(readonly text: string) {}

  fail(message: string, at = this.pos): never {
    throw new WaveError(at, message);
  }

  /** Skips whitespace and `//` comments. */
  ws(): void {
    for (;;) {
      while (this.pos < this.text.length && /\s/.test(this.text[this.pos]!)) this.pos++;
      if (this.text.startsWith('//', this.pos)) {
        const nl = this.text.indexOf('\n', this.pos);
        this.pos = nl < 0 ? this.text.length : nl + 1;
      } else return;
    }
  }

  peek(): string {
    this.ws();
    return this.text[this.pos] ?? '';
  }

  expect(c: string): void {
    if (this.peek() !== c) this.fail(`expected '${c}', found ${this.found()}`);
    this.pos++;
  }

  found(): string {
    return this.pos >= this.text.length ? 'the end' : `'${this.text[this.pos]}'`;
  }

  /** A label or keyword; `%` marks a label that would otherwise be a keyword. */
  label(): { text: string; escaped: boolean; at: number } {
    this.ws();
    const at = this.pos;
    const escaped = this.text[this.pos] === '%';
    if (escaped) this.pos++;
    const m = /^[A-Za-z][A-Za-z0-9]*(-[A-Za-z][A-Za-z0-9]*)*/.exec(this.text.slice(this.pos));
    if (m === null) this.fail(`expected a label, found ${this.found()}`);
    this.pos += m[0].length;
    return { text: m[0], escaped, at };
  }

  /** A comma-separated sequence up to `close` (trailing comma allowed). */
  seq(close: string, item: (index: number) => void): void {
    for (let i = 0; ; i++) {
      if (this.peek() === close) break;
      item(i);
      if (this.peek() === ',') this.pos++;
      else if (this.peek() !== close) this.fail(`expected ',' or '${close}', found ${this.found()}`);
    }
    this.pos++;
  }

  private quoted(quote: string): string {
    const start = this.pos;
    this.pos++;
    let out = '';
    for (;;) {
      if (this.pos >= this.text.length) this.fail(`unterminated ${quote === '"' ? 'string' : 'char'}`, start);
      const c = this.text[this.pos]!;
      if (c === quote) {
        this.pos++;
        return out;
      }
      if (c === '\n') this.fail(`a newline inside a ${quote === '"' ? 'string' : 'char'} must be written \\n`);
      if (c !== '\\') {
        const cp = this.text.codePointAt(this.pos)!;
        out += String.fromCodePoint(cp);
        this.pos += cp > 0xffff ? 2 : 1;
        continue;
      }
      const e = this.text[this.pos + 1];
      const simple: Record<string, string> = { "'": "'", '"': '"', '\\': '\\', t: '\t', n: '\n', r: '\r' };
      if (e !== undefined && simple[e] !== undefined) {
        out += simple[e];
        this.pos += 2;
      } else if (e === 'u' && this.text[this.pos + 2] === '{') {
        const close = this.text.indexOf('}', this.pos);
        const hex = close < 0 ? '' : this.text.slice(this.pos + 3, close);
        const cp = /^[0-9a-fA-F]{1,6}$/.test(hex) ? parseInt(hex, 16) : -1;
        if (cp < 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) this.fail('invalid \\u{...} escape (a Unicode scalar value in hex)');
        out += String.fromCodePoint(cp);
        this.pos = close + 1;
      } else this.fail(`invalid escape \\${e ?? ''}`);
    }
  }

  /** A value of type `t`, as jco takes it. */
  value(t: WitType): unknown {
    const c = this.peek();
    const at = this.pos;
    switch (t.kind) {
      case 'bool': {
        const l = this.label();
        if (l.escaped || (l.text !== 'true' && l.text !== 'false')) this.fail(`expected bool (true or false), found '${l.text}'`, at);
        return l.text === 'true';
      }
      case 'u8': case 's8': case 'u16': case 's16': case 'u32': case 's32': case 'u64': case 's64': {
        const m = /^-?[0-9]+/.exec(this.text.slice(this.pos));
        if (m === null || /^[.eE]/.test(this.text.slice(this.pos + m[0].length))) this.fail(`expected ${t.kind} (an integer), found ${this.found()}`);
        const n = BigInt(m[0]);
        const [lo, hi] = INT_RANGES[t.kind]!;
        if (n < lo || n > hi) this.fail(`${m[0]} does not fit ${t.kind} (${lo} to ${hi})`);
        this.pos += m[0].length;
        return t.kind === 'u64' || t.kind === 's64' ? n : Number(n);
      }
      case 'f32': case 'f64': {
        const m = /^(-?inf|nan|-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?)/.exec(this.text.slice(this.pos));
        if (m === null) this.fail(`expected ${t.kind} (a number, nan, inf or -inf), found ${this.found()}`);
        this.pos += m[0].length;
        const x = m[0] === 'nan' ? NaN : m[0] === 'inf' ? Infinity : m[0] === '-inf' ? -Infinity : Number(m[0]);
        return t.kind === 'f32' ? Math.fround(x) : x;
      }
      case 'char': {
        if (c !== "'") this.fail(`expected char (like 'x'), found ${this.found()}`);
        const s = this.quoted("'");
        if ([...s].length !== 1) this.fail('a char holds exactly one Unicode scalar value', at);
        return s;
      }
      case 'string': {
        if (c !== '"') this.fail(`expected string (like "abc"), found ${this.found()}`);
        return this.quoted('"');
      }
      case 'list': {
        if (c !== '[') this.fail(`expected ${formatType(t)} (like [a, b]), found ${this.found()}`);
        this.pos++;
        const items: unknown[] = [];
        this.seq(']', () => items.push(this.value(t.of)));
        if (t.length !== undefined && items.length !== t.length) this.fail(`expected ${t.length} elements, found ${items.length}`, at);
        const typed = TYPED_LISTS[t.of.kind];
        return typed !== undefined ? new typed(items as never) : items;
      }
      case 'tuple': {
        if (c !== '(') this.fail(`expected ${formatType(t)} (like (a, b)), found ${this.found()}`);
        this.pos++;
        const items: unknown[] = [];
        this.seq(')', (i) => {
          if (i >= t.of.length) this.fail(`too many elements for ${formatType(t)}`);
          items.push(this.value(t.of[i]!));
        });
        if (items.length !== t.of.length) this.fail(`expected ${t.of.length} elements for ${formatType(t)}, found ${items.length}`, at);
        return items;
      }
      case 'record': {
        if (c !== '{') this.fail(`expected ${formatType(t)} (like {field: value}), found ${this.found()}`);
        this.pos++;
        const out: Record<string, unknown> = {};
        const seen = new Set<string>();
        if (this.peek() === ':') {
          this.pos++;
          this.expect('}');
        } else {
          this.seq('}', () => {
            const l = this.label();
            const field = t.fields.find(([n]) => n === l.text);
            if (field === undefined) this.fail(`${formatType(t)} has no field '${l.text}' (fields: ${t.fields.map(([n]) => n).join(', ')})`, l.at);
            if (seen.has(l.text)) this.fail(`field '${l.text}' given twice`, l.at);
            seen.add(l.text);
            this.expect(':');
            out[camelCase(l.text)] = this.value(field[1]);
          });
        }
        for (const [n, ft] of t.fields) {
          if (seen.has(n)) continue;
          if (ft.kind !== 'option') this.fail(`field '${n}' of ${formatType(t)} is missing`, at);
          out[camelCase(n)] = undefined;
        }
        return out;
      }
      case 'variant': {
        const l = this.label();
        const cs = t.cases.find(([n]) => n === l.text);
        if (cs === undefined || (KEYWORDS.has(l.text) && !l.escaped)) this.fail(`expected a case of ${formatType(t)} (${t.cases.map(([n]) => labelText(n)).join(', ')}), found '${l.text}'`, l.at);
        if (cs[1] === null) {
          if (this.peek() === '(') this.fail(`case '${l.text}' has no payload`);
          return { tag: l.text };
        }
        this.expect('(');
        const val = this.value(cs[1]);
        this.expect(')');
        return { tag: l.text, val };
      }
      case 'enum': {
        const l = this.label();
        if (!t.cases.includes(l.text) || (KEYWORDS.has(l.text) && !l.escaped)) this.fail(`expected a case of ${formatType(t)} (${t.cases.map(labelText).join(', ')}), found '${l.text}'`, l.at);
        return l.text;
      }
      case 'flags': {
        if (c !== '{') this.fail(`expected ${formatType(t)} (like {a, b} or {}), found ${this.found()}`);
        this.pos++;
        const out: Record<string, boolean> = Object.fromEntries(t.names.map((n) => [camelCase(n), false]));
        this.seq('}', () => {
          const l = this.label();
          if (!t.names.includes(l.text)) this.fail(`${formatType(t)} has no flag '${l.text}' (flags: ${t.names.join(', ')})`, l.at);
          out[camelCase(l.text)] = true;
        });
        return out;
      }
      case 'option': {
        const word = /^(some|none)\b/.exec(this.text.slice(this.pos));
        const nested = t.of.kind === 'option';
        if (word?.[1] === 'none') {
          this.pos += 4;
          return nested ? { tag: 'none' } : undefined;
        }
        if (word?.[1] === 'some') {
          this.pos += 4;
          this.expect('(');
          const val = this.value(t.of);
          this.expect(')');
          return nested ? { tag: 'some', val } : val;
        }
        if (isOptionOrResult(t.of)) this.fail(`expected ${formatType(t)} (some(...) or none), found ${this.found()}`);
        return this.value(t.of);
      }
      case 'result': {
        const word = /^(ok|err)\b/.exec(this.text.slice(this.pos));
        if (word !== null) {
          const tag = word[1] as 'ok' | 'err';
          this.pos += tag.length;
          const payload = tag === 'ok' ? t.ok : t.err;
          if (payload === null) {
            if (this.peek() === '(') this.fail(`${tag} of ${formatType(t)} has no payload`);
            return { tag };
          }
          this.expect('(');
          const val = this.value(payload);
          this.expect(')');
          return { tag, val };
        }
        if (t.ok === null || isOptionOrResult(t.ok)) this.fail(`expected ${formatType(t)} (ok(...) or err(...)), found ${this.found()}`);
        return { tag: 'ok', val: this.value(t.ok) };
      }
      default: return this.fail(`a ${formatType(t)} cannot be written in WAVE`);
    }
  }
}

/** One value of type `t` from the whole text. `what` names it in errors ("argument 1 (v) of add"). */
export function parseWave(text: string, t: WitType, what = 'value'): unknown {
  const p = new WaveParser(text);
  return waveErrors(p, what, () => {
    const v = p.value(t);
    if (p.peek() !== '') p.fail(`unexpected ${p.found()} after the value`);
    return v;
  });
}

/** Runs `read`, turning a WAVE error into one BAD_ARGS line with the column and what was being read. */
export function waveErrors<T>(p: WaveParser, what: string, read: () => T): T {
  try {
    return read();
  } catch (e) {
    if (!(e instanceof WaveError)) throw e;
    throw new IsolaError('BAD_ARGS', `${what}: ${e.message} (at column ${e.at + 1} of ${JSON.stringify(p.text.length > 80 ? `${p.text.slice(0, 77)}...` : p.text)})`, { column: e.at + 1 });
  }
}
