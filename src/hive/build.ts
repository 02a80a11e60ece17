/**
 * The writer: a tree builder (`HiveBuilder`) and `buildHive`, which lays the tree out as offreg's `ORSaveHive` does
 * (breadth first; per key: nk, its new security cell, class, value list, each value and its data, subkey lists) with
 * an allocator modelled on the hive cell allocator (size-class free lists, newest free cell first, new bins at the
 * end), then writes every cell. Deterministic: same builder and options → same bytes.
 */
import { writeFileAtomic } from '../atomic.js';
import { WinlayerError } from '../errors.js';
import { compareUpcase, sddlToBytes, upcase } from '../windows/index.js';
import {
  BASE_BLOCK_SIZE,
  BIG_DATA_SEGMENT,
  BIG_DATA_THRESHOLD,
  BIN_ALIGN,
  cellSizeFor,
  DB,
  encodeName,
  encodeUtf16,
  HBIN,
  HBIN_HEADER_SIZE,
  HEADER,
  headerChecksum,
  KEY_FLAG,
  lfHint,
  lhHash,
  MAX_DEPTH,
  NIL,
  NK,
  NK_FIXED,
  OFFREG_LEAF_MAX,
  SK,
  SK_FIXED,
  sig2,
  VALUE_COMP_NAME,
  VK,
  VK_FIXED,
} from './layout.js';
import {
  type Hive,
  children as hiveChildren,
  root as hiveRoot,
  values as hiveValues,
  keyClass,
  keyName,
  keySecurity,
  keyTimestamp,
  valueData,
  valueName,
  valueType,
} from './read.js';
import { type BuildHiveOptions, REG } from './types.js';

/**
 * The security descriptor `ORCreateHive` gives the root key (144 bytes):
 * `O:BAG:BAD:(A;CI;KA;;;SY)(A;CI;KA;;;BA)(A;CI;KR;;;WD)(A;CI;KR;;;RC)`, in offreg's layout (DACL first).
 */
export const DEFAULT_ROOT_SD: Uint8Array = Uint8Array.from(
  Buffer.from(
    '0100048070000000800000000000000014000000' +
      '02005c0004000000' +
      '000214003f000f00010100000000000512000000' +
      '000218003f000f0001020000000000052000000020020000' +
      '0002140019000200010100000000000100000000' +
      '00021400190002000101000000000005' +
      '0c000000' +
      '01020000000000052000000020020000' +
      '01020000000000052000000020020000',
    'hex',
  ),
);

/** One value of a builder key. `data` is stored exactly as given. */
export interface BuilderValue {
  readonly name: string;
  readonly type: number;
  readonly data: Uint8Array;
}

function checkKeyName(name: string): void {
  if (name.length === 0 || name.length > 255 || name.includes('\\')) {
    throw new WinlayerError('HIVE_BUILD', `invalid key name "${name}": 1 to 255 UTF-16 units, no backslash`, {
      hint: 'registry key names cannot be empty, longer than 255 characters, or contain "\\"',
    });
  }
}

function toSd(sd: Uint8Array | string): Uint8Array {
  return typeof sd === 'string' ? sddlToBytes(sd) : Uint8Array.from(sd);
}

/** One key of a `HiveBuilder`: its subkeys, values, class, security descriptor and timestamp. */
export class HiveKeyBuilder {
  readonly name: string;
  readonly parent: HiveKeyBuilder | undefined;
  /** Own last-write time (FILETIME); undefined → the `timestamp` build option. */
  timestamp: bigint | undefined;
  /** Class name, or undefined for none. */
  className: string | undefined;
  /** Own self-relative security descriptor; undefined → the parent's (as offreg's ORCreateKey with a NULL SD). */
  security: Uint8Array | undefined;
  readonly #subkeys = new Map<string, HiveKeyBuilder>();
  readonly #values = new Map<string, BuilderValue>();

  /** @internal use `HiveBuilder.key` or `subkey`. */
  constructor(name: string, parent: HiveKeyBuilder | undefined) {
    checkKeyName(name);
    this.name = name;
    this.parent = parent;
  }

