/**
 * The strict reader: `openHive` runs the structural pass once (stopping at the first error) and returns a `Hive`;
 * the accessors below walk only what that pass recorded. Keys and values are opaque handles.
 */
import { WinlayerError } from '../errors.js';
import { bytesToSddl, equalUpcase } from '../windows/index.js';
import { decodeLayer, type KeyLayer } from './delta.js';
import { findingErrorCode, findingSeverity, makeFinding } from './findings.js';
import {
  BIG_DATA_SEGMENT,
  cellData,
  DB,
  decodeName,
  decodeUtf16,
  HEADER,
  HEADER_LAYERED_KEYS,
  isBigData,
  KEY_FLAG,
  layerByte,
  NIL,
  NK,
  REF_LIST,
  SK,
  SK_FIXED,
  VALUE_COMP_NAME,
  VALUE_TOMBSTONE,
  VK,
  VK_DATA_INLINE,
  VK_FIXED,
} from './layout.js';
import { DEFAULT_LIMITS, type ScanKey, scanHive } from './scan.js';
import { type HiveFinding, type HiveKey, type HiveValue, type OpenHiveOptions, REG } from './types.js';

/** An opened hive: the bytes and the record of the structural pass. Immutable. */
export interface Hive {
  readonly bytes: Uint8Array;
  /** Format version as read, e.g. `{ major: 1, minor: 5 }`. */
  readonly version: { readonly major: number; readonly minor: number };
  /** True when the sequence numbers differ: readable, but it must not be shipped (needs transaction logs). */
  readonly dirty: boolean;
  /**
   * True when the hive was opened with `onError` and has errors other than being dirty: what the reader shows is what
   * could be walked (a key or value that is itself broken is left out, an unreadable class or descriptor is empty).
   */
  readonly damaged: boolean;
  /**
   * True for a differencing hive (a layer's `Hives/*_Delta`): the base block has the layered-keys flag (0x2). Its keys
   * have layer semantics (`keyLayer`) and its values may be deletions (`isTombstoneValue`).
   */
  readonly layered: boolean;
  /** Flags of the root key (0x2C kernel, 0x20 offreg). */
  readonly rootFlags: number;
  /** Number of keys, root included. */
  readonly keyCount: number;
  /** The file name given to `openHive`, for messages. */
  readonly path: string | undefined;
}

interface HiveState extends Hive {
  readonly keys: ScanKey[];
  readonly view: DataView;
}

class KeyRef {
  constructor(
    readonly hive: HiveState,
    readonly index: number,
  ) {}
}
class ValueRef {
  constructor(
    readonly hive: HiveState,
    readonly offset: number,
  ) {}
}

/** Most error findings a lenient `openHive` hands to `onError` (bounded output for hostile input, as `checkHive`). */
const MAX_REPORTED_ERRORS = 1000;

/** The error `openHive` throws for an error finding: the reader's code for its kind, the finding's sentence. */
function findingError(f: HiveFinding, path: string | undefined): WinlayerError {
  const key = f.keyPath === undefined ? '' : ` (key \\${f.keyPath})`;
  return new WinlayerError(findingErrorCode(f.code), `${f.message}${key}`, {
    ...(path === undefined ? {} : { path }),
    ...(f.offset === undefined ? {} : { offset: f.offset }),
    hint: 'run `winlayer hive check` on the file for every finding',
  });
}

/**
 * Opens a hive held in memory. Runs one structural pass (base block, checksum, every bin and cell, the whole key tree,
 * lists, values, big data, security cells) and throws at the first error. A dirty hive (sequence numbers differ)
 * opens for reading with `dirty: true`; `checkHive` reports it as an error.
 *
 * Throws `WinlayerError` with `HIVE_HEADER`, `HIVE_BIN`, `HIVE_BAD_CELL`, `HIVE_STRUCTURE` or `HIVE_LIMIT`, the file
 * offset, and the key path in the message. Never any other exception for any input.
 *
 * With `onError` the hive is read as far as its structure can be walked: each error finding (`DIRTY` included) goes to
 * `onError` instead of being thrown, the keys and values that are themselves broken are left out, and the hive is
 * `damaged`. Only a hive without a usable root key still throws.
 */
