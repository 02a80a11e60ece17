/**
 * The 512-byte tar header block: one offset table, encode and decode. Pure: bytes and values in, bytes and values out.
 *
 * Numbers are octal ASCII (`0000644\0`) or, for values that do not fit, GNU base-256 (first byte 0x80 positive,
 * 0xff negative). Strings are NUL-terminated bytes; we decode them as UTF-8.
 */
import { WinlayerError } from '../errors.js';

/** Size of one tar block. */
export const BLOCK_SIZE = 512;

/** The ustar header layout (POSIX.1-1988 + GNU magic). Every field: byte offset and length. */
export const USTAR = {
  name: { at: 0, len: 100 },
  mode: { at: 100, len: 8 },
  uid: { at: 108, len: 8 },
  gid: { at: 116, len: 8 },
  size: { at: 124, len: 12 },
  mtime: { at: 136, len: 12 },
  chksum: { at: 148, len: 8 },
  typeflag: { at: 156, len: 1 },
  linkname: { at: 157, len: 100 },
  magic: { at: 257, len: 6 },
  version: { at: 263, len: 2 },
  uname: { at: 265, len: 32 },
  gname: { at: 297, len: 32 },
  devmajor: { at: 329, len: 8 },
  devminor: { at: 337, len: 8 },
  prefix: { at: 345, len: 155 },
  pad: { at: 500, len: 12 },
} as const;

export type UstarField = keyof typeof USTAR;

/** Largest size the 12-byte octal `size` field holds: 8 GiB − 1. Larger sizes go in a PAX `size` record. */
export const MAX_OCTAL_SIZE = 0o77777777777;

/** How the header block says it was written. */
export type HeaderFormat = 'ustar' | 'gnu' | 'v7';

/** One decoded header block. */
export interface TarHeader {
  readonly name: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Bytes of data that follow (for types that carry data); at most 2^53 − 1. */
  readonly size: number;
  /** Whole seconds since the Unix epoch (negative with GNU base-256). */
  readonly mtime: number;
  /** One character; `'\0'` for an old regular file. */
  readonly typeflag: string;
  readonly linkname: string;
  readonly uname: string;
  readonly gname: string;
  readonly devmajor: number;
  readonly devminor: number;
  readonly format: HeaderFormat;
}

/** The header fields {@link encodeHeader} writes. Strings must be ASCII and fit their field (callers use PAX else). */
export interface HeaderFields {
  readonly name: string;
  readonly mode: number;
  readonly size: number;
  /** Whole seconds; written as 0 when negative or too large (a PAX `mtime` record then carries it). */
  readonly mtime: number;
  readonly typeflag: string;
  readonly linkname?: string;
}

const MAGIC_USTAR = 'ustar\u0000';

/** True when the block is all zero bytes (an end-of-archive block). */
export function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < BLOCK_SIZE; i++) if (block[i] !== 0) return false;
  return true;
}

/**
 * The checksum of a header block: the unsigned sum of all bytes with the `chksum` field counted as spaces. Also
 * returns the signed sum, which some historic tars wrote.
 */
export function headerChecksum(block: Uint8Array): { unsigned: number; signed: number } {
  let sum = 0;
  let high = 0;
  for (let i = 0; i < BLOCK_SIZE; i++) {
    const b = block[i]!;
    sum += b;
    high += b >> 7;
  }
  const { at, len } = USTAR.chksum;
  for (let i = at; i < at + len; i++) {
    const b = block[i]!;
    sum -= b;
    high -= b >> 7;
  }
  const unsigned = sum + len * 0x20;
  return { unsigned, signed: unsigned - 256 * high };
}

/** {@link headerChecksum}'s unsigned sum alone of the block at `p` (the reader's hot path: a word a load when aligned). */
function unsignedChecksumAt(b: Uint8Array, p: number, w: Uint32Array | undefined): number {
  let sum = 0;
  if (w !== undefined && (p & 3) === 0) {
    // Four bytes a load: two accumulators of two 16-bit lanes each (128 words × 255 fit a lane).
    let even = 0;
    let odd = 0;
    const end = (p >> 2) + BLOCK_SIZE / 4;
    for (let k = p >> 2; k < end; k++) {
      const v = w[k]!;
      even += v & 0x00ff00ff;
      odd += (v >>> 8) & 0x00ff00ff;
    }
    sum = (even & 0xffff) + (even >>> 16) + (odd & 0xffff) + (odd >>> 16);
  } else {
    const end = p + BLOCK_SIZE;
    for (let i = p; i < end; i++) sum += b[i]!;
  }
  const at = p + 148;
  for (let i = at; i < at + 8; i++) sum -= b[i]!;
  return sum + 8 * 0x20;
}

