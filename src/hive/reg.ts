/**
 * `.reg` text ("Windows Registry Editor Version 5.00"), written as regedit writes it and read as regedit reads it.
 *
 * Writing: UTF-16LE with a BOM, CRLF, one `[key]` section per key in hive order (parents first, subkeys sorted), each
 * followed by an empty line; values in stored order; `"text"` for REG_SZ data that round-trips as text, `dword:` for
 * 4-byte REG_DWORD, `hex:` for REG_BINARY and `hex(N):` for everything else, wrapped as regedit wraps: after a comma,
 * once the line reaches 77 characters, a `\` and a new line indented by two spaces (so 25 bytes per continuation line).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { inputFileError, WinlayerError } from '../errors.js';
import { escapeControls } from '../terminal-text.js';
import { equalUpcase } from '../windows/index.js';
import { builderFromHive, buildHive, DEFAULT_ROOT_SD, HiveBuilder, type HiveKeyBuilder } from './build.js';
import { DELTA_ACCESS_BITS, type KeyLayer } from './delta.js';
import { decodeUtf16, encodeUtf16, KEY_FLAG, VALUE_COMP_NAME, VALUE_TOMBSTONE, withLayerByte } from './layout.js';
import {
  type Hive,
  isTombstoneValue,
  keyAccessBits,
  keyClass,
  keyFlags,
  keyLayer,
  keyName as keyNameOf,
  keyPath,
  keySecurity,
  keyTimestamp,
  keyUserFlags,
  openHive,
  parent,
  root,
  valueData,
  valueFlags,
  valueName,
  values,
  valueType,
  walkKeys,
} from './read.js';
import { type HiveKey, REG, type RegChange } from './types.js';

/** Options of the `.reg` functions. */
export interface RegTextOptions {
  /**
   * The key path the hive's root stands for, e.g. `HKEY_LOCAL_MACHINE\SOFTWARE`. Writing: default the root key's
   * name. Reading/applying: every key must be under it; default `defaultPrefix` of the first key in the file (the
   * same rule for `hive new --from` and `hive merge`).
   */
  readonly prefix?: string;
  /**
   * Reading: called with the list of what the file's source hive had that `.reg` cannot carry (the
   * `; winlayer: not carried by .reg: …` comment `toRegText` writes), e.g. `class names (2 keys)`.
   */
  readonly onNote?: (notCarried: string) => void;
}

/** Root keys whose direct subkeys are where hives are loaded: `HKEY_LOCAL_MACHINE\SOFTWARE`, `HKEY_USERS\S-1-…`. */
const HIVE_MOUNTS = new Set(['HKEY_LOCAL_MACHINE', 'HKLM', 'HKEY_USERS', 'HKU']);

/**
 * The key path a `.reg` file's first key shows the hive root as, when no prefix is given. A regedit export of a loaded
 * hive starts `HKEY_LOCAL_MACHINE\<name>\…` (or `HKEY_USERS\<name>\…`): the root is those two components. Any other
 * file (one `hive dump --reg` wrote starts with the root key's name; `HKEY_CURRENT_USER` is a hive root itself): its
 * first component.
 */
export function defaultPrefix(firstKeyPath: string): string {
  const parts = firstKeyPath.split('\\');
  const two = parts.length >= 2 && HIVE_MOUNTS.has(parts[0]!.toUpperCase()) && parts[1] !== '';
  return two ? `${parts[0]}\\${parts[1]}` : parts[0]!;
}

const HEADER_LINE = 'Windows Registry Editor Version 5.00';
const WRAP_AT = 77;

/**
 * A value name in quotes: `\` and `"` escaped as regedit does, and every control character (CR, LF, NUL, ESC…), bidi
 * control and lone surrogate as `escapeControls` writes it (`\n`, `\r`, `\t`, `\0`, `\xHH`, `\uHHHH`), which
 * `readQuoted` reads back. A name without any is written as regedit writes it.
 */
function quote(s: string): string {
  return `"${escapeControls(s.replace(/\\/g, '\\\\').replace(/"/g, '\\"'))}"`;
}

/**
 * Data that regedit would write as `"text"` and that reads back to the same bytes: one trailing NUL, no other, and
 * no control character (a string with one is written `hex(1):`, which every reader reads exactly).
 */
function asRegString(data: Uint8Array): string | undefined {
  if (data.length < 2 || data.length % 2 !== 0) return undefined;
  if (data[data.length - 1] !== 0 || data[data.length - 2] !== 0) return undefined;
  const s = decodeUtf16(data.subarray(0, data.length - 2));
  if (escapeControls(s) !== s) return undefined;
  return s;
}

