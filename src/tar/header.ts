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

/** {@link headerChecksum}'s unsigned sum alone (one add a byte: the reader's hot path). */
function unsignedChecksum(block: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < BLOCK_SIZE; i++) sum += block[i]!;
  const { at, len } = USTAR.chksum;
  for (let i = at; i < at + len; i++) sum -= block[i]!;
  return sum + len * 0x20;
}

/** A field's raw bytes up to its first NUL. */
export function fieldBytes(block: Uint8Array, field: UstarField): Uint8Array {
  const { at, len } = USTAR[field];
  const end = block.indexOf(0, at);
  return block.subarray(at, end === -1 || end > at + len ? at + len : end);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8Lenient = new TextDecoder('utf-8');

/** UTF-8 text of `bytes`; undefined for invalid UTF-8 unless `lenient` (then U+FFFD). */
export function decodeText(bytes: Uint8Array, lenient = false): string | undefined {
  if (bytes.length === 0) return '';
  // Short ASCII (nearly every header field): the bytes are the UTF-16 units; no decoder call.
  if (bytes.length <= 256) {
    let ascii = true;
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i]! > 0x7f) {
        ascii = false;
        break;
      }
    }
    if (ascii) return String.fromCharCode.apply(null, bytes as unknown as number[]);
  }
  try {
    return (lenient ? utf8Lenient : utf8).decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * Parses a numeric field: octal ASCII (leading spaces, then digits, then only NULs or spaces; all-blank means 0) or
 * GNU base-256 (big-endian two's complement after the 0x80 / 0xff marker). Returns undefined when malformed or
 * beyond ±2^53.
 */
export function parseNumeric(block: Uint8Array, field: UstarField): number | undefined {
  const { at, len } = USTAR[field];
  const end = at + len;
  const first = block[at]!;
  if (first === 0x80 || first === 0xff) {
    let v = BigInt(first & 0x7f) - (first === 0xff ? 0x80n : 0n);
    for (let i = at + 1; i < end; i++) v = (v << 8n) | BigInt(block[i]!);
    return v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(v);
  }
  let i = at;
  while (i < end && block[i] === 0x20) i++;
  let v = 0;
  while (i < end) {
    const c = block[i]!;
    if (c < 0x30 || c > 0x37) break;
    v = v * 8 + (c - 0x30);
    i++;
  }
  for (; i < end; i++) {
    const c = block[i]!;
    if (c !== 0 && c !== 0x20) return undefined;
  }
  return v;
}

function headerError(what: string, offset: number, block?: Uint8Array): WinlayerError {
  return new WinlayerError('TAR_HEADER', what, { offset, entry: block === undefined ? undefined : guessName(block) });
}

/** The name field of a broken header, for error messages: only when it is printable ASCII. */
export function guessName(block: Uint8Array): string | undefined {
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
  const stored = parseNumeric(block, 'chksum');
  // The unsigned sum alone first (every writer we know uses it); the signed one only when that does not match.
  if (stored === undefined || (stored !== unsignedChecksum(block) && stored !== headerChecksum(block).signed)) {
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
  const m = USTAR.magic.at;
  let format: HeaderFormat;
  if (
    block[m] === 0x75 &&
    block[m + 1] === 0x73 &&
    block[m + 2] === 0x74 &&
    block[m + 3] === 0x61 &&
    block[m + 4] === 0x72
  ) {
    if (block[m + 5] === 0) format = 'ustar';
    else if (block[m + 5] === 0x20) format = 'gnu';
    else throw headerError(`unknown header magic ${JSON.stringify(magicText(block))}`, offset, block);
  } else if (
    block[m] === 0 &&
    block[m + 1] === 0 &&
    block[m + 2] === 0 &&
    block[m + 3] === 0 &&
    block[m + 4] === 0 &&
    block[m + 5] === 0
  ) {
    format = 'v7';
  } else {
    throw headerError(`unknown header magic ${JSON.stringify(magicText(block))}`, offset, block);
  }

  const U32 = 0xffffffff;
  const typeflag = String.fromCharCode(block[USTAR.typeflag.at]!);
  let name = str(block, 'name', offset, lenient);
  const ext = format !== 'v7';
  if (format === 'ustar' && block[USTAR.prefix.at] !== 0) name = `${str(block, 'prefix', offset, lenient)}/${name}`;
  return {
    name,
    mode: num(block, 'mode', 0, 0o7777777, offset),
    uid: num(block, 'uid', 0, U32, offset),
    gid: num(block, 'gid', 0, U32, offset),
    size: num(block, 'size', 0, Number.MAX_SAFE_INTEGER, offset),
    mtime: num(block, 'mtime', -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, offset),
    typeflag,
    linkname: str(block, 'linkname', offset, lenient),
    uname: ext ? str(block, 'uname', offset, lenient) : '',
    gname: ext ? str(block, 'gname', offset, lenient) : '',
    devmajor: ext ? num(block, 'devmajor', 0, U32, offset) : 0,
    devminor: ext ? num(block, 'devminor', 0, U32, offset) : 0,
    format,
  };
}

function num(block: Uint8Array, field: UstarField, min: number, max: number, offset: number): number {
  const v = parseNumeric(block, field);
  if (v === undefined) throw headerError(`the ${field} field is not an octal or base-256 number`, offset, block);
  if (v < min || v > max) throw headerError(`the ${field} field ${v} is out of range`, offset, block);
  return v;
}

function str(block: Uint8Array, field: UstarField, offset: number, lenient: boolean): string {
  if (block[USTAR[field].at] === 0) return '';
  const s = decodeText(fieldBytes(block, field), lenient);
  if (s === undefined) throw headerError(`the ${field} field is not valid UTF-8`, offset, block);
  return s;
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
function putOctal(block: Uint8Array, field: UstarField, value: number): number {
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

let TEMPLATE: Uint8Array | undefined;

/** The constant part of every header we write: uid/gid 0, ustar magic and version, device numbers 0. */
function template(): Uint8Array {
  if (TEMPLATE !== undefined) return TEMPLATE;
  const b = new Uint8Array(BLOCK_SIZE);
  putOctal(b, 'uid', 0);
  putOctal(b, 'gid', 0);
  putString(b, 'magic', MAGIC_USTAR);
  putString(b, 'version', '00');
  putOctal(b, 'devmajor', 0);
  putOctal(b, 'devminor', 0);
  TEMPLATE = b;
  TEMPLATE_SUM = headerChecksum(b).unsigned;
  return b;
}

let TEMPLATE_SUM = 0;

/**
 * Encodes a ustar header into `block` (512 bytes, overwritten whole): ustar magic, uid/gid 0, empty user and group
 * names, device numbers 0, the checksum last. Names must already be ASCII and ≤ 100 bytes (or truncated on purpose,
 * with a PAX record carrying the real value); sizes over {@link MAX_OCTAL_SIZE} are written as 0 for the same reason.
 */
export function encodeHeader(block: Uint8Array, h: HeaderFields): void {
  const t = template();
  block.set(t);
  // The checksum is the template's sum plus what we write (the template holds zeros where we write).
  let sum = TEMPLATE_SUM;
  sum += putString(block, 'name', h.name);
  sum += putOctal(block, 'mode', h.mode);
  sum += putOctal(block, 'size', h.size > MAX_OCTAL_SIZE ? 0 : h.size);
  sum += putOctal(block, 'mtime', h.mtime < 0 || h.mtime > MAX_OCTAL_TIME ? 0 : h.mtime);
  const flag = h.typeflag.charCodeAt(0) & 0xff;
  block[USTAR.typeflag.at] = flag;
  sum += flag;
  if (h.linkname !== undefined) sum += putString(block, 'linkname', h.linkname);
  // Go and GNU tar: six octal digits, NUL, space.
  const s = sum.toString(8).padStart(6, '0');
  const { at } = USTAR.chksum;
  for (let i = 0; i < 6; i++) block[at + i] = s.charCodeAt(i);
  block[at + 6] = 0;
  block[at + 7] = 0x20;
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
