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
  headerChecksum,
  KEY_FLAG,
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

/** Where a finding goes. `fatal` findings end the pass (nothing after them can be trusted). */
export interface ScanSink {
  error(code: string, message: string, where?: { offset?: number; keyPath?: string }): void;
  warning(code: string, message: string, where?: { offset?: number; keyPath?: string }): void;
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
  /** sk offset, or NIL. */
  readonly security: number;
}

export interface ScanResult {
  readonly minor: number;
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

/** Thrown by a sink to end the pass early (openHive's sink does this through WinlayerError instead). */
export class StopScan extends Error {}

/**
 * Runs the pass. Findings go to `sink`; the pass returns what it could record. Never throws except what `sink`
 * throws.
 */
export function scanHive(bytes: Uint8Array, sink: ScanSink, limits: HiveLimits = DEFAULT_LIMITS): ScanResult {
  const empty: ScanResult = { minor: 0, dirty: false, rootFlags: 0, keys: [] };
  if (bytes.length < BASE_BLOCK_SIZE) {
    sink.error('HEADER_TRUNCATED', `the file is ${bytes.length} bytes, shorter than the 4096-byte base block`, {
      offset: 0,
    });
    return empty;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u32 = (at: number): number => view.getUint32(at, true);
  const u16 = (at: number): number => view.getUint16(at, true);

  // ── base block ──────────────────────────────────────────────────────────────────────────────────────────────────
  if (u32(HEADER.signature.at) !== 0x66676572) {
    sink.error('HEADER_SIGNATURE', 'the file does not start with the signature "regf": it is not a registry hive', {
      offset: 0,
    });
    return empty;
  }
  const major = u32(HEADER.major.at);
  const minor = u32(HEADER.minor.at);
  if (major !== 1) sink.error('HEADER_VERSION', `the major version is ${major}, not 1`, { offset: HEADER.major.at });
  if (minor < 3 || minor > 6) {
    sink.error('HEADER_VERSION', `the minor version is ${minor}; Windows reads versions 1.3 to 1.6 only`, {
      offset: HEADER.minor.at,
    });
  }
  const fileType = u32(HEADER.fileType.at);
  if (fileType !== 0) {
    sink.error('HEADER_FILE_TYPE', `the file type is ${fileType}, not 0 (a primary hive); is this a log file?`, {
      offset: HEADER.fileType.at,
    });
  }
  const format = u32(HEADER.fileFormat.at);
  if (format !== 1)
    sink.error('HEADER_FORMAT', `the file format is ${format}, not 1`, { offset: HEADER.fileFormat.at });
  const cluster = u32(HEADER.clustering.at);
  if (cluster !== 1) {
    sink.error('HEADER_CLUSTERING', `the clustering factor is ${cluster}, not 1`, { offset: HEADER.clustering.at });
  }
  const stored = u32(HEADER.checksum.at);
  const computed = headerChecksum(bytes);
  if (stored !== computed) {
    sink.error(
      'HEADER_CHECKSUM',
      `the base block checksum is ${hex(stored)} but its bytes give ${hex(computed)}: the header is corrupt or was not finished`,
      { offset: HEADER.checksum.at },
    );
  } else if (headerChecksum(bytes, true) !== stored) {
    sink.warning(
      'HEADER_CHECKSUM_REMAP',
      'the checksum uses the 0/0xFFFFFFFF remap, which hivex and reglookup do not apply: they will reject this hive',
      { offset: HEADER.checksum.at },
    );
  }
  const seq1 = u32(HEADER.seq1.at);
  const seq2 = u32(HEADER.seq2.at);
  const dirty = seq1 !== seq2;
  if (dirty) {
    sink.error(
      'DIRTY',
      `the hive is dirty (sequence numbers ${seq1} and ${seq2} differ): it was saved mid-update and needs transaction logs that are not here`,
      { offset: HEADER.seq1.at },
    );
  }
  const flags = u32(HEADER.flags.at);
  if (flags !== 0) {
    sink.warning('HEADER_FLAGS', `the base block flags are ${hex(flags)} (KTM or layered-key state), usually 0`, {
      offset: HEADER.flags.at,
    });
  }
  let dataLen = u32(HEADER.binsSize.at);
  const available = bytes.length - BASE_BLOCK_SIZE;
  if (dataLen === 0 || dataLen % 4096 !== 0) {
    sink.error('HEADER_BINS_SIZE', `the hive-bins size ${hex(dataLen)} is not a positive multiple of 4096`, {
      offset: HEADER.binsSize.at,
    });
    return { minor, dirty, rootFlags: 0, keys: [] };
  }
  if (dataLen > available) {
    sink.error(
      'HEADER_TRUNCATED',
      `the header declares ${dataLen} bytes of hive bins but the file holds only ${Math.max(available, 0)}: the file is truncated`,
      { offset: HEADER.binsSize.at },
    );
    dataLen = available - (available % 4096);
    if (dataLen <= 0) return { minor, dirty, rootFlags: 0, keys: [] };
  } else if (dataLen < available) {
    sink.warning('TRAILING_DATA', `${available - dataLen} bytes follow the last hive bin`, {
      offset: cellToFileOffset(dataLen),
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
      sink.error('BIN_SIGNATURE', `no "hbin" signature at bin offset ${hex(binAt)}`, { offset: binAt });
      break;
    }
    const declared = u32(f + HBIN.offset.at);
    if (declared !== binAt) {
      sink.error('BIN_OFFSET', `the bin at ${hex(binAt)} says it is at ${hex(declared)}`, { offset: binAt });
    }
    const size = u32(f + HBIN.size.at);
    if (size < 4096 || size % 4096 !== 0 || binAt + size > dataLen) {
      sink.error(
        'BIN_SIZE',
        `the bin at ${hex(binAt)} has size ${hex(size)}: not a multiple of 4096, or it runs past the hive-bins data`,
        { offset: binAt },
      );
      break;
    }
    let c = binAt + HBIN_HEADER_SIZE;
    const end = binAt + size;
    while (c < end) {
      if (end - c < 4) {
        sink.error('CELL_SIZE', `the last cell of the bin at ${hex(binAt)} does not fit its 4-byte size`, {
          offset: c,
        });
        break;
      }
      const s = view.getInt32(cellToFileOffset(c), true);
      const abs = Math.abs(s);
      if (s === 0 || abs % 8 !== 0 || c + abs > end) {
        sink.error(
          'CELL_SIZE',
          `the cell at ${hex(c)} has size ${s}: zero, not a multiple of 8, or past the end of its bin (cells must tile the bin)`,
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
      sink.error('CELL_NIL', `the ${what} offset is nil where a cell is required`, { keyPath });
      return undefined;
    }
    if ((off & 0x80000000) !== 0) {
      sink.error('CELL_VOLATILE', `the ${what} offset ${hex(off)} points into volatile storage, invalid on disk`, {
        keyPath,
      });
      return undefined;
    }
    if (off % 8 !== 0 || off >= dataLen || (slots[off / 8]! & CELL_START) === 0) {
      sink.error('CELL_NOT_START', `the ${what} offset ${hex(off)} is not the start of a cell`, {
        offset: off,
        keyPath,
      });
      return undefined;
    }
    const s = sizeAt(off);
    if (s > 0) {
      sink.error('CELL_FREE', `the ${what} at ${hex(off)} points at a free cell`, { offset: off, keyPath });
      return undefined;
    }
    const len = -s - 4;
    if (len < need) {
      sink.error('CELL_SHORT', `the ${what} cell at ${hex(off)} holds ${len} bytes, fewer than the ${need} it needs`, {
        offset: off,
        keyPath,
      });
      return undefined;
    }
    if (mark) {
      if ((slots[off / 8]! & CELL_USED) !== 0) {
        sink.error('CELL_SHARED', `the ${what} cell at ${hex(off)} is referenced more than once`, {
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
  }
  const stack: Pending[] = [{ off: rootOff, parent: -1, depth: 0 }];
  const visitedKeys = new Set<number>();
  while (stack.length > 0) {
    const { off, parent, depth } = stack.pop()!;
    const parentKey = parent >= 0 ? keys[parent] : undefined;
    const ppath = parentKey === undefined ? '' : parentKey.path;
    if (visitedKeys.has(off)) {
      sink.error('KEY_CYCLE', `the key cell at ${hex(off)} is reached twice: the tree has a cycle or a shared key`, {
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
      sink.error('KEY_SIGNATURE', `the cell at ${hex(off)} is not a key node ("nk")`, { offset: off, keyPath: ppath });
      continue;
    }
    const kflags = u16(p + NK.flags.at);
    const nameLen = u16(p + NK.nameLength.at);
    if (nameLen === 0 || NK_FIXED + nameLen > len) {
      sink.error('KEY_NAME', `the key at ${hex(off)} has a name length of ${nameLen}, empty or past its cell`, {
        offset: off,
        keyPath: ppath,
      });
      continue;
    }
    const name = decodeName(bytes.subarray(p + NK_FIXED, p + NK_FIXED + nameLen), (kflags & KEY_FLAG.COMP_NAME) !== 0);
    const path = parent < 0 ? '' : ppath === '' ? name : `${ppath}\\${name}`;
    const where = { offset: off, keyPath: path };
    if (parent < 0) {
      rootFlags = kflags;
      if ((kflags & KEY_FLAG.HIVE_ENTRY) === 0) {
        sink.warning(
          'ROOT_FLAGS',
          `the root key flags are ${hex(kflags)} without KEY_HIVE_ENTRY (0x4): Windows and offreg accept it, but Samba cannot find the root and reglookup has to search for it`,
          where,
        );
      }
    } else if (u32(p + NK.parent.at) !== parentKey!.offset) {
      sink.error(
        'KEY_PARENT',
        `the key names ${hex(u32(p + NK.parent.at))} as its parent, but it is listed under the key at ${hex(parentKey!.offset)}`,
        where,
      );
    }
    if ((kflags & (KEY_FLAG.VOLATILE | KEY_FLAG.HIVE_EXIT)) !== 0) {
      sink.error(
        'KEY_FLAGS',
        `the key has flags ${hex(kflags)}: volatile or hive-exit keys never belong on disk`,
        where,
      );
    }
    if (depth > limits.maxDepth) {
      sink.error('KEY_DEPTH', `the key is nested ${depth} levels deep, more than ${limits.maxDepth}`, where);
      continue;
    }
    if (keys.length >= limits.maxKeys) {
      sink.error('LIMIT_KEYS', `the hive has more than ${limits.maxKeys} keys`, where);
      break;
    }
    const volatileCount = u32(p + NK.volatileSubkeyCount.at);
    if (volatileCount !== 0) {
      sink.warning(
        'KEY_VOLATILE_COUNT',
        `the key records ${volatileCount} volatile subkeys, which a file cannot hold`,
        where,
      );
    }

    // security
    const skOff = u32(p + NK.security.at);
    skRefs.set(skOff, (skRefs.get(skOff) ?? 0) + 1);

    // class
    const classLen = u16(p + NK.classLength.at);
    if (classLen > 0) cell(u32(p + NK.classCell.at), classLen, 'class name', path);

    // values
    const valueCount = u32(p + NK.valueCount.at);
    const vkOffs: number[] = [];
    let maxValueName = 0;
    let maxValueData = 0;
    if (valueCount > limits.maxValuesPerKey) {
      sink.error('LIMIT_VALUES', `the key has ${valueCount} values, more than ${limits.maxValuesPerKey}`, where);
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
            sink.error('VALUE_DUPLICATE', `two values are named "${v.name}" (names compare case-insensitively)`, {
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
      sink.error(
        'KEY_MAX_VALUE_NAME',
        `the key's longest-value-name field says ${u32(p + NK.maxValueName.at)} bytes but a value name has ${maxValueName}`,
        where,
      );
    }
    if (u32(p + NK.maxValueData.at) < maxValueData) {
      sink.error(
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
        sink.error(
          'KEY_SYMLINK',
          'a symbolic-link key may hold only one value, SymbolicLinkValue of type REG_LINK',
          where,
        );
      }
    }

    const me = keys.length;
    // an exact-size copy: a pushed-to array keeps room for 16 more (most keys have a few values)
    const values = vkOffs.length === 0 ? [] : vkOffs.slice();
    const rec: ScanKey = { offset: off, parent, name, path, children: [], values, security: skOff };
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
      sink.error(
        'KEY_MAX_SUBKEY_NAME',
        `the key's longest-subkey-name field says ${u16(p + NK.maxSubkeyName.at)} bytes but a subkey name has ${maxChildName}`,
        where,
      );
    }
    if (u32(p + NK.maxSubkeyClass.at) < maxChildClass) {
      sink.error(
        'KEY_MAX_SUBKEY_CLASS',
        `the key's longest-subkey-class field says ${u32(p + NK.maxSubkeyClass.at)} bytes but a subkey class has ${maxChildClass}`,
        where,
      );
    }
    for (let i = childOffs.length - 1; i >= 0; i--) stack.push({ off: childOffs[i]!, parent: me, depth: depth + 1 });
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
        sink.warning('LIST_LH_OLD', `an "lh" subkey list in a version 1.${minor} hive (lh came with 1.5)`, {
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
          sink.error('LIST_HASH', `the "lh" hash of subkey "${name}" is ${hex(u32(e + 4))}, not ${hex(lhHash(name))}`, {
            offset: leafOff,
            keyPath: path,
          });
        } else if (lsig === SIG.lf) {
          const hint = lfHint(name);
          for (let k = 0; k < 4; k++) {
            if (bytes[e + 4 + k] !== hint[k]) {
              sink.warning('LIST_HINT', `the "lf" name hint of subkey "${name}" does not match its name`, {
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
            sink.error('KEY_DUPLICATE', `two subkeys are named "${name}" (names compare case-insensitively)`, {
              offset: leafOff,
              keyPath: path,
            });
          } else if (cmp > 0) {
            sink.error(
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
        sink.error('CELL_SHORT', `the "ri" index at ${hex(listOff)} is too short for ${n} entries`, where);
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
          sink.error('LIST_RI_NESTED', `the "ri" index at ${hex(listOff)} points at another "ri" index`, where);
          continue;
        }
        if (lsig !== SIG.li && lsig !== SIG.lf && lsig !== SIG.lh) {
          sink.error('LIST_SIGNATURE', `the subkey leaf at ${hex(leafOff)} is not an li, lf or lh list`, {
            offset: leafOff,
            keyPath: path,
          });
          continue;
        }
        const ln = u16(lp + LIST.count.at);
        if (ll < leafSize(lsig, ln)) {
          sink.error('CELL_SHORT', `the subkey leaf at ${hex(leafOff)} is too short for ${ln} entries`, {
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
        sink.error('KEY_SUBKEY_COUNT', `the key says it has ${count} subkeys but its lists hold ${total}`, {
          offset: listOff,
          keyPath: path,
        });
      }
      return;
    }
    if (sig !== SIG.li && sig !== SIG.lf && sig !== SIG.lh) {
      sink.error('LIST_SIGNATURE', `the subkey list at ${hex(listOff)} is not an li, lf, lh or ri list`, where);
      return;
    }
    const n = u16(p + LIST.count.at);
    if (len < leafSize(sig, n)) {
      sink.error('CELL_SHORT', `the subkey list at ${hex(listOff)} is too short for ${n} entries`, where);
      return;
    }
    if (n !== count) {
      sink.error('KEY_SUBKEY_COUNT', `the key says it has ${count} subkeys but its list holds ${n}`, where);
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
      sink.error('VALUE_SIGNATURE', `the cell at ${hex(vkOff)} in the value list is not a value ("vk")`, where);
      return undefined;
    }
    const nl = u16(p + VK.nameLength.at);
    if (VK_FIXED + nl > len) {
      sink.error('VALUE_NAME', `the value name (${nl} bytes) runs past its cell`, where);
      return undefined;
    }
    const name = decodeName(
      bytes.subarray(p + VK_FIXED, p + VK_FIXED + nl),
      (u16(p + VK.flags.at) & VALUE_COMP_NAME) !== 0,
    );
    const rawSize = u32(p + VK.dataSize.at);
    const inline = (rawSize & 0x80000000) !== 0;
    const size = rawSize & 0x7fffffff;
    const type = u32(p + VK.type.at);
    const vwhere = { offset: vkOff, keyPath: path };
    const label = name === '' ? '(default)' : `"${name}"`;
    if (inline) {
      if (size > 4) {
        sink.error('VALUE_INLINE', `value ${label} claims ${size} bytes stored inline; at most 4 fit`, vwhere);
        return undefined;
      }
    } else if (size > limits.maxValueSize) {
      sink.error('LIMIT_VALUE_SIZE', `value ${label} has ${size} bytes, more than ${limits.maxValueSize}`, vwhere);
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
      sink.warning('VALUE_TYPE_SIZE', `value ${label} is a DWORD of ${size} bytes, not 4`, vwhere);
    } else if (type === 11 && size !== 8) {
      sink.warning('VALUE_TYPE_SIZE', `value ${label} is a QWORD of ${size} bytes, not 8`, vwhere);
    } else if ((type === 1 || type === 2) && size % 2 !== 0) {
      sink.warning('VALUE_TYPE_SIZE', `value ${label} is a string of odd length ${size}`, vwhere);
    } else if ((type === 1 || type === 2) && size >= 2 && (inline || !(minor >= 4 && size > BIG_DATA_THRESHOLD))) {
      const last = inline ? p + VK.data.at + size - 2 : at(u32(p + VK.data.at)) + size - 2;
      if (u16(last) !== 0) sink.warning('VALUE_STRING_NUL', `string value ${label} does not end with a NUL`, vwhere);
    }
    return { name, size };
  }

  function checkBigData(dbOff: number, size: number, path: string, label: string): boolean {
    const len = cell(dbOff, DB_SIZE_MIN, `big-data record of value ${label}`, path);
    if (len === undefined) return false;
    const p = at(dbOff);
    const where = { offset: dbOff, keyPath: path };
    if (u16(p) !== SIG.db) {
      sink.error(
        'VALUE_BIG_DATA',
        `value ${label} has ${size} bytes, so its data must be a "db" record, and is not`,
        where,
      );
      return false;
    }
    const count = u16(p + DB.count.at);
    const need = Math.ceil(size / BIG_DATA_SEGMENT);
    if (count !== need) {
      sink.error(
        'VALUE_BIG_DATA',
        `value ${label} needs ${need} big-data segments but its record lists ${count}`,
        where,
      );
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
        sink.warning(
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
        sink.error(
          'SECURITY_SIGNATURE',
          `the cell at ${hex(off)} is used as a security cell but is not "sk"`,
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
          sink.error(
            'SECURITY_LIST',
            `the security cell at ${hex(cur)} links back to ${hex(u32(p + SK.blink.at))}, not ${hex(prev)}: the list is broken`,
            skWhere(cur),
          );
        }
        listed.set(cur, u32(p + SK.refCount.at));
        const next = u32(p + SK.flink.at);
        if (next === rootSk) break;
        if (listed.has(next)) {
          sink.error(
            'SECURITY_LIST',
            `the security list loops at ${hex(next)} without returning to the root's cell`,
            skWhere(cur),
          );
          break;
        }
        if (!validSk(next)) {
          sink.error(
            'SECURITY_LIST',
            `the security cell at ${hex(cur)} links to ${hex(next)}, which is not one`,
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
          sink.error(
            'SECURITY_LIST',
            `the first security cell's back link does not point at the last one`,
            skWhere(rootSk),
          );
        }
      }
    } else {
      sink.error('SECURITY_ROOT', 'the root key has no valid security cell', { offset: rootSk, keyPath: '' });
    }
    for (const [off, refs] of skRefs) {
      if (!listed.has(off)) {
        if (off !== rootSk && validSk(off)) {
          sink.error(
            'SECURITY_UNLISTED',
            `the security cell at ${hex(off)} is used by keys but is not in the security list`,
            skWhere(off),
          );
        }
        continue;
      }
      const rc = listed.get(off)!;
      if (rc !== refs) {
        sink.error(
          'SECURITY_REFCOUNT',
          `the security cell at ${hex(off)} has reference count ${rc} but ${refs} keys use it`,
          skWhere(off),
        );
      }
    }
    for (const [off, rc] of listed) {
      if (!skRefs.has(off)) {
        sink.error(
          'SECURITY_REFCOUNT',
          `the security cell at ${hex(off)} has reference count ${rc} but no key uses it`,
          skWhere(off),
        );
      }
      if ((slots[off / 8]! & CELL_USED) !== 0) continue;
      slots[off / 8] = slots[off / 8]! | CELL_USED;
      const p = at(off);
      const sdLen = u32(p + SK.sdLength.at);
      const cellLen = -sizeAt(off) - 4;
      if (SK_FIXED + sdLen > cellLen) {
        sink.error(
          'SECURITY_DESCRIPTOR',
          `the security descriptor at ${hex(off)} (${sdLen} bytes) runs past its cell`,
          skWhere(off),
        );
        continue;
      }
      try {
        decodeSecurityDescriptor(bytes.subarray(p + SK_FIXED, p + SK_FIXED + sdLen));
      } catch (e) {
        sink.error(
          'SECURITY_DESCRIPTOR',
          `the security descriptor at ${hex(off)} is invalid: ${(e as Error).message}`,
          skWhere(off),
        );
      }
    }
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
    sink.warning(
      'UNREFERENCED_CELLS',
      `${leaks} allocated cell${leaks === 1 ? ' is' : 's are'} not referenced by any key (first at ${hex(firstLeak)})`,
      { offset: firstLeak },
    );
  }
  return { minor, dirty, rootFlags, keys };
}

const DB_SIZE_MIN = 8;