/**
 * A key path component as written in a `[key]` line. A key name holds no backslash, so two backslashes (an empty
 * name, which no key has) start an escape: `\\xHH` or `\\uHHHH` for a control character, bidi control or lone
 * surrogate (a CR or LF would end the line), and for a `-` that starts the whole path (it would read as a deletion).
 */
function keyLineName(name: string, first: boolean): string {
  let out = name;
  if (escapeControls(name) !== name) {
    out = '';
    // by code point: a well-formed surrogate pair is printable and stays
    for (const c of name) out += escapeControls(c) === c ? c : keyLineEscape(c.charCodeAt(0));
  }
  return first && out.startsWith('-') ? `${keyLineEscape(0x2d)}${out.slice(1)}` : out;
}

/** `\\xHH` or `\\uHHHH`: one unit escaped in a `[key]` line. */
function keyLineEscape(unit: number): string {
  return unit <= 0xff ? `\\\\x${unit.toString(16).padStart(2, '0')}` : `\\\\u${unit.toString(16).padStart(4, '0')}`;
}

/**
 * Decodes the escapes of a `[key]` line's path (`keyLineName`): `\\xHH` and `\\uHHHH` become the unit; any other
 * backslash is a separator, as before. An escape that gives a backslash is refused (it would split the name).
 */
function decodeKeyLine(path: string, line: number): string {
  if (!path.includes('\\\\')) return path;
  return path.replace(/\\\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4})/g, (_, e: string) => {
    const unit = Number.parseInt(e.slice(1), 16);
    if (unit === 0x5c) throw syntax(line, 'an escape in a key path gives a backslash, which no key name holds');
    return String.fromCharCode(unit);
  });
}

function hexLines(head: string, data: Uint8Array): string {
  let out = head;
  let line = head.length;
  for (let i = 0; i < data.length; i++) {
    out += data[i]!.toString(16).padStart(2, '0');
    if (i === data.length - 1) break;
    out += ',';
    line += 3;
    if (line >= WRAP_AT) {
      out += '\\\r\n  ';
      line = 2;
    }
  }
  return out;
}

function valueLine(name: string, type: number, data: Uint8Array): string {
  const lhs = name === '' ? '@=' : `${quote(name)}=`;
  if (type === REG.SZ) {
    const s = asRegString(data);
    if (s !== undefined) return `${lhs}${quote(s)}`;
  }
  if (type === REG.DWORD && data.length === 4) {
    const n = new DataView(data.buffer, data.byteOffset, 4).getUint32(0, true);
    return `${lhs}dword:${n.toString(16).padStart(8, '0')}`;
  }
  const kind = type === REG.BINARY ? 'hex:' : `hex(${type.toString(16)}):`;
  return hexLines(`${lhs}${kind}`, data);
}

/**
 * The hive as `.reg` text, exactly as regedit exports it (CRLF line ends; encode with `toRegFile` for the UTF-16LE
 * file). Buffers the whole text (hives are small).
 */
export function toRegText(hive: Hive, opts: RegTextOptions = {}): string {
  const prefix = opts.prefix ?? keyLineName(keyNameOf(root(hive)), true);
  const parts: string[] = [HEADER_LINE];
  const lost = notCarried(hive);
  if (lost !== undefined) parts.push(`${NOTE_HEAD}${lost}`);
  parts.push('');
  for (const k of walkKeys(hive)) {
    const p = keyPath(k);
    const line = p === '' ? prefix : `${prefix}\\${keyLinePath(p)}`;
    const layer = keyLayer(k);
    if (layer !== undefined && !deltaKeyLines(k, layer, line, parts)) continue;
    parts.push(`[${line}]`);
    for (const v of values(k)) {
      if (isTombstoneValue(v)) parts.push(`${valueName(v) === '' ? '@' : quote(valueName(v))}=-`);
      else parts.push(valueLine(valueName(v), valueType(v), valueData(v)));
    }
    parts.push('');
  }
  return `${parts.join('\r\n')}\r\n`;
}

/**
 * The lines before a differencing hive's key (delta-hives.md §4, as `.reg` says it): a tombstone is `[-KEY]` and
 * nothing else (returns false); the top of a supersede-tree subtree is `[-KEY]` before its `[KEY]` (the subtree below
 * is replaced, and its keys follow as `[KEY]` lines); a supersede-local key, whose values replace all of the key
 * below, gets a comment (`.reg` cannot say "delete every other value"); a merge node is `[KEY]` alone. Returns whether
 * the key's `[KEY]` section follows.
 */