/** A field's raw bytes up to its first NUL. */
function fieldBytes(block: Uint8Array, field: UstarField): Uint8Array {
  const { at, len } = USTAR[field];
  const end = block.indexOf(0, at);
  return block.subarray(at, end === -1 || end > at + len ? at + len : end);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8Lenient = new TextDecoder('utf-8');

/** Node's native latin1 slice (a copy of one-byte characters), when this runtime has it; it works on any Uint8Array. */
const latin1Slice = (
  Buffer.prototype as unknown as { latin1Slice?: (this: Uint8Array, s: number, e: number) => string }
).latin1Slice;

/** The characters of `b[start, end)`, which the caller found to be ASCII. */
export function asciiText(b: Uint8Array, start: number, end: number): string {
  if (end - start <= 0) return '';
  if (latin1Slice !== undefined) return latin1Slice.call(b, start, end);
  return String.fromCharCode.apply(null, b.subarray(start, end) as unknown as number[]);
}

/** UTF-8 text of `b[start, end)`; undefined for invalid UTF-8 unless `lenient` (then U+FFFD). */
export function decodeTextAt(b: Uint8Array, start: number, end: number, lenient: boolean): string | undefined {
  // ASCII (nearly every header field and PAX record): the bytes are the UTF-16 units; no decoder call.
  let i = start;
  while (i < end && b[i]! < 0x80) i++;
  if (i === end) return asciiText(b, start, end);
  try {
    return (lenient ? utf8Lenient : utf8).decode(b.subarray(start, end));
  } catch {
    return undefined;
  }
}

/** UTF-8 text of `bytes`; undefined for invalid UTF-8 unless `lenient` (then U+FFFD). */
export function decodeText(bytes: Uint8Array, lenient = false): string | undefined {
  return decodeTextAt(bytes, 0, bytes.length, lenient);
}

/**
 * Parses a numeric field: octal ASCII (leading spaces, then digits, then only NULs or spaces; all-blank means 0) or
 * GNU base-256 (big-endian two's complement after the 0x80 / 0xff marker). Returns undefined when malformed or
 * beyond ±2^53.
 */
export function parseNumeric(block: Uint8Array, field: UstarField): number | undefined {
  const { at, len } = USTAR[field];
  return parseNumericAt(block, at, at + len);
}

/** {@link parseNumeric} of the field at `b[at, end)`. */
function parseNumericAt(b: Uint8Array, at: number, end: number): number | undefined {
  const first = b[at]!;
  if (first === 0x80 || first === 0xff) {
    let v = BigInt(first & 0x7f) - (first === 0xff ? 0x80n : 0n);
    for (let i = at + 1; i < end; i++) v = (v << 8n) | BigInt(b[i]!);
    return v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(v);
  }
  let i = at;
  while (i < end && b[i] === 0x20) i++;
  let v = 0;
  while (i < end) {
    const c = b[i]!;
    if (c < 0x30 || c > 0x37) break;
    v = v * 8 + (c - 0x30);
    i++;
  }
  for (; i < end; i++) {
    const c = b[i]!;
    if (c !== 0 && c !== 0x20) return undefined;
  }
  return v;
}

function headerError(what: string, offset: number, block?: Uint8Array): WinlayerError {
  return new WinlayerError('TAR_HEADER', what, { offset, entry: block === undefined ? undefined : guessName(block) });
}

/** The name field of a broken header, for error messages: only when it is printable ASCII. */
function guessName(block: Uint8Array): string | undefined {
  const bytes = fieldBytes(block, 'name');
  if (bytes.length === 0) return undefined;
  for (const b of bytes) if (b < 0x20 || b > 0x7e) return undefined;
  return String.fromCharCode(...bytes);
}

/**
 * Decodes one header block. Checks the checksum (`TAR_CHECKSUM`) and every numeric field (`TAR_HEADER`). The caller
 * must have checked that the block is not a zero block. `offset` (the block's place in the archive) goes into errors.
 */
export function decodeHeader(block: Uint8Array, offset: number, lenient = false): TarHeader {
  if (block.length < BLOCK_SIZE) throw new WinlayerError('TAR_TRUNCATED', 'incomplete header block', { offset });
  return decodeHeaderAt(block, 0, offset, lenient);
}

/**
 * {@link decodeHeader} of the block at `b[p, p + 512)` (the caller checked that it is there): the reader decodes
 * headers in place, without a view per block. `words`, when given, is a `Uint32Array` over the same bytes as `b`
 * (same start), for a faster checksum.
 */
export function decodeHeaderAt(
  b: Uint8Array,
  p: number,
  offset: number,
  lenient: boolean,
  words?: Uint32Array,
): TarHeader {
  const stored = parseNumericAt(b, p + 148, p + 156);
  // The unsigned sum alone first (every writer we know uses it); the signed one only when that does not match.
  if (stored === undefined || stored !== unsignedChecksumAt(b, p, words)) {
    const block = b.subarray(p, p + BLOCK_SIZE);
    if (stored === undefined || stored !== headerChecksum(block).signed) {
      const sum = headerChecksum(block);
      throw new WinlayerError(
        'TAR_CHECKSUM',
        stored === undefined
          ? 'not a tar header: its checksum field holds no number'
          : `header checksum ${stored} does not match the header's bytes (sum ${sum.unsigned})`,
        {
          offset,
          entry: guessName(block),
          hint: 'the archive is corrupt or not a tar file',
        },
      );
    }
  }
  const m = p + 257;
  let format: HeaderFormat;
  if (b[m] === 0x75 && b[m + 1] === 0x73 && b[m + 2] === 0x74 && b[m + 3] === 0x61 && b[m + 4] === 0x72) {
    if (b[m + 5] === 0) format = 'ustar';
    else if (b[m + 5] === 0x20) format = 'gnu';
    else throw badMagic(b, p, offset);
  } else if (b[m] === 0 && b[m + 1] === 0 && b[m + 2] === 0 && b[m + 3] === 0 && b[m + 4] === 0 && b[m + 5] === 0) {
    format = 'v7';
  } else {
    throw badMagic(b, p, offset);
  }

  const U32 = 0xffffffff;
  const tf = b[p + 156]!;
  const typeflag = tf < 0x80 ? ASCII_CHARS[tf]! : String.fromCharCode(tf);
  let name = b[p] === 0 ? '' : strAt(b, p, 0, 100, 'name', offset, lenient);
  const ext = format !== 'v7';
  if (format === 'ustar' && b[p + 345] !== 0) name = `${strAt(b, p, 345, 155, 'prefix', offset, lenient)}/${name}`;
  const mode = numAt(b, p, 100, 8, 'mode', 0, 0o7777777, offset);
  const uid = numAt(b, p, 108, 8, 'uid', 0, U32, offset);
  const gid = numAt(b, p, 116, 8, 'gid', 0, U32, offset);
  const size = numAt(b, p, 124, 12, 'size', 0, Number.MAX_SAFE_INTEGER, offset);
  const mtime = numAt(b, p, 136, 12, 'mtime', -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, offset);
  const linkname = b[p + 157] === 0 ? '' : strAt(b, p, 157, 100, 'linkname', offset, lenient);
  const uname = !ext || b[p + 265] === 0 ? '' : strAt(b, p, 265, 32, 'uname', offset, lenient);
  const gname = !ext || b[p + 297] === 0 ? '' : strAt(b, p, 297, 32, 'gname', offset, lenient);
  const devmajor = ext ? numAt(b, p, 329, 8, 'devmajor', 0, U32, offset) : 0;
  const devminor = ext ? numAt(b, p, 337, 8, 'devminor', 0, U32, offset) : 0;
  return { name, mode, uid, gid, size, mtime, typeflag, linkname, uname, gname, devmajor, devminor, format };
}

/** One-character strings of the ASCII codes (typeflags). */
const ASCII_CHARS: readonly string[] = Array.from({ length: 0x80 }, (_, i) => String.fromCharCode(i));

function badMagic(b: Uint8Array, p: number, offset: number): WinlayerError {
  const block = b.subarray(p, p + BLOCK_SIZE);
  return headerError(`unknown header magic ${JSON.stringify(magicText(block))}`, offset, block);
}

function numAt(
  b: Uint8Array,
  p: number,
  at: number,
  len: number,
  field: UstarField,
  min: number,
  max: number,
  offset: number,
): number {
  const s = p + at;
  // Fast path: zero-padded octal digits then a NUL or space (what every writer we know produces).
  let v = 0;
  let i = s;
  const last = s + len - 1;
  for (; i < last; i++) {
    const c = b[i]!;
    if (c < 0x30 || c > 0x37) break;
    v = v * 8 + (c - 0x30);
  }
  if (i === last && i > s && (b[i] === 0 || b[i] === 0x20) && v <= max) return v;
  const parsed = parseNumericAt(b, s, s + len);
  if (parsed === undefined) {
    throw headerError(`the ${field} field is not an octal or base-256 number`, offset, b.subarray(p, p + BLOCK_SIZE));
  }
  if (parsed < min || parsed > max) {
    throw headerError(`the ${field} field ${parsed} is out of range`, offset, b.subarray(p, p + BLOCK_SIZE));
  }
  return parsed;
}

/** The string field at `p + at` (`len` bytes, NUL-terminated unless full), whose first byte is not NUL. */
function strAt(
  b: Uint8Array,
  p: number,
  at: number,
  len: number,
  field: UstarField,
  offset: number,
  lenient: boolean,
): string {
  const s = p + at;
  const limit = s + len;
  let end = s;
  let ascii = true;
  for (; end < limit; end++) {
    const c = b[end]!;
    if (c === 0) break;
    if (c > 0x7f) ascii = false;
  }
  if (ascii) return asciiText(b, s, end);
  const text = decodeTextAt(b, s, end, lenient);
  if (text === undefined) {
    throw headerError(`the ${field} field is not valid UTF-8`, offset, b.subarray(p, p + BLOCK_SIZE));
  }
  return text;
}

function magicText(block: Uint8Array): string {
  return String.fromCharCode(...block.subarray(USTAR.magic.at, USTAR.magic.at + USTAR.magic.len));
}

/** Writes `text` (ASCII) into a field, NUL-padded; longer text is truncated (callers put the full value in PAX). */
/** Writes `text` into a field (ASCII, NUL-padded, truncated); returns the sum of the bytes written. */
function putString(block: Uint8Array, field: UstarField, text: string): number {
  const { at, len } = USTAR[field];
  const n = Math.min(text.length, len);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i) & 0x7f;
    block[at + i] = c;
    sum += c;
  }
  return sum;
}

