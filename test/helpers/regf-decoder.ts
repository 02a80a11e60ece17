/**
 * A small regf decoder for tests, written from the format (regf.md §1–§3) without any code of `src/hive/`: the key
 * tree with every field of every key and value cell, so a test can compare what a rewrite kept with what it read, and
 * find the cells it wants to damage. Trusts its input (tests feed it hives our writer made).
 */

export interface DecodedValue {
  readonly name: string;
  readonly type: number;
  /** The `vk` flags as stored (0x1 compressed name, 0x2 tombstone…). */
  readonly flags: number;
  /** The data, hex. */
  readonly data: string;
  /** File offset of the `vk` cell (its size field). */
  readonly cell: number;
}

export interface DecodedKey {
  /** Path below the root, names joined by `\` ('' = the root). */
  readonly path: string;
  readonly name: string;
  readonly flags: number;
  readonly timestamp: bigint;
  /** The u32 at `nk`+12: access bits, layered-key bits. */
  readonly access: number;
  /** The u16 at `nk`+54: user, virtualization and debug flags. */
  readonly userFlags: number;
  readonly className: string | undefined;
  /** The security descriptor, hex. */
  readonly sd: string;
  readonly values: DecodedValue[];
  /** File offset of the `nk` cell (its size field). */
  readonly cell: number;
  /** File offset of the key's security cell (its size field). */
  readonly skCell: number;
}

const BASE = 4096;
const utf16 = (b: Uint8Array): string => Buffer.from(b).toString('utf16le');
const latin1 = (b: Uint8Array): string => Buffer.from(b).toString('latin1');

/** Every key of the hive by path, parents first. */
export function decodeHive(bytes: Uint8Array): Map<string, DecodedKey> {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const minor = v.getUint32(24, true);
  const data = (off: number): number => BASE + off + 4; // cell data, after the size field
  const out = new Map<string, DecodedKey>();
  const stack: Array<[number, string]> = [[v.getUint32(36, true), '']];
  while (stack.length > 0) {
    const [off, parentPath] = stack.pop()!;
    const p = data(off);
    const flags = v.getUint16(p + 2, true);
    const nameLen = v.getUint16(p + 72, true);
    const rawName = bytes.subarray(p + 76, p + 76 + nameLen);
    const name = (flags & 0x20) !== 0 ? latin1(rawName) : utf16(rawName);
    const path = out.size === 0 ? '' : parentPath === '' ? name : `${parentPath}\\${name}`;
    const classLen = v.getUint16(p + 74, true);
    const classOff = v.getUint32(p + 48, true);
    const sk = v.getUint32(p + 44, true);
    const sdLen = v.getUint32(data(sk) + 16, true);
    const values: DecodedValue[] = [];
    const valueCount = v.getUint32(p + 36, true);
    const valueList = v.getUint32(p + 40, true);
    for (let i = 0; i < valueCount; i++)
      values.push(decodeValue(bytes, v, minor, v.getUint32(data(valueList) + 4 * i, true)));
    out.set(path, {
      path,
      name,
      flags,
      timestamp: v.getBigUint64(p + 4, true),
      access: v.getUint32(p + 12, true),
      userFlags: v.getUint16(p + 54, true),
      className: classLen === 0 ? undefined : utf16(bytes.subarray(data(classOff), data(classOff) + classLen)),
      sd: Buffer.from(bytes.subarray(data(sk) + 20, data(sk) + 20 + sdLen)).toString('hex'),
      values,
      cell: BASE + off,
      skCell: BASE + sk,
    });
    const children: number[] = [];
    if (v.getUint32(p + 20, true) > 0) collectList(v, v.getUint32(p + 28, true), children);
    for (let i = children.length - 1; i >= 0; i--) stack.push([children[i]!, path]);
  }
  return out;
}

function collectList(v: DataView, off: number, out: number[]): void {
  const p = BASE + off + 4;
  const sig = String.fromCharCode(v.getUint8(p), v.getUint8(p + 1));
  const n = v.getUint16(p + 2, true);
  for (let i = 0; i < n; i++) {
    if (sig === 'ri') collectList(v, v.getUint32(p + 4 + 4 * i, true), out);
    else out.push(v.getUint32(p + 4 + (sig === 'li' ? 4 : 8) * i, true));
  }
}

function decodeValue(bytes: Uint8Array, v: DataView, minor: number, off: number): DecodedValue {
  const p = BASE + off + 4;
  const nameLen = v.getUint16(p + 2, true);
  const flags = v.getUint16(p + 16, true);
  const rawName = bytes.subarray(p + 20, p + 20 + nameLen);
  const raw = v.getUint32(p + 4, true);
  const size = raw & 0x7fffffff;
  let d: Uint8Array;
  if ((raw & 0x80000000) !== 0) d = bytes.subarray(p + 8, p + 8 + size);
  else if (size === 0) d = new Uint8Array(0);
  else if (minor >= 4 && size > 16344) {
    const db = BASE + v.getUint32(p + 8, true) + 4;
    const list = BASE + v.getUint32(db + 4, true) + 4;
    const parts: Uint8Array[] = [];
    for (let i = 0, left = size; i < v.getUint16(db + 2, true); i++, left -= 16344) {
      const seg = BASE + v.getUint32(list + 4 * i, true) + 4;
      parts.push(bytes.subarray(seg, seg + Math.min(left, 16344)));
    }
    d = Buffer.concat(parts);
  } else {
    const c = BASE + v.getUint32(p + 8, true) + 4;
    d = bytes.subarray(c, c + size);
  }
  return {
    name: (flags & 1) !== 0 ? latin1(rawName) : utf16(rawName),
    type: v.getUint32(p + 12, true),
    flags,
    data: Buffer.from(d).toString('hex'),
    cell: BASE + off,
  };
}

/** Recomputes the base block checksum (XOR of the first 127 u32, 0 → 1, 0xFFFFFFFF → 0xFFFFFFFE) after a patch. */
export function fixChecksum(bytes: Uint8Array): void {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let c = 0;
  for (let i = 0; i < 508; i += 4) c ^= v.getUint32(i, true);
  c >>>= 0;
  v.setUint32(508, c === 0 ? 1 : c === 0xffffffff ? 0xfffffffe : c, true);
}