function deltaKeyLines(k: HiveKey, layer: KeyLayer, line: string, parts: string[]): boolean {
  const up = parent(k);
  switch (layer.semantics) {
    case 'tombstone':
      parts.push(`[-${line}]`, '');
      return false;
    case 'supersede-tree':
      if (up === undefined || keyLayer(up)?.semantics !== 'supersede-tree') parts.push(`[-${line}]`, '');
      return true;
    case 'supersede-local':
      parts.push(`${SUPERSEDE_LOCAL_NOTE}${line}`);
      return true;
    case 'merge':
      return true;
  }
}

/** The comment before a supersede-local key's section. */
const SUPERSEDE_LOCAL_NOTE = '; winlayer: supersede-local (its values and class replace those of the key below): ';

/** A key path below the root as written in a `[key]` line (names hold no backslash: splitting gives them back). */
function keyLinePath(path: string): string {
  if (escapeControls(path) === path) return path;
  return path
    .split('\\')
    .map((name) => keyLineName(name, false))
    .join('\\');
}

/** The comment that says what the source hive had that `.reg` cannot carry; `hive new` reads it (`onNote`). */
const NOTE_HEAD = '; winlayer: not carried by .reg: ';

/**
 * What of `hive` a `.reg` file cannot carry, as `class names (2 keys), last-write times (5 keys)`, or undefined when
 * there is nothing: classes, security descriptors other than the one a new hive gets, last-write times, key flags
 * beyond a new hive's, value flags.
 */
function notCarried(hive: Hive): string | undefined {
  let classes = 0;
  let sds = 0;
  let times = 0;
  let keyFlagsSet = 0;
  let valueFlagsSet = 0;
  for (const k of walkKeys(hive)) {
    if (keyClass(k) !== undefined) classes++;
    if (!sameBytes(keySecurity(k), DEFAULT_ROOT_SD)) sds++;
    if (keyTimestamp(k) !== 0n) times++;
    const plain = parent(k) === undefined ? NEW_ROOT_FLAGS : KEY_FLAG.COMP_NAME;
    // a differencing hive's layered-key byte and tombstone flags are what its `.reg` lines say, and its access bits
    // 0x2 what every delta key has (`writeDeltaHive` writes them again)
    const access = hive.layered ? withLayerByte(keyAccessBits(k), 0) : keyAccessBits(k);
    const plainAccess = access === 0 || (hive.layered && access === DELTA_ACCESS_BITS);
    if ((keyFlags(k) & ~plain) !== 0 || !plainAccess || keyUserFlags(k) !== 0) keyFlagsSet++;
    const carried = VALUE_COMP_NAME | (hive.layered ? VALUE_TOMBSTONE : 0);
    for (const v of values(k)) if ((valueFlags(v) & ~carried) !== 0) valueFlagsSet++;
  }
  const count = (n: number, what: string, of: string): string[] =>
    n === 0 ? [] : [`${what} (${n} ${of}${n === 1 ? '' : 's'})`];
  const parts = [
    ...count(classes, 'class names', 'key'),
    ...count(sds, 'security descriptors', 'key'),
    ...count(times, 'last-write times', 'key'),
    ...count(keyFlagsSet, 'key flags', 'key'),
    ...count(valueFlagsSet, 'value flags', 'value'),
  ];
  return parts.length === 0 ? undefined : parts.join(', ');
}

/** Root flags a new hive may have without anything to note: KEY_HIVE_ENTRY, KEY_NO_DELETE, KEY_COMP_NAME. */
const NEW_ROOT_FLAGS = KEY_FLAG.HIVE_ENTRY | KEY_FLAG.NO_DELETE | KEY_FLAG.COMP_NAME;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** `toRegText` encoded as regedit writes files: UTF-16LE with a byte-order mark. */
export function toRegFile(hive: Hive, opts: RegTextOptions = {}): Uint8Array {
  const body = encodeUtf16(toRegText(hive, opts));
  const out = new Uint8Array(body.length + 2);
  out[0] = 0xff;
  out[1] = 0xfe;
  out.set(body, 2);
  return out;
}

function syntax(line: number, rule: string): WinlayerError {
  return new WinlayerError('REG_SYNTAX', `line ${line}: ${rule}`, {
    hint: 'the file must be regedit format: "Windows Registry Editor Version 5.00", [key] lines and "name"=value lines',
  });
}

/** Reads a quoted string starting at `s[i] === '"'`; returns the text and the index after the closing quote. */
function readQuoted(s: string, i: number, line: number): [string, number] {
  let out = '';
  let from = i + 1;
  let j = from;
  while (j < s.length) {
    const c = s.charCodeAt(j);
    if (c === 0x5c && j + 1 < s.length) {
      const [unit, len] = quotedEscape(s, j + 1);
      out += s.slice(from, j) + unit;
      j += 1 + len;
      from = j;
      continue;
    }
    if (c === 0x22) return [out + s.slice(from, j), j + 1];
    j++;
  }
  throw syntax(line, 'a quoted string is not closed');
}