/** Writes a number as zero-padded octal with a trailing NUL (`0000644\0`), as Go does; returns the byte sum. */
export function putOctal(block: Uint8Array, field: UstarField, value: number): number {
  const { at, len } = USTAR[field];
  let v = value;
  let sum = 0;
  block[at + len - 1] = 0;
  for (let i = at + len - 2; i >= at; i--) {
    const c = 0x30 + (v % 8);
    block[i] = c;
    sum += c;
    v = Math.floor(v / 8);
  }
  return sum;
}

/** Largest whole-second time the octal `mtime` field holds. */
const MAX_OCTAL_TIME = 0o77777777777;

/** The constant part of every header we write: uid/gid 0, ustar magic and version, device numbers 0. */
const TEMPLATE: Uint8Array = (() => {
  const b = new Uint8Array(BLOCK_SIZE);
  putOctal(b, 'uid', 0);
  putOctal(b, 'gid', 0);
  putString(b, 'magic', MAGIC_USTAR);
  putString(b, 'version', '00');
  putOctal(b, 'devmajor', 0);
  putOctal(b, 'devminor', 0);
  return b;
})();

/** The byte sum of {@link TEMPLATE} with its checksum field counted as spaces. */
const TEMPLATE_SUM = headerChecksum(TEMPLATE).unsigned;

