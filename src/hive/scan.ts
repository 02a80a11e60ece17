/**
 * The one structural pass over a hive, shared by `openHive` (which stops at the first error) and `checkHive` (which
 * collects every finding). It checks the base block, every bin and every cell, walks the key tree from the root,
 * validates every list, value, big-data record, class and security cell it reaches, detects cycles and shared cells,
 * enforces the named limits, and records where the valid keys and values are. Accessors trust only that record.
 *
 * Work and memory are bounded by the input size: one entry per 8-byte cell slot, each key and cell visited at most
 * once, no recursion.
 */
import { compareUpcase, decodeSecurityDescriptor, upcase } from '../windows/index.js';
import type { FindingCode } from './findings.js';
import {
  BASE_BLOCK_SIZE,
  BIG_DATA_SEGMENT,
  BIG_DATA_THRESHOLD,
  cellToFileOffset,
  DB,
  decodeName,
  HBIN,
  HBIN_HEADER_SIZE,
  HEADER,
  HEADER_LAYERED_KEYS,
  headerChecksum,
  KEY_FLAG,
  LAYER_BITS,
  LAYER_SEMANTICS,
  LIST,
  lfHint,
  lhHash,
  MAX_DEPTH,
  NIL,
  NK,
  NK_FIXED,
  SK,
  SK_FIXED,
  sig2,
  VALUE_COMP_NAME,
  VALUE_TOMBSTONE,
  VK,
  VK_FIXED,
} from './layout.js';
import type { HiveLimits } from './types.js';

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

const SIG = {
  nk: sig2('nk'),
  vk: sig2('vk'),
  sk: sig2('sk'),
  db: sig2('db'),
  li: sig2('li'),
  lf: sig2('lf'),
  lh: sig2('lh'),
  ri: sig2('ri'),
} as const;

/** Bits of the scan's per-slot byte. */
const CELL_START = 1;
const CELL_USED = 2;

const hex = (n: number): string => `0x${n.toString(16)}`;
/** A hive-bins offset (a cell or bin position) as the file offset messages show. */
const fileHex = (off: number): string => hex(cellToFileOffset(off));
/** A cell reference read from a field, as a file offset, or `nil`. */
const refHex = (off: number): string => (off === NIL ? 'nil' : fileHex(off));

/** Thrown by a sink to end the pass early (openHive's sink does this through WinlayerError instead). */
export class StopScan extends Error {}

/**
 * Runs the pass. Findings go to `sink`; the pass returns what it could record. Never throws except what `sink`
 * throws.
 */
