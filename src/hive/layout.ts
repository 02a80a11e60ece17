/**
 * The regf format as tables: every record has one named offset table, and reads go through small helpers. Pure: bytes
 * and values in, bytes and values out. See `../shared/spec/regf.md` for the sources of every number here.
 */
import { upcaseUnit } from '../internal/windows.js';

/** Size of the base block; hive-bins data starts here. */
export const BASE_BLOCK_SIZE = 4096;
/** Size of an `hbin` header. */
export const HBIN_HEADER_SIZE = 32;
/** Bin granularity. */
export const BIN_ALIGN = 4096;
/** The nil cell offset. */
export const NIL = 0xffffffff;
/** Largest value that fits one cell in a hive with big data (`CM_KEY_VALUE_BIG`). */
const BIG_DATA_THRESHOLD = 16344;
/** True when a value of `size` bytes is stored as big data (a `db` record) in a hive of minor version `minor`. */
export function isBigData(size: number, minor: number): boolean {
  return minor >= 4 && size > BIG_DATA_THRESHOLD;
}
/** Bytes per big-data segment. */
export const BIG_DATA_SEGMENT = 16344;
/** Leaf capacity offreg uses before splitting a subkey list into an `ri` index. */
export const OFFREG_LEAF_MAX = 507;
/** Deepest nesting Windows accepts. */
export const MAX_DEPTH = 512;

/** Field offsets of the base block (file offsets). */
export const HEADER = {
  signature: { at: 0, len: 4 },
  seq1: { at: 4, len: 4 },
  seq2: { at: 8, len: 4 },
  timestamp: { at: 12, len: 8 },
  major: { at: 20, len: 4 },
  minor: { at: 24, len: 4 },
  fileType: { at: 28, len: 4 },
  fileFormat: { at: 32, len: 4 },
  rootCell: { at: 36, len: 4 },
  binsSize: { at: 40, len: 4 },
  clustering: { at: 44, len: 4 },
  fileName: { at: 48, len: 64 },
  flags: { at: 144, len: 4 },
  offregSignature: { at: 176, len: 4 },
  offregFlags: { at: 180, len: 4 },
  checksum: { at: 508, len: 4 },
  offregSaveTime: { at: 512, len: 8 },
} as const;

/** Field offsets of an `hbin` header (relative to the bin). */
export const HBIN = {
  signature: { at: 0, len: 4 },
  offset: { at: 4, len: 4 },
  size: { at: 8, len: 4 },
  timestamp: { at: 20, len: 8 },
} as const;

/** Field offsets of an `nk` record (relative to the cell data, after the size field). */
export const NK = {
  signature: { at: 0, len: 2 },
  flags: { at: 2, len: 2 },
  timestamp: { at: 4, len: 8 },
  access: { at: 12, len: 4 },
  parent: { at: 16, len: 4 },
  subkeyCount: { at: 20, len: 4 },
  volatileSubkeyCount: { at: 24, len: 4 },
  subkeyList: { at: 28, len: 4 },
  volatileSubkeyList: { at: 32, len: 4 },
  valueCount: { at: 36, len: 4 },
  valueList: { at: 40, len: 4 },
  security: { at: 44, len: 4 },
  classCell: { at: 48, len: 4 },
  maxSubkeyName: { at: 52, len: 2 },
  userFlags: { at: 54, len: 2 },
  maxSubkeyClass: { at: 56, len: 4 },
  maxValueName: { at: 60, len: 4 },
  maxValueData: { at: 64, len: 4 },
  workVar: { at: 68, len: 4 },
  nameLength: { at: 72, len: 2 },
  classLength: { at: 74, len: 2 },
  name: { at: 76, len: 0 },
} as const;
/** Fixed part of an `nk` record. */
export const NK_FIXED = 76;

/** Field offsets of a `vk` record. */
export const VK = {
  signature: { at: 0, len: 2 },
  nameLength: { at: 2, len: 2 },
  dataSize: { at: 4, len: 4 },
  data: { at: 8, len: 4 },
  type: { at: 12, len: 4 },
  flags: { at: 16, len: 2 },
  spare: { at: 18, len: 2 },
  name: { at: 20, len: 0 },
} as const;
export const VK_FIXED = 20;

/** Field offsets of an `sk` record. */
export const SK = {
  signature: { at: 0, len: 2 },
  reserved: { at: 2, len: 2 },
  flink: { at: 4, len: 4 },
  blink: { at: 8, len: 4 },
  refCount: { at: 12, len: 4 },
  sdLength: { at: 16, len: 4 },
  sd: { at: 20, len: 0 },
} as const;
export const SK_FIXED = 20;

/** Field offsets of a `db` record. */
export const DB = {
  signature: { at: 0, len: 2 },
  count: { at: 2, len: 2 },
  segmentList: { at: 4, len: 4 },
  pad: { at: 8, len: 4 },
} as const;
export const DB_SIZE = 12;

