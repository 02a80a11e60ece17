/**
 * `.reg` text ("Windows Registry Editor Version 5.00"), written as regedit writes it and read as regedit reads it.
 *
 * Writing: UTF-16LE with a BOM, CRLF, one `[key]` section per key in hive order (parents first, subkeys sorted), each
 * followed by an empty line; values in stored order; `"text"` for REG_SZ data that round-trips as text, `dword:` for
 * 4-byte REG_DWORD, `hex:` for REG_BINARY and `hex(N):` for everything else, wrapped as regedit wraps: after a comma,
 * once the line reaches 77 characters, a `\` and a new line indented by two spaces (so 25 bytes per continuation line).
 */
import { WinlayerError } from '../errors.js';
import { equalUpcase } from '../windows/index.js';
import { builderFromHive, buildHive, HiveBuilder } from './build.js';
import { decodeUtf16, encodeUtf16 } from './layout.js';
import {
  type Hive,
  keyName as keyNameOf,
  keyPath,
  openHive,
  root,
  valueData,
  valueName,
  values,
  valueType,
  walkKeys,
} from './read.js';
import { REG, type RegChange } from './types.js';

/** Options of the `.reg` functions. */
export interface RegTextOptions {
  /**
   * The key path the hive's root stands for, e.g. `HKEY_LOCAL_MACHINE\SOFTWARE`. Writing: default the root key's
   * name. Reading/applying: every key must be under it; default the first component of the first key in the file.
   */
  readonly prefix?: string;
}

const HEADER_LINE = 'Windows Registry Editor Version 5.00';
const WRAP_AT = 77;

function quote(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** Data that regedit would write as `"text"` and that reads back to the same bytes. */
function asRegString(data: Uint8Array): string | undefined {
  if (data.length < 2 || data.length % 2 !== 0) return undefined;
  if (data[data.length - 1] !== 0 || data[data.length - 2] !== 0) return undefined;
  const s = decodeUtf16(data.subarray(0, data.length - 2));
  if (/[\0\r\n]/.test(s)) return undefined;
  return s;
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
  const keys = [...walkKeys(hive)];
  const prefix = opts.prefix ?? rootNameOf(hive);
  const parts: string[] = [HEADER_LINE, ''];
  for (const k of keys) {
    const p = keyPath(k);
    parts.push(`[${p === '' ? prefix : `${prefix}\\${p}`}]`);
    for (const v of values(k)) parts.push(valueLine(valueName(v), valueType(v), valueData(v)));
    parts.push('');
  }
  return `${parts.join('\r\n')}\r\n`;
}

function rootNameOf(hive: Hive): string {
  return keyNameOf(root(hive));
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

function decodeRegBytes(bytes: Uint8Array | string): string {
  if (typeof bytes === 'string') return bytes;
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xfe) return decodeUtf16(bytes.subarray(2));
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    return new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(3));
  }
  // UTF-16LE without BOM: "W\0i\0"
  if (bytes.length >= 4 && bytes[1] === 0 && bytes[3] === 0 && bytes[0] !== 0) return decodeUtf16(bytes);
  return new TextDecoder('utf-8', { fatal: false }).decode(bytes);
}

function syntax(line: number, rule: string): WinlayerError {
  return new WinlayerError('REG_SYNTAX', `line ${line}: ${rule}`, {
    hint: 'the file must be regedit format: "Windows Registry Editor Version 5.00", [key] lines and "name"=value lines',
  });
}

/** Reads a quoted string starting at `s[i] === '"'`; returns the text and the index after the closing quote. */
function readQuoted(s: string, i: number, line: number): [string, number] {
  let out = '';
  let j = i + 1;
  while (j < s.length) {
    const c = s[j]!;
    if (c === '\\' && j + 1 < s.length) {
      const n = s[j + 1]!;
      out += n === 'n' ? '\n' : n === 'r' ? '\r' : n === '0' ? '\0' : n;
      j += 2;
      continue;
    }
    if (c === '"') return [out, j + 1];
    out += c;
    j++;
  }
  throw syntax(line, 'a quoted string is not closed');
}