/**
 * The escape after a backslash at `s[at]` in quoted text: `\n`, `\r`, `\t`, `\0`, `\xHH`, `\uHHHH` (what `quote`
 * writes for control characters), else the character itself (`\\`, `\"`, as regedit). Returns the text and the
 * length read.
 */
function quotedEscape(s: string, at: number): [string, number] {
  const n = s[at]!;
  const short = QUOTED_SHORT[n];
  if (short !== undefined) return [short, 1];
  const digits = n === 'x' ? 2 : n === 'u' ? 4 : 0;
  const hex = s.slice(at + 1, at + 1 + digits);
  if (digits > 0 && hex.length === digits && /^[0-9a-fA-F]+$/.test(hex)) {
    return [String.fromCharCode(Number.parseInt(hex, 16)), 1 + digits];
  }
  return [n, 1];
}

const QUOTED_SHORT: Readonly<Record<string, string>> = { n: '\n', r: '\r', t: '\t', '0': '\0' };

/** The general hex-list reader (and the one that words the error); `parseHex` tries a fast scan first. */
function parseHexSlow(text: string, line: number): Uint8Array {
  const t = text.replace(/\s+/g, '');
  if (t === '') return new Uint8Array(0);
  const parts = t.split(',');
  if (parts[parts.length - 1] === '') parts.pop();
  const out = new Uint8Array(parts.length);
  parts.forEach((p, i) => {
    if (!/^[0-9a-fA-F]{1,2}$/.test(p)) throw syntax(line, `"${p}" is not a hex byte`);
    out[i] = Number.parseInt(p, 16);
  });
  return out;
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

/** `01,ff, 0a` (whitespace anywhere, one trailing comma allowed) → bytes. One pass, no intermediate strings. */
function parseHex(text: string, line: number): Uint8Array {
  let commas = 0;
  for (let i = text.indexOf(','); i >= 0; i = text.indexOf(',', i + 1)) commas++;
  const out = new Uint8Array(commas + 1);
  let n = 0;
  let digits = 0;
  let cur = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || (c >= 0x09 && c <= 0x0d)) continue;
    if (c === 0x2c) {
      if (digits === 0) return parseHexSlow(text, line);
      out[n++] = cur;
      cur = 0;
      digits = 0;
      continue;
    }
    const d = hexDigit(c);
    if (d < 0 || digits === 2) return parseHexSlow(text, line);
    cur = cur * 16 + d;
    digits++;
  }
  if (digits > 0) out[n++] = cur;
  return n === out.length ? out : out.slice(0, n);
}

/** Bytes decoded at a time: the text of a `.reg` file is never held whole. */
const DECODE_CHUNK = 1 << 20;

/**
 * The decoded text of a `.reg` byte stream, chunk by chunk (`next` yields byte chunks, which may reuse one buffer).
 * The encoding is chosen from the first bytes as regedit does: UTF-16LE after an FF FE mark or when the text starts
 * "W\0i\0"-like, Windows-1252 (regedit's ANSI code page) when it starts "REGEDIT4" without a mark, else UTF-8 (a
 * UTF-8 mark skipped). UTF-16LE units are kept as they are (an odd last byte dropped); malformed UTF-8 becomes U+FFFD.
 */
function decodedChunks(next: () => Uint8Array | undefined): () => string | undefined {
  let head = new Uint8Array(0);
  let ended = false;
  while (head.length < 4) {
    const more = next();
    if (more === undefined) {
      ended = true;
      break;
    }
    const h = new Uint8Array(head.length + more.length);
    h.set(head);
    h.set(more, head.length);
    head = h;
  }
  let decode: (bytes: Uint8Array) => string;
  let flush: () => string;
  let start = 0;
  if (head.length >= 2 && head[0] === 0xff && head[1] === 0xfe) start = 2;
  else if (head.length >= 3 && head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) start = 3;
  // "REGE": a REGEDIT4 file, which regedit reads in the ANSI code page (Windows-1252 here)
  const ansi =
    start === 0 && head.length >= 4 && head[0] === 0x52 && head[1] === 0x45 && head[2] === 0x47 && head[3] === 0x45;
  if (start === 2 || (start === 0 && head.length >= 4 && head[1] === 0 && head[3] === 0 && head[0] !== 0)) {
    let carry = -1;
    decode = (bytes) => {
      let b = bytes;
      if (carry >= 0) {
        b = new Uint8Array(bytes.length + 1);
        b[0] = carry;
        b.set(bytes, 1);
        carry = -1;
      }
      if (b.length % 2 !== 0) {
        carry = b[b.length - 1]!;
        b = b.subarray(0, b.length - 1);
      }
      return decodeUtf16(b);
    };
    flush = () => '';
  } else if (ansi) {
    decode = decodeAnsi;
    flush = () => '';
  } else {
    const td = new TextDecoder('utf-8', { fatal: false });
    decode = (bytes) => td.decode(bytes, { stream: true });
    flush = () => td.decode();
  }
  let first: Uint8Array | undefined = head.subarray(start);
  return () => {
    if (first !== undefined) {
      const f = first;
      first = undefined;
      return decode(f);
    }
    if (ended) return undefined;
    const more = next();
    if (more !== undefined) return decode(more);
    ended = true;
    return flush();
  };
}

