/**
 * One encoder per cell kind, over the tables of `layout.ts`: each kind's cell size (what the planner allocates) and
 * its bytes (what the writer puts at the planned offset), next to each other so the two cannot drift apart. Also the
 * bins, the free cells and the base block. Pure: bytes and values in, bytes out.
 */
import {
  allocatedSizeField,
  BIG_DATA_SEGMENT,
  CELL_SIZE_FIELD,
  cellData,
  cellSizeFor,
  cellToFileOffset,
  DB,
  DB_SIZE,
  HBIN,
  HBIN_SIGNATURE,
  HEADER,
  HEADER_LAYERED_KEYS,
  headerChecksum,
  isBigData,
  isCompressible,
  KEY_FLAG,
  LH,
  LIST,
  lfHint,
  lhHash,
  listSize,
  NIL,
  NK,
  NK_FIXED,
  OFFREG_SIGNATURE,
  REF_LIST,
  REGF_SIGNATURE,
  RI,
  SIG,
  SK,
  SK_FIXED,
  VALUE_COMP_NAME,
  VK,
  VK_DATA_INLINE,
  VK_FIXED,
} from './layout.js';

/** The file being written: its bytes and a little-endian view of them. */
export interface HiveBytes {
  readonly bytes: Uint8Array;
  readonly view: DataView;
}

/** Reads the planned offsets of a run of cells in the order the planner allocated them. */
export class CellCursor {
  #i = 0;
  constructor(readonly cells: Uint32Array) {}