function parseHex(text: string, line: number): Uint8Array {
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

/**
 * Parses `.reg` text (UTF-16LE with or without BOM, or UTF-8) into changes, in file order: key additions
 * (`[path]`), key deletions (`[-path]`), value settings and value deletions (`"name"=-`). Throws `REG_SYNTAX` with
 * the line number on malformed input.
 */
export function parseRegText(input: Uint8Array | string): RegChange[] {
  const text = decodeRegBytes(input);
  const raw = text.split(/\r\n|\n|\r/);
  const changes: RegChange[] = [];
  let i = 0;
  while (i < raw.length && raw[i]!.trim() === '') i++;
  const head = (raw[i] ?? '').trim();
  if (head !== HEADER_LINE && head !== 'REGEDIT4') {
    throw syntax(i + 1, `the first line is "${head.slice(0, 60)}", not "${HEADER_LINE}"`);
  }
  i++;
  let current: string | undefined;
  for (; i < raw.length; i++) {
    const lineNo = i + 1;
    let line = raw[i]!;
    // a value line continues while it ends with a backslash (hex wrapping)
    while (/\\\s*$/.test(line) && !/^\s*\[/.test(line) && i + 1 < raw.length && isHexValue(line)) {
      line = line.replace(/\\\s*$/, '') + raw[++i]!.trimStart();
    }
    const t = line.trim();
    if (t === '' || t.startsWith(';')) continue;
    if (t.startsWith('[')) {
      if (!t.endsWith(']')) throw syntax(lineNo, 'a key line must end with "]"');
      const inner = t.slice(1, -1);
      if (inner.startsWith('-')) {
        changes.push({ kind: 'deleteKey', path: inner.slice(1) });
        current = undefined;
      } else {
        if (inner === '') throw syntax(lineNo, 'empty key path');
        changes.push({ kind: 'key', path: inner });
        current = inner;
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
      name = n;
      rest = t.slice(j).trimStart();
    } else {
      throw syntax(lineNo, `expected [key], "name"=value or @=value, found "${t.slice(0, 40)}"`);
    }
    if (!rest.startsWith('=')) throw syntax(lineNo, 'expected "=" after the value name');
    rest = rest.slice(1).trim();
    if (current === undefined) throw syntax(lineNo, 'a value line before any [key] line (or after a [-key] line)');
    if (rest === '-') {
      changes.push({ kind: 'deleteValue', path: current, name });
      continue;
    }
    if (rest.startsWith('"')) {
      const [s, j] = readQuoted(rest, 0, lineNo);
      if (rest.slice(j).trim() !== '') throw syntax(lineNo, 'text after the closing quote');
      changes.push({ kind: 'value', path: current, name, type: REG.SZ, data: encodeUtf16(`${s}\0`) });
      continue;
    }
    const dw = /^dword:([0-9a-fA-F]{1,8})$/.exec(rest);
    if (dw !== null) {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, Number.parseInt(dw[1]!, 16), true);
      changes.push({ kind: 'value', path: current, name, type: REG.DWORD, data: b });
      continue;
    }
    const hx = /^hex(?:\(([0-9a-fA-F]{1,8})\))?:(.*)$/s.exec(rest);
    if (hx !== null) {
      const type = hx[1] === undefined ? REG.BINARY : Number.parseInt(hx[1], 16);
      changes.push({ kind: 'value', path: current, name, type, data: parseHex(hx[2]!, lineNo) });
      continue;
    }
    throw syntax(lineNo, `cannot read the value "${rest.slice(0, 40)}"`);
  }
  return changes;
}

function isHexValue(line: string): boolean {
  return /=\s*hex(\([0-9a-fA-F]+\))?:/.test(line) || /^\s+[0-9a-fA-F]{2}/.test(line);
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
  const prefix = opts.prefix ?? (changes[0] === undefined ? '' : changes[0].path.split('\\')[0]!);
  for (const c of changes) {
    const rel = relative(c.path, prefix);
    if (rel === undefined) {
      throw new WinlayerError('REG_SYNTAX', `key "${c.path}" is not under the prefix "${prefix}"`, {
        hint: 'pass the prefix the .reg file uses for the hive root (--prefix)',
      });
    }
    switch (c.kind) {
      case 'key':
        b.key(rel);
        break;
      case 'deleteKey':
        if (rel === '') throw new WinlayerError('REG_SYNTAX', `cannot delete the root key "${c.path}"`);
        b.deleteKey(rel);
        break;
      case 'value':
        b.key(rel).setValue(c.name, c.type, c.data);
        break;
      case 'deleteValue':
        b.findKey(rel)?.deleteValue(c.name);
        break;
    }
  }
  return b;
}

/**
 * Applies a `.reg` file to a hive and returns the new hive bytes: same version family (1.3 stays 1.3, others become
 * 1.5), same root flags, keys keep their timestamps; new keys get `timestamp` (default 0). Throws what `openHive`,
 * `parseRegText` and `applyRegChanges` throw.
 */
export function mergeReg(
  hiveBytes: Uint8Array,
  reg: Uint8Array | string,
  opts: RegTextOptions & { readonly timestamp?: bigint; readonly path?: string } = {},
): Uint8Array {
  const hive = openHive(hiveBytes, opts.path === undefined ? {} : { path: opts.path });
  if (hive.dirty) {
    throw new WinlayerError('HIVE_DIRTY', 'the hive is dirty (needs transaction logs); refusing to rewrite it', {
      ...(opts.path === undefined ? {} : { path: opts.path }),
    });
  }
  const b = applyRegChanges(
    hive,
    parseRegText(reg),
    opts.prefix === undefined ? { prefix: keyNameOf(root(hive)) } : opts,
  );
  return buildHive(b, {
    version: hive.version.minor === 3 ? '1.3' : '1.5',
    rootFlags: (hive.rootFlags & 0x4) !== 0 ? 0x2c : 0x20,
    ...(opts.timestamp === undefined ? {} : { timestamp: opts.timestamp }),
  });
}
