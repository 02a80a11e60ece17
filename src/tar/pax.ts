/**
 * PAX extended header records (POSIX.1-2001 `pax`): `"<length> <key>=<value>\n"`, where `<length>` is the decimal
 * byte length of the whole record including itself. Pure: bytes ↔ records, no I/O; what the reader remembers
 * between blocks is a {@link PaxBlockMemo} it owns and passes.
 */
import type { PaxRecord } from '../entry.js';
import { WinlayerError } from '../errors.js';
import { compareUtf8 } from '../windows/index.js';
import { asciiText, decodeTextAt } from './header.js';

export type { PaxRecord } from '../entry.js';

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
  decodePaxInto(data, 0, data.length, ctx.entry, ctx.offset ?? 0, ctx.lenient === true, records, undefined);
  return records;
}

/** The POSIX keys that override ustar header fields or say how to read them (the reader decodes each itself). */
export const POSIX_PAX_KEYS = [
  'path',
  'linkpath',
  'size',
  'mtime',
  'atime',
  'ctime',
  'uid',
  'gid',
  'uname',
  'gname',
  'hdrcharset',
] as const;

/** PAX keys of the Windows layer format (`windows-pax.ts` decodes and encodes their values). */
export const PAX_KEYS = {
  fileattr: 'MSWINDOWS.fileattr',
  rawsd: 'MSWINDOWS.rawsd',
  sd: 'MSWINDOWS.sd',
  mountpoint: 'MSWINDOWS.mountpoint',
  xattrPrefix: 'MSWINDOWS.xattr.',
  creationtime: 'LIBARCHIVE.creationtime',
} as const;

/** PAX keys the reader meets on nearly every entry, as the constant strings (no decode, one identity), by length. */
const KNOWN_KEYS: readonly (readonly string[])[] = (() => {
  const keys = [
    ...POSIX_PAX_KEYS,
    PAX_KEYS.fileattr,
    PAX_KEYS.rawsd,
    PAX_KEYS.sd,
    PAX_KEYS.mountpoint,
    PAX_KEYS.creationtime,
  ];
  const byLen: string[][] = [];
  for (const k of keys) {
    while (byLen.length <= k.length) byLen.push([]);
    byLen[k.length]!.push(k);
  }
  return byLen;
})();

/** The known key spelled by `b[start, end)`, or undefined. */
function knownKey(b: Uint8Array, start: number, end: number): string | undefined {
  const cands = KNOWN_KEYS[end - start];
  if (cands === undefined) return undefined;
  for (let c = 0; c < cands.length; c++) {
    const k = cands[c]!;
    let i = 0;
    while (i < k.length && k.charCodeAt(i) === b[start + i]) i++;
    if (i === k.length) return k;
  }
  return undefined;
}

const SD_TEXTS_MAX = 16;

/**
 * What a reader remembers while it decodes the blocks of one archive, so that a repeated value becomes the same
 * string without a new decode: the last security descriptors (`MSWINDOWS.rawsd` texts, with their bytes; a layer
 * repeats a few dozen over thousands of entries, and the Windows decoder's memo then finds each by identity), and
 * where the values of the current block are (the four times of an entry are usually one string).
 */
export class PaxBlockMemo {
  readonly sdBytes: Uint8Array[] = [];
  readonly sdTexts: string[] = [];
  sdNext = 0;
  readonly seenStart: number[] = [];
  readonly seenLen: number[] = [];
  readonly seenText: string[] = [];

  /** The text of the first of the `seen` values of the current block with the bytes `b[vs, vs + vlen)`, if any. */
  seenValue(b: Uint8Array, vs: number, vlen: number, seen: number): string | undefined {
    for (let k = 0; k < seen; k++) {
      if (this.seenLen[k] !== vlen) continue;
      const o = this.seenStart[k]!;
      let j = 0;
      while (j < vlen && b[o + j] === b[vs + j]) j++;
      if (j === vlen) return this.seenText[k];
    }
    return undefined;
  }