  /** The subkey `name`, created when missing (case-insensitive: an existing `Foo` is returned for `FOO`). */
  subkey(name: string): HiveKeyBuilder {
    const k = upcase(name);
    let c = this.#subkeys.get(k);
    if (c === undefined) {
      c = new HiveKeyBuilder(name, this);
      this.#subkeys.set(k, c);
    }
    return c;
  }

  /** The subkey `name` (case-insensitive), or undefined. */
  getSubkey(name: string): HiveKeyBuilder | undefined {
    return this.#subkeys.get(upcase(name));
  }

  /** Deletes the subkey `name` and everything below it. Returns whether it existed. */
  deleteSubkey(name: string): boolean {
    return this.#subkeys.delete(upcase(name));
  }

  /** Subkeys in creation order (the writer sorts them). */
  subkeys(): HiveKeyBuilder[] {
    return [...this.#subkeys.values()];
  }

  /** Sets a value with raw data, stored byte for byte. `name` '' is the default value. Replaces one of equal name. */
  setValue(name: string, type: number, data: Uint8Array): this {
    if (!Number.isInteger(type) || type < 0 || type > 0xffffffff) {
      throw new WinlayerError('HIVE_BUILD', `value "${name}": type ${type} is not a 32-bit number`);
    }
    if (name.length > 16383)
      throw new WinlayerError('HIVE_BUILD', `value name longer than 16383 units: "${name.slice(0, 40)}…"`);
    const k = upcase(name);
    // like RegSetValue: an existing value keeps its place in the list and the case of its name
    const old = this.#values.get(k);
    this.#values.set(k, { name: old?.name ?? name, type, data: Uint8Array.from(data) });
    return this;
  }

  /**
   * Sets a REG_SZ (or `type`: REG_EXPAND_SZ, REG_LINK) value. Like offreg, a UTF-16 NUL is appended unless the
   * string already ends with one.
   */
  setString(name: string, text: string, type: number = REG.SZ): this {
    return this.setValue(name, type, encodeUtf16(text.endsWith('\0') ? text : `${text}\0`));
  }

  /** Sets a REG_MULTI_SZ value: each string NUL-terminated, then a final NUL. */
  setMultiString(name: string, list: readonly string[]): this {
    return this.setValue(name, REG.MULTI_SZ, encodeUtf16(`${list.map((s) => `${s}\0`).join('')}\0`));
  }

  /** Sets a REG_DWORD value (little-endian). */
  setDword(name: string, n: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n >>> 0, true);
    return this.setValue(name, REG.DWORD, b);
  }

  /** Sets a REG_QWORD value (little-endian). */
  setQword(name: string, n: bigint): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, n), true);
    return this.setValue(name, REG.QWORD, b);
  }

  /** The value `name` (case-insensitive), or undefined. */
  getValue(name: string): BuilderValue | undefined {
    return this.#values.get(upcase(name));
  }

  /** Deletes the value `name`. Returns whether it existed. */
  deleteValue(name: string): boolean {
    return this.#values.delete(upcase(name));
  }

  /** Values in the order they were first set (offreg keeps insertion order). */
  values(): BuilderValue[] {
    return [...this.#values.values()];
  }

  /** Sets this key's own security descriptor (bytes or SDDL); undefined shares the parent's. */
  setSecurity(sd: Uint8Array | string | undefined): this {
    this.security = sd === undefined ? undefined : toSd(sd);
    return this;
  }

  /** Sets the class name (undefined for none). */
  setClass(className: string | undefined): this {
    if (className !== undefined && className.length * 2 > 0xffff)
      throw new WinlayerError('HIVE_BUILD', 'class name too long');
    this.className = className;
    return this;
  }

  /** Sets this key's last-write FILETIME. */
  setTimestamp(filetime: bigint | undefined): this {
    this.timestamp = filetime;
    return this;
  }

  /** Path below the root, `\`-separated. */
  get path(): string {
    const parts: string[] = [];
    for (let k: HiveKeyBuilder | undefined = this; k?.parent !== undefined; k = k.parent) parts.unshift(k.name);
    return parts.join('\\');
  }
}

/** Options of a new builder. */
export interface HiveBuilderOptions {
  /** Root key name. Default `ROOT` (what ORCreateHive names it). */
  readonly rootName?: string;
  /** Root security descriptor (bytes or SDDL). Default `DEFAULT_ROOT_SD`, ORCreateHive's. */
  readonly rootSecurity?: Uint8Array | string;
}

