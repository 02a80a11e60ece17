/**
 * The one structural pass over a hive, shared by `openHive` (which stops at the first error) and `checkHive` (which
 * collects every finding). It checks the base block, every bin and every cell, walks the key tree from the root,
 * validates every list, value, big-data record, class and security cell it reaches, detects cycles and shared cells,
 * enforces the named limits, and records where the valid keys and values are. Accessors trust only that record.
 *
 * `Scanner` has one method per record kind (`header`, `bins`, `nk`, `vk`, `sk` list, `subkeyList` with `riIndex` and
 * `leaf`, `bigData`, `valueData`); each names a finding code of the catalogue (`findings.ts`), never a severity.
 *
 * Work and memory are bounded by the input size: one entry per 8-byte cell slot, each key and cell visited at most
 * once, no recursion.
 */
import { compareUpcase, decodeSecurityDescriptor, upcase } from '../windows/index.js';
import type { FindingCode } from './findings.js';
import {
  allocatedDataLength,
  BASE_BLOCK_SIZE,
  BIG_DATA_SEGMENT,
  cellData,
  cellToFileOffset,
  DB,
  decodeName,
  HBIN,
  HBIN_HEADER_SIZE,
  HBIN_SIGNATURE,
  HEADER,
  HEADER_LAYERED_KEYS,
  headerChecksum,
  isAllocated,
  isBigData,
  KEY_FLAG,
  LAYER_BITS,
  LAYER_SEMANTICS,
  LH,
  LI,
  LIST,
  lfHint,
  lhHash,
  listSize,
  MAX_DEPTH,
  NIL,
  NK,
  NK_FIXED,
  REF_LIST,
  REGF_SIGNATURE,
  RI,
  SIG,
  SK,
  SK_FIXED,
  VALUE_COMP_NAME,
  VALUE_TOMBSTONE,
  VK,
  VK_DATA_INLINE,
  VK_FIXED,
  VOLATILE_CELL,
} from './layout.js';
import { type HiveLimits, REG } from './types.js';

/** Default safety limits. */
export const DEFAULT_LIMITS: HiveLimits = Object.freeze({
  maxDepth: MAX_DEPTH,
  maxKeys: 4_000_000,
  maxValuesPerKey: 1_000_000,
  maxValueSize: 65535 * BIG_DATA_SEGMENT,
});

/**
 * Where a finding goes. The pass names a code only; its severity is the catalogue's (`findings.ts`). `offset` is a file
 * offset. A sink may throw to end the pass (openHive's does at its first error).
 */
export interface ScanSink {
  report(code: FindingCode, message: string, where?: { offset?: number; keyPath?: string }): void;
}

/** Where a finding is, as the pass knows it: a hive-bins offset (`offset`, of a bin or cell) or a file offset. */
interface ScanWhere {
  readonly offset?: number;
  readonly fileOffset?: number;
  readonly keyPath?: string;
}

/** One key as the pass recorded it. */
export interface ScanKey {
  readonly offset: number;
  readonly parent: number;
  readonly name: string;
  readonly path: string;
  /** Indices of children in `keys`, in list order (sorted). */
  children: number[];
  /** vk offsets in list order. */
  values: number[];
  /** sk offset, or NIL when its security cell cannot be read (only in a hive with errors). */
  security: number;
  /** False when the key has a class whose cell cannot be read (only in a hive with errors). */
  readonly classOk: boolean;
}

export interface ScanResult {
  readonly minor: number;
  /** The base block flags (0x2: the hive supports layered keys, a differencing hive). */
  readonly headerFlags: number;
  readonly dirty: boolean;
  readonly rootFlags: number;
  /** Every reachable, valid key; index 0 is the root (absent when the root is unusable). */
  readonly keys: ScanKey[];
}

/** A key waiting to be visited. */
interface Pending {
  readonly off: number;
  readonly parent: number;
  readonly depth: number;
  /** Below a supersede-tree key of a differencing hive: every key here must be supersede-tree or a tombstone. */
  readonly inTree: boolean;
}

/** A value the pass accepted: its name and data size. */
interface ValueInfo {
  readonly name: string;
  readonly size: number;
}

/** Bits of the scan's per-slot byte. */
const CELL_START = 1;
const CELL_USED = 2;

/** The smallest `db` record the pass reads: signature, count and the segment-list offset. */
const DB_SIZE_MIN = DB.segmentList.at + DB.segmentList.len;

const hex = (n: number): string => `0x${n.toString(16)}`;
/** A hive-bins offset (a cell or bin position) as the file offset messages show. */
const fileHex = (off: number): string => hex(cellToFileOffset(off));
/** A cell reference read from a field, as a file offset, or `nil`. */
const refHex = (off: number): string => (off === NIL ? 'nil' : fileHex(off));
/** A value's name as messages show it. */
const valueLabel = (name: string): string => (name === '' ? '(default)' : `"${name}"`);
/** The path of the key `name` below the key at `parentPath` ('' = the root, whose own path is ''). */
const childPath = (parentPath: string, name: string): string => (parentPath === '' ? name : `${parentPath}\\${name}`);

/**
 * Runs the pass. Findings go to `sink`; the pass returns what it could record. Never throws except what `sink`
 * throws.
 */
export function scanHive(bytes: Uint8Array, sink: ScanSink, limits: HiveLimits = DEFAULT_LIMITS): ScanResult {
  return new Scanner(bytes, sink, limits).run();
}

/** The pass over one hive: the state every record check shares, and one method per record kind. */
class Scanner {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  readonly sink: ScanSink;
  readonly limits: HiveLimits;
  /** The minor version (3 to 6 in a valid hive). */
  minor = 0;
  /** The base block flags. */
  headerFlags = 0;
  /** A differencing hive: its keys' layered bits and tombstone values mean what delta-hives.md §2–§3 says. */
  layered = false;
  dirty = false;
  rootFlags = 0;
  /** Bytes of hive bins the pass reads (the header's size, cut to what the file holds). */
  dataLen = 0;
  /**
   * One byte per 8-byte slot: CELL_START where a cell with a valid size starts (the size itself is read from the
   * hive), CELL_USED once the graph references it (for shared-cell and leak detection).
   */
  slots = new Uint8Array(0);
  /** Every valid key visited, parents before children. */
  readonly keys: ScanKey[] = [];
  /** How many keys name each security cell (by offset). */
  readonly skRefs = new Map<number, number>();

