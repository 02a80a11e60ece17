/**
 * The tree API of the writer: a tree builder (`HiveBuilder`, `HiveKeyBuilder`), `builderFromHive`, and `buildHive`,
 * which has `plan.ts` lay the tree out as offreg's `ORSaveHive` does (over `allocator.ts`) and write every cell with
 * the encoders of `encode.ts`. Deterministic: same builder and options → same bytes.
 */
import { writeFileAtomic } from '../atomic.js';
import { WinlayerError } from '../errors.js';
import { equalUpcase, sddlToBytes } from '../windows/index.js';
import { decodeLayer, encodeLayer, type KeyLayer, type LayerSemantics } from './delta.js';
import { encodeUtf16, KEY_FLAG, layerByte, lhHash, VALUE_COMP_NAME, VALUE_TOMBSTONE, withLayerByte } from './layout.js';
import { type KeyLists, planHive, VALUE_SLOTS, ValueSlot, writePlan } from './plan.js';
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
 * A key's values as one flat array, `VALUE_SLOTS` slots each (`ValueSlot`: name, type, store chunk, offset there,
 * size, flags): an object per value would cost 24 bytes more, and a pointer to it.
 */
export type ValueSlots = Array<string | number | Uint8Array>;

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

/**
 * The planner's and writer's view of a key's lists (no copies), which `buildHive` hands to them. Set once by
 * HiveKeyBuilder's static block: the lists are private fields, and a static block is the one place outside the
 * class's methods that can read them; public accessors would put the flat value slots in the package's API.
 */
let keyLists: KeyLists;

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
    keyLists = { subkeys: (k) => k.#subkeys ?? NO_KEYS, values: (k) => k.#values ?? NO_VALUES };
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
      list[at + ValueSlot.type] = type;
      list[at + ValueSlot.chunk] = chunk;
      list[at + ValueSlot.offset] = offset;
      list[at + ValueSlot.size] = data.length;
      list[at + ValueSlot.flags] = vflags;
      return this;
    }
    const old = this.#values;
    const count = old === undefined ? 0 : old.length / VALUE_SLOTS;
    let list: ValueSlots;
    if (old !== undefined && count >= INDEX_FROM) {
      list = old;
      list.push(name, type, chunk, offset, data.length, vflags); // in `ValueSlot` order
    } else {
      // short lists are copied to an array of exactly their length (a pushed-to array reserves 16 more slots)
      list = new Array(old === undefined ? VALUE_SLOTS : old.length + VALUE_SLOTS);
      for (let j = 0; j < (old?.length ?? 0); j++) list[j] = old![j]!;
      const at = count * VALUE_SLOTS;
      list[at + ValueSlot.name] = name;
      list[at + ValueSlot.type] = type;
      list[at + ValueSlot.chunk] = chunk;
      list[at + ValueSlot.offset] = offset;
      list[at + ValueSlot.size] = data.length;
      list[at + ValueSlot.flags] = vflags;
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
      for (let i = 0; i < count; i++) addToIndex(m, lhHash(list[i * VALUE_SLOTS + ValueSlot.name] as string), i);
      this.#valueIndex = m;
    }
    if (this.#valueIndex !== undefined) {
      const e = this.#valueIndex.get(lhHash(name));
      if (e === undefined) return -1;
      for (const i of typeof e === 'number' ? [e] : e) {
        if (equalUpcase(list[i * VALUE_SLOTS + ValueSlot.name] as string, name)) return i;
      }
      return -1;
    }
    for (let i = 0; i < count; i++) if (equalUpcase(list[i * VALUE_SLOTS + ValueSlot.name] as string, name)) return i;
    return -1;
  }

  /** Value number `i` as a `BuilderValue`. */
  #valueAt(i: number): StoredValue {
    const l = this.#values!;
    const at = i * VALUE_SLOTS;
    return new StoredValue(
      l[at + ValueSlot.name] as string,
      l[at + ValueSlot.type] as number,
      l[at + ValueSlot.chunk] as Uint8Array,
      l[at + ValueSlot.offset] as number,
      l[at + ValueSlot.size] as number,
      l[at + ValueSlot.flags] as number,
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
 * layered bits, user flags, classes, security descriptors and timestamps; values (raw) with their flags. Used to change
 * a hive (`hive merge`): edit the builder, then `buildHive` again. Refuses a hive opened with errors (`damaged`): what
 * could not be read would be lost.
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

/** The minor version of each version the writer writes. */
const MINOR_OF: Readonly<Record<string, number>> = { '1.3': 3, '1.4': 4, '1.5': 5, '1.6': 6 };

/**
 * Lays out and writes the hive. Returns the whole file (4096-byte base block + bins), ready to save.
 * `planHive` decides where every cell goes (typed arrays of offsets, nothing per key or value beyond them), then
 * `writePlan` writes every cell straight into one buffer of exactly the file's size.
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
  const timestamp = opts.timestamp ?? 0n;

  return writePlan(
    planHive(builder.root, DEFAULT_ROOT_SD, { minor, rootFlags, timestamp, layered }, keyLists),
    keyLists,
  );
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