export function openHive(bytes: Uint8Array, opts: OpenHiveOptions = {}): Hive {
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  /** With `onError`: the error findings, handed over once the tree is known to be walkable. */
  const errors: HiveFinding[] = [];
  let scan: ReturnType<typeof scanHive>;
  try {
    scan = scanHive(
      bytes,
      {
        report(code, message, where) {
          if (findingSeverity(code) === 'warning') return;
          if (opts.onError !== undefined) {
            if (errors.length < MAX_REPORTED_ERRORS) errors.push(makeFinding(code, message, where));
            return;
          }
          if (code !== 'DIRTY') throw findingError(makeFinding(code, message, where), opts.path);
        },
      },
      limits,
    );
  } catch (e) {
    if (e instanceof WinlayerError) throw e;
    throw new WinlayerError('INTERNAL', `the hive reader failed: ${(e as Error).message}`, {
      ...(opts.path === undefined ? {} : { path: opts.path }),
      cause: e,
    });
  }
  if (scan.keys.length === 0) {
    // nothing can be walked: the first error is the reason (a lenient read gives no warnings then)
    const first = errors.find((f) => f.code !== 'DIRTY');
    if (first !== undefined) throw findingError(first, opts.path);
    throw new WinlayerError(
      'HIVE_STRUCTURE',
      'the hive has no usable root key',
      opts.path === undefined ? {} : { path: opts.path },
    );
  }
  for (const f of errors) opts.onError?.(f);
  const damaged = errors.some((f) => f.code !== 'DIRTY');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const state: HiveState = {
    bytes,
    version: { major: view.getUint32(HEADER.major.at, true), minor: scan.minor },
    dirty: scan.dirty,
    damaged,
    layered: (scan.headerFlags & HEADER_LAYERED_KEYS) !== 0,
    rootFlags: scan.rootFlags,
    keyCount: scan.keys.length,
    path: opts.path,
    keys: scan.keys,
    view,
  };
  return Object.freeze(state);
}

function key(k: HiveKey): KeyRef {
  if (!(k instanceof KeyRef)) throw new WinlayerError('INTERNAL', 'not a key handle of an opened hive');
  return k;
}
function val(v: HiveValue): ValueRef {
  if (!(v instanceof ValueRef)) throw new WinlayerError('INTERNAL', 'not a value handle of an opened hive');
  return v;
}
const asKey = (r: KeyRef): HiveKey => r as unknown as HiveKey;
const asValue = (r: ValueRef): HiveValue => r as unknown as HiveValue;
const nkAt = (r: KeyRef): number => cellData(r.hive.keys[r.index]!.offset);
const vkAt = (r: ValueRef): number => cellData(r.offset);

/** The root key. */
export function root(hive: Hive): HiveKey {
  return asKey(new KeyRef(hive as HiveState, 0));
}

/** The subkeys of `k`, in hive order (sorted by upper-cased name). */
export function children(k: HiveKey): HiveKey[] {
  const r = key(k);
  return r.hive.keys[r.index]!.children.map((i) => asKey(new KeyRef(r.hive, i)));
}

/** The subkey of `k` named `name` (case-insensitive, Windows' rule), or undefined. */
export function child(k: HiveKey, name: string): HiveKey | undefined {
  const r = key(k);
  for (const i of r.hive.keys[r.index]!.children) {
    if (equalUpcase(r.hive.keys[i]!.name, name)) return asKey(new KeyRef(r.hive, i));
  }
  return undefined;
}

/** The parent of `k`, or undefined for the root. */
export function parent(k: HiveKey): HiveKey | undefined {
  const r = key(k);
  const p = r.hive.keys[r.index]!.parent;
  return p < 0 ? undefined : asKey(new KeyRef(r.hive, p));
}

/** The key at `path` (`\`-separated, below the root; '' = the root), case-insensitive, or undefined. */
export function findKey(hive: Hive, path: string): HiveKey | undefined {
  let k: HiveKey | undefined = root(hive);
  for (const part of path.split('\\')) {
    if (part === '') continue;
    k = child(k, part);
    if (k === undefined) return undefined;
  }
  return k;
}

/** Every key, parents before children, siblings in hive order (depth first). A generator over the record. */
export function* walkKeys(hive: Hive): Generator<HiveKey> {
  const h = hive as HiveState;
  for (let i = 0; i < h.keys.length; i++) yield asKey(new KeyRef(h, i));
}