  /** The text of a remembered security descriptor with the bytes `b[vs, vs + vlen)`, if any. */
  knownSd(b: Uint8Array, vs: number, vlen: number): string | undefined {
    const sdBytes = this.sdBytes;
    for (let k = 0; k < sdBytes.length; k++) {
      const c = sdBytes[k]!;
      if (c.length !== vlen) continue;
      let j = 0;
      while (j < vlen && c[j] === b[vs + j]) j++;
      if (j === vlen) return this.sdTexts[k];
    }
    return undefined;
  }

  rememberSd(b: Uint8Array, vs: number, vlen: number, text: string): void {
    if (vlen > 4096) return;
    this.sdBytes[this.sdNext] = b.slice(vs, vs + vlen);
    this.sdTexts[this.sdNext] = text;
    this.sdNext = (this.sdNext + 1) % SD_TEXTS_MAX;
  }
}

/**
 * {@link decodePax} of `b[start, end)`, appending the records to `out` (the reader's hot path: no view, no
 * intermediate array). `base` is the archive offset of `b[start]`, for errors. `memo`, kept by the reader across the
 * blocks of one archive, makes repeated values one string (the records are the same without it).
 */
export function decodePaxInto(
  b: Uint8Array,
  start: number,
  end: number,
  entry: string | undefined,
  base: number,
  lenient: boolean,
  out: PaxRecord[],
  memo: PaxBlockMemo | undefined,
): void {
  const fail = (rule: string, at: number): WinlayerError =>
    new WinlayerError('TAR_PAX', rule, { entry, offset: base + at });
  const length = end - start;
  let seen = 0;
  let pos = 0;
  while (pos < length) {
    if (b[start + pos] === 0) {
      for (let i = pos; i < length; i++) if (b[start + i] !== 0) throw fail('NUL byte inside the PAX records', i);
      break;
    }
    // The length: decimal digits then one space.
    let len = 0;
    let i = pos;
    for (;;) {
      if (i >= length) break;
      const c = b[start + i]!;
      if (c < 0x30 || c > 0x39) break;
      len = len * 10 + (c - 0x30);
      if (len > length) throw fail('PAX record length runs past the end of the header', pos);
      i++;
    }
    if (i === pos || b[start + i] !== 0x20) throw fail('PAX record does not start with "<length> "', pos);
    const recEnd = pos + len;
    if (len < i - pos + 4 || recEnd > length) throw fail(`PAX record length ${len} is invalid`, pos);
    if (b[start + recEnd - 1] !== 0x0a) throw fail(`PAX record of length ${len} does not end with a newline`, pos);
    // key = b[ks, eq), value = b[eq + 1, ve), absolute; ASCII noted on the way.
    const ks = start + i + 1;
    const ve = start + recEnd - 1;
    let eq = ks;
    let asciiKey = true;
    for (; eq < ve; eq++) {
      const c = b[eq]!;
      if (c === 0x3d) break;
      if (c > 0x7f) asciiKey = false;
    }
    if (eq === ks || eq === ve) throw fail('PAX record has no "key=" part', pos);
    let key = asciiKey ? knownKey(b, ks, eq) : undefined;
    if (key === undefined) key = asciiKey ? asciiText(b, ks, eq) : decodeTextAt(b, ks, eq, lenient);
    const vs = eq + 1;
    const vlen = ve - vs;
    // A repeated security descriptor, or the same bytes as a value before it in this block: the same string.
    let value: string | undefined;
    if (memo !== undefined) {
      if (key === PAX_KEYS.rawsd && vlen >= 16) value = memo.knownSd(b, vs, vlen);
      if (value === undefined && seen > 0) value = memo.seenValue(b, vs, vlen, seen);
    }
    if (value === undefined) {
      value = decodeTextAt(b, vs, ve, lenient);
      if (memo !== undefined && value !== undefined && vlen > 0) {
        // Only strictly decoded text (lenient text of bad bytes must not let a later strict read pass).
        if (key === PAX_KEYS.rawsd && vlen >= 16 && !lenient) memo.rememberSd(b, vs, vlen, value);
        if (seen < 16) {
          memo.seenStart[seen] = vs;
          memo.seenLen[seen] = vlen;
          memo.seenText[seen] = value;
          seen++;
        }
      }
    }
    if (key === undefined || value === undefined) throw fail('PAX record is not valid UTF-8', pos);
    out.push({ key, value });
    pos = recEnd;
  }
  memo?.seenText.fill('', 0, seen);
}

