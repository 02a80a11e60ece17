/**
 * How a dump shows a hive (`winlayer hive dump`): type names from `REG`, value data decoded by type, the line of a
 * key and of a value, and the JSON record of a key. Pure: a hive handle in, strings and plain objects out. Names are
 * returned as stored; a caller printing to a terminal escapes control characters.
 */
import { describeLayer } from './delta.js';
import {
  asDword,
  asMultiString,
  asQword,
  children,
  isTombstoneValue,
  keyClass,
  keyLayer,
  keyName,
  keySddl,
  keySecurity,
  keyTimestamp,
  valueData,
  valueName,
  values,
  valueType,
} from './read.js';
import { type HiveKey, type HiveValue, REG } from './types.js';

const TYPE_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(REG).map(([name, type]) => [type, `REG_${name}`]),
);

/** `REG_SZ`, `REG_DWORD`… for a known type number, else the number in hex (`0x1234`). */
export function regTypeName(type: number): string {
  return TYPE_NAMES.get(type) ?? `0x${type.toString(16)}`;
}

/**
 * A value's data as text: a JSON string for REG_SZ / REG_EXPAND_SZ / REG_LINK (trailing NULs dropped, inner ones
 * kept), a JSON array for REG_MULTI_SZ, `0x…` for a 4-byte DWORD (either byte order) or an 8-byte QWORD, else
 * `hex:…`: data that does not fit its type is shown as bytes, never guessed at.
 */
export function valueDataText(v: HiveValue): string {
  const t = valueType(v);
  const d = valueData(v);
  const even = d.length % 2 === 0;
  if ((t === REG.SZ || t === REG.EXPAND_SZ || t === REG.LINK) && even) {
    return JSON.stringify(Buffer.from(d).toString('utf16le').replace(/\0+$/, ''));
  }
  if (t === REG.MULTI_SZ && even) return JSON.stringify(asMultiString(v));
  if ((t === REG.DWORD || t === REG.DWORD_BIG_ENDIAN) && d.length === 4) {
    return `0x${asDword(v).toString(16).padStart(8, '0')}`;
  }
  if (t === REG.QWORD && d.length === 8) return `0x${asQword(v).toString(16).padStart(16, '0')}`;
  return `hex:${Buffer.from(d).toString('hex')}`;
}

/** `[\path]`, and for a key of a differencing hive what it does to the hive below (`(tombstone)`, `(merge)`…). */
export function dumpKeyLine(k: HiveKey, shownPath: string): string {
  const layer = keyLayer(k);
  return `[${shownPath}]${layer === undefined ? '' : ` (${describeLayer(layer)})`}`;
}

/** `  "name" REG_SZ "text"` (`@` for the default value), or `tombstone` for a value a differencing hive deletes. */
export function dumpValueLine(v: HiveValue): string {
  const n = valueName(v);
  const shown = isTombstoneValue(v) ? 'tombstone' : `${regTypeName(valueType(v))} ${valueDataText(v)}`;
  return `  ${n === '' ? '@' : JSON.stringify(n)} ${shown}`;
}

/** The JSON record of a key (`hive dump --json`): bytes stay `Uint8Array`s, the JSON writer makes them base64. */
export interface DumpKeyRecord {
  readonly path: string;
  readonly name: string;
  readonly timestamp: bigint;
  readonly class?: string;
  readonly security: Uint8Array;
  /** Absent when the descriptor has an ACE type SDDL cannot name. */
  readonly sddl?: string;
  /** A differencing hive's key layer; absent in an ordinary hive. */
  readonly layer?: { readonly semantics: string; readonly inheritClass: boolean };
  readonly subkeys: number;
  readonly values: readonly {
    readonly name: string;
    readonly type: number;
    readonly data: Uint8Array;
    readonly tombstone?: true;
  }[];
}

/** The record of one key, shown at `shownPath`. */
export function dumpKeyRecord(k: HiveKey, shownPath: string): DumpKeyRecord {
  const cls = keyClass(k);
  const layer = keyLayer(k);
  return {
    path: shownPath,
    name: keyName(k),
    timestamp: keyTimestamp(k),
    ...(cls === undefined ? {} : { class: cls }),
    security: keySecurity(k),
    ...sddlOf(k),
    ...(layer === undefined ? {} : { layer: { semantics: layer.semantics, inheritClass: layer.inheritClass } }),
    subkeys: children(k).length,
    values: values(k).map((v) => ({
      name: valueName(v),
      type: valueType(v),
      data: valueData(v),
      ...(isTombstoneValue(v) ? { tombstone: true as const } : {}),
    })),
  };
}

function sddlOf(k: HiveKey): { sddl?: string } {
  try {
    return { sddl: keySddl(k) };
  } catch {
    return {};
  }
}