/** Subkey list header: signature and count, then elements. */
export const LIST = { signature: { at: 0, len: 2 }, count: { at: 2, len: 2 }, elements: { at: 4, len: 0 } } as const;

/** A value list or a big-data segment list: one u32 cell reference per entry, nothing else. */
export const REF_LIST = { entrySize: 4 } as const;

/** An `ri` index: the list header, then one u32 per leaf (the leaf's cell offset). */
export const RI = { ...LIST, entry: { leaf: { at: 0, len: 4 } }, entrySize: 4 } as const;
/** An `li` leaf: the list header, then one u32 per subkey (its `nk` cell offset). */
export const LI = { ...LIST, entry: { key: { at: 0, len: 4 } }, entrySize: 4 } as const;
/**
 * An `lf` or `lh` leaf: the list header, then per subkey its `nk` cell offset and 4 bytes of name check (`lf`: the
 * first four units as Latin-1, `lfHint`; `lh`: the name's hash, `lhHash`).
 */
export const LH = { ...LIST, entry: { key: { at: 0, len: 4 }, hash: { at: 4, len: 4 } }, entrySize: 8 } as const;

/** Byte size of a subkey list of `count` entries of `entrySize` bytes (header included, size field not). */
export function listSize(entrySize: number, count: number): number {
  return LIST.elements.at + entrySize * count;
}

/** The record signatures: two ASCII letters as the u16 stored first in each cell kind. */
export const SIG = {
  nk: sig2('nk'),
  vk: sig2('vk'),
  sk: sig2('sk'),
  db: sig2('db'),
  li: sig2('li'),
  lf: sig2('lf'),
  lh: sig2('lh'),
  ri: sig2('ri'),
} as const;

/** The base block's signature, "regf", as the little-endian u32 at offset 0. */
export const REGF_SIGNATURE = 0x66676572;
/** A bin's signature, "hbin", as the little-endian u32 at its offset 0. */
export const HBIN_SIGNATURE = 0x6e696268;
/** offreg's signature in the base block, "OfRg". */
export const OFFREG_SIGNATURE = 0x6752664f;

/** Key flags (`KEY_*`). */
export const KEY_FLAG = {
  VOLATILE: 0x0001,
  HIVE_EXIT: 0x0002,
  HIVE_ENTRY: 0x0004,
  NO_DELETE: 0x0008,
  SYM_LINK: 0x0010,
  COMP_NAME: 0x0020,
  PREDEF_HANDLE: 0x0040,
} as const;

/** Value flags. */
export const VALUE_COMP_NAME = 0x0001;
/** Value flag of a differencing hive: the value is deleted (REG_NONE, size 0, data offset nil). */
export const VALUE_TOMBSTONE = 0x0002;

/** Base-block flag: the hive supports layered keys (a differencing hive, version 1.6; delta-hives.md §1). */
export const HEADER_LAYERED_KEYS = 0x0002;

/**
 * The layered-key byte of an `nk` (the second byte of the access-bits field, offset 13), in a differencing hive:
 * bits 0–1 the layer semantics, bit 7 InheritClass, bits 2–6 reserved (delta-hives.md §2).
 */
export const LAYER_BITS = {
  /** Byte offset of the layered-key byte in an `nk`. */
  at: 13,
  semantics: 0x03,
  inheritClass: 0x80,
  reserved: 0x7c,
} as const;

/** LayerSemantics values (delta-hives.md §2). */
export const LAYER_SEMANTICS = { merge: 0, tombstone: 1, supersedeLocal: 2, supersedeTree: 3 } as const;

/** The layered-key byte of an `nk`'s access-bits field (the u32 at offset 12, as `keyAccessBits` returns it). */
export function layerByte(accessBits: number): number {
  return (accessBits >>> 8) & 0xff;
}

/** `accessBits` with its layered-key byte replaced by `byte` (the access byte is kept). */
export function withLayerByte(accessBits: number, byte: number): number {
  return ((accessBits & ~0xff00) | ((byte & 0xff) << 8)) >>> 0;
}

/** File offset of a hive-bins offset: the one place that adds the base block size. */
export function cellToFileOffset(offset: number): number {
  return BASE_BLOCK_SIZE + offset;
}

/** Bytes of a cell's size field, which comes before its data. */
export const CELL_SIZE_FIELD = 4;

/**
 * File offset of the data of the cell at hive-bins offset `offset` (past its size field): where every record table
 * (`NK`, `VK`, `SK`, `DB`, the lists) is relative to. The one place that adds the size field.
 */
export function cellData(offset: number): number {
  return BASE_BLOCK_SIZE + offset + CELL_SIZE_FIELD;
}

/**
 * A cell's size field holds the cell's size negated while it is allocated, as it is while free. The field of an
 * allocated cell of `size` bytes.
 */