/*
 * The one PAX encoder. A record is `"%d %s=%s\n"` whose length counts its own digits ({@link paxRecordLength});
 * {@link putPaxRecord} writes it in place. The tar writer writes its records straight into its output buffer with it;
 * {@link encodePaxRecord} and {@link encodePax} are the same code into a new array.
 */

/** Throws `TAR_ENTRY` unless `key` can be a PAX key: not empty, no `=`, newline or NUL. */
export function checkPaxKey(key: string): void {
  if (key === '' || key.includes('=') || key.includes('\n') || key.includes('\0')) {
    throw new WinlayerError('TAR_ENTRY', `PAX key ${JSON.stringify(key)} is not valid`, {
      hint: 'a PAX key is non-empty and holds no "=", newline or NUL',
    });
  }
}

/** Length of the record of a key and value of `kv` UTF-8 bytes together: the length counts its own digits. */
export function paxRecordLength(kv: number): number {
  const body = kv + 3; // " ", "=", "\n"
  let digits = 1;
  for (let limit = 10; body + digits >= limit; limit *= 10) digits++;
  return body + digits;
}

/** UTF-8 byte length; a loop for short ASCII strings (the common case), the native count otherwise. */
export function utf8Length(s: string): number {
  if (s.length > 64) return Buffer.byteLength(s, 'utf8');
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return Buffer.byteLength(s, 'utf8');
  return s.length;
}

/**
 * Writes the record `key=value` at `pos` and returns the position after it. `kv` is the UTF-8 length of key and value
 * together (the caller measured it to size the block); when it equals their string lengths both are ASCII.
 */
export function putPaxRecord(buf: Buffer, pos: number, key: string, value: string, kv: number): number {
  const ascii = kv === key.length + value.length;
  let p = putDecimal(buf, pos, paxRecordLength(kv));
  buf[p++] = 0x20; // ' '
  p = putText(buf, p, key, ascii);
  buf[p++] = 0x3d; // '='
  p = putText(buf, p, value, ascii);
  buf[p++] = 0x0a; // '\n'
  return p;
}

/** Writes the positive integer `n` in decimal at `pos`; returns the position after it. */
function putDecimal(buf: Buffer, pos: number, n: number): number {
  let end = pos + 1;
  for (let v = n; v >= 10; v = Math.floor(v / 10)) end++;
  let v = n;
  for (let i = end - 1; i >= pos; i--) {
    buf[i] = 0x30 + (v % 10);
    v = Math.floor(v / 10);
  }
  return end;
}

/** Writes `s` at `pos` (a loop for short ASCII text, the native encoder otherwise); returns the position after it. */
function putText(buf: Buffer, pos: number, s: string, ascii: boolean): number {
  if (!ascii) return pos + buf.write(s, pos, 'utf8');
  if (s.length > 256) return pos + buf.write(s, pos, 'latin1');
  for (let i = 0; i < s.length; i++) buf[pos + i] = s.charCodeAt(i);
  return pos + s.length;
}

/** One record's bytes. Throws `TAR_ENTRY` for a key that cannot be a PAX key. */
export function encodePaxRecord(key: string, value: string): Uint8Array {
  return encodePax([{ key, value }]);
}

/** The bytes of a whole PAX block, records in the order given (the caller fixes the order). */
export function encodePax(records: readonly PaxRecord[]): Uint8Array {
  const kvs = new Array<number>(records.length);
  let len = 0;
  for (let i = 0; i < records.length; i++) {
    const { key, value } = records[i]!;
    checkPaxKey(key);
    kvs[i] = utf8Length(key) + utf8Length(value);
    len += paxRecordLength(kvs[i]!);
  }
  const out = Buffer.allocUnsafeSlow(len);
  let at = 0;
  for (let i = 0; i < records.length; i++) at = putPaxRecord(out, at, records[i]!.key, records[i]!.value, kvs[i]!);
  return new Uint8Array(out.buffer, 0, len);
}

/** Byte-wise (UTF-8) comparison of two keys: Go's `sort.Strings`, the order our writer uses. */
export function compareKeys(a: string, b: string): number {
  return compareUtf8(a, b);
}
