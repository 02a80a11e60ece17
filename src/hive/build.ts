/**
 * The writer: a tree builder (`HiveBuilder`) and `buildHive`, which lays the tree out as offreg's `ORSaveHive` does
 * (breadth first; per key: nk, its new security cell, class, value list, each value and its data, subkey lists) with
 * an allocator modelled on the hive cell allocator (size-class free lists, newest free cell first, new bins at the
 * end), then writes every cell. Deterministic: same builder and options → same bytes.
 */
import { writeFileAtomic } from '../atomic.js';
import { WinlayerError } from '../errors.js';
import { compareUpcase, equalUpcase, sddlToBytes } from '../windows/index.js';
import { decodeLayer, encodeLayer, type KeyLayer, type LayerSemantics } from './delta.js';
import {
  BASE_BLOCK_SIZE,
  BIG_DATA_SEGMENT,
  BIG_DATA_THRESHOLD,
  BIN_ALIGN,
  cellSizeFor,
  DB,
  encodeUtf16,
  HBIN,
  HBIN_HEADER_SIZE,
  HEADER,
  HEADER_LAYERED_KEYS,
  headerChecksum,
  isCompressible,
  KEY_FLAG,
  LAYER_BITS,
  layerByte,
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
  VALUE_TOMBSTONE,
  VK,
  VK_FIXED,
  withLayerByte,
} from './layout.js';
import {
  type Hive,
  children as hiveChildren,
  root as hiveRoot,
  values as hiveValues,
  keyAccessBits,
  keyClass,
  keyFlags,
  keyName,
  keySecurity,
  keyTimestamp,
  keyUserFlags,
  valueData,
  valueFlags,
  valueName,
  valueType,
} from './read.js';
import { type BuildHiveOptions, type HiveVersion, REG } from './types.js';

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
  /** The value's flags (`vk` flags) other than VALUE_COMP_NAME, which the writer sets from the name; usually 0. */
  readonly flags: number;
}

/** Bytes per chunk of a builder's value store; data of more than a sixteenth of it gets an allocation of its own. */
const STORE_CHUNK = 1 << 18;

/**
 * The value data of one builder, packed into 256 KiB chunks (a `Uint8Array` per small value costs far more than its
 * bytes). Values keep a chunk, an offset and a length; `data` is a view made on demand. Replaced or deleted values
 * leave their bytes behind until the builder is dropped.
 */
class ValueStore {
  #chunk: Uint8Array | undefined;
  #used = STORE_CHUNK;

  /** Copies `data` in; returns the chunk holding it and the offset there. */
  put(data: Uint8Array): [Uint8Array, number] {
    const n = data.length;
    if (n > STORE_CHUNK >>> 4) return [Uint8Array.from(data), 0];
    if (this.#chunk === undefined || this.#used + n > STORE_CHUNK) {
      this.#chunk = new Uint8Array(STORE_CHUNK);
      this.#used = 0;
    }
    const at = this.#used;
    this.#chunk.set(data, at);
    this.#used = at + n;
    return [this.#chunk, at];
  }
}

/**
 * A key's values as one flat array, `VALUE_SLOTS` slots each: name, type, store chunk, offset there, size, flags (an object
 * per value would cost 24 bytes more, and a pointer to it).
 */
type ValueSlots = Array<string | number | Uint8Array>;
const VALUE_SLOTS = 6;

/** A value as `getValue` / `values()` hand it out: name, type and a view of its bytes in the store. */
class StoredValue implements BuilderValue {
  constructor(
    readonly name: string,
    readonly type: number,
    readonly chunk: Uint8Array,
    readonly offset: number,
    readonly size: number,
    readonly flags: number,
  ) {}