/** A hive under construction: a tree of `HiveKeyBuilder`. Nothing touches a file until `writeHive`. */
export class HiveBuilder {
  readonly root: HiveKeyBuilder;
  /** The minor version of the hive this builder was read from, if any (`builderFromHive`). */
  sourceMinor: number | undefined;

  constructor(opts: HiveBuilderOptions = {}) {
    this.root = new HiveKeyBuilder(opts.rootName ?? 'ROOT', undefined);
    this.root.security = toSd(opts.rootSecurity ?? DEFAULT_ROOT_SD);
  }

  /** The key at `path` (`\`-separated, below the root), created with its missing parents. '' is the root. */
  key(path: string): HiveKeyBuilder {
    let k = this.root;
    for (const part of path.split('\\')) if (part !== '') k = k.subkey(part);
    return k;
  }

  /** The key at `path`, or undefined (nothing is created). */
  findKey(path: string): HiveKeyBuilder | undefined {
    let k: HiveKeyBuilder | undefined = this.root;
    for (const part of path.split('\\')) {
      if (part === '') continue;
      k = k.getSubkey(part);
      if (k === undefined) return undefined;
    }
    return k;
  }

  /** Deletes the key at `path` with everything below it. Returns whether it existed. The root cannot be deleted. */
  deleteKey(path: string): boolean {
    const parts = path.split('\\').filter((p) => p !== '');
    const last = parts.pop();
    if (last === undefined) throw new WinlayerError('HIVE_BUILD', 'the root key cannot be deleted');
    const parent = this.findKey(parts.join('\\'));
    return parent?.deleteSubkey(last) ?? false;
  }
}

/** A new, empty builder (a root key only). */
export function createHiveBuilder(opts: HiveBuilderOptions = {}): HiveBuilder {
  return new HiveBuilder(opts);
}

/**
 * A builder holding everything of an opened hive: keys, values (raw), classes, security descriptors and timestamps.
 * Used to change a hive (`hive merge`): edit the builder, then `buildHive` again.
 */
export function builderFromHive(hive: Hive): HiveBuilder {
  const r = hiveRoot(hive);
  const b = new HiveBuilder({ rootName: keyName(r), rootSecurity: keySecurity(r) });
  b.sourceMinor = hive.version.minor;
  const stack: Array<[ReturnType<typeof hiveRoot>, HiveKeyBuilder]> = [[r, b.root]];
  while (stack.length > 0) {
    const [hk, bk] = stack.pop()!;
    bk.timestamp = keyTimestamp(hk);
    bk.className = keyClass(hk);
    const sd = keySecurity(hk);
    const parentSd = bk.parent === undefined ? undefined : effectiveSd(bk.parent);
    bk.security = parentSd !== undefined && sameBytes(parentSd, sd) ? undefined : sd;
    for (const v of hiveValues(hk)) bk.setValue(valueName(v), valueType(v), valueData(v));
    for (const c of hiveChildren(hk)) stack.push([c, bk.subkey(keyName(c))]);
  }
  return b;
}