/** Byte chunks of an in-memory input, `DECODE_CHUNK` at a time (views, no copies). */
function bytesSource(bytes: Uint8Array): () => Uint8Array | undefined {
  let at = 0;
  return () => {
    if (at >= bytes.length) return undefined;
    const c = bytes.subarray(at, at + DECODE_CHUNK);
    at += c.length;
    return c;
  };
}

/** The text of a `.reg` input, decoded a chunk at a time (a string is one chunk). */
function textSource(input: Uint8Array | string): () => string | undefined {
  if (typeof input !== 'string') return decodedChunks(bytesSource(input));
  let done = false;
  return () => {
    if (done) return undefined;
    done = true;
    return input;
  };
}

/**
 * The lines of a text (CRLF, LF or CR), one at a time, as `text.split(/\r\n|\n|\r/)` gives them, reading the text
 * chunk by chunk: only the current chunk and a partial line are held.
 */
class LineReader {
  #buf = '';
  #pos = 0;
  /** How far `#buf` has been searched for a line end without finding one. */
  #scanned = 0;
  #eof = false;
  /** 1-based number of the line last returned. */
  number = 0;

  constructor(readonly source: () => string | undefined) {}

  /** Appends the next chunk to what is left of the buffer; false at the end of the text. */
  #fill(): boolean {
    if (this.#eof) return false;
    const c = this.source();
    if (c === undefined) {
      this.#eof = true;
      return false;
    }
    this.#scanned -= this.#pos;
    this.#buf = this.#pos >= this.#buf.length ? c : this.#buf.slice(this.#pos) + c;
    this.#pos = 0;
    return true;
  }

  /** True when `next` returns another line (after a final line end there is one more, empty line). */
  hasNext(): boolean {
    return this.#pos <= this.#buf.length;
  }