  /** The data (a view into the builder's store, not a copy). */
  get data(): Uint8Array {
    return this.chunk.subarray(this.offset, this.offset + this.size);
  }
}

/** Lists longer than this get a name index (shorter ones are searched; most keys are small). */
const INDEX_FROM = 8;

const NO_KEYS: readonly HiveKeyBuilder[] = [];
const NO_VALUES: ValueSlots = [];

function checkKeyName(name: string): void {
  if (name.length === 0 || name.length > 255 || name.includes('\\')) {
    throw new WinlayerError('HIVE_BUILD', `invalid key name "${name}": 1 to 255 UTF-16 units, no backslash`, {
      hint: 'registry key names cannot be empty, longer than 255 characters, or contain "\\"',
    });
  }
}

/** Refuses a flags field that is not an integer of the field's width. */
function checkBits(n: number, max: number, what: string): void {
  if (!Number.isInteger(n) || n < 0 || n > max) {
    throw new WinlayerError('HIVE_BUILD', `${what} ${n} is not a number from 0 to 0x${max.toString(16)}`);
  }
}

function toSd(sd: Uint8Array | string): Uint8Array {
  return typeof sd === 'string' ? sddlToBytes(sd) : Uint8Array.from(sd);
}

type Named = { readonly name: string };

/**
 * A case-insensitive name index of a long list: the `lh` hash of the name (already case-folded) to the item, or to
 * the items sharing that hash. Numbers as keys: no upper-cased copy of every name is kept.
 */
type NameIndex<T extends Named> = Map<number, T | T[]>;

function indexGet<T extends Named>(index: NameIndex<T>, name: string): T | undefined {
  const e = index.get(lhHash(name));
  if (e === undefined) return undefined;
  if (!Array.isArray(e)) return equalUpcase(e.name, name) ? e : undefined;
  for (const it of e) if (equalUpcase(it.name, name)) return it;
  return undefined;
}

function indexAdd<T extends Named>(index: NameIndex<T>, item: T): void {
  const h = lhHash(item.name);
  const e = index.get(h);
  if (e === undefined) index.set(h, item);
  else if (Array.isArray(e)) e.push(item);
  else index.set(h, [e, item]);
}

function indexRemove<T extends Named>(index: NameIndex<T>, item: T): void {
  const h = lhHash(item.name);
  const e = index.get(h);
  if (e === item) index.delete(h);
  else if (Array.isArray(e)) {
    const rest = e.filter((x) => x !== item);
    index.set(h, rest.length === 1 ? rest[0]! : rest);
  }
}

function addToIndex(index: Map<number, number | number[]>, hash: number, i: number): void {
  const e = index.get(hash);
  if (e === undefined) index.set(hash, i);
  else if (typeof e === 'number') index.set(hash, [e, i]);
  else e.push(i);
}

function makeIndex<T extends Named>(list: readonly T[]): NameIndex<T> {
  const m: NameIndex<T> = new Map();
  for (const it of list) indexAdd(m, it);
  return m;
}

/** The item named `name` (case-insensitive) in a list with an optional index, or undefined. */
function getNamed<T extends Named>(
  list: readonly T[] | undefined,
  index: NameIndex<T> | undefined,
  name: string,
): T | undefined {
  if (index !== undefined) return indexGet(index, name);
  if (list === undefined) return undefined;
  for (const it of list) if (equalUpcase(it.name, name)) return it;
  return undefined;
}

/**
 * `list` with `item` appended. Short lists are copied to a new array of exactly their length (a pushed-to array
 * reserves room for 16 more items: most keys have a handful of values and no subkeys); long ones grow in place.
 */
function appended<T>(list: T[] | undefined, item: T): T[] {
  if (list === undefined) return [item];
  if (list.length >= INDEX_FROM) {
    list.push(item);
    return list;
  }
  const out = new Array<T>(list.length + 1);
  for (let i = 0; i < list.length; i++) out[i] = list[i]!;
  out[list.length] = item;
  return out;
}

/** The writer's view of a key's lists (no copies). Set by HiveKeyBuilder's static block. */
let subkeysOf: (k: HiveKeyBuilder) => readonly HiveKeyBuilder[];
let valuesOf: (k: HiveKeyBuilder) => Readonly<ValueSlots>;

/**
 * One key of a `HiveBuilder`: its subkeys, values, class, security descriptor and timestamp. Compact: subkeys and
 * values are arrays (a name index is added only to long lists) and value bytes live in the builder's shared store.
 */
export class HiveKeyBuilder {
  readonly name: string;
  readonly parent: HiveKeyBuilder | undefined;
  /** Own last-write time (FILETIME); undefined → the `timestamp` build option. */
  timestamp: bigint | undefined;
  /** Class name, or undefined for none. */
  className: string | undefined;
  /** Own self-relative security descriptor; undefined → the parent's (as offreg's ORCreateKey with a NULL SD). */
  security: Uint8Array | undefined;
  /**
   * Key flags (`KEY_*`: KEY_SYM_LINK 0x10, KEY_NO_DELETE 0x8, virtualization bits, 0x1000…) other than KEY_COMP_NAME,
   * which the writer sets from the name. Undefined → 0, or for the root the `rootFlags` build option.
   */
  flags: number | undefined;
  /** The `nk` access bits (byte 0) and layered-key bits (byte 1 in a differencing hive), as read; 0 for a new key. */
  accessBits = 0;
  /** The `nk` user, virtualization and debug flags (the 16 bits after the longest-subkey-name field); usually 0. */
  userFlags = 0;
  readonly #store: ValueStore;
  #subkeys: HiveKeyBuilder[] | undefined;
  #subkeyIndex: NameIndex<HiveKeyBuilder> | undefined;
  #values: ValueSlots | undefined;
  /** `lh` hash of a value name → the value's number (or numbers); built when needed, dropped on a deletion. */
  #valueIndex: Map<number, number | number[]> | undefined;

  static {
    subkeysOf = (k) => k.#subkeys ?? NO_KEYS;
    valuesOf = (k) => k.#values ?? NO_VALUES;
  }

  /** @internal use `HiveBuilder.key` or `subkey`. */
  constructor(name: string, parent: HiveKeyBuilder | undefined) {
    checkKeyName(name);
    this.name = name;
    this.parent = parent;
    this.#store = parent === undefined ? new ValueStore() : parent.#store;
  }