/**
 * Encodes a ustar header into `block` (512 bytes, overwritten whole): ustar magic, uid/gid 0, empty user and group
 * names, device numbers 0, the checksum last. Names must already be ASCII and ≤ 100 bytes (or truncated on purpose,
 * with a PAX record carrying the real value); sizes over {@link MAX_OCTAL_SIZE} are written as 0 for the same reason.
 */
export function encodeHeader(block: Uint8Array, h: HeaderFields): void {
  encodeHeaderAt(block, 0, h.name, -1, h.mode, h.size, h.mtime, h.typeflag.charCodeAt(0) & 0xff, h.linkname);
}

/** `PaxHeaders.0/`, the folder Go puts the `x` header of an entry in. */
const PAX_DIR = 'PaxHeaders.0/';

/**
 * {@link encodeHeader} of the block at `buf[at, at + 512)`, with the fields as arguments (the writer's hot path: no
 * object, no view). `typeflag` is the flag's byte. With `paxAt` ≥ 0 the name written is `name` with `PaxHeaders.0/`
 * inserted before its character `paxAt` (the caller checked that the result is ASCII and fits).
 */
export function encodeHeaderAt(
  buf: Uint8Array,
  at: number,
  name: string,
  paxAt: number,
  mode: number,
  size: number,
  mtime: number,
  typeflag: number,
  linkname: string | undefined,
): void {
  // The checksum is the template's sum plus what we write (the template holds zeros where we write).
  let sum: number;
  const t = templateOf(mode, typeflag);
  if (t !== undefined) {
    buf.set(t.bytes, at);
    sum = t.sum;
  } else {
    buf.set(TEMPLATE, at);
    sum = TEMPLATE_SUM + putOctalAt(buf, at + 100, 8, mode) + typeflag;
    buf[at + 156] = typeflag;
  }
  if (paxAt < 0) {
    sum += putText(buf, at, name, 0, name.length, 100);
  } else {
    let p = at;
    sum += putText(buf, p, name, 0, paxAt, 100);
    p += paxAt;
    sum += putText(buf, p, PAX_DIR, 0, PAX_DIR.length, 100 - paxAt);
    p += PAX_DIR.length;
    sum += putText(buf, p, name, paxAt, name.length, 100 - paxAt - PAX_DIR.length);
  }
  sum += putOctalAt(buf, at + 124, 12, size > MAX_OCTAL_SIZE ? 0 : size);
  sum += putOctalAt(buf, at + 136, 12, mtime < 0 || mtime > MAX_OCTAL_TIME ? 0 : mtime);
  if (linkname !== undefined) sum += putText(buf, at + 157, linkname, 0, linkname.length, 100);
  // Go and GNU tar: six octal digits, NUL, space.
  const c = at + 148;
  for (let i = 5; i >= 0; i--) {
    buf[c + i] = 0x30 + (sum & 7);
    sum >>>= 3;
  }
  buf[c + 6] = 0;
  buf[c + 7] = 0x20;
}