export function scanHive(bytes: Uint8Array, sink: ScanSink, limits: HiveLimits = DEFAULT_LIMITS): ScanResult {
  /** Reports a finding with every offset turned into a file offset (what the findings promise). */
  const report = (code: FindingCode, message: string, where?: ScanWhere): void => {
    const at = where?.fileOffset ?? (where?.offset === undefined ? undefined : cellToFileOffset(where.offset));
    sink.report(code, message, {
      ...(at === undefined ? {} : { offset: at }),
      ...(where?.keyPath === undefined ? {} : { keyPath: where.keyPath }),
    });
  };
  const empty: ScanResult = { minor: 0, headerFlags: 0, dirty: false, rootFlags: 0, keys: [] };
  if (bytes.length < BASE_BLOCK_SIZE) {
    report('HEADER_TRUNCATED', `the file is ${bytes.length} bytes, shorter than the 4096-byte base block`, {
      fileOffset: 0,
    });
    return empty;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u32 = (at: number): number => view.getUint32(at, true);
  const u16 = (at: number): number => view.getUint16(at, true);

  // ── base block ──────────────────────────────────────────────────────────────────────────────────────────────────
  if (u32(HEADER.signature.at) !== 0x66676572) {
    report('HEADER_SIGNATURE', 'the file does not start with the signature "regf": it is not a registry hive', {
      fileOffset: 0,
    });
    return empty;
  }
  const major = u32(HEADER.major.at);
  const minor = u32(HEADER.minor.at);
  if (major !== 1) report('HEADER_VERSION', `the major version is ${major}, not 1`, { fileOffset: HEADER.major.at });
  if (minor < 3 || minor > 6) {
    report('HEADER_VERSION', `the minor version is ${minor}; Windows reads versions 1.3 to 1.6 only`, {
      fileOffset: HEADER.minor.at,
    });
  }
  const fileType = u32(HEADER.fileType.at);
  if (fileType !== 0) {
    report('HEADER_FILE_TYPE', `the file type is ${fileType}, not 0 (a primary hive); is this a log file?`, {
      fileOffset: HEADER.fileType.at,
    });
  }
  const format = u32(HEADER.fileFormat.at);
  if (format !== 1)
    report('HEADER_FORMAT', `the file format is ${format}, not 1`, { fileOffset: HEADER.fileFormat.at });
  const cluster = u32(HEADER.clustering.at);
  if (cluster !== 1) {
    report('HEADER_CLUSTERING', `the clustering factor is ${cluster}, not 1`, { fileOffset: HEADER.clustering.at });
  }
  const stored = u32(HEADER.checksum.at);
  const computed = headerChecksum(bytes);
  if (stored !== computed) {
    report(
      'HEADER_CHECKSUM',
      `the base block checksum is ${hex(stored)} but its bytes give ${hex(computed)}: the header is corrupt or was not finished`,
      { fileOffset: HEADER.checksum.at },
    );
  } else if (headerChecksum(bytes, true) !== stored) {
    report(
      'HEADER_CHECKSUM_REMAP',
      'the checksum uses the 0/0xFFFFFFFF remap, which hivex and reglookup do not apply: they will reject this hive',
      { fileOffset: HEADER.checksum.at },
    );
  }
  const seq1 = u32(HEADER.seq1.at);
  const seq2 = u32(HEADER.seq2.at);
  const dirty = seq1 !== seq2;
  if (dirty) {
    report(
      'DIRTY',
      `the sequence numbers ${seq1} and ${seq2} differ: the hive was saved mid-update and needs transaction logs that are not here`,
      { fileOffset: HEADER.seq1.at },
    );
  }
  const flags = u32(HEADER.flags.at);
  /** A differencing hive: its keys' layered bits and tombstone values mean what delta-hives.md §2–§3 says. */
  const layered = (flags & HEADER_LAYERED_KEYS) !== 0;
  if ((flags & ~HEADER_LAYERED_KEYS) !== 0) {
    report('HEADER_FLAGS', `the base block flags are ${hex(flags)} (KTM state), usually 0 or 0x2 (layered keys)`, {
      fileOffset: HEADER.flags.at,
    });
  }
  if (layered && minor < 6) {
    report(
      'HEADER_LAYERED_VERSION',
      `the base block says the hive supports layered keys (flag 0x2), but its version is 1.${minor}: differencing hives are 1.6`,
      { fileOffset: HEADER.flags.at },
    );
  }
  let dataLen = u32(HEADER.binsSize.at);
  const available = bytes.length - BASE_BLOCK_SIZE;
  if (dataLen === 0 || dataLen % 4096 !== 0) {
    report('HEADER_BINS_SIZE', `the hive-bins size ${hex(dataLen)} is not a positive multiple of 4096`, {
      fileOffset: HEADER.binsSize.at,
    });
    return { minor, headerFlags: flags, dirty, rootFlags: 0, keys: [] };
  }
  if (dataLen > available) {
    report(
      'HEADER_TRUNCATED',
      `the header declares ${dataLen} bytes of hive bins but the file holds only ${Math.max(available, 0)}: the file is truncated`,
      { fileOffset: HEADER.binsSize.at },
    );
    dataLen = available - (available % 4096);
    if (dataLen <= 0) return { minor, headerFlags: flags, dirty, rootFlags: 0, keys: [] };
  } else if (dataLen < available) {
    report('TRAILING_DATA', `${available - dataLen} bytes follow the last hive bin`, {
      offset: dataLen,
    });
  }

  // ── bins and cells ──────────────────────────────────────────────────────────────────────────────────────────────
  /**
   * One byte per 8-byte slot: CELL_START where a cell with a valid size starts (the size itself is read from the
   * hive), CELL_USED once the graph references it (for shared-cell and leak detection).
   */
  const slots = new Uint8Array(dataLen / 8);
  /** The signed size of the cell starting at `off` (a slot marked CELL_START). */
  const sizeAt = (off: number): number => view.getInt32(cellToFileOffset(off), true);
  let binAt = 0;
  while (binAt < dataLen) {
    const f = cellToFileOffset(binAt);
    if (u32(f + HBIN.signature.at) !== 0x6e696268) {
      report('BIN_SIGNATURE', `no "hbin" signature at ${fileHex(binAt)}`, { offset: binAt });
      break;
    }
    const declared = u32(f + HBIN.offset.at);
    if (declared !== binAt) {
      report(
        'BIN_OFFSET',
        `the bin at ${fileHex(binAt)} records its bin offset as ${hex(declared)}, not ${hex(binAt)}`,
        { offset: binAt },
      );
    }
    const size = u32(f + HBIN.size.at);
    if (size < 4096 || size % 4096 !== 0 || binAt + size > dataLen) {
      report(
        'BIN_SIZE',
        `the bin at ${fileHex(binAt)} has size ${hex(size)}: not a multiple of 4096, or it runs past the hive-bins data`,
        { offset: binAt },
      );
      break;
    }
    let c = binAt + HBIN_HEADER_SIZE;
    const end = binAt + size;
    while (c < end) {
      if (end - c < 4) {
        report('CELL_SIZE', `the last cell of the bin at ${fileHex(binAt)} does not fit its 4-byte size`, {
          offset: c,
        });
        break;
      }
      const s = view.getInt32(cellToFileOffset(c), true);
      const abs = Math.abs(s);
      if (s === 0 || abs % 8 !== 0 || c + abs > end) {
        report(
          'CELL_SIZE',
          `the cell at ${fileHex(c)} has size ${s}: zero, not a multiple of 8, or past the end of its bin (cells must tile the bin)`,
          { offset: c },
        );
        break;
      }
      slots[c / 8] = CELL_START;
      c += abs;
    }
    binAt += size;
  }

  // ── the key tree ────────────────────────────────────────────────────────────────────────────────────────────────
  const keys: ScanKey[] = [];
  const skRefs = new Map<number, number>();

  /** Validates a reference: start of an allocated cell with at least `need` data bytes. Returns the data length. */
  const cell = (off: number, need: number, what: string, keyPath: string, mark = true): number | undefined => {
    if (off === NIL) {
      report('CELL_NIL', `the ${what} offset is nil where a cell is required`, { keyPath });
      return undefined;
    }
    if ((off & 0x80000000) !== 0) {
      report('CELL_VOLATILE', `the ${what} reference ${hex(off)} points into volatile storage, invalid on disk`, {
        keyPath,
      });
      return undefined;
    }
    if (off % 8 !== 0 || off >= dataLen || (slots[off / 8]! & CELL_START) === 0) {
      report('CELL_NOT_START', `the ${what} at ${fileHex(off)} is not the start of a cell`, {
        offset: off,
        keyPath,
      });
      return undefined;
    }
    const s = sizeAt(off);
    if (s > 0) {
      report('CELL_FREE', `the ${what} at ${fileHex(off)} points at a free cell`, { offset: off, keyPath });
      return undefined;
    }
    const len = -s - 4;
    if (len < need) {
      report('CELL_SHORT', `the ${what} cell at ${fileHex(off)} holds ${len} bytes, fewer than the ${need} it needs`, {
        offset: off,
        keyPath,
      });
      return undefined;
    }
    if (mark) {
      if ((slots[off / 8]! & CELL_USED) !== 0) {
        report('CELL_SHARED', `the ${what} cell at ${fileHex(off)} is referenced more than once`, {
          offset: off,
          keyPath,
        });
        return undefined;
      }
      slots[off / 8] = slots[off / 8]! | CELL_USED;
    }
    return len;
  };
  const at = (off: number): number => cellToFileOffset(off) + 4;

  /** Reads a child's name for ordering checks without marking it (the child is visited later). */
  const peekName = (off: number): string | undefined => {
    if (off === NIL || (off & 0x80000000) !== 0 || off % 8 !== 0 || off >= dataLen) return undefined;
    const s = (slots[off / 8]! & CELL_START) === 0 ? 0 : sizeAt(off);
    if (s >= 0 || -s - 4 < NK_FIXED) return undefined;
    const p = at(off);
    if (u16(p) !== SIG.nk) return undefined;
    const nl = u16(p + NK.nameLength.at);
    if (nl === 0 || NK_FIXED + nl > -s - 4) return undefined;
    return decodeName(
      bytes.subarray(p + NK_FIXED, p + NK_FIXED + nl),
      (u16(p + NK.flags.at) & KEY_FLAG.COMP_NAME) !== 0,
    );
  };

  const rootOff = u32(HEADER.rootCell.at);
  let rootFlags = 0;
  interface Pending {
    off: number;
    parent: number;
    depth: number;
    /** Below a supersede-tree key of a differencing hive: every key here must be supersede-tree or a tombstone. */
    inTree: boolean;
  }
  const stack: Pending[] = [{ off: rootOff, parent: -1, depth: 0, inTree: false }];
  const visitedKeys = new Set<number>();
  while (stack.length > 0) {
    const { off, parent, depth, inTree } = stack.pop()!;
    const parentKey = parent >= 0 ? keys[parent] : undefined;
    const ppath = parentKey === undefined ? '' : parentKey.path;
    if (visitedKeys.has(off)) {
      report('KEY_CYCLE', `the key cell at ${fileHex(off)} is reached twice: the tree has a cycle or a shared key`, {
        offset: off,
        keyPath: ppath,
      });
      continue;
    }
    const len = cell(off, NK_FIXED, parent < 0 ? 'root key' : 'subkey', ppath);
    if (len === undefined) continue;
    visitedKeys.add(off);
    const p = at(off);
    if (u16(p) !== SIG.nk) {
      report('KEY_SIGNATURE', `the cell at ${fileHex(off)} is not a key node ("nk")`, { offset: off, keyPath: ppath });
      continue;
    }
    const kflags = u16(p + NK.flags.at);
    // the key uses its security cell whatever else is wrong with it: count it, or a bad key also gives a false
    // reference-count finding
    const skOff = u32(p + NK.security.at);
    skRefs.set(skOff, (skRefs.get(skOff) ?? 0) + 1);
    const nameLen = u16(p + NK.nameLength.at);
    if (nameLen === 0 || NK_FIXED + nameLen > len) {
      // reported at this key: its path ends with as much of its name as its cell holds
      const fits = Math.max(0, Math.min(nameLen, len - NK_FIXED));
      const partial = decodeName(
        bytes.subarray(p + NK_FIXED, p + NK_FIXED + fits),
        (kflags & KEY_FLAG.COMP_NAME) !== 0,
      );
      const message =
        nameLen === 0
          ? 'the key has an empty name'
          : `the key's name is ${nameLen} bytes but its cell holds ${fits}: the name is cut off`;
      report('KEY_NAME', message, {
        offset: off,
        keyPath: parent < 0 ? '' : ppath === '' && partial !== '' ? partial : `${ppath}\\${partial}`,
      });
      continue;
    }
    const name = decodeName(bytes.subarray(p + NK_FIXED, p + NK_FIXED + nameLen), (kflags & KEY_FLAG.COMP_NAME) !== 0);
    const path = parent < 0 ? '' : ppath === '' ? name : `${ppath}\\${name}`;
    const where = { offset: off, keyPath: path };
    if (parent < 0) {
      rootFlags = kflags;
      if ((kflags & KEY_FLAG.HIVE_ENTRY) === 0) {
        report(
          'ROOT_FLAGS',
          `the root key flags are ${hex(kflags)} without KEY_HIVE_ENTRY (0x4): Windows and offreg accept it, but Samba cannot find the root and reglookup has to search for it`,
          where,
        );
      }
    } else if (u32(p + NK.parent.at) !== parentKey!.offset) {
      report(
        'KEY_PARENT',
        `the key's parent field names ${refHex(u32(p + NK.parent.at))}, but it is listed under the key at ${fileHex(parentKey!.offset)}`,
        where,
      );
    }
    if ((kflags & (KEY_FLAG.VOLATILE | KEY_FLAG.HIVE_EXIT)) !== 0) {
      report('KEY_FLAGS', `the key has flags ${hex(kflags)}: volatile or hive-exit keys never belong on disk`, where);
    }
    if (depth > limits.maxDepth) {
      report('KEY_DEPTH', `the key is nested ${depth} levels deep, more than ${limits.maxDepth}`, where);
      continue;
    }
    if (keys.length >= limits.maxKeys) {
      report('LIMIT_KEYS', `the hive has more than ${limits.maxKeys} keys`, where);
      break;
    }
    const volatileCount = u32(p + NK.volatileSubkeyCount.at);
    if (volatileCount !== 0) {
      report(
        'KEY_VOLATILE_COUNT',
        `the key records ${volatileCount} volatile subkeys, which a file cannot hold`,
        where,
      );
    }

    // class
    const classLen = u16(p + NK.classLength.at);
    const classOk = classLen === 0 || cell(u32(p + NK.classCell.at), classLen, 'class name', path) !== undefined;
    const childInTree = checkLayer(p, inTree, where);

    // values
    const valueCount = u32(p + NK.valueCount.at);
    const vkOffs: number[] = [];
    let maxValueName = 0;
    let maxValueData = 0;
    if (valueCount > limits.maxValuesPerKey) {
      report('LIMIT_VALUES', `the key has ${valueCount} values, more than ${limits.maxValuesPerKey}`, where);
    } else if (valueCount > 0) {
      const listOff = u32(p + NK.valueList.at);
      const listLen = cell(listOff, 4 * valueCount, 'value list', path);
      if (listLen !== undefined) {
        const lp = at(listOff);
        const seen = new Set<string>();
        for (let i = 0; i < valueCount; i++) {
          const vkOff = u32(lp + 4 * i);
          const v = checkValue(vkOff, path);
          if (v === undefined) continue;
          const key = upcase(v.name);
          if (seen.has(key)) {
            report('VALUE_DUPLICATE', `two values are named "${v.name}" (names compare case-insensitively)`, {
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
    if (u32(p + NK.maxValueName.at) < maxValueName) {
      report(
        'KEY_MAX_VALUE_NAME',
        `the key's longest-value-name field says ${u32(p + NK.maxValueName.at)} bytes but a value name has ${maxValueName}`,
        where,
      );
    }
    if (u32(p + NK.maxValueData.at) < maxValueData) {
      report(
        'KEY_MAX_VALUE_DATA',
        `the key's largest-value-data field says ${u32(p + NK.maxValueData.at)} bytes but a value has ${maxValueData}`,
        where,
      );
    }
    if ((kflags & KEY_FLAG.SYM_LINK) !== 0) {
      const ok =
        vkOffs.length <= 1 &&
        vkOffs.every((o) => {
          const q = at(o);
          const nl = u16(q + VK.nameLength.at);
          const nm = decodeName(bytes.subarray(q + VK_FIXED, q + VK_FIXED + nl), (u16(q + VK.flags.at) & 1) !== 0);
          return nm.toLowerCase() === 'symboliclinkvalue' && u32(q + VK.type.at) === 6;
        });
      if (!ok) {
        report('KEY_SYMLINK', 'a symbolic-link key may hold only one value, SymbolicLinkValue of type REG_LINK', where);
      }
    }

    const me = keys.length;
    // an exact-size copy: a pushed-to array keeps room for 16 more (most keys have a few values)
    const values = vkOffs.length === 0 ? [] : vkOffs.slice();
    const rec: ScanKey = { offset: off, parent, name, path, children: [], values, security: skOff, classOk };
    keys.push(rec);
    if (parentKey !== undefined) parentKey.children.push(me);

    // subkeys
    const subCount = u32(p + NK.subkeyCount.at);
    const childOffs: number[] = [];
    if (subCount > 0) {
      collectSubkeys(u32(p + NK.subkeyList.at), subCount, path, childOffs);
    }
    let maxChildName = 0;
    let maxChildClass = 0;
    for (const c of childOffs) {
      if (peekName(c) === undefined) continue; // reported when the child is visited
      const q = at(c);
      maxChildName = Math.max(maxChildName, nameUtf16Bytes(q));
      maxChildClass = Math.max(maxChildClass, u16(q + NK.classLength.at));
    }
    if (u16(p + NK.maxSubkeyName.at) < maxChildName) {
      report(
        'KEY_MAX_SUBKEY_NAME',
        `the key's longest-subkey-name field says ${u16(p + NK.maxSubkeyName.at)} bytes but a subkey name has ${maxChildName}`,
        where,
      );
    }
    if (u32(p + NK.maxSubkeyClass.at) < maxChildClass) {
      report(
        'KEY_MAX_SUBKEY_CLASS',
        `the key's longest-subkey-class field says ${u32(p + NK.maxSubkeyClass.at)} bytes but a subkey class has ${maxChildClass}`,
        where,
      );
    }
    for (let i = childOffs.length - 1; i >= 0; i--) {
      stack.push({ off: childOffs[i]!, parent: me, depth: depth + 1, inTree: childInTree });
    }
  }

  /**
   * The rules of a key's layered-key byte (delta-hives.md §2): only in a differencing hive; no reserved bit; a
   * tombstone holds no values, subkeys or class; below a supersede-tree key every key is supersede-tree or a tombstone.
   * Returns whether the key's subkeys are below a supersede-tree key.
   */
  function checkLayer(p: number, inTree: boolean, where: ScanWhere): boolean {
    const byte = bytes[p + LAYER_BITS.at]!;
    if (!layered) {
      if (byte !== 0) {
        report(
          'LAYERED_WITHOUT_FLAG',
          `the key has layered-key bits ${hex(byte)}, but the base block does not say the hive supports layered keys: is the key deleted, replaced or merged?`,
          where,
        );
      }
      return false;
    }
    if ((byte & LAYER_BITS.reserved) !== 0) {
      report('KEY_LAYER_RESERVED', `the key's layered-key bits ${hex(byte)} set reserved bits (0x7c)`, where);
    }
    const semantics = byte & LAYER_BITS.semantics;
    if (semantics === LAYER_SEMANTICS.tombstone) {
      const held = [
        u32(p + NK.valueCount.at) === 0 ? '' : 'values',
        u32(p + NK.subkeyCount.at) === 0 ? '' : 'subkeys',
        u16(p + NK.classLength.at) === 0 ? '' : 'a class',
      ].filter((x) => x !== '');
      if (held.length > 0) {
        report('KEY_TOMBSTONE', `the key is a tombstone (a deletion) but holds ${held.join(' and ')}`, where);
      }
    } else if (inTree && semantics !== LAYER_SEMANTICS.supersedeTree) {
      report(
        'KEY_SUPERSEDE_TREE',
        `the key is below a supersede-tree key but is ${semantics === LAYER_SEMANTICS.merge ? 'a merge node' : 'supersede-local'}, not supersede-tree or a tombstone`,
        where,
      );
    }
    return inTree || semantics === LAYER_SEMANTICS.supersedeTree;
  }

  /** UTF-16 byte length of an nk's name (validated later when the child is visited). */
  function nameUtf16Bytes(p: number): number {
    const nl = u16(p + NK.nameLength.at);
    return (u16(p + NK.flags.at) & KEY_FLAG.COMP_NAME) !== 0 ? nl * 2 : nl;
  }

  /** Reads one subkey list (and, for `ri`, its leaves) into `out`, checking order, hashes and the count. */
  function collectSubkeys(listOff: number, count: number, path: string, out: number[]): void {
    const where = { offset: listOff, keyPath: path };
    const len = cell(listOff, 4, 'subkey list', path);
    if (len === undefined) return;
    const p = at(listOff);
    const sig = u16(p);
    const names: string[] = [];
    const readLeaf = (leafOff: number, lp: number, lsig: number, n: number): void => {
      const stride = lsig === SIG.li ? 4 : 8;
      if (lsig === SIG.lh && minor < 5) {
        report('LIST_LH_OLD', `an "lh" subkey list in a version 1.${minor} hive (lh came with 1.5)`, {
          offset: leafOff,
          keyPath: path,
        });
      }
      for (let i = 0; i < n; i++) {
        const e = lp + LIST.elements.at + i * stride;
        const child = u32(e);
        const name = peekName(child);
        if (name === undefined) {
          // the visit reports the exact problem
          out.push(child);
          continue;
        }
        if (lsig === SIG.lh && u32(e + 4) !== lhHash(name)) {
          report('LIST_HASH', `the "lh" hash of subkey "${name}" is ${hex(u32(e + 4))}, not ${hex(lhHash(name))}`, {
            offset: leafOff,
            keyPath: path,
          });
        } else if (lsig === SIG.lf) {
          const hint = lfHint(name);
          for (let k = 0; k < 4; k++) {
            if (bytes[e + 4 + k] !== hint[k]) {
              report('LIST_HINT', `the "lf" name hint of subkey "${name}" does not match its name`, {
                offset: leafOff,
                keyPath: path,
              });
              break;
            }
          }
        }
        const prev = names[names.length - 1];
        if (prev !== undefined) {
          const cmp = compareUpcase(prev, name);
          if (cmp === 0) {
            report('KEY_DUPLICATE', `two subkeys are named "${name}" (names compare case-insensitively)`, {
              offset: leafOff,
              keyPath: path,
            });
          } else if (cmp > 0) {
            report(
              'LIST_ORDER',
              `subkey "${name}" comes after "${prev}": lists must be sorted by upper-cased name or Windows misses keys`,
              { offset: leafOff, keyPath: path },
            );
          }
        }
        names.push(name);
        out.push(child);
      }
    };
    const leafSize = (lsig: number, n: number): number => LIST.elements.at + n * (lsig === SIG.li ? 4 : 8);
    if (sig === SIG.ri) {
      const n = u16(p + LIST.count.at);
      if (len < 4 + 4 * n) {
        report('CELL_SHORT', `the "ri" index at ${fileHex(listOff)} is too short for ${n} entries`, where);
        return;
      }
      let total = 0;
      for (let i = 0; i < n; i++) {
        const leafOff = u32(p + 4 + 4 * i);
        const ll = cell(leafOff, 4, 'subkey leaf', path);
        if (ll === undefined) continue;
        const lp = at(leafOff);
        const lsig = u16(lp);
        if (lsig === SIG.ri) {
          report('LIST_RI_NESTED', `the "ri" index at ${fileHex(listOff)} points at another "ri" index`, where);
          continue;
        }
        if (lsig !== SIG.li && lsig !== SIG.lf && lsig !== SIG.lh) {
          report('LIST_SIGNATURE', `the subkey leaf at ${fileHex(leafOff)} is not an li, lf or lh list`, {
            offset: leafOff,
            keyPath: path,
          });
          continue;
        }
        const ln = u16(lp + LIST.count.at);
        if (ll < leafSize(lsig, ln)) {
          report('CELL_SHORT', `the subkey leaf at ${fileHex(leafOff)} is too short for ${ln} entries`, {
            offset: leafOff,
            keyPath: path,
          });
          continue;
        }
        total += ln;
        if (total > count) break;
        readLeaf(leafOff, lp, lsig, ln);
      }
      if (total !== count) {
        report('KEY_SUBKEY_COUNT', `the key says it has ${count} subkeys but its lists hold ${total}`, {
          offset: listOff,
          keyPath: path,
        });
      }
      return;
    }
    if (sig !== SIG.li && sig !== SIG.lf && sig !== SIG.lh) {
      report('LIST_SIGNATURE', `the subkey list at ${fileHex(listOff)} is not an li, lf, lh or ri list`, where);
      return;
    }
    const n = u16(p + LIST.count.at);
    if (len < leafSize(sig, n)) {
      report('CELL_SHORT', `the subkey list at ${fileHex(listOff)} is too short for ${n} entries`, where);
      return;
    }
    if (n !== count) {
      report('KEY_SUBKEY_COUNT', `the key says it has ${count} subkeys but its list holds ${n}`, where);
      return;
    }
    readLeaf(listOff, p, sig, n);
  }

  /** Checks one vk and its data. Returns its name and data size, or undefined when unusable. */
  function checkValue(vkOff: number, path: string): { name: string; size: number } | undefined {
    const len = cell(vkOff, VK_FIXED, 'value', path);
    if (len === undefined) return undefined;
    const p = at(vkOff);
    const where = { offset: vkOff, keyPath: path };
    if (u16(p) !== SIG.vk) {
      report('VALUE_SIGNATURE', `the cell at ${fileHex(vkOff)} in the value list is not a value ("vk")`, where);
      return undefined;
    }
    const nl = u16(p + VK.nameLength.at);
    if (VK_FIXED + nl > len) {
      report('VALUE_NAME', `the value name (${nl} bytes) runs past its cell`, where);
      return undefined;
    }
    const name = decodeName(
      bytes.subarray(p + VK_FIXED, p + VK_FIXED + nl),
      (u16(p + VK.flags.at) & VALUE_COMP_NAME) !== 0,
    );
    const rawSize = u32(p + VK.dataSize.at);
    if ((u16(p + VK.flags.at) & VALUE_TOMBSTONE) !== 0) {
      if (layered) return checkTombstoneValue(p, name, rawSize, where);
      report(
        'LAYERED_WITHOUT_FLAG',
        `value ${name === '' ? '(default)' : `"${name}"`} has the tombstone flag (0x2), but the base block does not say the hive supports layered keys: is it deleted?`,
        where,
      );
    }
    const inline = (rawSize & 0x80000000) !== 0;
    const size = rawSize & 0x7fffffff;
    const type = u32(p + VK.type.at);
    const vwhere = { offset: vkOff, keyPath: path };
    const label = name === '' ? '(default)' : `"${name}"`;
    if (inline) {
      if (size > 4) {
        report('VALUE_INLINE', `value ${label} claims ${size} bytes stored inline; at most 4 fit`, vwhere);
        return undefined;
      }
    } else if (size > limits.maxValueSize) {
      report('LIMIT_VALUE_SIZE', `value ${label} has ${size} bytes, more than ${limits.maxValueSize}`, vwhere);
      return undefined;
    } else if (size > 0) {
      const dataOff = u32(p + VK.data.at);
      if (minor >= 4 && size > BIG_DATA_THRESHOLD) {
        if (!checkBigData(dataOff, size, path, label)) return undefined;
      } else if (cell(dataOff, size, `data of value ${label}`, path) === undefined) {
        return undefined;
      }
    }
    if ((type === 4 || type === 5) && size !== 4) {
      report('VALUE_TYPE_SIZE', `value ${label} is a DWORD of ${size} bytes, not 4`, vwhere);
    } else if (type === 11 && size !== 8) {
      report('VALUE_TYPE_SIZE', `value ${label} is a QWORD of ${size} bytes, not 8`, vwhere);
    } else if ((type === 1 || type === 2) && size % 2 !== 0) {
      report('VALUE_TYPE_SIZE', `value ${label} is a string of odd length ${size}`, vwhere);
    } else if ((type === 1 || type === 2) && size >= 2 && (inline || !(minor >= 4 && size > BIG_DATA_THRESHOLD))) {
      const last = inline ? p + VK.data.at + size - 2 : at(u32(p + VK.data.at)) + size - 2;
      if (u16(last) !== 0) report('VALUE_STRING_NUL', `string value ${label} does not end with a NUL`, vwhere);
    }
    return { name, size };
  }

  /**
   * A value with the tombstone flag in a differencing hive: a deletion, which must be REG_NONE with size 0 and data
   * offset nil (delta-hives.md §3).
   */
  function checkTombstoneValue(
    p: number,
    name: string,
    rawSize: number,
    where: ScanWhere,
  ): { name: string; size: number } | undefined {
    const label = name === '' ? '(default)' : `"${name}"`;
    const type = u32(p + VK.type.at);
    const dataOff = u32(p + VK.data.at);
    if (type !== 0 || rawSize !== 0 || dataOff !== NIL) {
      report(
        'VALUE_TOMBSTONE',
        `value ${label} is a tombstone (a deletion) but has type ${type}, size field ${hex(rawSize)} and data offset ${hex(dataOff)}, not REG_NONE, 0 and 0xffffffff`,
        where,
      );
      return undefined;
    }
    return { name, size: 0 };
  }

  function checkBigData(dbOff: number, size: number, path: string, label: string): boolean {
    const len = cell(dbOff, DB_SIZE_MIN, `big-data record of value ${label}`, path);
    if (len === undefined) return false;
    const p = at(dbOff);
    const where = { offset: dbOff, keyPath: path };
    if (u16(p) !== SIG.db) {
      report(
        'VALUE_BIG_DATA',
        `value ${label} has ${size} bytes, so its data must be a "db" record, and is not`,
        where,
      );
      return false;
    }
    const count = u16(p + DB.count.at);
    const need = Math.ceil(size / BIG_DATA_SEGMENT);
    if (count !== need) {
      report('VALUE_BIG_DATA', `value ${label} needs ${need} big-data segments but its record lists ${count}`, where);
      return false;
    }
    const listOff = u32(p + DB.segmentList.at);
    if (cell(listOff, 4 * count, `big-data segment list of value ${label}`, path) === undefined) return false;
    const lp = at(listOff);
    let left = size;
    for (let i = 0; i < count; i++) {
      const seg = u32(lp + 4 * i);
      const want = Math.min(left, BIG_DATA_SEGMENT);
      const sl = cell(seg, want, `big-data segment ${i} of value ${label}`, path);
      if (sl === undefined) return false;
      if (sl < want + 4) {
        report(
          'VALUE_SEGMENT_TIGHT',
          `big-data segment ${i} of value ${label} has no 4 spare bytes; hivex reads it truncated`,
          { offset: seg, keyPath: path },
        );
      }
      left -= want;
    }
    return true;
  }

  // ── security cells ──────────────────────────────────────────────────────────────────────────────────────────────
  if (keys.length > 0) {
    const rootSk = keys[0]!.security;
    const listed = new Map<number, number>();
    const skWhere = (off: number) => ({ offset: off });
    const validSk = (off: number): boolean => {
      const len = cell(off, SK_FIXED, 'security', '', false);
      if (len === undefined) return false;
      const p = at(off);
      if (u16(p) !== SIG.sk) {
        report(
          'SECURITY_SIGNATURE',
          `the cell at ${fileHex(off)} is used as a security cell but is not "sk"`,
          skWhere(off),
        );
        return false;
      }
      return true;
    };
    if (validSk(rootSk)) {
      let cur = rootSk;
      let prev = u32(at(rootSk) + SK.blink.at);
      const limit = dataLen / 8;
      for (let n = 0; n <= limit; n++) {
        const p = at(cur);
        if (u32(p + SK.blink.at) !== prev) {
          report(
            'SECURITY_LIST',
            `the security cell at ${fileHex(cur)} links back to ${refHex(u32(p + SK.blink.at))}, not ${fileHex(prev)}: the list is broken`,
            skWhere(cur),
          );
        }
        listed.set(cur, u32(p + SK.refCount.at));
        const next = u32(p + SK.flink.at);
        if (next === rootSk) break;
        if (listed.has(next)) {
          report(
            'SECURITY_LIST',
            `the security list loops at ${refHex(next)} without returning to the root's cell`,
            skWhere(cur),
          );
          break;
        }
        if (!validSk(next)) {
          report(
            'SECURITY_LIST',
            `the security cell at ${fileHex(cur)} links to ${refHex(next)}, which is not one`,
            skWhere(cur),
          );
          break;
        }
        prev = cur;
        cur = next;
      }
      if (u32(at(rootSk) + SK.blink.at) !== cur && listed.size > 0) {
        // blink of the first must be the last
        if (!(listed.size === 1 && u32(at(rootSk) + SK.blink.at) === rootSk)) {
          report(
            'SECURITY_LIST',
            `the first security cell's back link does not point at the last one`,
            skWhere(rootSk),
          );
        }
      }
    } else {
      report('SECURITY_ROOT', 'the root key has no valid security cell', { offset: rootSk, keyPath: '' });
    }
    for (const [off, refs] of skRefs) {
      if (!listed.has(off)) {
        if (off !== rootSk && validSk(off)) {
          report(
            'SECURITY_UNLISTED',
            `the security cell at ${fileHex(off)} is used by keys but is not in the security list`,
            skWhere(off),
          );
        }
        continue;
      }
      const rc = listed.get(off)!;
      if (rc !== refs) {
        // below the users Windows frees the cell while keys use it; above, the cell only leaks (regf.md §7)
        report(
          rc < refs ? 'SECURITY_REFCOUNT' : 'SECURITY_REFCOUNT_HIGH',
          `the security cell at ${fileHex(off)} has reference count ${rc} but ${refs} key${refs === 1 ? ' uses' : 's use'} it`,
          skWhere(off),
        );
      }
    }
    /** Listed security cells whose descriptor fits the cell: what the accessors may read. */
    const readable = new Set<number>();
    for (const [off, rc] of listed) {
      if (SK_FIXED + u32(at(off) + SK.sdLength.at) <= -sizeAt(off) - 4) readable.add(off);
      if (!skRefs.has(off)) {
        report(
          'SECURITY_UNUSED',
          `the security cell at ${fileHex(off)} (reference count ${rc}) is in the security list but no key uses it`,
          skWhere(off),
        );
      }
      if ((slots[off / 8]! & CELL_USED) !== 0) continue;
      slots[off / 8] = slots[off / 8]! | CELL_USED;
      const p = at(off);
      const sdLen = u32(p + SK.sdLength.at);
      const cellLen = -sizeAt(off) - 4;
      if (SK_FIXED + sdLen > cellLen) {
        report(
          'SECURITY_DESCRIPTOR',
          `the security descriptor at ${fileHex(off)} (${sdLen} bytes) runs past its cell`,
          skWhere(off),
        );
        continue;
      }
      try {
        decodeSecurityDescriptor(bytes.subarray(p + SK_FIXED, p + SK_FIXED + sdLen));
      } catch (e) {
        report(
          'SECURITY_DESCRIPTOR',
          `the security descriptor at ${fileHex(off)} is invalid: ${(e as Error).message}`,
          skWhere(off),
        );
      }
    }
    // only a hive with errors has keys whose security cell is unusable: the reader then shows no descriptor for them
    for (const k of keys) if (!readable.has(k.security)) k.security = NIL;
  }

  // ── leaks ───────────────────────────────────────────────────────────────────────────────────────────────────────
  let leaks = 0;
  let firstLeak = -1;
  for (let i = 0; i < slots.length; i++) {
    if (slots[i] === CELL_START && sizeAt(i * 8) < 0) {
      if (leaks === 0) firstLeak = i * 8;
      leaks++;
    }
  }
  if (leaks > 0 && keys.length > 0) {
    report(
      'UNREFERENCED_CELLS',
      `${leaks} allocated cell${leaks === 1 ? ' is' : 's are'} not referenced by any key (first at ${fileHex(firstLeak)})`,
      { offset: firstLeak },
    );
  }
  return { minor, headerFlags: flags, dirty, rootFlags, keys };
}

const DB_SIZE_MIN = 8;