  /** The subkey `name`, created when missing (case-insensitive: an existing `Foo` is returned for `FOO`). */
  subkey(name: string): HiveKeyBuilder {
    const old = getNamed(this.#subkeys, this.#subkeyIndex, name);
    if (old !== undefined) return old;
    const c = new HiveKeyBuilder(name, this);
    this.#subkeys = appended(this.#subkeys, c);
    if (this.#subkeyIndex !== undefined) indexAdd(this.#subkeyIndex, c);
    else if (this.#subkeys.length > INDEX_FROM) this.#subkeyIndex = makeIndex(this.#subkeys);
    return c;
  }

  /** The subkey `name` (case-insensitive), or undefined. */
  getSubkey(name: string): HiveKeyBuilder | undefined {
    return getNamed(this.#subkeys, this.#subkeyIndex, name);
  }

  /** Deletes the subkey `name` and everything below it. Returns whether it existed. */
  deleteSubkey(name: string): boolean {
    const c = getNamed(this.#subkeys, this.#subkeyIndex, name);
    if (c === undefined) return false;
    this.#subkeys!.splice(this.#subkeys!.indexOf(c), 1);
    if (this.#subkeyIndex !== undefined) indexRemove(this.#subkeyIndex, c);
    return true;
  }

  /** Subkeys in creation order (the writer sorts them). A new array. */
  subkeys(): HiveKeyBuilder[] {
    return [...(this.#subkeys ?? NO_KEYS)];
  }

  /**
   * Sets a value with raw data, stored byte for byte (copied into the builder's store). `name` '' is the default
   * value. Replaces one of equal name (case-insensitive), which keeps its place and the case of its name. `flags` are
   * the value's `vk` flags (kept by a rewrite; VALUE_COMP_NAME is the writer's to set).
   */
  setValue(name: string, type: number, data: Uint8Array, flags = 0): this {
    if (!Number.isInteger(type) || type < 0 || type > 0xffffffff) {
      throw new WinlayerError('HIVE_BUILD', `value "${name}": type ${type} is not a 32-bit number`);
    }
    checkBits(flags, 0xffff, `value "${name}": flags`);
    const vflags = flags & ~VALUE_COMP_NAME;
    if (name.length > 16383)
      throw new WinlayerError('HIVE_BUILD', `value name longer than 16383 units: "${name.slice(0, 40)}…"`);
    const [chunk, offset] = this.#store.put(data);
    // like RegSetValue: an existing value keeps its place in the list and the case of its name
    const i = this.#findValue(name);
    if (i >= 0) {
      const list = this.#values!;
      const at = i * VALUE_SLOTS;
      list[at + 1] = type;
      list[at + 2] = chunk;
      list[at + 3] = offset;
      list[at + 4] = data.length;
      list[at + 5] = vflags;
      return this;
    }
    const old = this.#values;
    const count = old === undefined ? 0 : old.length / VALUE_SLOTS;
    let list: ValueSlots;
    if (old !== undefined && count >= INDEX_FROM) {
      list = old;
      list.push(name, type, chunk, offset, data.length, vflags);
    } else {
      // short lists are copied to an array of exactly their length (a pushed-to array reserves 16 more slots)
      list = new Array(old === undefined ? VALUE_SLOTS : old.length + VALUE_SLOTS);
      for (let j = 0; j < (old?.length ?? 0); j++) list[j] = old![j]!;
      const at = count * VALUE_SLOTS;
      list[at] = name;
      list[at + 1] = type;
      list[at + 2] = chunk;
      list[at + 3] = offset;
      list[at + 4] = data.length;
      list[at + 5] = vflags;
      this.#values = list;
    }
    if (this.#valueIndex !== undefined) addToIndex(this.#valueIndex, lhHash(name), count);
    return this;
  }

  /** The number of the value named `name` (case-insensitive), or -1. Indexes a long list first. */
  #findValue(name: string): number {
    const list = this.#values;
    if (list === undefined) return -1;
    const count = list.length / VALUE_SLOTS;
    if (count > INDEX_FROM && this.#valueIndex === undefined) {
      const m = new Map<number, number | number[]>();
      for (let i = 0; i < count; i++) addToIndex(m, lhHash(list[i * VALUE_SLOTS] as string), i);
      this.#valueIndex = m;
    }
    if (this.#valueIndex !== undefined) {
      const e = this.#valueIndex.get(lhHash(name));
      if (e === undefined) return -1;
      for (const i of typeof e === 'number' ? [e] : e) {
        if (equalUpcase(list[i * VALUE_SLOTS] as string, name)) return i;
      }
      return -1;
    }
    for (let i = 0; i < count; i++) if (equalUpcase(list[i * VALUE_SLOTS] as string, name)) return i;
    return -1;
  }

  /** Value number `i` as a `BuilderValue`. */
  #valueAt(i: number): StoredValue {
    const l = this.#values!;
    const at = i * VALUE_SLOTS;
    return new StoredValue(
      l[at] as string,
      l[at + 1] as number,
      l[at + 2] as Uint8Array,
      l[at + 3] as number,
      l[at + 4] as number,
      l[at + 5] as number,
    );
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
    const i = this.#findValue(name);
    return i < 0 ? undefined : this.#valueAt(i);
  }

  /** Deletes the value `name`. Returns whether it existed. */
  deleteValue(name: string): boolean {
    const i = this.#findValue(name);
    if (i < 0) return false;
    this.#values!.splice(i * VALUE_SLOTS, VALUE_SLOTS);
    this.#valueIndex = undefined; // value numbers moved
    return true;
  }

  /** Values in the order they were first set (offreg keeps insertion order). A new array; `data` views the store. */
  values(): BuilderValue[] {
    const n = (this.#values?.length ?? 0) / VALUE_SLOTS;
    return Array.from({ length: n }, (_, i) => this.#valueAt(i));
  }

  /** Sets this key's own security descriptor (bytes or SDDL); undefined shares the parent's. */
  setSecurity(sd: Uint8Array | string | undefined): this {
    this.security = sd === undefined ? undefined : toSd(sd);
    return this;
  }

  /**
   * Sets the key flags (`KEY_*`; KEY_COMP_NAME is ignored: the writer sets it from the name). KEY_VOLATILE and
   * KEY_HIVE_EXIT are refused: such keys never belong in a file. A KEY_SYM_LINK key may hold only its
   * `SymbolicLinkValue` (REG_LINK), which `buildHive` checks.
   */
  setFlags(flags: number | undefined): this {
    if (flags !== undefined) {
      checkBits(flags, 0xffff, `key "${this.name}": flags`);
      if ((flags & (KEY_FLAG.VOLATILE | KEY_FLAG.HIVE_EXIT)) !== 0) {
        throw new WinlayerError(
          'HIVE_BUILD',
          `key "${this.name}": flags 0x${flags.toString(16)} mark a volatile or hive-exit key`,
          {
            hint: 'volatile and hive-exit keys exist only in memory; a hive file cannot hold them',
          },
        );
      }
    }
    this.flags = flags === undefined ? undefined : flags & ~KEY_FLAG.COMP_NAME;
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

  /**
   * Sets the key's layer in a differencing hive (a `layered` builder): what it does to the key below when merged
   * (`merge`, `tombstone`, `supersede-local`, `supersede-tree`) and whether it keeps that key's class
   * (`inheritClass`, default false). Kept in the layered-key byte of `accessBits`; the access byte is untouched.
   */
  setLayer(semantics: LayerSemantics, opts: { readonly inheritClass?: boolean } = {}): this {
    const byte = encodeLayer({ semantics, inheritClass: opts.inheritClass ?? false });
    this.accessBits = withLayerByte(this.accessBits, byte);
    return this;
  }

  /** The key's layer as its layered-key byte says (`merge` for a key never given one). */
  get layer(): KeyLayer {
    return decodeLayer(layerByte(this.accessBits));
  }

  /**
   * Adds a tombstone value (a differencing hive's deletion of the value `name` of the key below): REG_NONE, no data,
   * the tombstone flag. Replaces a value of that name.
   */
  setTombstoneValue(name: string): this {
    return this.setValue(name, REG.NONE, new Uint8Array(0), VALUE_TOMBSTONE);
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
  /**
   * A differencing hive (a layer's `Hives/*_Delta`): written as version 1.6 with the layered-keys flag, its keys'
   * layers (`setLayer`) and tombstone values (`setTombstoneValue`) kept. Default false.
   */
  readonly layered?: boolean;
}

/** A hive under construction: a tree of `HiveKeyBuilder`. Nothing touches a file until `writeHive`. */
export class HiveBuilder {
  readonly root: HiveKeyBuilder;
  /** The version of the hive this builder was read from, if any (`builderFromHive`); a rewrite keeps it. */
  sourceVersion: HiveVersion | undefined;
  /** A differencing hive: written with the layered-keys flag, keys' layers and tombstone values kept. */
  layered: boolean;

  constructor(opts: HiveBuilderOptions = {}) {
    this.root = new HiveKeyBuilder(opts.rootName ?? 'ROOT', undefined);
    this.root.security = toSd(opts.rootSecurity ?? DEFAULT_ROOT_SD);
    this.layered = opts.layered ?? false;
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
 * A builder holding everything of an opened hive: its version and layered-keys flag; keys with their flags, access and
 * layered bits, user flags, classes, security descriptors and timestamps; values (raw) with their flags. Used to change a hive (`hive merge`): edit the
 * builder, then `buildHive` again. Refuses a hive opened with errors (`damaged`): what could not be read would be lost.
 */
export function builderFromHive(hive: Hive): HiveBuilder {
  if (hive.damaged) {
    throw new WinlayerError('HIVE_STRUCTURE', 'the hive has errors: rewriting it would drop what cannot be read', {
      ...(hive.path === undefined ? {} : { path: hive.path }),
      hint: 'run `winlayer hive check` on the file for every finding',
    });
  }
  const r = hiveRoot(hive);
  const b = new HiveBuilder({ rootName: keyName(r), rootSecurity: keySecurity(r), layered: hive.layered });
  const { major, minor } = hive.version;
  // 1.3 to 1.6: every version Windows loads, and the writer writes
  b.sourceVersion = major === 1 && minor >= 3 && minor <= 6 ? (`1.${minor}` as HiveVersion) : undefined;
  const stack: Array<[ReturnType<typeof hiveRoot>, HiveKeyBuilder]> = [[r, b.root]];
  while (stack.length > 0) {
    const [hk, bk] = stack.pop()!;
    bk.timestamp = keyTimestamp(hk);
    bk.className = keyClass(hk);
    bk.flags = keyFlags(hk) & ~KEY_FLAG.COMP_NAME;
    bk.accessBits = keyAccessBits(hk);
    bk.userFlags = keyUserFlags(hk);
    const sd = keySecurity(hk);
    const parentSd = bk.parent === undefined ? undefined : effectiveSd(bk.parent);
    bk.security = parentSd !== undefined && sameBytes(parentSd, sd) ? undefined : sd;
    for (const v of hiveValues(hk)) bk.setValue(valueName(v), valueType(v), valueData(v), valueFlags(v));
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

/**
 * Cell allocator. Without a buffer it only plans (offsets, bins, free lists); with one — sized by a planning run of
 * the same allocations — it also marks each allocated cell in place.
 */
class Allocator {
  /** End of the hive-bins data. */
  end = 0;
  readonly bins: Array<{ at: number; size: number }> = [];
  readonly free: Array<Array<{ at: number; size: number }>> = Array.from({ length: 24 }, () => []);

  constructor(readonly view: DataView | undefined) {}

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
          this.view?.setInt32(BASE_BLOCK_SIZE + c.at, -size, true);
          return c.at;
        }
      }
    }
    const binSize = Math.ceil((size + HBIN_HEADER_SIZE) / BIN_ALIGN) * BIN_ALIGN;
    const at = this.end;
    if (this.view !== undefined && BASE_BLOCK_SIZE + at + binSize > this.view.byteLength) {
      throw new WinlayerError('INTERNAL', 'the hive layout differs from its planning run');
    }
    this.bins.push({ at, size: binSize });
    this.end += binSize;
    const cellAt = at + HBIN_HEADER_SIZE;
    const rest = binSize - HBIN_HEADER_SIZE - size;
    if (rest > 0) this.addFree(cellAt + size, rest);
    this.view?.setInt32(BASE_BLOCK_SIZE + cellAt, -size, true);
    return cellAt;
  }

  private addFree(at: number, size: number): void {
    this.free[freeIndex(size)]!.push({ at, size });
  }
}

// ── layout ─────────────────────────────────────────────────────────────────────────────────────────────────────────

interface SkCell {
  readonly sd: Uint8Array;
  at: number;
  refs: number;
}

/** Stored byte length of a key or value name (Latin-1 when every unit fits, else UTF-16LE). */
function nameBytes(name: string): number {
  return isCompressible(name) ? name.length : name.length * 2;
}

/** Writes a name as stored (Latin-1 or UTF-16LE) at `at`; returns whether it is compressed. */
function putName(buf: Uint8Array, at: number, name: string): boolean {
  if (isCompressible(name)) {
    for (let i = 0; i < name.length; i++) buf[at + i] = name.charCodeAt(i);
    return true;
  }
  for (let i = 0; i < name.length; i++) {
    const u = name.charCodeAt(i);
    buf[at + 2 * i] = u & 0xff;
    buf[at + 2 * i + 1] = u >>> 8;
  }
  return false;
}

/**
 * Refuses a symbolic-link key (KEY_SYM_LINK) with other values than one REG_LINK `SymbolicLinkValue`: Windows checks
 * this on load and drops what breaks it (a `.reg` merge that adds a value to such a key would lose it there).
 */
function checkLinkKey(kb: HiveKeyBuilder): void {
  if (((kb.flags ?? 0) & KEY_FLAG.SYM_LINK) === 0) return;
  const vs = valuesOf(kb);
  const n = vs.length / VALUE_SLOTS;
  if (n === 0 || (n === 1 && equalUpcase(vs[0] as string, 'SymbolicLinkValue') && vs[1] === REG.LINK)) return;
  throw new WinlayerError(
    'HIVE_BUILD',
    `key "${kb.path}" is a symbolic link: it may hold only its SymbolicLinkValue (REG_LINK)`,
    {
      hint: 'set values on the key the link points to, or delete the link key first',
    },
  );
}

/**
 * Refuses what the checker calls an error in a key's layer (delta-hives.md §2–§3): layered bits or tombstone values in
 * a hive that is not `layered`, reserved layer bits, a tombstone key holding values, subkeys or a class, a tombstone
 * value with a type or data.
 */
function checkLayeredKey(kb: HiveKeyBuilder, layered: boolean): void {
  const byte = layerByte(kb.accessBits);
  const vs = valuesOf(kb);
  const fail = (what: string, hint: string): never => {
    throw new WinlayerError('HIVE_BUILD', `key "${kb.path}": ${what}`, { hint });
  };
  const tombstoneValues: string[] = [];
  for (let i = 0; i < vs.length; i += VALUE_SLOTS) {
    if (((vs[i + 5] as number) & VALUE_TOMBSTONE) !== 0) tombstoneValues.push(vs[i] as string);
  }
  if (!layered) {
    if (byte !== 0 || tombstoneValues.length > 0) {
      fail(
        byte !== 0 ? `layered-key bits 0x${byte.toString(16)}` : `tombstone value "${tombstoneValues[0]}"`,
        'layer semantics and tombstone values belong to a differencing hive: make the builder with { layered: true }',
      );
    }
    return;
  }
  if ((byte & LAYER_BITS.reserved) !== 0) fail(`reserved layered-key bits 0x${byte.toString(16)}`, 'use setLayer');
  if (kb.layer.semantics === 'tombstone' && (vs.length > 0 || subkeysOf(kb).length > 0 || kb.className !== undefined)) {
    fail('a tombstone (a deleted key) holds values, subkeys or a class', 'a tombstone key is empty');
  }
  for (let i = 0; i < vs.length; i += VALUE_SLOTS) {
    if (((vs[i + 5] as number) & VALUE_TOMBSTONE) !== 0 && (vs[i + 1] !== REG.NONE || vs[i + 4] !== 0)) {
      fail(`tombstone value "${vs[i]}" has a type or data`, 'use setTombstoneValue');
    }
  }
}

/** Keys in the tree under (and with) `root`. */
function countKeys(root: HiveKeyBuilder): number {
  let n = 0;
  const stack = [root];
  while (stack.length > 0) {
    n++;
    for (const c of subkeysOf(stack.pop()!)) stack.push(c);
  }
  return n;
}

const bySortName = (x: HiveKeyBuilder, y: HiveKeyBuilder): number => compareUpcase(x.name, y.name);

/**
 * One run of the layout, in ORSaveHive's order: keys breadth first (siblings sorted); per key its nk, a new security
 * cell, class, value list, each vk and its data (db record, segment list, segments), then its subkey list (ri, then
 * the leaves). With `buf` (sized by an earlier run without) every cell is written as soon as it is allocated; a key's
 * entry in its parent's leaf is filled when the key itself is placed. Security cells are returned for the caller to
 * write (their reference counts are known only at the end). Keeps no per-key or per-value records beyond the queue.
 */
function layOut(
  builder: HiveBuilder,
  a: Allocator,
  buf: Uint8Array | undefined,
  minor: number,
  rootFlags: number,
  ts: bigint,
  layered: boolean,
): { rootNk: number; sks: SkCell[] } {
  const view = buf === undefined ? undefined : new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const cellAt = (off: number): number => BASE_BLOCK_SIZE + off + 4;
  const sks: SkCell[] = [];
  const skByHex = new Map<string, SkCell>();
  const leafSig = sig2(minor >= 5 ? 'lh' : 'lf');

  // the breadth-first queue: the key, its parent's nk, where its leaf entry goes (-1: none), its parent's sk index
  // (typed arrays sized by a count of the keys: no per-key garbage; file positions fit 31 bits)
  const total = countKeys(builder.root);
  const qKey = new Array<HiveKeyBuilder>(total);
  const qParentNk = new Uint32Array(total);
  const qSlot = new Int32Array(total);
  const qParentSk = new Int32Array(total);
  const qDepth = new Int32Array(total);
  qKey[0] = builder.root;
  qParentNk[0] = NIL;
  qSlot[0] = -1;
  qParentSk[0] = -1;
  let queued = 1;
  let rootNk = NIL;
  for (let qi = 0; qi < queued; qi++) {
    const kb = qKey[qi]!;
    const isRoot = qi === 0;
    if (qDepth[qi]! > MAX_DEPTH) {
      throw new WinlayerError(
        'HIVE_BUILD',
        `key "${kb.path.slice(0, 200)}…" is nested deeper than ${MAX_DEPTH} levels`,
        {
          hint: 'Windows refuses hives with keys nested more than 512 levels deep',
        },
      );
    }
    if (buf === undefined) {
      checkLinkKey(kb);
      checkLayeredKey(kb, layered);
    }
    const nk = a.alloc(cellSizeFor(4 + NK_FIXED + nameBytes(kb.name)));
    if (isRoot) rootNk = nk;
    const slot = qSlot[qi]!;
    if (view !== undefined && slot >= 0) {
      view.setUint32(slot, nk, true);
      if (minor >= 5) view.setUint32(slot + 4, lhHash(kb.name), true);
      else buf!.set(lfHint(kb.name), slot + 4);
    }
    // security: own SD (shared with any equal one) or the parent's cell
    let skIndex: number;
    if (kb.security !== undefined || isRoot) {
      const sd = kb.security ?? DEFAULT_ROOT_SD;
      const id = Buffer.from(sd.buffer, sd.byteOffset, sd.byteLength).toString('hex');
      let s = skByHex.get(id);
      if (s === undefined) {
        s = { sd, at: a.alloc(cellSizeFor(4 + SK_FIXED + sd.length)), refs: 0 };
        skByHex.set(id, s);
        sks.push(s);
      }
      skIndex = sks.indexOf(s);
    } else {
      skIndex = qParentSk[qi]!;
    }
    const sk = sks[skIndex]!;
    sk.refs++;
    const cls = kb.className ?? '';
    const classCell = cls.length > 0 ? a.alloc(cellSizeFor(4 + cls.length * 2)) : NIL;
    if (view !== undefined && classCell !== NIL) buf!.set(encodeUtf16(cls), cellAt(classCell));

    const slots = valuesOf(kb);
    const valueCount = slots.length / VALUE_SLOTS;
    let valueList = NIL;
    let maxVName = 0;
    let maxVData = 0;
    if (valueCount > 0) {
      valueList = a.alloc(cellSizeFor(4 + 4 * valueCount));
      for (let vi = 0; vi < valueCount; vi++) {
        const vName = slots[vi * VALUE_SLOTS] as string;
        const vType = slots[vi * VALUE_SLOTS + 1] as number;
        const n = slots[vi * VALUE_SLOTS + 4] as number;
        maxVName = Math.max(maxVName, vName.length * 2);
        maxVData = Math.max(maxVData, n);
        const vk = a.alloc(cellSizeFor(4 + VK_FIXED + nameBytes(vName)));
        let data = NIL;
        let db = NIL;
        let segList = NIL;
        let segs: number[] | undefined;
        if (n > 4) {
          if (minor >= 4 && n > BIG_DATA_THRESHOLD) {
            const count = Math.ceil(n / BIG_DATA_SEGMENT);
            if (count > 0xffff) throw new WinlayerError('HIVE_BUILD', `value "${vName}" is too big (${n} bytes)`);
            db = a.alloc(cellSizeFor(4 + DB.pad.at + 4));
            segList = a.alloc(cellSizeFor(4 + 4 * count));
            segs = [];
            for (let i = 0; i < count; i++) segs.push(a.alloc(cellSizeFor(4 + BIG_DATA_SEGMENT)));
          } else {
            if (n > MAX_SINGLE_CELL_VALUE) {
              throw new WinlayerError('HIVE_BUILD', `value "${vName}" of key "${kb.path}" has ${n} bytes`, {
                hint: 'a version 1.3 hive has no big-data records and holds at most 1 MiB per value: write version 1.5',
              });
            }
            data = a.alloc(cellSizeFor(4 + n));
          }
        }
        if (view === undefined) continue;
        view.setUint32(cellAt(valueList) + 4 * vi, vk, true);
        const q = cellAt(vk);
        view.setUint16(q, sig2('vk'), true);
        const nameLen = nameBytes(vName);
        view.setUint16(q + VK.nameLength.at, nameLen, true);
        view.setUint32(q + VK.type.at, vType >>> 0, true);
        const compressed = putName(buf!, q + VK_FIXED, vName);
        const vFlags = slots[vi * VALUE_SLOTS + 5] as number;
        view.setUint16(q + VK.flags.at, vFlags | (compressed && vName.length > 0 ? VALUE_COMP_NAME : 0), true);
        const chunk = slots[vi * VALUE_SLOTS + 2] as Uint8Array;
        const from = slots[vi * VALUE_SLOTS + 3] as number;
        const d = chunk.subarray(from, from + n);
        if (layered && (vFlags & VALUE_TOMBSTONE) !== 0) {
          // a deletion, as Windows writes it: size 0, data offset nil (not the inline form of an empty value)
          view.setUint32(q + VK.dataSize.at, 0, true);
          view.setUint32(q + VK.data.at, NIL, true);
          continue;
        }
        if (n <= 4) {
          view.setUint32(q + VK.dataSize.at, (n | 0x80000000) >>> 0, true);
          buf!.set(d, q + VK.data.at);
          continue;
        }
        view.setUint32(q + VK.dataSize.at, n, true);
        if (segs !== undefined) {
          view.setUint32(q + VK.data.at, db, true);
          const dp = cellAt(db);
          view.setUint16(dp, sig2('db'), true);
          view.setUint16(dp + DB.count.at, segs.length, true);
          view.setUint32(dp + DB.segmentList.at, segList, true);
          const sp = cellAt(segList);
          for (let i = 0; i < segs.length; i++) {
            view.setUint32(sp + 4 * i, segs[i]!, true);
            buf!.set(d.subarray(i * BIG_DATA_SEGMENT, (i + 1) * BIG_DATA_SEGMENT), cellAt(segs[i]!));
          }
        } else {
          view.setUint32(q + VK.data.at, data, true);
          buf!.set(d, cellAt(data));
        }
      }
    }

    const own = subkeysOf(kb);
    const subs = own.length === 0 ? own : [...own].sort(bySortName);
    let list = NIL;
    let maxName = 0;
    let maxClass = 0;
    if (subs.length > 0) {
      // the leaves: [cell, first child, end child]
      const leaves: number[] = [];
      if (subs.length <= OFFREG_LEAF_MAX) {
        list = a.alloc(cellSizeFor(4 + 4 + 8 * subs.length));
        leaves.push(list, 0, subs.length);
      } else {
        const nLeaves = Math.ceil(subs.length / OFFREG_LEAF_MAX);
        if (nLeaves > 0xffff) throw new WinlayerError('HIVE_BUILD', `key "${kb.path}" has too many subkeys`);
        list = a.alloc(cellSizeFor(4 + 4 + 4 * nLeaves));
        for (let i = 0; i < nLeaves; i++) {
          const from = i * OFFREG_LEAF_MAX;
          const to = Math.min(subs.length, from + OFFREG_LEAF_MAX);
          leaves.push(a.alloc(cellSizeFor(4 + 4 + 8 * (to - from))), from, to);
        }
        if (view !== undefined) {
          const rp = cellAt(list);
          view.setUint16(rp, sig2('ri'), true);
          view.setUint16(rp + 2, nLeaves, true);
          for (let i = 0; i < nLeaves; i++) view.setUint32(rp + 4 + 4 * i, leaves[3 * i]!, true);
        }
      }
      for (let l = 0; l < leaves.length; l += 3) {
        const lp = cellAt(leaves[l]!);
        const from = leaves[l + 1]!;
        const to = leaves[l + 2]!;
        if (view !== undefined) {
          view.setUint16(lp, leafSig, true);
          view.setUint16(lp + 2, to - from, true);
        }
        for (let i = from; i < to; i++) {
          const c = subs[i]!;
          maxName = Math.max(maxName, c.name.length * 2);
          maxClass = Math.max(maxClass, (c.className?.length ?? 0) * 2);
          qKey[queued] = c;
          qParentNk[queued] = nk;
          qSlot[queued] = lp + 4 + 8 * (i - from);
          qParentSk[queued] = skIndex;
          qDepth[queued] = qDepth[qi]! + 1;
          queued++;
        }
      }
    }

    if (view === undefined) continue;
    const p = cellAt(nk);
    view.setUint16(p, sig2('nk'), true);
    const compressed = putName(buf!, p + NK_FIXED, kb.name);
    const flags =
      ((isRoot ? rootFlags : (kb.flags ?? 0)) & ~KEY_FLAG.COMP_NAME) | (compressed ? KEY_FLAG.COMP_NAME : 0);
    view.setUint16(p + NK.flags.at, flags, true);
    view.setBigUint64(p + NK.timestamp.at, kb.timestamp ?? ts, true);
    view.setUint32(p + NK.access.at, kb.accessBits >>> 0, true);
    view.setUint16(p + NK.userFlags.at, kb.userFlags, true);
    view.setUint32(p + NK.parent.at, qParentNk[qi]!, true);
    view.setUint32(p + NK.subkeyCount.at, subs.length, true);
    view.setUint32(p + NK.subkeyList.at, list, true);
    view.setUint32(p + NK.volatileSubkeyList.at, NIL, true);
    view.setUint32(p + NK.valueCount.at, valueCount, true);
    view.setUint32(p + NK.valueList.at, valueList, true);
    view.setUint32(p + NK.security.at, sk.at, true);
    view.setUint32(p + NK.classCell.at, classCell, true);
    view.setUint16(p + NK.maxSubkeyName.at, maxName, true);
    view.setUint32(p + NK.maxSubkeyClass.at, maxClass, true);
    view.setUint32(p + NK.maxValueName.at, maxVName, true);
    view.setUint32(p + NK.maxValueData.at, maxVData, true);
    view.setUint16(p + NK.nameLength.at, nameBytes(kb.name), true);
    view.setUint16(p + NK.classLength.at, cls.length * 2, true);
  }
  return { rootNk, sks };
}

/** The minor version of each version the writer writes. */
const MINOR_OF: Readonly<Record<string, number>> = { '1.3': 3, '1.4': 4, '1.5': 5, '1.6': 6 };

/**
 * Lays out and writes the hive. Returns the whole file (4096-byte base block + bins), ready to save.
 * Two runs of the same layout: the first only plans (to learn the file size), the second writes every cell straight
 * into one buffer of exactly that size — so the memory used is the file plus the builder, nothing per key.
 * Throws `HIVE_BUILD` when the tree cannot be written (too many subkeys or values for the format).
 */
export function buildHive(builder: HiveBuilder, opts: BuildHiveOptions = {}): Uint8Array {
  const version = opts.version ?? builder.sourceVersion ?? (builder.layered ? '1.6' : '1.5');
  const minor = MINOR_OF[version];
  if (minor === undefined) throw new WinlayerError('HIVE_BUILD', `unsupported version ${String(version)}`);
  const layered = builder.layered;
  if (opts.rootFlags !== undefined && opts.rootFlags !== 0x2c && opts.rootFlags !== 0x20) {
    throw new WinlayerError(
      'HIVE_BUILD',
      `root flags must be 0x2C or 0x20, not 0x${Number(opts.rootFlags).toString(16)}`,
    );
  }
  // the option, else the root's own (a rewrite keeps them), else the kernel's 0x2C
  const rootFlags = opts.rootFlags ?? builder.root.flags ?? 0x2c;
  const ts = opts.timestamp ?? 0n;

  const plan = new Allocator(undefined);
  layOut(builder, plan, undefined, minor, rootFlags, ts, layered);
  if (BASE_BLOCK_SIZE + plan.end > 0x7fffffff) {
    throw new WinlayerError('HIVE_BUILD', `the hive would be ${BASE_BLOCK_SIZE + plan.end} bytes, over 2 GiB`, {
      hint: 'cell offsets are 31-bit (the top bit marks volatile storage): a hive file cannot reach 2 GiB',
    });
  }
  const buf = new Uint8Array(BASE_BLOCK_SIZE + plan.end);
  const view = new DataView(buf.buffer);
  const a = new Allocator(view);
  const { rootNk, sks } = layOut(builder, a, buf, minor, rootFlags, ts, layered);
  if (a.end !== plan.end) throw new WinlayerError('INTERNAL', 'the hive layout differs from its planning run');
  const cellAt = (off: number): number => BASE_BLOCK_SIZE + off + 4;

  sks.forEach((s, i) => {
    const p = cellAt(s.at);
    view.setUint16(p, sig2('sk'), true);
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
  view.setUint32(HEADER.rootCell.at, rootNk, true);
  view.setUint32(HEADER.binsSize.at, a.end, true);
  view.setUint32(HEADER.clustering.at, 1, true);
  view.setUint32(HEADER.flags.at, layered ? HEADER_LAYERED_KEYS : 0, true);
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
  return buf;
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