/** A header template with the mode and type flag filled in, and its sum. */
interface Template {
  readonly bytes: Uint8Array;
  readonly sum: number;
}

/** Templates by mode and type flag: a tar uses a handful. */
const templates = new Map<number, Template>();

/** The template of a mode and type flag (undefined for a mode that is not a plain octal number). */
function templateOf(mode: number, typeflag: number): Template | undefined {
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777777) return undefined;
  const key = mode * 256 + typeflag;
  let t = templates.get(key);
  if (t === undefined) {
    const bytes = TEMPLATE.slice();
    putOctalAt(bytes, 100, 8, mode);
    bytes[156] = typeflag;
    t = { bytes, sum: headerChecksum(bytes).unsigned };
    if (templates.size < 64) templates.set(key, t);
  }
  return t;
}

/** Writes `text[from, to)` (ASCII; at most `max` characters) at `p`; returns the sum of the bytes written. */
function putText(buf: Uint8Array, p: number, text: string, from: number, to: number, max: number): number {
  const n = Math.min(to - from, max);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(from + i) & 0x7f;
    buf[p + i] = c;
    sum += c;
  }
  return sum;
}

/** {@link putOctal} of the field at `buf[at, at + len)`. */
function putOctalAt(buf: Uint8Array, at: number, len: number, value: number): number {
  let v = value;
  let sum = 0;
  buf[at + len - 1] = 0;
  if ((v | 0) === v && v >= 0) {
    // A 31-bit integer (nearly every size and time): shifts instead of divisions.
    for (let i = at + len - 2; i >= at; i--) {
      const c = 0x30 + (v & 7);
      buf[i] = c;
      sum += c;
      v >>>= 3;
    }
    return sum;
  }
  for (let i = at + len - 2; i >= at; i--) {
    const c = 0x30 + (v % 8);
    buf[i] = c;
    sum += c;
    v = Math.floor(v / 8);
  }
  return sum;
}

/**
 * The ASCII form of a name for the 100-byte ustar field: non-ASCII characters dropped and the result truncated, as Go
 * does when the real name travels in a PAX `path` record. Returns the full name when it fits unchanged.
 */
export function asciiField(name: string, len: number): string {
  const ascii = name.replace(/[^\u0000-\u007f]/g, '');
  return ascii.length > len ? ascii.slice(0, len) : ascii;
}

/** True when `text` can go in a ustar string field of `len` bytes as is (ASCII, no NUL, fits). */
export function fitsField(text: string, len: number): boolean {
  if (text.length > len) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0 || c > 0x7f) return false;
  }
  return true;
}