/** The values of `k` in stored order. */
export function values(k: HiveKey): HiveValue[] {
  const r = key(k);
  return r.hive.keys[r.index]!.values.map((o) => asValue(new ValueRef(r.hive, o)));
}

/** The value of `k` named `name` ('' = the default value), case-insensitive, or undefined. */
export function value(k: HiveKey, name: string): HiveValue | undefined {
  for (const v of values(k)) if (equalUpcase(valueName(v), name)) return v;
  return undefined;
}

/** The key's name. */
export function keyName(k: HiveKey): string {
  const r = key(k);
  return r.hive.keys[r.index]!.name;
}

/** The key's path below the root, `\`-separated ('' for the root). */
export function keyPath(k: HiveKey): string {
  const r = key(k);
  return r.hive.keys[r.index]!.path;
}

/** The key's last-write time (FILETIME). */
export function keyTimestamp(k: HiveKey): bigint {
  const r = key(k);
  return r.hive.view.getBigUint64(nkAt(r) + NK.timestamp.at, true);
}

/** The key's flags (`KEY_*`). */
export function keyFlags(k: HiveKey): number {
  const r = key(k);
  return r.hive.view.getUint16(nkAt(r) + NK.flags.at, true);
}

/** The key's access bits (byte 0) and, in a differencing hive, its layered-key bits (byte 1): the raw `nk` field. */
export function keyAccessBits(k: HiveKey): number {
  const r = key(k);
  return r.hive.view.getUint32(nkAt(r) + NK.access.at, true);
}

/**
 * The key's layer in a differencing hive (`hive.layered`): what it does to the key below when merged (merge,
 * tombstone, supersede-local, supersede-tree) and whether it keeps that key's class. Undefined in an ordinary hive,
 * whose keys simply are what they are.
 */
export function keyLayer(k: HiveKey): KeyLayer | undefined {
  const r = key(k);
  return r.hive.layered ? decodeLayer(layerByte(keyAccessBits(k))) : undefined;
}

/** The key's user, virtualization and debug flags: the 16 bits after the longest-subkey-name field, raw. */
export function keyUserFlags(k: HiveKey): number {
  const r = key(k);
  return r.hive.view.getUint16(nkAt(r) + NK.userFlags.at, true);
}

/** The key's class name, or undefined when it has none. */
export function keyClass(k: HiveKey): string | undefined {
  const r = key(k);
  const p = nkAt(r);
  const len = r.hive.view.getUint16(p + NK.classLength.at, true);
  if (len === 0 || !r.hive.keys[r.index]!.classOk) return undefined;
  const c = cellData(r.hive.view.getUint32(p + NK.classCell.at, true));
  return decodeUtf16(r.hive.bytes.subarray(c, c + len));
}

/** The key's self-relative security descriptor (a copy); empty when a damaged hive's security cell is unreadable. */
export function keySecurity(k: HiveKey): Uint8Array {
  const r = key(k);
  const skOff = r.hive.keys[r.index]!.security;
  if (skOff === NIL) return new Uint8Array(0);
  const sk = cellData(skOff);
  const len = r.hive.view.getUint32(sk + SK.sdLength.at, true);
  return new Uint8Array(r.hive.bytes.subarray(sk + SK_FIXED, sk + SK_FIXED + len));
}

/** The key's security descriptor as SDDL. Throws `SD_INVALID` if it has no SDDL form. */
export function keySddl(k: HiveKey): string {
  return bytesToSddl(keySecurity(k));
}

/** The value's name ('' for the default value). */
export function valueName(v: HiveValue): string {
  const r = val(v);
  const p = vkAt(r);
  const nl = r.hive.view.getUint16(p + VK.nameLength.at, true);
  const comp = (r.hive.view.getUint16(p + VK.flags.at, true) & VALUE_COMP_NAME) !== 0;
  return decodeName(r.hive.bytes.subarray(p + VK_FIXED, p + VK_FIXED + nl), comp);
}

/** The value's `vk` flags: 0x1 VALUE_COMP_NAME (the name is stored as Latin-1), 0x2 tombstone (differencing hives). */
export function valueFlags(v: HiveValue): number {
  const r = val(v);
  return r.hive.view.getUint16(vkAt(r) + VK.flags.at, true);
}