function effectiveSd(k: HiveKeyBuilder): Uint8Array {
  for (let x: HiveKeyBuilder | undefined = k; x !== undefined; x = x.parent)
    if (x.security !== undefined) return x.security;
  return DEFAULT_ROOT_SD;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ── allocation ─────────────────────────────────────────────────────────────────────────────────────────────────────

/** Windows' free-display index of a cell size: exact lists below 136 bytes, then power-of-two classes. */
function freeIndex(size: number): number {
  const i = (size >> 3) - 1;
  if (i < 16) return i;
  if (i > 255) return 23;
  return 31 - Math.clz32(i) + 7;
}

/**
 * The smallest remainder offreg leaves when it splits a free cell (measured on offreg's output: a 224-byte tail is
 * not used for an 88-byte key, a 192-byte tail is used for a 16-byte list).
 */
const MIN_SPLIT_REMAINDER = 144;

/** Largest value a 1.3 hive (no big data) holds in its one data cell. */
const MAX_SINGLE_CELL_VALUE = 1024 * 1024;

/** Cell allocator over a growing buffer of bins. */
class Allocator {
  buf = new Uint8Array(1 << 16);
  view = new DataView(this.buf.buffer);
  /** End of the hive-bins data. */
  end = 0;
  readonly bins: Array<{ at: number; size: number }> = [];
  readonly free: Array<Array<{ at: number; size: number }>> = Array.from({ length: 24 }, () => []);

  alloc(size: number): number {
    for (let i = freeIndex(size); i < 24; i++) {
      const list = this.free[i]!;
      if (list.length === 0) continue;
      // the linear lists hold one size only: one look decides the whole list
      if (i < 16) {
        const rest = list[0]!.size - size;
        if (rest !== 0 && rest < MIN_SPLIT_REMAINDER) continue;
      }
      for (let j = list.length - 1; j >= 0; j--) {
        const c = list[j]!;
        const rest = c.size - size;
        if (rest === 0 || rest >= MIN_SPLIT_REMAINDER) {
          list.splice(j, 1);
          if (rest > 0) this.addFree(c.at + size, rest);
          this.mark(c.at, size);
          return c.at;
        }
      }
    }
    const binSize = Math.ceil((size + HBIN_HEADER_SIZE) / BIN_ALIGN) * BIN_ALIGN;
    const at = this.end;
    this.grow(at + binSize);
    this.bins.push({ at, size: binSize });
    this.end += binSize;
    const cellAt = at + HBIN_HEADER_SIZE;
    const rest = binSize - HBIN_HEADER_SIZE - size;
    if (rest > 0) this.addFree(cellAt + size, rest);
    this.mark(cellAt, size);
    return cellAt;
  }

  private addFree(at: number, size: number): void {
    this.free[freeIndex(size)]!.push({ at, size });
  }

  private mark(at: number, size: number): void {
    this.view.setInt32(BASE_BLOCK_SIZE + at, -size, true);
  }

  private grow(dataEnd: number): void {
    const need = BASE_BLOCK_SIZE + dataEnd;
    if (need <= this.buf.length) return;
    let n = this.buf.length;
    while (n < need) n *= 2;
    const b = new Uint8Array(n);
    b.set(this.buf);
    this.buf = b;
    this.view = new DataView(b.buffer);
  }
}

// ── layout ─────────────────────────────────────────────────────────────────────────────────────────────────────────

interface PlacedValue {
  readonly v: BuilderValue;
  readonly name: { bytes: Uint8Array; compressed: boolean };
  vk: number;
  data: number;
  db: number;
  segList: number;
  segs: number[];
}

interface PlacedKey {
  readonly b: HiveKeyBuilder;
  readonly parent: PlacedKey | undefined;
  readonly depth: number;
  readonly name: { bytes: Uint8Array; compressed: boolean };
  readonly children: PlacedKey[];
  readonly values: PlacedValue[];
  nk: number;
  sk: number;
  classCell: number;
  valueList: number;
  /** Top list (ri or the only leaf) and the leaves. */
  list: number;
  leaves: Array<{ at: number; from: number; to: number }>;
}

interface SkCell {
  readonly sd: Uint8Array;
  at: number;
  refs: number;
}

/**
 * Lays out and writes the hive. Returns the whole file (4096-byte base block + bins), ready to save.
 * Throws `HIVE_BUILD` when the tree cannot be written (too many subkeys or values for the format).
 */
export function buildHive(builder: HiveBuilder, opts: BuildHiveOptions = {}): Uint8Array {
  const version = opts.version ?? '1.5';
  if (version !== '1.5' && version !== '1.3')
    throw new WinlayerError('HIVE_BUILD', `unsupported version ${String(version)}`);
  const minor = version === '1.5' ? 5 : 3;
  const rootFlags = opts.rootFlags ?? 0x2c;
  if (rootFlags !== 0x2c && rootFlags !== 0x20) {
    throw new WinlayerError('HIVE_BUILD', `root flags must be 0x2C or 0x20, not 0x${Number(rootFlags).toString(16)}`);
  }
  const ts = opts.timestamp ?? 0n;
  const a = new Allocator();
  const sks: SkCell[] = [];
  const skByHex = new Map<string, SkCell>();

  const place = (b: HiveKeyBuilder, parent: PlacedKey | undefined): PlacedKey => ({
    b,
    parent,
    depth: parent === undefined ? 0 : parent.depth + 1,
    name: encodeName(b.name),
    children: [],
    values: b
      .values()
      .map((v) => ({ v, name: encodeName(v.name), vk: NIL, data: NIL, db: NIL, segList: NIL, segs: [] })),
    nk: NIL,
    sk: NIL,
    classCell: NIL,
    valueList: NIL,
    list: NIL,
    leaves: [],
  });

  const effective = new Map<PlacedKey, SkCell>();
  const rootP = place(builder.root, undefined);
  const queue: PlacedKey[] = [rootP];
  for (let qi = 0; qi < queue.length; qi++) {
    const k = queue[qi]!;
    if (k.depth > MAX_DEPTH) {
      throw new WinlayerError(
        'HIVE_BUILD',
        `key "${k.b.path.slice(0, 200)}…" is nested deeper than ${MAX_DEPTH} levels`,
        {
          hint: 'Windows refuses hives with keys nested more than 512 levels deep',
        },
      );
    }
    k.nk = a.alloc(cellSizeFor(4 + NK_FIXED + k.name.bytes.length));
    // security: own SD (shared with any equal one) or the parent's cell
    if (k.b.security !== undefined || k.parent === undefined) {
      const sd = k.b.security ?? DEFAULT_ROOT_SD;
      const id = Buffer.from(sd).toString('hex');
      let s = skByHex.get(id);
      if (s === undefined) {
        s = { sd, at: a.alloc(cellSizeFor(4 + SK_FIXED + sd.length)), refs: 0 };
        skByHex.set(id, s);
        sks.push(s);
      }
      effective.set(k, s);
    } else {
      effective.set(k, effective.get(k.parent)!);
    }
    const s = effective.get(k)!;
    s.refs++;
    k.sk = s.at;
    if (k.b.className !== undefined && k.b.className.length > 0) {
      k.classCell = a.alloc(cellSizeFor(4 + k.b.className.length * 2));
    }
    if (k.values.length > 0) {
      k.valueList = a.alloc(cellSizeFor(4 + 4 * k.values.length));
      for (const v of k.values) {
        v.vk = a.alloc(cellSizeFor(4 + VK_FIXED + v.name.bytes.length));
        const n = v.v.data.length;
        if (n <= 4) continue;
        if (minor >= 4 && n > BIG_DATA_THRESHOLD) {
          const count = Math.ceil(n / BIG_DATA_SEGMENT);
          if (count > 0xffff) throw new WinlayerError('HIVE_BUILD', `value "${v.v.name}" is too big (${n} bytes)`);
          v.db = a.alloc(cellSizeFor(4 + DB.pad.at + 4));
          v.segList = a.alloc(cellSizeFor(4 + 4 * count));
          for (let i = 0; i < count; i++) v.segs.push(a.alloc(cellSizeFor(4 + BIG_DATA_SEGMENT)));
        } else {
          if (n > MAX_SINGLE_CELL_VALUE) {
            throw new WinlayerError('HIVE_BUILD', `value "${v.v.name}" of key "${k.b.path}" has ${n} bytes`, {
              hint: 'a version 1.3 hive has no big-data records and holds at most 1 MiB per value: write version 1.5',
            });
          }
          v.data = a.alloc(cellSizeFor(4 + n));
        }
      }
    }
    const subs = k.b.subkeys().sort((x, y) => compareUpcase(x.name, y.name));
    if (subs.length > 0) {
      if (subs.length <= OFFREG_LEAF_MAX) {
        k.list = a.alloc(cellSizeFor(4 + 4 + 8 * subs.length));
        k.leaves.push({ at: k.list, from: 0, to: subs.length });
      } else {
        const nLeaves = Math.ceil(subs.length / OFFREG_LEAF_MAX);
        if (nLeaves > 0xffff) throw new WinlayerError('HIVE_BUILD', `key "${k.b.path}" has too many subkeys`);
        k.list = a.alloc(cellSizeFor(4 + 4 + 4 * nLeaves));
        for (let i = 0; i < nLeaves; i++) {
          const from = i * OFFREG_LEAF_MAX;
          const to = Math.min(subs.length, from + OFFREG_LEAF_MAX);
          k.leaves.push({ at: a.alloc(cellSizeFor(4 + 4 + 8 * (to - from))), from, to });
        }
      }
      for (const c of subs) {
        const p = place(c, k);
        k.children.push(p);
        queue.push(p);
      }
    }
  }

  // ── write ────────────────────────────────────────────────────────────────────────────────────────────────────────
  const buf = a.buf;
  const view = new DataView(buf.buffer);
  const cellAt = (off: number): number => BASE_BLOCK_SIZE + off + 4;
  const setSig = (p: number, s: string): void => view.setUint16(p, sig2(s), true);

  for (const k of queue) {
    const p = cellAt(k.nk);
    setSig(p, 'nk');
    const flags = k.parent === undefined ? rootFlags : k.name.compressed ? KEY_FLAG.COMP_NAME : 0;
    view.setUint16(
      p + NK.flags.at,
      k.parent === undefined && !k.name.compressed ? flags & ~KEY_FLAG.COMP_NAME : flags,
      true,
    );
    view.setBigUint64(p + NK.timestamp.at, k.b.timestamp ?? ts, true);
    view.setUint32(p + NK.parent.at, k.parent === undefined ? NIL : k.parent.nk, true);
    view.setUint32(p + NK.subkeyCount.at, k.children.length, true);
    view.setUint32(p + NK.subkeyList.at, k.list, true);
    view.setUint32(p + NK.volatileSubkeyList.at, NIL, true);
    view.setUint32(p + NK.valueCount.at, k.values.length, true);
    view.setUint32(p + NK.valueList.at, k.valueList, true);
    view.setUint32(p + NK.security.at, k.sk, true);
    view.setUint32(p + NK.classCell.at, k.classCell, true);
    let maxName = 0;
    let maxClass = 0;
    for (const c of k.children) {
      maxName = Math.max(maxName, c.b.name.length * 2);
      maxClass = Math.max(maxClass, (c.b.className?.length ?? 0) * 2);
    }
    let maxVName = 0;
    let maxVData = 0;
    for (const v of k.values) {
      maxVName = Math.max(maxVName, v.v.name.length * 2);
      maxVData = Math.max(maxVData, v.v.data.length);
    }
    view.setUint16(p + NK.maxSubkeyName.at, maxName, true);
    view.setUint32(p + NK.maxSubkeyClass.at, maxClass, true);
    view.setUint32(p + NK.maxValueName.at, maxVName, true);
    view.setUint32(p + NK.maxValueData.at, maxVData, true);
    view.setUint16(p + NK.nameLength.at, k.name.bytes.length, true);
    const cls = k.b.className ?? '';
    view.setUint16(p + NK.classLength.at, cls.length * 2, true);
    buf.set(k.name.bytes, p + NK_FIXED);
    if (k.classCell !== NIL) buf.set(encodeUtf16(cls), cellAt(k.classCell));

    if (k.valueList !== NIL) {
      const lp = cellAt(k.valueList);
      k.values.forEach((v, i) => {
        view.setUint32(lp + 4 * i, v.vk, true);
        const q = cellAt(v.vk);
        setSig(q, 'vk');
        view.setUint16(q + VK.nameLength.at, v.name.bytes.length, true);
        const d = v.v.data;
        view.setUint32(q + VK.type.at, v.v.type >>> 0, true);
        view.setUint16(q + VK.flags.at, v.name.compressed && v.v.name.length > 0 ? VALUE_COMP_NAME : 0, true);
        buf.set(v.name.bytes, q + VK_FIXED);
        if (d.length <= 4) {
          view.setUint32(q + VK.dataSize.at, (d.length | 0x80000000) >>> 0, true);
          buf.set(d, q + VK.data.at);
          return;
        }
        view.setUint32(q + VK.dataSize.at, d.length, true);
        if (v.db !== NIL) {
          view.setUint32(q + VK.data.at, v.db, true);
          const dp = cellAt(v.db);
          setSig(dp, 'db');
          view.setUint16(dp + DB.count.at, v.segs.length, true);
          view.setUint32(dp + DB.segmentList.at, v.segList, true);
          const sp = cellAt(v.segList);
          v.segs.forEach((s, i) => {
            view.setUint32(sp + 4 * i, s, true);
            buf.set(d.subarray(i * BIG_DATA_SEGMENT, (i + 1) * BIG_DATA_SEGMENT), cellAt(s));
          });
        } else {
          view.setUint32(q + VK.data.at, v.data, true);
          buf.set(d, cellAt(v.data));
        }
      });
    }

    if (k.list !== NIL) {
      const leafSig = minor >= 5 ? 'lh' : 'lf';
      if (k.leaves.length > 1 || k.leaves[0]!.at !== k.list) {
        const rp = cellAt(k.list);
        setSig(rp, 'ri');
        view.setUint16(rp + 2, k.leaves.length, true);
        k.leaves.forEach((l, i) => {
          view.setUint32(rp + 4 + 4 * i, l.at, true);
        });
      }
      for (const l of k.leaves) {
        const lp = cellAt(l.at);
        setSig(lp, leafSig);
        view.setUint16(lp + 2, l.to - l.from, true);
        for (let i = l.from; i < l.to; i++) {
          const c = k.children[i]!;
          const e = lp + 4 + 8 * (i - l.from);
          view.setUint32(e, c.nk, true);
          if (leafSig === 'lh') view.setUint32(e + 4, lhHash(c.b.name), true);
          else buf.set(lfHint(c.b.name), e + 4);
        }
      }
    }
  }

  sks.forEach((s, i) => {
    const p = cellAt(s.at);
    setSig(p, 'sk');
    view.setUint32(p + SK.flink.at, sks[(i + 1) % sks.length]!.at, true);
    view.setUint32(p + SK.blink.at, sks[(i + sks.length - 1) % sks.length]!.at, true);
    view.setUint32(p + SK.refCount.at, s.refs, true);
    view.setUint32(p + SK.sdLength.at, s.sd.length, true);
    buf.set(s.sd, p + SK_FIXED);
  });

  for (const list of a.free) for (const f of list) view.setInt32(BASE_BLOCK_SIZE + f.at, f.size, true);
  for (const bin of a.bins) {
    const p = BASE_BLOCK_SIZE + bin.at;
    view.setUint32(p + HBIN.signature.at, 0x6e696268, true);
    view.setUint32(p + HBIN.offset.at, bin.at, true);
    view.setUint32(p + HBIN.size.at, bin.size, true);
  }

  // base block
  view.setUint32(HEADER.signature.at, 0x66676572, true);
  view.setUint32(HEADER.seq1.at, 1, true);
  view.setUint32(HEADER.seq2.at, 1, true);
  view.setUint32(HEADER.major.at, 1, true);
  view.setUint32(HEADER.minor.at, minor, true);
  view.setUint32(HEADER.fileType.at, 0, true);
  view.setUint32(HEADER.fileFormat.at, 1, true);
  view.setUint32(HEADER.rootCell.at, rootP.nk, true);
  view.setUint32(HEADER.binsSize.at, a.end, true);
  view.setUint32(HEADER.clustering.at, 1, true);
  view.setUint32(HEADER.offregSignature.at, 0x6752664f, true); // "OfRg"
  view.setUint32(HEADER.offregFlags.at, 1, true);
  view.setBigUint64(HEADER.offregSaveTime.at, ts, true);
  let sum = headerChecksum(buf.subarray(0, 512), true);
  if (sum === 0 || sum === 0xffffffff) {
    // hivex and reglookup do not remap: move the raw XOR off the two remapped values (the file name is debug-only)
    view.setUint16(HEADER.fileName.at, 0x0052, true);
    sum = headerChecksum(buf.subarray(0, 512), true);
  }
  view.setUint32(HEADER.checksum.at, sum, true);
  return buf.slice(0, BASE_BLOCK_SIZE + a.end);
}

/** Builds the hive and writes it to `path` atomically (temporary sibling, fsync, rename). */
export function writeHive(path: string, builder: HiveBuilder, opts: BuildHiveOptions = {}): void {
  writeFileAtomic(path, buildHive(builder, opts));
}

/**
 * An empty hive: offreg's `ORCreateHive` + `ORSaveHive` output (root `ROOT` with ORCreateHive's default SD, one free
 * cell, 8192 bytes). With `rootFlags: 0x20` and `timestamp` set to offreg's times it is byte-identical to offreg's.
 */
export function createEmptyHive(opts: BuildHiveOptions & HiveBuilderOptions = {}): Uint8Array {
  return buildHive(new HiveBuilder(opts), opts);
}
