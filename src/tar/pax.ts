/**
 * PAX extended header records (POSIX.1-2001 `pax`): `"<length> <key>=<value>\n"`, where `<length>` is the decimal
 * byte length of the whole record including itself. Pure: bytes ↔ records, no I/O.
 */
import type { PaxRecord } from '../entry.js';
import { WinlayerError } from '../errors.js';
import { compareUtf8 } from '../windows/index.js';

export type { PaxRecord } from '../entry.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8Lenient = new TextDecoder('utf-8');
const encoder = new TextEncoder();

/** Where a PAX block sits, for error messages. */
export interface PaxContext {
  /** The entry (or header name) the records belong to. */
  readonly entry?: string;
  /** Byte offset of the PAX data in the archive. */
  readonly offset?: number;
  /** Decode invalid UTF-8 with U+FFFD instead of failing. */
  readonly lenient?: boolean;
}

/**
 * Decodes the data of an `x` or `g` header into records, in their stored order (duplicates kept). Strict: every
 * length must be decimal digits without sign, cover at least `"N k=\n"`, end exactly on a `\n` inside the data; every
 * key must be non-empty UTF-8. Throws `TAR_PAX` naming the record's offset. Trailing NUL padding after the last
 * record is accepted (some writers pad the block).
 */
export function decodePax(data: Uint8Array, ctx: PaxContext = {}): PaxRecord[] {
  const records: PaxRecord[] = [];
  const base = ctx.offset ?? 0;
  const fail = (rule: string, at: number): WinlayerError =>
    new WinlayerError('TAR_PAX', rule, { entry: ctx.entry, offset: base + at });
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) {
      for (let i = pos; i < data.length; i++) if (data[i] !== 0) throw fail('NUL byte inside the PAX records', i);
      break;
    }
    // The length: decimal digits then one space.
    let len = 0;
    let i = pos;
    while (i < data.length && data[i]! >= 0x30 && data[i]! <= 0x39) {
      len = len * 10 + (data[i]! - 0x30);
      if (len > data.length) throw fail('PAX record length runs past the end of the header', pos);
      i++;
    }
    if (i === pos || data[i] !== 0x20) throw fail('PAX record does not start with "<length> "', pos);
    const end = pos + len;
    if (len < i - pos + 4 || end > data.length) throw fail(`PAX record length ${len} is invalid`, pos);
    if (data[end - 1] !== 0x0a) throw fail(`PAX record of length ${len} does not end with a newline`, pos);
    const body = data.subarray(i + 1, end - 1);
    const eq = body.indexOf(0x3d);
    if (eq <= 0) throw fail('PAX record has no "key=" part', pos);
    const key = decode(body.subarray(0, eq), ctx.lenient);
    const value = decode(body.subarray(eq + 1), ctx.lenient);
    if (key === undefined || value === undefined) throw fail('PAX record is not valid UTF-8', pos);
    records.push({ key, value });
    pos = end;
  }
  return records;
}

function decode(bytes: Uint8Array, lenient = false): string | undefined {
  try {
    return (lenient ? utf8Lenient : utf8).decode(bytes);
  } catch {
    return undefined;
  }
}

/** One record's bytes: the length prefix counts its own digits. */
export function encodePaxRecord(key: string, value: string): Uint8Array {
  if (key === '' || key.includes('=') || key.includes('\n') || key.includes('\0')) {
    throw new WinlayerError('TAR_ENTRY', `PAX key ${JSON.stringify(key)} is not valid`, {
      hint: 'a PAX key is non-empty and holds no "=", newline or NUL',
    });
  }
  const body = encoder.encode(` ${key}=${value}\n`);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  const out = new Uint8Array(len);
  const prefix = String(len);
  for (let i = 0; i < prefix.length; i++) out[i] = prefix.charCodeAt(i);
  out.set(body, prefix.length);
  return out;
}

/** The bytes of a whole PAX block, records in the order given (the caller fixes the order). */
export function encodePax(records: readonly PaxRecord[]): Uint8Array {
  const parts = records.map((r) => encodePaxRecord(r.key, r.value));
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Byte-wise (UTF-8) comparison of two keys: Go's `sort.Strings`, the order our writer uses. */
export function compareKeys(a: string, b: string): number {
  return compareUtf8(a, b);
}
