/**
 * Differencing hives (regf 1.6 with the layered-keys header flag, a layer's `Hives/*_Delta`): the layer semantics of a
 * key and what they mean when the hive is merged over the hive below (`../shared/spec/delta-hives.md` §2–§4). Pure:
 * the layered-key byte in, a `KeyLayer` out, and back. The reader's accessors (`keyLayer`, `isTombstoneValue`), the
 * checker's rules and the `.reg` form of a delta use these; the byte positions are in `layout.ts`.
 */
import { BASE_BLOCK_SIZE, HEADER, HEADER_LAYERED_KEYS, LAYER_BITS, LAYER_SEMANTICS, viewOf } from './layout.js';

/**
 * What a key of a differencing hive does to the key below it:
 * - `merge`: the key exists; its values and subkeys merge with the lower key's (a tombstone value deletes one);
 * - `tombstone`: the key and its subtree are deleted (the node has no values, subkeys or class);
 * - `supersede-local`: the key's values and class replace the lower key's; subkeys still merge;
 * - `supersede-tree`: the key and its whole subtree replace the lower subtree.
 */
export type LayerSemantics = 'merge' | 'tombstone' | 'supersede-local' | 'supersede-tree';

/** A key's layer: its semantics, and whether it keeps the class name of the key below (InheritClass). */
export interface KeyLayer {
  readonly semantics: LayerSemantics;
  readonly inheritClass: boolean;
}

/** The access bits (the `nk` byte before the layered-key byte) of every key of the deltas Windows wrote (§1). */
export const DELTA_ACCESS_BITS = 0x2;

/** The semantics by their number (LayerSemantics 0–3). */
const BY_NUMBER: readonly LayerSemantics[] = ['merge', 'tombstone', 'supersede-local', 'supersede-tree'];

const NUMBER_OF: Readonly<Record<LayerSemantics, number>> = {
  merge: LAYER_SEMANTICS.merge,
  tombstone: LAYER_SEMANTICS.tombstone,
  'supersede-local': LAYER_SEMANTICS.supersedeLocal,
  'supersede-tree': LAYER_SEMANTICS.supersedeTree,
};

/** The layer of a key from its layered-key byte (reserved bits ignored: the checker reports them). */
export function decodeLayer(byte: number): KeyLayer {
  return {
    semantics: BY_NUMBER[byte & LAYER_BITS.semantics]!,
    inheritClass: (byte & LAYER_BITS.inheritClass) !== 0,
  };
}

/** The layered-key byte of a layer. */
export function encodeLayer(layer: KeyLayer): number {
  return NUMBER_OF[layer.semantics] | (layer.inheritClass ? LAYER_BITS.inheritClass : 0);
}

/** A layer in a few words, as `hive dump` shows it: `tombstone`, `merge, inherits class`. */
export function describeLayer(layer: KeyLayer): string {
  return layer.inheritClass ? `${layer.semantics}, inherits class` : layer.semantics;
}

// ── in a layer (delta-hives.md §5) ──────────────────────────────────────────────────────────────────────────────────

/** One differencing hive a non-base layer may carry under `Hives/`. */
export interface DeltaHiveName {
  /** The name under `Hives/`, as Windows writes it (`System_Delta`). */
  readonly name: string;
  /** The base layer's hive it merges into, as a layer path. */
  readonly base: string;
  /** The key path its root stands for in `.reg` text and change listings. */
  readonly regRoot: string;
}

/** The five deltas Windows exports (delta-hives.md §5); the importer matches their names case-insensitively. */
export const DELTA_HIVES: readonly DeltaHiveName[] = [
  { name: 'DefaultUser_Delta', base: 'Files/Windows/System32/config/DEFAULT', regRoot: 'HKEY_USERS\\.DEFAULT' },
  { name: 'Sam_Delta', base: 'Files/Windows/System32/config/SAM', regRoot: 'HKEY_LOCAL_MACHINE\\SAM' },
  { name: 'Security_Delta', base: 'Files/Windows/System32/config/SECURITY', regRoot: 'HKEY_LOCAL_MACHINE\\SECURITY' },
  { name: 'Software_Delta', base: 'Files/Windows/System32/config/SOFTWARE', regRoot: 'HKEY_LOCAL_MACHINE\\SOFTWARE' },
  { name: 'System_Delta', base: 'Files/Windows/System32/config/SYSTEM', regRoot: 'HKEY_LOCAL_MACHINE\\SYSTEM' },
];

/**
 * The known delta a layer path names (`Hives/System_Delta`, any case), or undefined for any other path (a file under
 * `Hives/` with another name, or anything outside `Hives/`).
 */
export function deltaHiveAt(layerPath: string): DeltaHiveName | undefined {
  const m = /^hives\/([^/]+)$/i.exec(layerPath);
  if (m === null) return undefined;
  const name = m[1]!.toUpperCase();
  return DELTA_HIVES.find((d) => d.name.toUpperCase() === name);
}

/**
 * True when the bytes are a differencing hive by its base block: version 1.6, or the layered-keys flag. What a base
 * layer's `Files/Windows/System32/config/*` must never be: such a hive is a layer's changes, not a registry.
 */
export function isDifferencingHive(bytes: Uint8Array): boolean {
  if (bytes.length < BASE_BLOCK_SIZE || bytes[0] !== 0x72 || bytes[1] !== 0x65 || bytes[2] !== 0x67) return false;
  const v = viewOf(bytes);
  return v.getUint32(HEADER.minor.at, true) === 6 || (v.getUint32(HEADER.flags.at, true) & HEADER_LAYERED_KEYS) !== 0;
}

/** Why a differencing hive is where a base hive belongs: the reason `makebaselayer` and `lint` give. */
export const NOT_A_BASE_HIVE =
  "a differencing hive (version 1.6 with layered keys: a layer's registry changes, Hives/*_Delta), not a registry hive";