export function allocatedSizeField(size: number): number {
  return -size;
}

/** True when a cell's (signed) size field marks it allocated. */
export function isAllocated(sizeField: number): boolean {
  return sizeField < 0;
}

/** The data bytes of an allocated cell (its size without the size field), from its signed size field. */
export function allocatedDataLength(sizeField: number): number {
  return -sizeField - CELL_SIZE_FIELD;
}

/** Top bit of a cell reference: the cell is in volatile storage, which never reaches a file. */
export const VOLATILE_CELL = 0x80000000;

/** Top bit of a `vk`'s data-size field: the data (at most 4 bytes) is stored in the data-offset field itself. */
export const VK_DATA_INLINE = 0x80000000;

/** Rounds a cell payload (size field included) up to the 8-byte cell granularity. */
export function cellSizeFor(bytesWithHeader: number): number {
  return (bytesWithHeader + 7) & ~7;
}

/**
 * The base-block checksum: XOR of the 127 little-endian u32 at 0..504, with Windows' remap (0 → 1, 0xFFFFFFFF →
 * 0xFFFFFFFE). `raw` skips the remap (what hivex and reglookup compute).
 */
export function headerChecksum(bytes: Uint8Array, raw = false): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let c = 0;
  for (let i = 0; i < 508; i += 4) c ^= view.getUint32(i, true);
  c >>>= 0;
  if (raw) return c;
  if (c === 0) return 1;
  if (c === 0xffffffff) return 0xfffffffe;
  return c;
}

/** The `lh` hash of a name: `H = H*37 + upcase(unit)` over its UTF-16 units, mod 2^32. */
export function lhHash(name: string): number {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (Math.imul(h, 37) + upcaseUnit(name.charCodeAt(i))) >>> 0;
  return h;
}

/** The `lf` hint: first 4 units as Latin-1, zero padded; a unit > 0xFF ends the hint. */
export function lfHint(name: string): Uint8Array {
  const out = new Uint8Array(4);
  for (let i = 0; i < 4 && i < name.length; i++) {
    const u = name.charCodeAt(i);
    if (u > 0xff) break;
    out[i] = u;
  }
  return out;
}

/** True when every UTF-16 unit of `name` is ≤ 0xFF, so it is stored compressed (Latin-1). */
export function isCompressible(name: string): boolean {
  for (let i = 0; i < name.length; i++) if (name.charCodeAt(i) > 0xff) return false;
  return true;
}

/** Encodes a key or value name as stored: Latin-1 when compressible, UTF-16LE otherwise. */
export function encodeName(name: string): { bytes: Uint8Array; compressed: boolean } {
  if (isCompressible(name)) {
    const bytes = new Uint8Array(name.length);
    for (let i = 0; i < name.length; i++) bytes[i] = name.charCodeAt(i);
    return { bytes, compressed: true };
  }
  return { bytes: encodeUtf16(name), compressed: false };
}

/** Decodes a stored name. */
export function decodeName(bytes: Uint8Array, compressed: boolean): string {
  if (compressed) return latin1(bytes);
  return decodeUtf16(bytes);
}

/** Latin-1 bytes to a string. */
export function latin1(bytes: Uint8Array): string {
  let s = '';
  if (bytes.length <= 64) {
    for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
    return s;
  }
  for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return s;
}

/** UTF-16LE bytes to a string, unit by unit (lone surrogates kept, an odd last byte dropped). */
export function decodeUtf16(bytes: Uint8Array): string {
  // Node's UTF-16LE decoding copies units as they are (no replacement of lone surrogates): one copy, no chunks
  if (bytes.length > 64) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length & ~1).toString('utf16le');
  const n = bytes.length >>> 1;
  const units = new Uint16Array(n);
  for (let i = 0; i < n; i++) units[i] = bytes[2 * i]! | (bytes[2 * i + 1]! << 8);
  let s = '';
  for (let i = 0; i < n; i += 8192) s += String.fromCharCode(...units.subarray(i, i + 8192));
  return s;
}

/** A string to UTF-16LE bytes, unit by unit. */
export function encodeUtf16(s: string): Uint8Array {
  const out = new Uint8Array(s.length * 2);
  for (let i = 0; i < s.length; i++) {
    const u = s.charCodeAt(i);
    out[2 * i] = u & 0xff;
    out[2 * i + 1] = u >>> 8;
  }
  return out;
}

/** Byte length of a name as UTF-16 (what the nk maxima count), whatever its storage. */
export function utf16Length(name: string): number {
  return name.length * 2;
}

/** A little-endian DataView over `bytes`. */
export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Two ASCII letters as the u16 stored for a record signature ('nk' → 0x6b6e). */
export function sig2(s: string): number {
  return s.charCodeAt(0) | (s.charCodeAt(1) << 8);
}
