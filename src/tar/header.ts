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

/** One decoded header block. Numbers that can exceed 2^53 stay bigint until the caller checks them. */
export interface TarHeader {
  readonly name: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: bigint;
  /** Whole seconds since the Unix epoch. */
  readonly mtime: bigint;
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
  readonly mtime: bigint;
  readonly typeflag: string;
  readonly linkname?: string;
}

const MAGIC_USTAR = 'ustar\u0000';
const MAGIC_GNU = 'ustar ';

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
  let unsigned = 0;
  let signed = 0;
  const { at, len } = USTAR.chksum;
  for (let i = 0; i < BLOCK_SIZE; i++) {
    const b = i >= at && i < at + len ? 0x20 : block[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return { unsigned, signed };
}

/** A field's raw bytes up to its first NUL. */
export function fieldBytes(block: Uint8Array, field: UstarField): Uint8Array {
  const { at, len } = USTAR[field];
  const end = block.indexOf(0, at);
  return block.subarray(at, end === -1 || end > at + len ? at + len : end);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8Lenient = new TextDecoder('utf-8');

/** UTF-8 text of `bytes`; invalid UTF-8 is an error unless `lenient` (then U+FFFD). ASCII takes a fast path. */
export function decodeText(bytes: Uint8Array, lenient = false): string | undefined {
  let ascii = true;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i]! > 0x7f) {
      ascii = false;
      break;
    }
  }
  if (ascii) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
  try {
    return (lenient ? utf8Lenient : utf8).decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * Parses a numeric field: octal ASCII (leading spaces, then digits, then only NULs or spaces; all-blank means 0) or
 * GNU base-256. Returns undefined when malformed.
 */
export function parseNumeric(block: Uint8Array, field: UstarField): bigint | undefined {
  const { at, len } = USTAR[field];
  const first = block[at]!;
  if (first === 0x80 || first === 0xff) {
    // Base-256, big-endian two's complement; the first byte's top bit is the marker.
    let v = BigInt(first & 0x7f) - (first === 0xff ? 0x80n : 0n);
    for (let i = 1; i < len; i++) v = (v << 8n) | BigInt(block[at + i]!);
    return v;
  }
  let i = at;
  const end = at + len;
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
  return BigInt(v);
}

function headerError(what: string, offset: number): WinlayerError {
  return new WinlayerError('TAR_HEADER', what, { offset });
}

/**
 * Decodes one header block. Checks the checksum (`TAR_CHECKSUM`) and every numeric field (`TAR_HEADER`). The caller
 * must have checked that the block is not a zero block. `offset` (the block's place in the archive) goes into errors.
 */
export function decodeHeader(block: Uint8Array, offset: number, lenient = false): TarHeader {
  if (block.length < BLOCK_SIZE) throw new WinlayerError('TAR_TRUNCATED', 'incomplete header block', { offset });
  const stored = parseNumeric(block, 'chksum');
  const sum = headerChecksum(block);
  if (stored === undefined || (Number(stored) !== sum.unsigned && Number(stored) !== sum.signed)) {
    throw new WinlayerError(
      'TAR_CHECKSUM',
      `header checksum ${stored ?? 'unreadable'} does not match ${sum.unsigned}`,
      {
        offset,
        hint: 'the archive is corrupt or not a tar file',
      },
    );
  }
  const magic = String.fromCharCode(...block.subarray(USTAR.magic.at, USTAR.magic.at + USTAR.magic.len));
  let format: HeaderFormat;
  if (magic === MAGIC_USTAR) format = 'ustar';
  else if (magic === MAGIC_GNU) format = 'gnu';
  else if (magic === '\0\0\0\0\0\0') format = 'v7';
  else throw headerError(`unknown header magic ${JSON.stringify(magic)}`, offset);

  const num = (field: UstarField, min: bigint, max: bigint): bigint => {
    const v = parseNumeric(block, field);
    if (v === undefined) throw headerError(`the ${field} field is not an octal or base-256 number`, offset);
    if (v < min || v > max) throw headerError(`the ${field} field ${v} is out of range`, offset);
    return v;
  };
  const str = (field: UstarField): string => {
    const s = decodeText(fieldBytes(block, field), lenient);
    if (s === undefined) throw headerError(`the ${field} field is not valid UTF-8`, offset);
    return s;
  };
  const U32 = 0xffffffffn;
  const typeflag = String.fromCharCode(block[USTAR.typeflag.at]!);
  let name = str('name');
  const ext = format !== 'v7';
  if (format === 'ustar') {
    const prefix = str('prefix');
    if (prefix !== '') name = `${prefix}/${name}`;
  }
  return {
    name,
    mode: Number(num('mode', 0n, 0o7777777n)),
    uid: Number(num('uid', 0n, U32)),
    gid: Number(num('gid', 0n, U32)),
    size: num('size', 0n, BigInt(Number.MAX_SAFE_INTEGER)),
    mtime: num('mtime', -(2n ** 63n), 2n ** 63n - 1n),
    typeflag,
    linkname: str('linkname'),
    uname: ext ? str('uname') : '',
    gname: ext ? str('gname') : '',
    devmajor: ext ? Number(num('devmajor', 0n, U32)) : 0,
    devminor: ext ? Number(num('devminor', 0n, U32)) : 0,
    format,
  };
}

/** Writes `text` (ASCII) into a field, NUL-padded; longer text is truncated (callers put the full value in PAX). */
function putString(block: Uint8Array, field: UstarField, text: string): void {
  const { at, len } = USTAR[field];
  const n = Math.min(text.length, len);
  for (let i = 0; i < n; i++) block[at + i] = text.charCodeAt(i) & 0x7f;
}

/** Writes a number as zero-padded octal with a trailing NUL (`0000644\0`), as Go does. */
function putOctal(block: Uint8Array, field: UstarField, value: number | bigint): void {
  const { at, len } = USTAR[field];
  const s = value.toString(8).padStart(len - 1, '0');
  for (let i = 0; i < len - 1; i++) block[at + i] = s.charCodeAt(i);
  block[at + len - 1] = 0;
}

/** Largest whole-second time the octal `mtime` field holds. */
const MAX_OCTAL_TIME = 0o77777777777n;

/**
 * Encodes a ustar header into `block` (512 bytes, which must be zeroed): ustar magic, uid/gid 0, empty user and group
 * names, device numbers 0, the checksum last. Names must already be ASCII and ≤ 100 bytes (or truncated on purpose,
 * with a PAX record carrying the real value); sizes over {@link MAX_OCTAL_SIZE} are written as 0 for the same reason.
 */
export function encodeHeader(block: Uint8Array, h: HeaderFields): void {
  putString(block, 'name', h.name);
  putOctal(block, 'mode', h.mode);
  putOctal(block, 'uid', 0);
  putOctal(block, 'gid', 0);
  putOctal(block, 'size', h.size > MAX_OCTAL_SIZE ? 0 : h.size);
  putOctal(block, 'mtime', h.mtime < 0n || h.mtime > MAX_OCTAL_TIME ? 0n : h.mtime);
  block[USTAR.typeflag.at] = h.typeflag.charCodeAt(0);
  if (h.linkname !== undefined) putString(block, 'linkname', h.linkname);
  putString(block, 'magic', MAGIC_USTAR);
  putString(block, 'version', '00');
  putOctal(block, 'devmajor', 0);
  putOctal(block, 'devminor', 0);
  const sum = headerChecksum(block).unsigned;
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