  /** The offset of the next planned cell. */
  next(): number {
    return this.cells[this.#i++]!;
  }

  /** True when every planned cell has been read. */
  get done(): boolean {
    return this.#i === this.cells.length;
  }
}

/** Writes the size field of an allocated cell of `size` bytes at `at`; returns the file offset of its data. */
function startCell(out: HiveBytes, at: number, size: number): number {
  out.view.setInt32(cellToFileOffset(at), allocatedSizeField(size), true);
  return cellData(at);
}

// ── names ──────────────────────────────────────────────────────────────────────────────────────────────────────────

/** Stored byte length of a key or value name (Latin-1 when every unit fits, else UTF-16LE). */
function nameBytes(name: string): number {
  return isCompressible(name) ? name.length : name.length * 2;
}

/** Writes a name as stored (Latin-1 or UTF-16LE) at file offset `at`; returns whether it is compressed. */
function putName(buf: Uint8Array, at: number, name: string): boolean {
  if (isCompressible(name)) {
    for (let i = 0; i < name.length; i++) buf[at + i] = name.charCodeAt(i);
    return true;
  }
  putUtf16(buf, at, name);
  return false;
}

/** Writes `s` as UTF-16LE at file offset `at`. */
function putUtf16(buf: Uint8Array, at: number, s: string): void {
  for (let i = 0; i < s.length; i++) {
    const u = s.charCodeAt(i);
    buf[at + 2 * i] = u & 0xff;
    buf[at + 2 * i + 1] = u >>> 8;
  }
}

// ── nk ─────────────────────────────────────────────────────────────────────────────────────────────────────────────

/** Everything an `nk` record holds. Cell references are hive-bins offsets (NIL for none). */
export interface NkRecord {
  readonly name: string;
  /** Key flags other than KEY_COMP_NAME, which the encoder sets from the name. */
  readonly flags: number;
  readonly timestamp: bigint;
  readonly accessBits: number;
  readonly userFlags: number;
  readonly parent: number;
  readonly subkeyCount: number;
  readonly subkeyList: number;
  readonly valueCount: number;
  readonly valueList: number;
  readonly security: number;
  readonly classCell: number;
  /** Byte length of the class name (UTF-16). */
  readonly classLength: number;
  readonly maxSubkeyName: number;
  readonly maxSubkeyClass: number;
  readonly maxValueName: number;
  readonly maxValueData: number;
}

/** Size of the `nk` cell of a key named `name`. */
export function nkCellSize(name: string): number {
  return cellSizeFor(CELL_SIZE_FIELD + NK_FIXED + nameBytes(name));
}

export function writeNk(out: HiveBytes, at: number, nk: NkRecord): void {
  const { view } = out;
  const p = startCell(out, at, nkCellSize(nk.name));
  view.setUint16(p + NK.signature.at, SIG.nk, true);
  const compressed = putName(out.bytes, p + NK_FIXED, nk.name);
  view.setUint16(p + NK.flags.at, (nk.flags & ~KEY_FLAG.COMP_NAME) | (compressed ? KEY_FLAG.COMP_NAME : 0), true);
  view.setBigUint64(p + NK.timestamp.at, nk.timestamp, true);
  view.setUint32(p + NK.access.at, nk.accessBits >>> 0, true);
  view.setUint16(p + NK.userFlags.at, nk.userFlags, true);
  view.setUint32(p + NK.parent.at, nk.parent, true);
  view.setUint32(p + NK.subkeyCount.at, nk.subkeyCount, true);
  view.setUint32(p + NK.subkeyList.at, nk.subkeyList, true);
  view.setUint32(p + NK.volatileSubkeyList.at, NIL, true);
  view.setUint32(p + NK.valueCount.at, nk.valueCount, true);
  view.setUint32(p + NK.valueList.at, nk.valueList, true);
  view.setUint32(p + NK.security.at, nk.security, true);
  view.setUint32(p + NK.classCell.at, nk.classCell, true);
  view.setUint16(p + NK.maxSubkeyName.at, nk.maxSubkeyName, true);
  view.setUint32(p + NK.maxSubkeyClass.at, nk.maxSubkeyClass, true);
  view.setUint32(p + NK.maxValueName.at, nk.maxValueName, true);
  view.setUint32(p + NK.maxValueData.at, nk.maxValueData, true);
  view.setUint16(p + NK.nameLength.at, nameBytes(nk.name), true);
  view.setUint16(p + NK.classLength.at, nk.classLength, true);
}

// ── class name ─────────────────────────────────────────────────────────────────────────────────────────────────────

/** Size of the cell of a class name (UTF-16LE, no terminator). */
export function classCellSize(className: string): number {
  return cellSizeFor(CELL_SIZE_FIELD + className.length * 2);
}

export function writeClass(out: HiveBytes, at: number, className: string): void {
  putUtf16(out.bytes, startCell(out, at, classCellSize(className)), className);
}

// ── value list, vk and value data ──────────────────────────────────────────────────────────────────────────────────

/** Size of a value list of `count` entries (one vk offset each). */
export function valueListCellSize(count: number): number {
  return cellSizeFor(CELL_SIZE_FIELD + REF_LIST.entrySize * count);
}

/** Starts a value list of `count` entries at `at`; returns the file offset of its first entry. */
export function writeValueListCell(out: HiveBytes, at: number, count: number): number {
  return startCell(out, at, valueListCellSize(count));
}

/** Size of the `vk` cell of a value named `name`. */
export function vkCellSize(name: string): number {
  return cellSizeFor(CELL_SIZE_FIELD + VK_FIXED + nameBytes(name));
}

/** How a value's data is stored: in the vk itself (at most 4 bytes), one data cell, or big data (`db`). */
export type DataForm = 'inline' | 'cell' | 'big';

/** How `size` bytes of data are stored in a hive of minor version `minor` (big data from 1.4). */
export function dataForm(size: number, minor: number): DataForm {
  if (size <= 4) return 'inline';
  return isBigData(size, minor) ? 'big' : 'cell';
}

/** Number of cells the data of a value of `size` bytes takes besides its vk (db, segment list and segments). */
export function dataCellCount(size: number, minor: number): number {
  const form = dataForm(size, minor);
  if (form === 'inline') return 0;
  return form === 'cell' ? 1 : 2 + segmentCount(size);
}

/** Number of big-data segments of `size` bytes. */
export function segmentCount(size: number): number {
  return Math.ceil(size / BIG_DATA_SEGMENT);
}

/** Size of the one data cell of `size` bytes. */
export function dataCellSize(size: number): number {
  return cellSizeFor(CELL_SIZE_FIELD + size);
}

/** Size of a `db` record's cell. */
export const DB_CELL_SIZE = cellSizeFor(CELL_SIZE_FIELD + DB_SIZE);

/** Size of a big-data segment list of `count` segments. */
export function segmentListCellSize(count: number): number {
  return cellSizeFor(CELL_SIZE_FIELD + REF_LIST.entrySize * count);
}

/** Size of a big-data segment's cell (a full segment: offreg never shortens the last one). */
export const SEGMENT_CELL_SIZE = cellSizeFor(CELL_SIZE_FIELD + BIG_DATA_SEGMENT);

/** A value's fields as the vk stores them. */
export interface VkRecord {
  readonly name: string;
  readonly type: number;
  /** The vk flags other than VALUE_COMP_NAME, which the encoder sets from the name. */
  readonly flags: number;
  /** The data, exactly its length. */
  readonly data: Uint8Array;
  /** A differencing hive's deletion: size 0 and data offset nil, as Windows writes it (not an empty inline value). */
  readonly tombstone: boolean;
}

/**
 * Writes a vk and its data: inline, into one data cell, or as big data (a `db` record, its segment list, the
 * segments). The data cells' offsets are the next ones of `cells`, in the order the planner allocated them.
 */
export function writeVk(out: HiveBytes, at: number, v: VkRecord, cells: CellCursor, minor: number): void {
  const { view, bytes } = out;
  const q = startCell(out, at, vkCellSize(v.name));
  view.setUint16(q + VK.signature.at, SIG.vk, true);
  view.setUint16(q + VK.nameLength.at, nameBytes(v.name), true);
  view.setUint32(q + VK.type.at, v.type >>> 0, true);
  const compressed = putName(bytes, q + VK_FIXED, v.name);
  view.setUint16(q + VK.flags.at, v.flags | (compressed && v.name.length > 0 ? VALUE_COMP_NAME : 0), true);
  const n = v.data.length;
  if (v.tombstone) {
    view.setUint32(q + VK.dataSize.at, 0, true);
    view.setUint32(q + VK.data.at, NIL, true);
    return;
  }
  const form = dataForm(n, minor);
  if (form === 'inline') {
    view.setUint32(q + VK.dataSize.at, (n | VK_DATA_INLINE) >>> 0, true);
    bytes.set(v.data, q + VK.data.at);
    return;
  }
  view.setUint32(q + VK.dataSize.at, n, true);
  const ref = cells.next();
  view.setUint32(q + VK.data.at, ref, true);
  if (form === 'cell') bytes.set(v.data, startCell(out, ref, dataCellSize(n)));
  else writeBigData(out, ref, v.data, cells);
}

/** Writes a `db` record at `at`, then its segment list and segments at the next offsets of `cells`. */
function writeBigData(out: HiveBytes, at: number, data: Uint8Array, cells: CellCursor): void {
  const { view, bytes } = out;
  const count = segmentCount(data.length);
  const segList = cells.next();
  const dp = startCell(out, at, DB_CELL_SIZE);
  view.setUint16(dp + DB.signature.at, SIG.db, true);
  view.setUint16(dp + DB.count.at, count, true);
  view.setUint32(dp + DB.segmentList.at, segList, true);
  const sp = startCell(out, segList, segmentListCellSize(count));
  for (let i = 0; i < count; i++) {
    const seg = cells.next();
    view.setUint32(sp + REF_LIST.entrySize * i, seg, true);
    const part = data.subarray(i * BIG_DATA_SEGMENT, (i + 1) * BIG_DATA_SEGMENT);
    bytes.set(part, startCell(out, seg, SEGMENT_CELL_SIZE));
  }
}

// ── subkey lists: lh/lf leaves and ri ──────────────────────────────────────────────────────────────────────────────

/** Size of an `lf`/`lh` leaf of `count` entries. */
export function leafCellSize(count: number): number {
  return cellSizeFor(CELL_SIZE_FIELD + listSize(LH.entrySize, count));
}

/** Size of an `ri` index of `count` leaves. */
export function riCellSize(count: number): number {
  return cellSizeFor(CELL_SIZE_FIELD + listSize(RI.entrySize, count));
}

/** Number of leaves a key with `count` subkeys gets (offreg's 507-entry leaves under an `ri` past one). */
export function leafCount(count: number, leafMax: number): number {
  return Math.ceil(count / leafMax);
}

/**
 * Writes a key's subkey list: one leaf at `at`, or (more than `leafMax` subkeys) an `ri` index at `at` with its leaves
 * at the next offsets of `cells`. Entry `i` is the subkey `names[first + i]`, whose nk is at `nks[first + i]`. An `lh`
 * leaf (1.5 and later) holds each name's hash, an `lf` leaf its hint.
 */
export function writeSubkeyList(
  out: HiveBytes,
  at: number,
  subkeys: { readonly names: readonly { readonly name: string }[]; readonly nks: Uint32Array },
  first: number,
  count: number,
  leafMax: number,
  cells: CellCursor,
  minor: number,
): void {
  if (count <= leafMax) {
    writeLeaf(out, at, subkeys, first, count, minor);
    return;
  }
  const { view } = out;
  const leaves = leafCount(count, leafMax);
  const rp = startCell(out, at, riCellSize(leaves));
  view.setUint16(rp + RI.signature.at, SIG.ri, true);
  view.setUint16(rp + RI.count.at, leaves, true);
  for (let i = 0; i < leaves; i++) {
    const leaf = cells.next();
    view.setUint32(rp + RI.elements.at + RI.entrySize * i + RI.entry.leaf.at, leaf, true);
    const from = i * leafMax;
    writeLeaf(out, leaf, subkeys, first + from, Math.min(count, from + leafMax) - from, minor);
  }
}

function writeLeaf(
  out: HiveBytes,
  at: number,
  subkeys: { readonly names: readonly { readonly name: string }[]; readonly nks: Uint32Array },
  first: number,
  count: number,
  minor: number,
): void {
  const { view, bytes } = out;
  const lh = minor >= 5;
  const lp = startCell(out, at, leafCellSize(count));
  view.setUint16(lp + LIST.signature.at, lh ? SIG.lh : SIG.lf, true);
  view.setUint16(lp + LIST.count.at, count, true);
  for (let i = 0; i < count; i++) {
    const e = lp + LH.elements.at + LH.entrySize * i;
    const name = subkeys.names[first + i]!.name;
    view.setUint32(e + LH.entry.key.at, subkeys.nks[first + i]!, true);
    if (lh) view.setUint32(e + LH.entry.hash.at, lhHash(name), true);
    else bytes.set(lfHint(name), e + LH.entry.hash.at);
  }
}

// ── sk ─────────────────────────────────────────────────────────────────────────────────────────────────────────────

/** Size of the `sk` cell of a security descriptor. */
export function skCellSize(sd: Uint8Array): number {
  return cellSizeFor(CELL_SIZE_FIELD + SK_FIXED + sd.length);
}

/** Writes an `sk` cell: its links in the security list, reference count and descriptor. */
export function writeSk(
  out: HiveBytes,
  at: number,
  sk: { sd: Uint8Array; flink: number; blink: number; refs: number },
): void {
  const { view } = out;
  const p = startCell(out, at, skCellSize(sk.sd));
  view.setUint16(p + SK.signature.at, SIG.sk, true);
  view.setUint32(p + SK.flink.at, sk.flink, true);
  view.setUint32(p + SK.blink.at, sk.blink, true);
  view.setUint32(p + SK.refCount.at, sk.refs, true);
  view.setUint32(p + SK.sdLength.at, sk.sd.length, true);
  out.bytes.set(sk.sd, p + SK_FIXED);
}

// ── bins, free cells, base block ───────────────────────────────────────────────────────────────────────────────────

/** Writes every bin header and marks every free cell (a positive size field). */
export function writeBins(
  out: HiveBytes,
  bins: readonly { readonly at: number; readonly size: number }[],
  free: readonly (readonly { readonly at: number; readonly size: number }[])[],
): void {
  const { view } = out;
  for (const list of free) for (const f of list) view.setInt32(cellToFileOffset(f.at), f.size, true);
  for (const bin of bins) {
    const p = cellToFileOffset(bin.at);
    view.setUint32(p + HBIN.signature.at, HBIN_SIGNATURE, true);
    view.setUint32(p + HBIN.offset.at, bin.at, true);
    view.setUint32(p + HBIN.size.at, bin.size, true);
  }
}

/** What the base block records. */
export interface BaseBlock {
  readonly minor: number;
  readonly rootCell: number;
  readonly binsSize: number;
  readonly layered: boolean;
  /** offreg's save stamp (FILETIME). */
  readonly saveTime: bigint;
}

/** Writes the base block as offreg does (sequence numbers 1, offreg's signature and save stamp) and its checksum. */
export function writeBaseBlock(out: HiveBytes, base: BaseBlock): void {
  const { view, bytes } = out;
  view.setUint32(HEADER.signature.at, REGF_SIGNATURE, true);
  view.setUint32(HEADER.seq1.at, 1, true);
  view.setUint32(HEADER.seq2.at, 1, true);
  view.setUint32(HEADER.major.at, 1, true);
  view.setUint32(HEADER.minor.at, base.minor, true);
  view.setUint32(HEADER.fileType.at, 0, true);
  view.setUint32(HEADER.fileFormat.at, 1, true);
  view.setUint32(HEADER.rootCell.at, base.rootCell, true);
  view.setUint32(HEADER.binsSize.at, base.binsSize, true);
  view.setUint32(HEADER.clustering.at, 1, true);
  view.setUint32(HEADER.flags.at, base.layered ? HEADER_LAYERED_KEYS : 0, true);
  view.setUint32(HEADER.offregSignature.at, OFFREG_SIGNATURE, true);
  view.setUint32(HEADER.offregFlags.at, 1, true);
  view.setBigUint64(HEADER.offregSaveTime.at, base.saveTime, true);
  let sum = headerChecksum(bytes.subarray(0, 512), true);
  if (sum === 0 || sum === 0xffffffff) {
    // hivex and reglookup do not remap: move the raw XOR off the two remapped values (the file name is debug-only)
    view.setUint16(HEADER.fileName.at, 0x0052, true);
    sum = headerChecksum(bytes.subarray(0, 512), true);
  }
  view.setUint32(HEADER.checksum.at, sum, true);
}