/**
 * True when the value is a deletion in a differencing hive (`hive.layered`): merged over the hive below, it removes the
 * value of that name. Such a value is REG_NONE without data; it is not a value of the merged hive.
 */
export function isTombstoneValue(v: HiveValue): boolean {
  const r = val(v);
  return r.hive.layered && (valueFlags(v) & VALUE_TOMBSTONE) !== 0;
}

/** The value's type number (`REG.*`, or any raw number). */
export function valueType(v: HiveValue): number {
  const r = val(v);
  return r.hive.view.getUint32(vkAt(r) + VK.type.at, true);
}

/** The value's data, exactly its stored length (big data reassembled). A copy. */
export function valueData(v: HiveValue): Uint8Array {
  const r = val(v);
  const { view, bytes } = r.hive;
  const p = vkAt(r);
  const raw = view.getUint32(p + VK.dataSize.at, true);
  const size = raw & ~VK_DATA_INLINE;
  if ((raw & VK_DATA_INLINE) !== 0) return new Uint8Array(bytes.subarray(p + VK.data.at, p + VK.data.at + size));
  if (size === 0) return new Uint8Array(0);
  const dataOff = view.getUint32(p + VK.data.at, true);
  const d = cellData(dataOff);
  if (isBigData(size, r.hive.version.minor)) {
    const count = view.getUint16(d + DB.count.at, true);
    const list = cellData(view.getUint32(d + DB.segmentList.at, true));
    const out = new Uint8Array(size);
    let pos = 0;
    for (let i = 0; i < count; i++) {
      const seg = cellData(view.getUint32(list + REF_LIST.entrySize * i, true));
      const n = Math.min(BIG_DATA_SEGMENT, size - pos);
      out.set(bytes.subarray(seg, seg + n), pos);
      pos += n;
    }
    return out;
  }
  return new Uint8Array(bytes.subarray(d, d + size));
}

/**
 * Decodes REG_SZ / REG_EXPAND_SZ / REG_LINK data: UTF-16LE up to the first NUL (or the end). Throws
 * `HIVE_STRUCTURE` for other types.
 */
export function asString(v: HiveValue): string {
  const t = valueType(v);
  if (t !== REG.SZ && t !== REG.EXPAND_SZ && t !== REG.LINK) throw typeError(v, 'a string');
  const s = decodeUtf16(valueData(v));
  const nul = s.indexOf('\0');
  return nul < 0 ? s : s.slice(0, nul);
}

/** Decodes REG_MULTI_SZ data: the NUL-separated strings, without the empty terminator. */
export function asMultiString(v: HiveValue): string[] {
  if (valueType(v) !== REG.MULTI_SZ) throw typeError(v, 'a multi-string');
  const s = decodeUtf16(valueData(v));
  const parts = s.split('\0');
  // "a\0b\0\0" → ['a','b','',''] — drop the terminator and the empty string after it
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

/** Decodes REG_DWORD (little-endian) or REG_DWORD_BIG_ENDIAN data of exactly 4 bytes. */
export function asDword(v: HiveValue): number {
  const t = valueType(v);
  const d = valueData(v);
  if ((t !== REG.DWORD && t !== REG.DWORD_BIG_ENDIAN) || d.length !== 4) throw typeError(v, 'a 4-byte DWORD');
  return new DataView(d.buffer, d.byteOffset, 4).getUint32(0, t === REG.DWORD);
}

/** Decodes REG_QWORD data of exactly 8 bytes. */
export function asQword(v: HiveValue): bigint {
  const d = valueData(v);
  if (valueType(v) !== REG.QWORD || d.length !== 8) throw typeError(v, 'an 8-byte QWORD');
  return new DataView(d.buffer, d.byteOffset, 8).getBigUint64(0, true);
}

function typeError(v: HiveValue, what: string): WinlayerError {
  return new WinlayerError('HIVE_STRUCTURE', `value "${valueName(v)}" (type ${valueType(v)}) is not ${what}`);
}

/** True when the key is a symbolic link (KEY_SYM_LINK). */
export function isLinkKey(k: HiveKey): boolean {
  return (keyFlags(k) & KEY_FLAG.SYM_LINK) !== 0;
}