  next(): string | undefined {
    for (;;) {
      const t = this.#buf;
      const n = t.length;
      const from = this.#pos;
      if (from > n) return undefined;
      let j = Math.max(from, this.#scanned);
      while (j < n) {
        const c = t.charCodeAt(j);
        if (c === 0x0a || c === 0x0d) break;
        j++;
      }
      if (j < n) {
        // a CR at the end of the buffer may be the first half of a CRLF
        if (t.charCodeAt(j) === 0x0d && j + 1 === n && !this.#eof) {
          this.#scanned = j;
          if (this.#fill()) continue;
        }
        const u = this.#buf;
        this.#pos = u.charCodeAt(j) === 0x0d && u.charCodeAt(j + 1) === 0x0a ? j + 2 : j + 1;
        this.#scanned = this.#pos;
        this.number++;
        return u.slice(from, j);
      }
      this.#scanned = j;
      if (this.#fill()) continue;
      this.#pos = n + 1;
      this.number++;
      return t.slice(from, n);
    }
  }
}

/** True when the line ends with a backslash, trailing whitespace aside. */
function endsWithBackslash(s: string): boolean {
  return s.trimEnd().endsWith('\\');
}

/**
 * The `.reg` reader: decodes the input once, then reads it line by line and hands each change to `emit`, with the
 * number of its line, as soon as it is read (nothing is collected). Value changes of one `[key]` section share its
 * path string. Throws `REG_SYNTAX` with the line number. The one reader of `.reg` text: `applyRegText`,
 * `applyRegFile` and the change sets of `changes.ts` all read through it.
 */
export function readRegChanges(
  input: Uint8Array | string | (() => string | undefined),
  emit: (change: RegChange, line: number) => void,
  onNote?: (notCarried: string) => void,
): void {
  try {
    readLines(new LineReader(typeof input === 'function' ? input : textSource(input)), emit, onNote);
  } finally {
    // RegExp's legacy statics (RegExp.lastMatch, $1…) keep the last string matched: a line, which is a slice of the
    // whole decoded text and so keeps all of it alive after the parse. Match something small to let it go.
    RELEASE_LAST_MATCH.exec('');
  }
}

const RELEASE_LAST_MATCH = /^/;

function readLines(
  lines: LineReader,
  emit: (change: RegChange, line: number) => void,
  onNote: ((notCarried: string) => void) | undefined,
): void {
  let first = lines.next();
  while (first !== undefined && first.trim() === '') first = lines.next();
  const head = (first ?? '').trim();
  if (head !== HEADER_LINE && head !== 'REGEDIT4') {
    const at = first === undefined ? lines.number + 1 : lines.number;
    throw syntax(at, `the first line is "${head.slice(0, 60)}", not "${HEADER_LINE}"`);
  }
  // REGEDIT4 is regedit's ANSI format: string data in hex form is ANSI bytes, stored as UTF-16LE on import
  const ansi = head === 'REGEDIT4';
  // value names repeat from key to key: keep one string per name
  const names = new Map<string, string>();
  let current: string | undefined;
  for (let raw = lines.next(); raw !== undefined; raw = lines.next()) {
    const lineNo = lines.number;
    let line = raw;
    // a value line continues while it ends with a backslash (hex wrapping)
    if (endsWithBackslash(raw) && !/^\s*\[/.test(raw) && lines.hasNext() && isHexValue(raw)) {
      // as `line = line.replace(/\\\s*$/, '') + next.trimStart()` while the joined line ends with "\\", but
      // without re-reading the joined line each time (quadratic for a big value)
      let parts = [raw.replace(/\\\s*$/, '')];
      for (;;) {
        const next = lines.next()!.trimStart();
        const more = next !== '' ? endsWithBackslash(next) : endsWithBackslash(parts.join(''));
        if (!more || !lines.hasNext()) {
          parts.push(next);
          break;
        }
        if (next !== '') parts.push(next.replace(/\\\s*$/, ''));
        else parts = [parts.join('').replace(/\\\s*$/, '')];
      }
      line = parts.join('');
    }
    const t = line.trim();
    if (t.startsWith(NOTE_HEAD)) onNote?.(t.slice(NOTE_HEAD.length).trim());
    if (t === '' || t.startsWith(';')) continue;
    if (t.startsWith('[')) {
      if (!t.endsWith(']')) throw syntax(lineNo, 'a key line must end with "]"');
      const inner = t.slice(1, -1);
      if (inner.startsWith('-')) {
        emit({ kind: 'deleteKey', path: decodeKeyLine(inner.slice(1), lineNo) }, lineNo);
        current = undefined;
      } else {
        if (inner === '') throw syntax(lineNo, 'empty key path');
        current = decodeKeyLine(inner, lineNo);
        emit({ kind: 'key', path: current }, lineNo);
      }
      continue;
    }
    let name: string;
    let rest: string;
    if (t.startsWith('@')) {
      name = '';
      rest = t.slice(1).trimStart();
    } else if (t.startsWith('"')) {
      const [n, j] = readQuoted(t, 0, lineNo);
      const known = names.get(n);
      if (known !== undefined) name = known;
      else {
        name = n;
        if (names.size < 4096) names.set(n, n);
      }
      rest = t.slice(j).trimStart();
    } else {
      throw syntax(lineNo, `expected [key], "name"=value or @=value, found "${t.slice(0, 40)}"`);
    }
    if (!rest.startsWith('=')) throw syntax(lineNo, 'expected "=" after the value name');
    rest = rest.slice(1).trim();
    if (current === undefined) throw syntax(lineNo, 'a value line before any [key] line (or after a [-key] line)');
    if (rest === '-') {
      emit({ kind: 'deleteValue', path: current, name }, lineNo);
      continue;
    }
    if (rest.startsWith('"')) {
      const [s, j] = readQuoted(rest, 0, lineNo);
      if (rest.slice(j).trim() !== '') throw syntax(lineNo, 'text after the closing quote');
      emit({ kind: 'value', path: current, name, type: REG.SZ, data: encodeUtf16(`${s}\0`) }, lineNo);
      continue;
    }
    const dw = /^dword:([0-9a-fA-F]{1,8})$/.exec(rest);
    if (dw !== null) {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, Number.parseInt(dw[1]!, 16), true);
      emit({ kind: 'value', path: current, name, type: REG.DWORD, data: b }, lineNo);
      continue;
    }
    const hx = /^hex(?:\(([0-9a-fA-F]{1,8})\))?:(.*)$/s.exec(rest);
    if (hx !== null) {
      const type = hx[1] === undefined ? REG.BINARY : Number.parseInt(hx[1], 16);
      const raw = parseHex(hx[2]!, lineNo);
      const data = ansi && ANSI_STRING_TYPES.has(type) ? ansiToUtf16(raw) : raw;
      emit({ kind: 'value', path: current, name, type, data }, lineNo);
      continue;
    }
    throw syntax(lineNo, `cannot read the value "${rest.slice(0, 40)}"`);
  }
}

/** Types whose `hex(N):` data a REGEDIT4 file holds as ANSI text (REG_SZ, REG_EXPAND_SZ, REG_MULTI_SZ). */
const ANSI_STRING_TYPES: ReadonlySet<number> = new Set([REG.SZ, REG.EXPAND_SZ, REG.MULTI_SZ]);

/** ANSI (Windows-1252) string bytes as the UTF-16LE bytes regedit stores for them (each NUL stays one NUL unit). */
function ansiToUtf16(raw: Uint8Array): Uint8Array {
  const out = new Uint8Array(raw.length * 2);
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i]!;
    const u = b >= 0x80 && b < 0xa0 ? CP1252_80_9F[b - 0x80]! : b;
    out[2 * i] = u & 0xff;
    out[2 * i + 1] = u >>> 8;
  }
  return out;
}

/**
 * Windows-1252's units for 0x80–0x9F (the rest is Latin-1), as MultiByteToWideChar maps them (the five unassigned
 * bytes to the C1 control of the same number). Node's `TextDecoder('windows-1252')` decodes as Latin-1, so not it.
 */
const CP1252_80_9F: readonly number[] = [
  0x20ac, 0x81, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8d, 0x017d,
  0x8f, 0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x9d,
  0x017e, 0x0178,
];

/** ANSI (Windows-1252) text. */
function decodeAnsi(bytes: Uint8Array): string {
  return decodeUtf16(ansiToUtf16(bytes));
}

/**
 * Parses `.reg` text (UTF-16LE with or without BOM, or UTF-8) into changes, in file order: key additions
 * (`[path]`), key deletions (`[-path]`), value settings and value deletions (`"name"=-`). Throws `REG_SYNTAX` with
 * the line number on malformed input. Holds every change in memory: to build a hive from a file, `applyRegText`
 * does the same work without the array.
 */
export function parseRegText(input: Uint8Array | string): RegChange[] {
  const changes: RegChange[] = [];
  readRegChanges(input, (c) => changes.push(c));
  return changes;
}

/**
 * True when a value line's data is `hex…:` (which may continue on the next lines). Read after the name, so a name
 * holding `=hex:` is not taken for one.
 */
function isHexValue(line: string): boolean {
  if (/^\s+[0-9a-fA-F]{2}/.test(line)) return true;
  const t = line.trimStart();
  let rest: string;
  if (t.startsWith('@')) rest = t.slice(1);
  else if (t.startsWith('"')) {
    try {
      rest = t.slice(readQuoted(t, 0, 0)[1]);
    } catch {
      return false; // the line is read again below, and the error reported with its number
    }
  } else return false;
  return /^\s*=\s*hex(\([0-9a-fA-F]+\))?:/.test(rest);
}

/** Strips `prefix` from a `.reg` key path; undefined when the path is not under it. */
function relative(path: string, prefix: string): string | undefined {
  if (equalUpcase(path, prefix)) return '';
  const head = path.slice(0, prefix.length + 1);
  if (head.length === prefix.length + 1 && head.endsWith('\\') && equalUpcase(head.slice(0, -1), prefix)) {
    return path.slice(prefix.length + 1);
  }
  return undefined;
}

/**
 * Applies changes one at a time to a builder. The key of a path is looked up once and reused while the following
 * changes name the same path (every value of a `[key]` section), until a key deletion.
 */
function regApplier(b: HiveBuilder, prefixOpt: string | undefined): (c: RegChange) => void {
  let prefix = prefixOpt;
  let lastPath: string | undefined;
  let lastKey: HiveKeyBuilder | undefined;
  return (c) => {
    prefix ??= defaultPrefix(c.path);
    if (c.kind === 'value' && c.path === lastPath) {
      lastKey!.setValue(c.name, c.type, c.data);
      return;
    }
    const rel = relative(c.path, prefix);
    if (rel === undefined) {
      throw new WinlayerError('REG_SYNTAX', `key "${c.path}" is not under the prefix "${prefix}"`, {
        hint: 'pass the prefix the .reg file uses for the hive root (--prefix)',
      });
    }
    switch (c.kind) {
      case 'key':
        lastKey = b.key(rel);
        lastPath = c.path;
        break;
      case 'deleteKey':
        if (rel === '') throw new WinlayerError('REG_SYNTAX', `cannot delete the root key "${c.path}"`);
        b.deleteKey(rel);
        lastPath = undefined;
        lastKey = undefined;
        break;
      case 'value':
        lastKey = b.key(rel);
        lastPath = c.path;
        lastKey.setValue(c.name, c.type, c.data);
        break;
      case 'deleteValue':
        b.findKey(rel)?.deleteValue(c.name);
        break;
    }
  };
}

/**
 * Applies `.reg` changes to a builder (or to an opened hive, which is first copied into a new builder) and returns
 * the builder. Keys are created as needed; deleting a missing key or value is not an error (regedit ignores it).
 * Throws `REG_SYNTAX` for a key outside the prefix and `HIVE_BUILD` for names the hive cannot hold.
 */
export function applyRegChanges(
  target: HiveBuilder | Hive,
  changes: readonly RegChange[],
  opts: RegTextOptions = {},
): HiveBuilder {
  const b = target instanceof HiveBuilder ? target : builderFromHive(target);
  const apply = regApplier(b, opts.prefix ?? (changes[0] === undefined ? '' : undefined));
  for (const c of changes) apply(c);
  return b;
}

/**
 * Reads a `.reg` file and applies each change to a builder (or to an opened hive, first copied into a new builder) as
 * soon as it is read: `applyRegChanges(target, parseRegText(input), opts)` without the array of changes, so the
 * memory used is the decoded text plus the builder. Returns the builder. Throws what both of those throw; on an
 * error, changes before it have been applied.
 */
export function applyRegText(
  target: HiveBuilder | Hive,
  input: Uint8Array | string,
  opts: RegTextOptions = {},
): HiveBuilder {
  const b = target instanceof HiveBuilder ? target : builderFromHive(target);
  readRegChanges(input, regApplier(b, opts.prefix), opts.onNote);
  return b;
}

/**
 * `applyRegText` reading the file at `path` a megabyte at a time: neither its bytes nor its text are held whole.
 * Throws `NOT_FOUND` / `SOURCE_UNREADABLE` when the file cannot be read, and what `applyRegText` throws.
 */
export function applyRegFile(target: HiveBuilder | Hive, path: string, opts: RegTextOptions = {}): HiveBuilder {
  const b = target instanceof HiveBuilder ? target : builderFromHive(target);
  readRegFile(path, regApplier(b, opts.prefix), opts.onNote);
  return b;
}

/**
 * `readRegChanges` over the file at `path`, read a megabyte at a time. Throws `NOT_FOUND` / `SOURCE_UNREADABLE` when
 * the file cannot be read.
 */
export function readRegFile(
  path: string,
  emit: (change: RegChange, line: number) => void,
  onNote?: (notCarried: string) => void,
): void {
  const fail = (e: unknown): never => {
    throw inputFileError(e, path);
  };
  let fd = -1;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    fail(e);
  }
  try {
    const chunk = new Uint8Array(DECODE_CHUNK);
    const next = (): Uint8Array | undefined => {
      let n: number;
      try {
        n = readSync(fd, chunk, 0, chunk.length, null);
      } catch (e) {
        return fail(e);
      }
      return n === 0 ? undefined : chunk.subarray(0, n);
    };
    readRegChanges(decodedChunks(next), emit, onNote);
  } finally {
    closeSync(fd);
  }
}

/**
 * Applies a `.reg` file to a hive and returns the new hive bytes: the same version (1.3 to 1.6) and, for a
 * differencing hive, the layered-keys flag; every key keeps its flags, access and layered bits, class, security descriptor and timestamp, every value its
 * flags (`builderFromHive`); new keys get `timestamp` (default 0). The `.reg` root is found as `hive new --from` finds
 * it (`defaultPrefix`) unless `prefix` is given. Throws what `openHive` and `applyRegText` throw.
 */
export function mergeReg(
  hiveBytes: Uint8Array,
  reg: Uint8Array | string,
  opts: RegTextOptions & { readonly timestamp?: bigint; readonly path?: string } = {},
): Uint8Array {
  const hive = openHive(hiveBytes, opts.path === undefined ? {} : { path: opts.path });
  if (hive.dirty) {
    throw new WinlayerError('HIVE_DIRTY', 'the hive needs transaction logs that are not here; refusing to rewrite it', {
      ...(opts.path === undefined ? {} : { path: opts.path }),
    });
  }
  const b = applyRegText(hive, reg, opts);
  // the builder keeps the hive's version and layered-keys flag (builderFromHive)
  return buildHive(b, opts.timestamp === undefined ? {} : { timestamp: opts.timestamp });
}
