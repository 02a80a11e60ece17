/**
 * Writing a differencing hive (a layer's `Hives/*_Delta`) from a change set, laid out as Windows lays one out
 * (delta-hives.md §1–§3): version 1.6 with the layered-keys flag, offreg's marker, the embedded sandbox file name, the
 * root `ROOT` (flags 0x2C), `lh` lists, access bits 0x2 on every key, ancestors of a change as merge nodes with
 * InheritClass, deleted keys as tombstones and deleted values as tombstone values. Deterministic: the same change set,
 * base and timestamp give the same bytes.
 */
import { WinlayerError } from '../errors.js';
import { equalUpcase } from '../windows/index.js';
import { buildHive, type HiveBuilder, type HiveKeyBuilder } from './build.js';
import {
  controlSetName,
  deltaHiveOf,
  emptyDeltaTree,
  type HiveName,
  type RegChangeSet,
  selectedControlSet,
} from './changes.js';
import { DELTA_ACCESS_BITS, NOT_A_BASE_HIVE } from './delta.js';
import { HEADER, headerChecksum, lhHash, VALUE_TOMBSTONE } from './layout.js';
import { child, children, type Hive, keyName, keySecurity, openHive, root, value } from './read.js';
import type { HiveKey } from './types.js';

/** Options of `writeDeltaHive`. */
export interface WriteDeltaOptions {
  /** The hive the delta is for. */
  readonly hive: HiveName;
  /**
   * The hive below (the base layer's `Files/Windows/System32/config/<HIVE>`, bytes or opened). With it, keys absent
   * from it are written as new keys (supersede-tree, InheritClass clear), deletions of what it does not hold are
   * dropped, and every key carries the descriptor of the same key there (a new key: its parent's). Without it every
   * key carries the hive's default descriptor (`DEFAULT_DELTA_SDDL`).
   */
  readonly base?: Hive | Uint8Array;
  /** FILETIME of every key's last write and of offreg's save stamp. Default 0. */
  readonly timestamp?: bigint;
}

/**
 * The bytes of one differencing hive holding `changes`' changes to `opts.hive` (none: an empty differencing hive, the
 * root only, which a layer carries for an unchanged hive). Throws `HIVE_BUILD` when `changes` mapped
 * `CurrentControlSet` to another control set than the base selects, and `HIVE_STRUCTURE` for a base that is itself a
 * differencing hive or dirty.
 */
export function writeDeltaHive(changes: RegChangeSet | undefined, opts: WriteDeltaOptions): Uint8Array {
  const { hive } = opts;
  const tree = changes?.tree(hive);
  let out: HiveBuilder;
  if (opts.base === undefined) out = tree ?? emptyDeltaTree(hive);
  else {
    const base = opts.base instanceof Uint8Array ? openHive(opts.base) : opts.base;
    checkBase(base, hive, changes);
    out = emptyDeltaTree(hive, keySecurity(root(base)));
    if (tree !== undefined) copyOverBase(tree.root, out.root, root(base), changes!.named);
  }
  const bytes = buildHive(out, { version: '1.6', rootFlags: 0x2c, timestamp: opts.timestamp ?? 0n });
  embedFileName(bytes, hive);
  return bytes;
}

function checkBase(base: Hive, hive: HiveName, changes: RegChangeSet | undefined): void {
  const path = base.path === undefined ? {} : { path: base.path };
  if (base.layered || base.version.minor === 6) {
    throw new WinlayerError('HIVE_STRUCTURE', `the base is ${NOT_A_BASE_HIVE}`, {
      ...path,
      hint: 'pass the hive the delta applies to (Files/Windows/System32/config/<HIVE> of the base layer)',
    });
  }
  if (base.dirty) {
    throw new WinlayerError('HIVE_DIRTY', 'the base hive needs transaction logs that are not here', path);
  }
  if (hive === 'system' && changes?.usedCurrentControlSet === true) {
    const selected = selectedControlSet(base) ?? 1;
    if (selected !== changes.controlSet) {
      throw new WinlayerError(
        'HIVE_BUILD',
        `the changes name CurrentControlSet as ${controlSetName(changes.controlSet)}, but the base selects ` +
          controlSetName(selected),
        { ...path, hint: 'read the changes with { controlSet: selectedControlSet(base) }' },
      );
    }
  }
}

/**
 * Copies the change tree's key `from` (already made as `to`) onto the base: values (a tombstone value only where the
 * base key has the value), then each subkey with the layer the base decides, its descriptor the base key's. `below` is
 * the same key in the base, undefined for a key the base does not have; `named`, the keys `[KEY]` lines named.
 * Returns how many values and subkeys `to` got.
 */