  constructor(bytes: Uint8Array, sink: ScanSink, limits: HiveLimits) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.sink = sink;
    this.limits = limits;
  }

  run(): ScanResult {
    if (this.header()) {
      this.bins();
      this.keyTree();
      if (this.keys.length > 0) this.securityCells();
      this.leaks();
    }
    const { minor, headerFlags, dirty, rootFlags, keys } = this;
    return { minor, headerFlags, dirty, rootFlags, keys };
  }

  // ── reading and reporting ─────────────────────────────────────────────────────────────────────────────────────────

  u32(at: number): number {
    return this.view.getUint32(at, true);
  }

  u16(at: number): number {
    return this.view.getUint16(at, true);
  }

  /** The signed size field of the cell starting at `off` (a slot marked CELL_START). */
  sizeAt(off: number): number {
    return this.view.getInt32(cellToFileOffset(off), true);
  }

  /** Reports a finding with every offset turned into a file offset (what the findings promise). */
  report(code: FindingCode, message: string, where?: ScanWhere): void {
    const at = where?.fileOffset ?? (where?.offset === undefined ? undefined : cellToFileOffset(where.offset));
    this.sink.report(code, message, {
      ...(at === undefined ? {} : { offset: at }),
      ...(where?.keyPath === undefined ? {} : { keyPath: where.keyPath }),
    });
  }

  /** Reports `code` when a key's maximum field (`what`) is below what its values or subkeys need. */
  maxField(code: FindingCode, what: string, stored: number, needed: number, holder: string, where: ScanWhere): void {
    if (stored < needed) {
      this.report(code, `the key's ${what} field says ${stored} bytes but ${holder} has ${needed}`, where);
    }
  }

  // ── base block ────────────────────────────────────────────────────────────────────────────────────────────────────

  /** Checks the base block; false when nothing past it can be read. Sets the version, flags and `dataLen`. */
  header(): boolean {
    const { bytes } = this;
    if (bytes.length < BASE_BLOCK_SIZE) {
      this.report('HEADER_TRUNCATED', `the file is ${bytes.length} bytes, shorter than the 4096-byte base block`, {
        fileOffset: 0,
      });
      return false;
    }
    if (this.u32(HEADER.signature.at) !== REGF_SIGNATURE) {
      this.report('HEADER_SIGNATURE', 'the file does not start with the signature "regf": it is not a registry hive', {
        fileOffset: 0,
      });
      return false;
    }
    const major = this.u32(HEADER.major.at);
    const minor = this.u32(HEADER.minor.at);
    this.minor = minor;
    if (major !== 1) {
      this.report('HEADER_VERSION', `the major version is ${major}, not 1`, { fileOffset: HEADER.major.at });
    }
    if (minor < 3 || minor > 6) {
      this.report('HEADER_VERSION', `the minor version is ${minor}; Windows reads versions 1.3 to 1.6 only`, {
        fileOffset: HEADER.minor.at,
      });
    }
    const fileType = this.u32(HEADER.fileType.at);
    if (fileType !== 0) {
      this.report('HEADER_FILE_TYPE', `the file type is ${fileType}, not 0 (a primary hive); is this a log file?`, {
        fileOffset: HEADER.fileType.at,
      });
    }
    const format = this.u32(HEADER.fileFormat.at);
    if (format !== 1) {
      this.report('HEADER_FORMAT', `the file format is ${format}, not 1`, { fileOffset: HEADER.fileFormat.at });
    }
    const cluster = this.u32(HEADER.clustering.at);
    if (cluster !== 1) {
      this.report('HEADER_CLUSTERING', `the clustering factor is ${cluster}, not 1`, {
        fileOffset: HEADER.clustering.at,
      });
    }
    const stored = this.u32(HEADER.checksum.at);
    const computed = headerChecksum(bytes);
    if (stored !== computed) {
      this.report(
        'HEADER_CHECKSUM',
        `the base block checksum is ${hex(stored)} but its bytes give ${hex(computed)}: the header is corrupt or was not finished`,
        { fileOffset: HEADER.checksum.at },
      );
    } else if (headerChecksum(bytes, true) !== stored) {
      this.report(
        'HEADER_CHECKSUM_REMAP',
        'the checksum uses the 0/0xFFFFFFFF remap, which hivex and reglookup do not apply: they will reject this hive',
        { fileOffset: HEADER.checksum.at },
      );
    }
    const seq1 = this.u32(HEADER.seq1.at);
    const seq2 = this.u32(HEADER.seq2.at);
    this.dirty = seq1 !== seq2;
    if (this.dirty) {
      this.report(
        'DIRTY',
        `the sequence numbers ${seq1} and ${seq2} differ: the hive was saved mid-update and needs transaction logs that are not here`,
        { fileOffset: HEADER.seq1.at },
      );
    }
    const flags = this.u32(HEADER.flags.at);
    this.headerFlags = flags;
    this.layered = (flags & HEADER_LAYERED_KEYS) !== 0;
    if ((flags & ~HEADER_LAYERED_KEYS) !== 0) {
      this.report(
        'HEADER_FLAGS',
        `the base block flags are ${hex(flags)} (KTM state), usually 0 or 0x2 (layered keys)`,
        { fileOffset: HEADER.flags.at },
      );
    }
    if (this.layered && minor < 6) {
      this.report(
        'HEADER_LAYERED_VERSION',
        `the base block says the hive supports layered keys (flag 0x2), but its version is 1.${minor}: differencing hives are 1.6`,
        { fileOffset: HEADER.flags.at },
      );
    }
    let dataLen = this.u32(HEADER.binsSize.at);
    const available = bytes.length - BASE_BLOCK_SIZE;
    if (dataLen === 0 || dataLen % 4096 !== 0) {
      this.report('HEADER_BINS_SIZE', `the hive-bins size ${hex(dataLen)} is not a positive multiple of 4096`, {
        fileOffset: HEADER.binsSize.at,
      });
      return false;
    }
    if (dataLen > available) {
      this.report(
        'HEADER_TRUNCATED',
        `the header declares ${dataLen} bytes of hive bins but the file holds only ${Math.max(available, 0)}: the file is truncated`,
        { fileOffset: HEADER.binsSize.at },
      );
      dataLen = available - (available % 4096);
      if (dataLen <= 0) return false;
    } else if (dataLen < available) {
      this.report('TRAILING_DATA', `${available - dataLen} bytes follow the last hive bin`, { offset: dataLen });
    }
    this.dataLen = dataLen;
    return true;
  }

  // ── bins and cells ──────────────────────────────────────────────────────────────────────────────────────────────

  /** Reads every bin and marks where each cell starts. A broken bin ends the bins, not the pass. */
  bins(): void {
    const { dataLen } = this;
    this.slots = new Uint8Array(dataLen / 8);
    let binAt = 0;
    while (binAt < dataLen) {
      const f = cellToFileOffset(binAt);
      if (this.u32(f + HBIN.signature.at) !== HBIN_SIGNATURE) {
        this.report('BIN_SIGNATURE', `no "hbin" signature at ${fileHex(binAt)}`, { offset: binAt });
        break;
      }
      const declared = this.u32(f + HBIN.offset.at);
      if (declared !== binAt) {
        this.report(
          'BIN_OFFSET',
          `the bin at ${fileHex(binAt)} records its bin offset as ${hex(declared)}, not ${hex(binAt)}`,
          { offset: binAt },
        );
      }
      const size = this.u32(f + HBIN.size.at);
      if (size < 4096 || size % 4096 !== 0 || binAt + size > dataLen) {
        this.report(
          'BIN_SIZE',
          `the bin at ${fileHex(binAt)} has size ${hex(size)}: not a multiple of 4096, or it runs past the hive-bins data`,
          { offset: binAt },
        );
        break;
      }
      this.cellsOfBin(binAt, binAt + size);
      binAt += size;
    }
  }

  /** Marks the start of every cell of the bin `[binAt, end)`, up to the first whose size does not tile the bin. */
  cellsOfBin(binAt: number, end: number): void {
    let c = binAt + HBIN_HEADER_SIZE;
    while (c < end) {
      if (end - c < 4) {
        this.report('CELL_SIZE', `the last cell of the bin at ${fileHex(binAt)} does not fit its 4-byte size`, {
          offset: c,
        });
        return;
      }
      const s = this.sizeAt(c);
      const abs = Math.abs(s);
      if (s === 0 || abs % 8 !== 0 || c + abs > end) {
        this.report(
          'CELL_SIZE',
          `the cell at ${fileHex(c)} has size ${s}: zero, not a multiple of 8, or past the end of its bin (cells must tile the bin)`,
          { offset: c },
        );
        return;
      }
      this.slots[c / 8] = CELL_START;
      c += abs;
    }
  }

  /**
   * Validates a reference: start of an allocated cell with at least `need` data bytes, not referenced before (unless
   * `mark` is false). Returns the data length.
   */
  cell(off: number, need: number, what: string, keyPath: string, mark = true): number | undefined {
    if (off === NIL) {
      this.report('CELL_NIL', `the ${what} offset is nil where a cell is required`, { keyPath });
      return undefined;
    }
    if ((off & VOLATILE_CELL) !== 0) {
      this.report('CELL_VOLATILE', `the ${what} reference ${hex(off)} points into volatile storage, invalid on disk`, {
        keyPath,
      });
      return undefined;
    }
    if (!this.isCellStart(off)) {
      this.report('CELL_NOT_START', `the ${what} at ${fileHex(off)} is not the start of a cell`, {
        offset: off,
        keyPath,
      });
      return undefined;
    }
    const s = this.sizeAt(off);
    if (!isAllocated(s)) {
      this.report('CELL_FREE', `the ${what} at ${fileHex(off)} points at a free cell`, { offset: off, keyPath });
      return undefined;
    }
    const len = allocatedDataLength(s);
    if (len < need) {
      this.report(
        'CELL_SHORT',
        `the ${what} cell at ${fileHex(off)} holds ${len} bytes, fewer than the ${need} it needs`,
        { offset: off, keyPath },
      );
      return undefined;
    }
    if (mark) {
      if ((this.slots[off / 8]! & CELL_USED) !== 0) {
        this.report('CELL_SHARED', `the ${what} cell at ${fileHex(off)} is referenced more than once`, {
          offset: off,
          keyPath,
        });
        return undefined;
      }
      this.slots[off / 8] = this.slots[off / 8]! | CELL_USED;
    }
    return len;
  }

  /** True when `off` is a non-volatile, aligned reference to where a cell starts. */
  isCellStart(off: number): boolean {
    return off % 8 === 0 && off < this.dataLen && (this.slots[off / 8]! & CELL_START) !== 0;
  }

  // ── nk: the key tree ──────────────────────────────────────────────────────────────────────────────────────────────

  /** Walks the tree from the root key, depth first without recursion, visiting each key once. */
  keyTree(): void {
    const stack: Pending[] = [{ off: this.u32(HEADER.rootCell.at), parent: -1, depth: 0, inTree: false }];
    const visited = new Set<number>();
    while (stack.length > 0) {
      const pending = stack.pop()!;
      const { off } = pending;
      if (visited.has(off)) {
        const parentKey = pending.parent >= 0 ? this.keys[pending.parent] : undefined;
        this.report(
          'KEY_CYCLE',
          `the key cell at ${fileHex(off)} is reached twice: the tree has a cycle or a shared key`,
          { offset: off, keyPath: parentKey?.path ?? '' },
        );
        continue;
      }
      if (this.nk(pending, visited, stack) === 'stop') break;
    }
  }

  /**
   * Checks one key node and what hangs from it (class, layer, values), records it, and pushes its subkeys onto
   * `stack` in list order. 'stop' when the key limit is reached.
   */
  nk(pending: Pending, visited: Set<number>, stack: Pending[]): 'stop' | undefined {
    const { off, parent, depth, inTree } = pending;
    const { bytes, keys } = this;
    const parentKey = parent >= 0 ? keys[parent] : undefined;
    const ppath = parentKey === undefined ? '' : parentKey.path;
    const len = this.cell(off, NK_FIXED, parent < 0 ? 'root key' : 'subkey', ppath);
    if (len === undefined) return undefined;
    visited.add(off);
    const p = cellData(off);
    if (this.u16(p) !== SIG.nk) {
      this.report('KEY_SIGNATURE', `the cell at ${fileHex(off)} is not a key node ("nk")`, {
        offset: off,
        keyPath: ppath,
      });
      return undefined;
    }
    const kflags = this.u16(p + NK.flags.at);
    // the key uses its security cell whatever else is wrong with it: count it, or a bad key also gives a false
    // reference-count finding
    const skOff = this.u32(p + NK.security.at);
    this.skRefs.set(skOff, (this.skRefs.get(skOff) ?? 0) + 1);
    const nameLen = this.u16(p + NK.nameLength.at);
    const compressed = (kflags & KEY_FLAG.COMP_NAME) !== 0;
    if (nameLen === 0 || NK_FIXED + nameLen > len) {
      // reported at this key: its path ends with as much of its name as its cell holds
      const fits = Math.max(0, Math.min(nameLen, len - NK_FIXED));
      const partial = decodeName(bytes.subarray(p + NK_FIXED, p + NK_FIXED + fits), compressed);
      const message =
        nameLen === 0
          ? 'the key has an empty name'
          : `the key's name is ${nameLen} bytes but its cell holds ${fits}: the name is cut off`;
      this.report('KEY_NAME', message, {
        offset: off,
        keyPath: parent < 0 ? '' : ppath === '' && partial !== '' ? partial : `${ppath}\\${partial}`,
      });
      return undefined;
    }
    const name = decodeName(bytes.subarray(p + NK_FIXED, p + NK_FIXED + nameLen), compressed);
    const path = parent < 0 ? '' : childPath(ppath, name);
    const where = { offset: off, keyPath: path };
    if (parent < 0) {
      this.rootFlags = kflags;
      if ((kflags & KEY_FLAG.HIVE_ENTRY) === 0) {
        this.report(
          'ROOT_FLAGS',
          `the root key flags are ${hex(kflags)} without KEY_HIVE_ENTRY (0x4): Windows and offreg accept it, but Samba cannot find the root and reglookup has to search for it`,
          where,
        );
      }
    } else if (this.u32(p + NK.parent.at) !== parentKey!.offset) {
      this.report(
        'KEY_PARENT',
        `the key's parent field names ${refHex(this.u32(p + NK.parent.at))}, but it is listed under the key at ${fileHex(parentKey!.offset)}`,
        where,
      );
    }
    if ((kflags & (KEY_FLAG.VOLATILE | KEY_FLAG.HIVE_EXIT)) !== 0) {
      this.report(
        'KEY_FLAGS',
        `the key has flags ${hex(kflags)}: volatile or hive-exit keys never belong on disk`,
        where,
      );
    }
    if (depth > this.limits.maxDepth) {
      this.report('KEY_DEPTH', `the key is nested ${depth} levels deep, more than ${this.limits.maxDepth}`, where);
      return undefined;
    }
    if (keys.length >= this.limits.maxKeys) {
      this.report('LIMIT_KEYS', `the hive has more than ${this.limits.maxKeys} keys`, where);
      return 'stop';
    }
    const volatileCount = this.u32(p + NK.volatileSubkeyCount.at);
    if (volatileCount !== 0) {
      this.report(
        'KEY_VOLATILE_COUNT',
        `the key records ${volatileCount} volatile subkeys, which a file cannot hold`,
        where,
      );
    }

    const classLen = this.u16(p + NK.classLength.at);
    const classOk =
      classLen === 0 || this.cell(this.u32(p + NK.classCell.at), classLen, 'class name', path) !== undefined;
    const childInTree = this.layer(p, inTree, where);
    const values = this.valueList(p, path, where);
    if ((kflags & KEY_FLAG.SYM_LINK) !== 0) this.symbolicLink(values, where);

    const me = keys.length;
    const rec: ScanKey = { offset: off, parent, name, path, children: [], values, security: skOff, classOk };
    keys.push(rec);
    if (parentKey !== undefined) parentKey.children.push(me);

    const subCount = this.u32(p + NK.subkeyCount.at);
    const childOffs: number[] = [];
    if (subCount > 0) this.subkeyList(this.u32(p + NK.subkeyList.at), subCount, path, childOffs);
    let maxChildName = 0;
    let maxChildClass = 0;
    for (const c of childOffs) {
      if (this.peekName(c) === undefined) continue; // reported when the child is visited
      const q = cellData(c);
      maxChildName = Math.max(maxChildName, this.nameUtf16Bytes(q));
      maxChildClass = Math.max(maxChildClass, this.u16(q + NK.classLength.at));
    }
    const nameField = this.u16(p + NK.maxSubkeyName.at);
    this.maxField('KEY_MAX_SUBKEY_NAME', 'longest-subkey-name', nameField, maxChildName, 'a subkey name', where);
    const classField = this.u32(p + NK.maxSubkeyClass.at);
    this.maxField('KEY_MAX_SUBKEY_CLASS', 'longest-subkey-class', classField, maxChildClass, 'a subkey class', where);
    for (let i = childOffs.length - 1; i >= 0; i--) {
      stack.push({ off: childOffs[i]!, parent: me, depth: depth + 1, inTree: childInTree });
    }
    return undefined;
  }

  /** Reads a child's name for ordering checks without marking it (the child is visited later). */
  peekName(off: number): string | undefined {
    if (off === NIL || (off & VOLATILE_CELL) !== 0 || off % 8 !== 0 || off >= this.dataLen) return undefined;
    const s = (this.slots[off / 8]! & CELL_START) === 0 ? 0 : this.sizeAt(off);
    if (!isAllocated(s) || allocatedDataLength(s) < NK_FIXED) return undefined;
    const p = cellData(off);
    if (this.u16(p) !== SIG.nk) return undefined;
    const nl = this.u16(p + NK.nameLength.at);
    if (nl === 0 || NK_FIXED + nl > allocatedDataLength(s)) return undefined;
    return decodeName(
      this.bytes.subarray(p + NK_FIXED, p + NK_FIXED + nl),
      (this.u16(p + NK.flags.at) & KEY_FLAG.COMP_NAME) !== 0,
    );
  }

  /** UTF-16 byte length of an nk's name (validated later when the child is visited). */
  nameUtf16Bytes(p: number): number {
    const nl = this.u16(p + NK.nameLength.at);
    return (this.u16(p + NK.flags.at) & KEY_FLAG.COMP_NAME) !== 0 ? nl * 2 : nl;
  }

  /**
   * The rules of a key's layered-key byte (delta-hives.md §2): only in a differencing hive; no reserved bit; a
   * tombstone holds no values, subkeys or class; below a supersede-tree key every key is supersede-tree or a tombstone.
   * Returns whether the key's subkeys are below a supersede-tree key.
   */
  layer(p: number, inTree: boolean, where: ScanWhere): boolean {
    const byte = this.bytes[p + LAYER_BITS.at]!;
    if (!this.layered) {
      if (byte !== 0) {
        this.report(
          'LAYERED_WITHOUT_FLAG',
          `the key has layered-key bits ${hex(byte)}, but the base block does not say the hive supports layered keys: is the key deleted, replaced or merged?`,
          where,
        );
      }
      return false;
    }
    if ((byte & LAYER_BITS.reserved) !== 0) {
      this.report('KEY_LAYER_RESERVED', `the key's layered-key bits ${hex(byte)} set reserved bits (0x7c)`, where);
    }
    const semantics = byte & LAYER_BITS.semantics;
    if (semantics === LAYER_SEMANTICS.tombstone) {
      const held = [
        this.u32(p + NK.valueCount.at) === 0 ? '' : 'values',
        this.u32(p + NK.subkeyCount.at) === 0 ? '' : 'subkeys',
        this.u16(p + NK.classLength.at) === 0 ? '' : 'a class',
      ].filter((x) => x !== '');
      if (held.length > 0) {
        this.report('KEY_TOMBSTONE', `the key is a tombstone (a deletion) but holds ${held.join(' and ')}`, where);
      }
    } else if (inTree && semantics !== LAYER_SEMANTICS.supersedeTree) {
      this.report(
        'KEY_SUPERSEDE_TREE',
        `the key is below a supersede-tree key but is ${semantics === LAYER_SEMANTICS.merge ? 'a merge node' : 'supersede-local'}, not supersede-tree or a tombstone`,
        where,
      );
    }
    return inTree || semantics === LAYER_SEMANTICS.supersedeTree;
  }

  /** A symbolic-link key holds at most its SymbolicLinkValue of type REG_LINK. */
  symbolicLink(vkOffs: readonly number[], where: ScanWhere): void {
    const ok =
      vkOffs.length <= 1 &&
      vkOffs.every((o) => {
        const q = cellData(o);
        const nl = this.u16(q + VK.nameLength.at);
        const comp = (this.u16(q + VK.flags.at) & VALUE_COMP_NAME) !== 0;
        const nm = decodeName(this.bytes.subarray(q + VK_FIXED, q + VK_FIXED + nl), comp);
        return nm.toLowerCase() === 'symboliclinkvalue' && this.u32(q + VK.type.at) === REG.LINK;
      });
    if (!ok) {
      this.report(
        'KEY_SYMLINK',
        'a symbolic-link key may hold only one value, SymbolicLinkValue of type REG_LINK',
        where,
      );
    }
  }

  // ── value list and vk ─────────────────────────────────────────────────────────────────────────────────────────────

  /** Checks the key's value list and each value; returns the usable values' vk offsets, in list order. */
  valueList(p: number, path: string, where: ScanWhere): number[] {
    const valueCount = this.u32(p + NK.valueCount.at);
    const vkOffs: number[] = [];
    let maxValueName = 0;
    let maxValueData = 0;
    if (valueCount > this.limits.maxValuesPerKey) {
      this.report('LIMIT_VALUES', `the key has ${valueCount} values, more than ${this.limits.maxValuesPerKey}`, where);
    } else if (valueCount > 0) {
      const listOff = this.u32(p + NK.valueList.at);
      if (this.cell(listOff, REF_LIST.entrySize * valueCount, 'value list', path) !== undefined) {
        const lp = cellData(listOff);
        const seen = new Set<string>();
        for (let i = 0; i < valueCount; i++) {
          const vkOff = this.u32(lp + REF_LIST.entrySize * i);
          const v = this.vk(vkOff, path);
          if (v === undefined) continue;
          const key = upcase(v.name);
          if (seen.has(key)) {
            this.report('VALUE_DUPLICATE', `two values are named "${v.name}" (names compare case-insensitively)`, {
              offset: vkOff,
              keyPath: path,
            });
            continue;
          }
          seen.add(key);
          vkOffs.push(vkOff);
          maxValueName = Math.max(maxValueName, v.name.length * 2);
          maxValueData = Math.max(maxValueData, v.size);
        }
      }
    }
    const nameField = this.u32(p + NK.maxValueName.at);
    this.maxField('KEY_MAX_VALUE_NAME', 'longest-value-name', nameField, maxValueName, 'a value name', where);
    const dataField = this.u32(p + NK.maxValueData.at);
    this.maxField('KEY_MAX_VALUE_DATA', 'largest-value-data', dataField, maxValueData, 'a value', where);
    // an exact-size copy: a pushed-to array keeps room for 16 more (most keys have a few values)
    return vkOffs.length === 0 ? [] : vkOffs.slice();
  }

  /** Checks one vk and its data. Returns its name and data size, or undefined when unusable. */
  vk(vkOff: number, path: string): ValueInfo | undefined {
    const len = this.cell(vkOff, VK_FIXED, 'value', path);
    if (len === undefined) return undefined;
    const p = cellData(vkOff);
    const where = { offset: vkOff, keyPath: path };
    if (this.u16(p) !== SIG.vk) {
      this.report('VALUE_SIGNATURE', `the cell at ${fileHex(vkOff)} in the value list is not a value ("vk")`, where);
      return undefined;
    }
    const nl = this.u16(p + VK.nameLength.at);
    if (VK_FIXED + nl > len) {
      this.report('VALUE_NAME', `the value name (${nl} bytes) runs past its cell`, where);
      return undefined;
    }
    const vflags = this.u16(p + VK.flags.at);
    const name = decodeName(this.bytes.subarray(p + VK_FIXED, p + VK_FIXED + nl), (vflags & VALUE_COMP_NAME) !== 0);
    const rawSize = this.u32(p + VK.dataSize.at);
    if ((vflags & VALUE_TOMBSTONE) !== 0) {
      if (this.layered) return this.tombstoneValue(p, name, rawSize, where);
      this.report(
        'LAYERED_WITHOUT_FLAG',
        `value ${valueLabel(name)} has the tombstone flag (0x2), but the base block does not say the hive supports layered keys: is it deleted?`,
        where,
      );
    }
    const inline = (rawSize & VK_DATA_INLINE) !== 0;
    const size = rawSize & ~VK_DATA_INLINE;
    const label = valueLabel(name);
    if (inline) {
      if (size > 4) {
        this.report('VALUE_INLINE', `value ${label} claims ${size} bytes stored inline; at most 4 fit`, where);
        return undefined;
      }
    } else if (size > this.limits.maxValueSize) {
      this.report('LIMIT_VALUE_SIZE', `value ${label} has ${size} bytes, more than ${this.limits.maxValueSize}`, where);
      return undefined;
    } else if (size > 0) {
      const dataOff = this.u32(p + VK.data.at);
      if (isBigData(size, this.minor)) {
        if (!this.bigData(dataOff, size, path, label)) return undefined;
      } else if (this.cell(dataOff, size, `data of value ${label}`, path) === undefined) {
        return undefined;
      }
    }
    this.valueData(p, size, inline, label, where);
    return { name, size };
  }

  /** The rules of a value's data for its type: DWORD 4 bytes, QWORD 8, a string of even length ending with a NUL. */
  valueData(p: number, size: number, inline: boolean, label: string, where: ScanWhere): void {
    const type = this.u32(p + VK.type.at);
    const isString = type === REG.SZ || type === REG.EXPAND_SZ;
    if ((type === REG.DWORD || type === REG.DWORD_BIG_ENDIAN) && size !== 4) {
      this.report('VALUE_TYPE_SIZE', `value ${label} is a DWORD of ${size} bytes, not 4`, where);
    } else if (type === REG.QWORD && size !== 8) {
      this.report('VALUE_TYPE_SIZE', `value ${label} is a QWORD of ${size} bytes, not 8`, where);
    } else if (isString && size % 2 !== 0) {
      this.report('VALUE_TYPE_SIZE', `value ${label} is a string of odd length ${size}`, where);
    } else if (isString && size >= 2 && (inline || !isBigData(size, this.minor))) {
      const last = inline ? p + VK.data.at + size - 2 : cellData(this.u32(p + VK.data.at)) + size - 2;
      if (this.u16(last) !== 0) this.report('VALUE_STRING_NUL', `string value ${label} does not end with a NUL`, where);
    }
  }

  /**
   * A value with the tombstone flag in a differencing hive: a deletion, which must be REG_NONE with size 0 and data
   * offset nil (delta-hives.md §3).
   */
  tombstoneValue(p: number, name: string, rawSize: number, where: ScanWhere): ValueInfo | undefined {
    const type = this.u32(p + VK.type.at);
    const dataOff = this.u32(p + VK.data.at);
    if (type !== REG.NONE || rawSize !== 0 || dataOff !== NIL) {
      this.report(
        'VALUE_TOMBSTONE',
        `value ${valueLabel(name)} is a tombstone (a deletion) but has type ${type}, size field ${hex(rawSize)} and data offset ${hex(dataOff)}, not REG_NONE, 0 and 0xffffffff`,
        where,
      );
      return undefined;
    }
    return { name, size: 0 };
  }

  /** Checks a big-data record (`db`), its segment list and each segment; false when the value is unusable. */
  bigData(dbOff: number, size: number, path: string, label: string): boolean {
    if (this.cell(dbOff, DB_SIZE_MIN, `big-data record of value ${label}`, path) === undefined) return false;
    const p = cellData(dbOff);
    const where = { offset: dbOff, keyPath: path };
    if (this.u16(p) !== SIG.db) {
      this.report(
        'VALUE_BIG_DATA',
        `value ${label} has ${size} bytes, so its data must be a "db" record, and is not`,
        where,
      );
      return false;
    }
    const count = this.u16(p + DB.count.at);
    const need = Math.ceil(size / BIG_DATA_SEGMENT);
    if (count !== need) {
      this.report(
        'VALUE_BIG_DATA',
        `value ${label} needs ${need} big-data segments but its record lists ${count}`,
        where,
      );
      return false;
    }
    const listOff = this.u32(p + DB.segmentList.at);
    if (this.cell(listOff, REF_LIST.entrySize * count, `big-data segment list of value ${label}`, path) === undefined)
      return false;
    const lp = cellData(listOff);
    let left = size;
    for (let i = 0; i < count; i++) {
      const seg = this.u32(lp + REF_LIST.entrySize * i);
      const want = Math.min(left, BIG_DATA_SEGMENT);
      const sl = this.cell(seg, want, `big-data segment ${i} of value ${label}`, path);
      if (sl === undefined) return false;
      if (sl < want + 4) {
        this.report(
          'VALUE_SEGMENT_TIGHT',
          `big-data segment ${i} of value ${label} has no 4 spare bytes; hivex reads it truncated`,
          { offset: seg, keyPath: path },
        );
      }
      left -= want;
    }
    return true;
  }

  // ── subkey lists: ri, li, lf, lh ──────────────────────────────────────────────────────────────────────────────────

  /** Reads one subkey list (and, for `ri`, its leaves) into `out`, checking order, hashes and the count. */
  subkeyList(listOff: number, count: number, path: string, out: number[]): void {
    const where = { offset: listOff, keyPath: path };
    const len = this.cell(listOff, LIST.elements.at, 'subkey list', path);
    if (len === undefined) return;
    const p = cellData(listOff);
    const sig = this.u16(p + LIST.signature.at);
    const names: string[] = [];
    if (sig === SIG.ri) {
      this.riIndex(listOff, p, len, count, path, names, out);
      return;
    }
    if (!isLeafSignature(sig)) {
      this.report('LIST_SIGNATURE', `the subkey list at ${fileHex(listOff)} is not an li, lf, lh or ri list`, where);
      return;
    }
    const n = this.u16(p + LIST.count.at);
    if (len < leafSize(sig, n)) {
      this.report('CELL_SHORT', `the subkey list at ${fileHex(listOff)} is too short for ${n} entries`, where);
      return;
    }
    if (n !== count) {
      this.report('KEY_SUBKEY_COUNT', `the key says it has ${count} subkeys but its list holds ${n}`, where);
      return;
    }
    this.leaf(listOff, p, sig, n, path, names, out);
  }

  /** An `ri` index: each entry a leaf (never another `ri`), the leaves' counts adding up to the key's. */
  riIndex(listOff: number, p: number, len: number, count: number, path: string, names: string[], out: number[]): void {
    const where = { offset: listOff, keyPath: path };
    const n = this.u16(p + RI.count.at);
    if (len < listSize(RI.entrySize, n)) {
      this.report('CELL_SHORT', `the "ri" index at ${fileHex(listOff)} is too short for ${n} entries`, where);
      return;
    }
    let total = 0;
    for (let i = 0; i < n; i++) {
      const leafOff = this.u32(p + RI.elements.at + RI.entrySize * i + RI.entry.leaf.at);
      const ll = this.cell(leafOff, LIST.elements.at, 'subkey leaf', path);
      if (ll === undefined) continue;
      const lp = cellData(leafOff);
      const lsig = this.u16(lp + LIST.signature.at);
      if (lsig === SIG.ri) {
        this.report('LIST_RI_NESTED', `the "ri" index at ${fileHex(listOff)} points at another "ri" index`, where);
        continue;
      }
      if (!isLeafSignature(lsig)) {
        this.report('LIST_SIGNATURE', `the subkey leaf at ${fileHex(leafOff)} is not an li, lf or lh list`, {
          offset: leafOff,
          keyPath: path,
        });
        continue;
      }
      const ln = this.u16(lp + LIST.count.at);
      if (ll < leafSize(lsig, ln)) {
        this.report('CELL_SHORT', `the subkey leaf at ${fileHex(leafOff)} is too short for ${ln} entries`, {
          offset: leafOff,
          keyPath: path,
        });
        continue;
      }
      total += ln;
      if (total > count) break;
      this.leaf(leafOff, lp, lsig, ln, path, names, out);
    }
    if (total !== count) {
      this.report('KEY_SUBKEY_COUNT', `the key says it has ${count} subkeys but its lists hold ${total}`, where);
    }
  }

  /**
   * One `li`, `lf` or `lh` leaf of `n` entries at `lp`: each entry's hash or hint, and the order of the names across
   * the key's leaves (`names`, the names so far). Pushes every entry's nk offset to `out`.
   */
  leaf(leafOff: number, lp: number, lsig: number, n: number, path: string, names: string[], out: number[]): void {
    const where = { offset: leafOff, keyPath: path };
    const stride = lsig === SIG.li ? LI.entrySize : LH.entrySize;
    if (lsig === SIG.lh && this.minor < 5) {
      this.report('LIST_LH_OLD', `an "lh" subkey list in a version 1.${this.minor} hive (lh came with 1.5)`, where);
    }
    for (let i = 0; i < n; i++) {
      const e = lp + LIST.elements.at + i * stride;
      const child = this.u32(e + LH.entry.key.at);
      const name = this.peekName(child);
      if (name === undefined) {
        // the visit reports the exact problem
        out.push(child);
        continue;
      }
      if (lsig === SIG.lh && this.u32(e + LH.entry.hash.at) !== lhHash(name)) {
        const stored = hex(this.u32(e + LH.entry.hash.at));
        this.report('LIST_HASH', `the "lh" hash of subkey "${name}" is ${stored}, not ${hex(lhHash(name))}`, where);
      } else if (lsig === SIG.lf) {
        const hint = lfHint(name);
        for (let k = 0; k < 4; k++) {
          if (this.bytes[e + LH.entry.hash.at + k] !== hint[k]) {
            this.report('LIST_HINT', `the "lf" name hint of subkey "${name}" does not match its name`, where);
            break;
          }
        }
      }
      const prev = names[names.length - 1];
      if (prev !== undefined) {
        const cmp = compareUpcase(prev, name);
        if (cmp === 0) {
          this.report('KEY_DUPLICATE', `two subkeys are named "${name}" (names compare case-insensitively)`, where);
        } else if (cmp > 0) {
          this.report(
            'LIST_ORDER',
            `subkey "${name}" comes after "${prev}": lists must be sorted by upper-cased name or Windows misses keys`,
            where,
          );
        }
      }
      names.push(name);
      out.push(child);
    }
  }

  // ── sk: security cells ────────────────────────────────────────────────────────────────────────────────────────────

  /** True when `off` is a readable security cell (not marked used: the list walk reaches cells keys also name). */
  validSk(off: number): boolean {
    if (this.cell(off, SK_FIXED, 'security', '', false) === undefined) return false;
    if (this.u16(cellData(off)) !== SIG.sk) {
      this.report('SECURITY_SIGNATURE', `the cell at ${fileHex(off)} is used as a security cell but is not "sk"`, {
        offset: off,
      });
      return false;
    }
    return true;
  }

  /**
   * The security list from the root key's cell, each listed cell's reference count against the keys that name it,
   * and each descriptor. Keys whose security cell cannot be read get NIL (only in a hive with errors).
   */
  securityCells(): void {
    const rootSk = this.keys[0]!.security;
    const listed = this.securityList(rootSk);
    for (const [off, refs] of this.skRefs) {
      if (!listed.has(off)) {
        if (off !== rootSk && this.validSk(off)) {
          this.report(
            'SECURITY_UNLISTED',
            `the security cell at ${fileHex(off)} is used by keys but is not in the security list`,
            { offset: off },
          );
        }
        continue;
      }
      const rc = listed.get(off)!;
      if (rc !== refs) {
        // below the users Windows frees the cell while keys use it; above, the cell only leaks (regf.md §7)
        this.report(
          rc < refs ? 'SECURITY_REFCOUNT' : 'SECURITY_REFCOUNT_HIGH',
          `the security cell at ${fileHex(off)} has reference count ${rc} but ${refs} key${refs === 1 ? ' uses' : 's use'} it`,
          { offset: off },
        );
      }
    }
    /** Listed security cells whose descriptor fits the cell: what the accessors may read. */
    const readable = new Set<number>();
    for (const [off, rc] of listed) {
      if (this.sk(off, rc)) readable.add(off);
    }
    for (const k of this.keys) if (!readable.has(k.security)) k.security = NIL;
  }

  /** Walks the doubly linked security list from `rootSk`; returns each listed cell's reference count. */
  securityList(rootSk: number): Map<number, number> {
    const listed = new Map<number, number>();
    if (!this.validSk(rootSk)) {
      this.report('SECURITY_ROOT', 'the root key has no valid security cell', { offset: rootSk, keyPath: '' });
      return listed;
    }
    const rootBlink = this.u32(cellData(rootSk) + SK.blink.at);
    let cur = rootSk;
    let prev = rootBlink;
    const limit = this.dataLen / 8;
    for (let n = 0; n <= limit; n++) {
      const p = cellData(cur);
      if (this.u32(p + SK.blink.at) !== prev) {
        this.report(
          'SECURITY_LIST',
          `the security cell at ${fileHex(cur)} links back to ${refHex(this.u32(p + SK.blink.at))}, not ${fileHex(prev)}: the list is broken`,
          { offset: cur },
        );
      }
      listed.set(cur, this.u32(p + SK.refCount.at));
      const next = this.u32(p + SK.flink.at);
      if (next === rootSk) break;
      if (listed.has(next)) {
        this.report(
          'SECURITY_LIST',
          `the security list loops at ${refHex(next)} without returning to the root's cell`,
          { offset: cur },
        );
        break;
      }
      if (!this.validSk(next)) {
        this.report(
          'SECURITY_LIST',
          `the security cell at ${fileHex(cur)} links to ${refHex(next)}, which is not one`,
          { offset: cur },
        );
        break;
      }
      prev = cur;
      cur = next;
    }
    // the back link of the first cell must be the last one (a one-cell list links to itself)
    if (rootBlink !== cur && listed.size > 0 && !(listed.size === 1 && rootBlink === rootSk)) {
      this.report('SECURITY_LIST', `the first security cell's back link does not point at the last one`, {
        offset: rootSk,
      });
    }
    return listed;
  }

  /** One listed security cell with reference count `rc`: used by a key, descriptor valid. True when readable. */
  sk(off: number, rc: number): boolean {
    const sdLen = this.u32(cellData(off) + SK.sdLength.at);
    const cellLen = allocatedDataLength(this.sizeAt(off));
    const fits = SK_FIXED + sdLen <= cellLen;
    if (!this.skRefs.has(off)) {
      this.report(
        'SECURITY_UNUSED',
        `the security cell at ${fileHex(off)} (reference count ${rc}) is in the security list but no key uses it`,
        { offset: off },
      );
    }
    if ((this.slots[off / 8]! & CELL_USED) !== 0) return fits;
    this.slots[off / 8] = this.slots[off / 8]! | CELL_USED;
    if (!fits) {
      this.report(
        'SECURITY_DESCRIPTOR',
        `the security descriptor at ${fileHex(off)} (${sdLen} bytes) runs past its cell`,
        { offset: off },
      );
      return false;
    }
    const p = cellData(off);
    try {
      decodeSecurityDescriptor(this.bytes.subarray(p + SK_FIXED, p + SK_FIXED + sdLen));
    } catch (e) {
      this.report(
        'SECURITY_DESCRIPTOR',
        `the security descriptor at ${fileHex(off)} is invalid: ${(e as Error).message}`,
        { offset: off },
      );
    }
    return true;
  }

  // ── leaks ───────────────────────────────────────────────────────────────────────────────────────────────────────

  /** Allocated cells nothing references (reported once, with the first). */
  leaks(): void {
    const { slots } = this;
    let leaks = 0;
    let firstLeak = -1;
    for (let i = 0; i < slots.length; i++) {
      if (slots[i] === CELL_START && isAllocated(this.sizeAt(i * 8))) {
        if (leaks === 0) firstLeak = i * 8;
        leaks++;
      }
    }
    if (leaks > 0 && this.keys.length > 0) {
      this.report(
        'UNREFERENCED_CELLS',
        `${leaks} allocated cell${leaks === 1 ? ' is' : 's are'} not referenced by any key (first at ${fileHex(firstLeak)})`,
        { offset: firstLeak },
      );
    }
  }
}

/** True for the signature of a leaf list (`li`, `lf`, `lh`). */
function isLeafSignature(sig: number): boolean {
  return sig === SIG.li || sig === SIG.lf || sig === SIG.lh;
}

/** Byte size of a leaf of `n` entries with signature `sig`. */
function leafSize(sig: number, n: number): number {
  return listSize(sig === SIG.li ? LI.entrySize : LH.entrySize, n);
}