function copyOverBase(
  from: HiveKeyBuilder,
  to: HiveKeyBuilder,
  below: HiveKey | undefined,
  named: WeakSet<HiveKeyBuilder>,
): number {
  let written = 0;
  for (const v of from.values()) {
    const tombstone = (v.flags & VALUE_TOMBSTONE) !== 0;
    if (!tombstone) to.setValue(v.name, v.type, v.data, v.flags);
    else if (below !== undefined && value(below, v.name) !== undefined) to.setTombstoneValue(v.name);
    else continue;
    written++;
  }
  const subkeys = from.subkeys();
  const lookup = below === undefined ? undefined : childLookup(below, subkeys.length);
  for (const c of subkeys) {
    const layer = c.layer;
    const same = lookup?.(c.name);
    // a deletion of what the base does not hold changes nothing (regedit ignores it)
    if (layer.semantics === 'tombstone' && same === undefined) continue;
    const k = to.subkey(c.name);
    k.accessBits = DELTA_ACCESS_BITS;
    if (same === undefined)
      k.setLayer('supersede-tree'); // a new key, as Windows writes one
    else {
      k.setLayer(layer.semantics, { inheritClass: layer.inheritClass });
      const sd = keySecurity(same);
      if (!sameBytes(sd, effectiveSecurity(to))) k.setSecurity(sd);
    }
    written++;
    if (layer.semantics === 'tombstone') continue;
    // A merge node left with nothing to change is no change: over a key the base has, or where the base lacks the
    // key and no `[KEY]` line named it (an ancestor of a deletion the base made moot).
    const empty = copyOverBase(c, k, same, named) === 0;
    if (empty && layer.semantics === 'merge' && (same !== undefined || !named.has(c))) {
      to.deleteSubkey(c.name);
      written--;
    }
  }
  return written;
}

/**
 * Finds subkeys of a base key by name (case-insensitive). `child` searches the list; for a key where many subkeys are
 * looked up, the base's subkeys are indexed by their `lh` hash (of the upper-cased name) once.
 */
function childLookup(below: HiveKey, lookups: number): (name: string) => HiveKey | undefined {
  if (lookups <= 8) return (name) => child(below, name);
  const index = new Map<number, HiveKey[]>();
  for (const k of children(below)) {
    const h = lhHash(keyName(k));
    const list = index.get(h);
    if (list === undefined) index.set(h, [k]);
    else list.push(k);
  }
  return (name) => index.get(lhHash(name))?.find((k) => equalUpcase(keyName(k), name));
}

function effectiveSecurity(k: HiveKeyBuilder): Uint8Array {
  for (let x: HiveKeyBuilder | undefined = k; x !== undefined; x = x.parent) {
    if (x.security !== undefined) return x.security;
  }
  throw new WinlayerError('INTERNAL', 'a delta tree without a root descriptor');
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** UTF-16 units of the embedded file name Windows kept: the tail of the sandbox path (delta-hives.md §1). */
const FILE_NAME_UNITS = 31;

/**
 * The embedded file name of a delta, as Windows wrote it: the last 31 units of `…WcSandboxState\Hives\<name>` (all of
 * `WcSandboxState\Hives\<name>` when shorter: the rest of the sandbox path is not known), the name being the delta's
 * with a lower-case first letter (`SandboxState\Hives\system_Delta`, as observed for SYSTEM;
 * the other four follow the same shape, not observed). Windows does not read it back.
 */
export function deltaFileName(hive: HiveName): string {
  const name = deltaHiveOf(hive).name;
  const full = `WcSandboxState\\Hives\\${name[0]!.toLowerCase()}${name.slice(1)}`;
  return full.slice(-FILE_NAME_UNITS);
}

/**
 * Writes the embedded file name into the base block and sets its checksum again. A raw checksum of 0 or 0xFFFFFFFF
 * (which Windows remaps and other readers do not) is moved off by dropping the name's first unit.
 */
function embedFileName(bytes: Uint8Array, hive: HiveName): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let name = deltaFileName(hive);
  for (;;) {
    bytes.fill(0, HEADER.fileName.at, HEADER.fileName.at + HEADER.fileName.len);
    for (let i = 0; i < name.length; i++) view.setUint16(HEADER.fileName.at + 2 * i, name.charCodeAt(i), true);
    const sum = headerChecksum(bytes.subarray(0, 512), true);
    if ((sum !== 0 && sum !== 0xffffffff) || name.length <= 1) {
      view.setUint32(HEADER.checksum.at, headerChecksum(bytes.subarray(0, 512)), true);
      return;
    }
    name = name.slice(1);
  }
}
