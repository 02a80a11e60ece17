/**
 * Merging differencing hives (a layer's `Hives/*_Delta`) into a normal hive, as offreg's `ORMergeHives` does when a
 * layer is imported: `applyDeltaHives(base, deltas)` (`../shared/spec/delta-hives.md` §4). The base is read into a
 * builder (`builderFromHive`: every flag, class, descriptor, timestamp and value flag kept), each delta is walked from
 * the root over it, and the result is written again as the base's version without the layered-keys flag.
 *
 * The rules, the delta D over the base B ("D wins"):
 * - a tombstone key removes B's key and its subtree (nothing when B has none);
 * - a supersede-tree key replaces B's key and subtree by D's: D's values, subkeys, class, descriptor, flags and
 *   timestamps (tombstones inside it are left out);
 * - a supersede-local key: D's values replace all of B's; its class as below; subkeys merge;
 * - a merge node: B's key stays with its descriptor, flags and name spelling; values merge (D's same-named value
 *   replaces B's in place, a tombstone value removes it, new values follow in D's order); subkeys merge; a merge node
 *   with no key in B creates the key with D's descriptor;
 * - class: InheritClass keeps B's class (none when B has no key); otherwise D's class, except that a merge node
 *   without a class of its own keeps B's;
 * - key timestamps: the later of the two where both keys exist and B's key stays; D's where D's key replaces or
 *   creates it.
 * The choices the spec leaves open (value order, the merged hive's version) are the ones above and in the spec.
 */
import { WinlayerError } from '../errors.js';
import { builderFromHive, buildHive, type HiveBuilder, type HiveKeyBuilder } from './build.js';
import { isDifferencingHive, type KeyLayer } from './delta.js';
import { KEY_FLAG, VALUE_TOMBSTONE, withLayerByte } from './layout.js';
import {
  children,
  type Hive,
  isTombstoneValue,
  keyAccessBits,
  keyClass,
  keyFlags,
  keyLayer,
  keyName,
  keySecurity,
  keyTimestamp,
  keyUserFlags,
  openHive,
  root,
  valueData,
  valueFlags,
  valueName,
  values,
  valueType,
} from './read.js';
import type { HiveKey, HiveVersion } from './types.js';

/** Options of `applyDeltaHives`: file names for messages. */
export interface ApplyDeltaHivesOptions {
  /** The base hive's file name. */
  readonly basePath?: string;
  /** Each delta's file name, in the order of `deltas`. */
  readonly deltaPaths?: readonly string[];
}

const withPath = (path: string | undefined): { path?: string } => (path === undefined ? {} : { path });

/**
 * The base hive with each differencing hive applied in order (spec §4; the rules in the module comment): a normal
 * hive of the base's version (its layered-keys flag clear). Hives are held in
 * memory, the base as a builder. Throws `HIVE_HEADER` for a base that is a differencing hive or a delta that is not
 * one, a dirty hive (it needs its transaction logs first), and what `openHive` throws for a hive that cannot be read.
 */
export function applyDeltaHives(
  base: Uint8Array,
  deltas: readonly Uint8Array[],
  opts: ApplyDeltaHivesOptions = {},
): Uint8Array {
  if (isDifferencingHive(base)) {
    throw new WinlayerError('HIVE_HEADER', 'the base is a differencing hive; deltas apply onto a normal hive', {
      ...withPath(opts.basePath),
      hint: 'the base is the hive below the deltas (a base layer’s Files/Windows/System32/config/<HIVE>), version 1.3–1.5 without the layered-keys flag',
    });
  }
  const baseHive = openClean(base, opts.basePath);
  const builder = builderFromHive(baseHive);
  for (let i = 0; i < deltas.length; i++) {
    const path = opts.deltaPaths?.[i];
    const d = openClean(deltas[i]!, path);
    if (!d.layered) {
      throw new WinlayerError('HIVE_HEADER', 'not a differencing hive: its base block has no layered-keys flag (0x2)', {
        ...withPath(path),
        hint: 'only a layer’s Hives/*_Delta applies onto a hive; to apply a .reg file, use `winlayer hive merge`',
      });
    }
    applyDelta(builder, d);
  }
  // every key has its timestamp; the file's save stamp is 0, as the writer's default: the same inputs, the same bytes
  return buildHive(builder, { version: builder.sourceVersion ?? ('1.5' as HiveVersion) });
}

function openClean(bytes: Uint8Array, path: string | undefined): Hive {
  const h = openHive(bytes, withPath(path));
  if (h.dirty) {
    throw new WinlayerError('HIVE_DIRTY', 'the hive is dirty: its transaction logs hold changes not in the file', {
      ...withPath(path),
      hint: 'load and unload the hive on Windows (or replay its .LOG files) first',
    });
  }
  return h;
}

function applyDelta(builder: HiveBuilder, d: Hive): void {
  const r = root(d);
  const layer = keyLayer(r)!;
  if (layer.semantics === 'tombstone') {
    throw new WinlayerError('HIVE_STRUCTURE', 'the root key of the differencing hive is a tombstone', {
      ...withPath(d.path),
      hint: 'a hive’s root key cannot be deleted',
    });
  }
  if (layer.semantics === 'supersede-tree') {
    // the whole hive replaced: B's root stays (its name, flags, descriptor), everything below it is D's
    for (const c of builder.root.subkeys()) builder.root.deleteSubkey(c.name);
    clearValues(builder.root);
    builder.root.className = layer.inheritClass ? builder.root.className : keyClass(r);
    builder.root.timestamp = keyTimestamp(r);
    setValues(builder.root, r);
    for (const c of children(r)) if (keyLayer(c)!.semantics !== 'tombstone') copyTree(c, builder.root, undefined);
    return;
  }
  mergeKey(r, builder.root, layer, true);
}

/** D's key `dk` over B's existing key `bk` (a merge node or supersede-local), then its subkeys. */
function mergeKey(dk: HiveKey, bk: HiveKeyBuilder, layer: KeyLayer, existed: boolean): void {
  if (existed) {
    const t = keyTimestamp(dk);
    if (bk.timestamp === undefined || t > bk.timestamp) bk.timestamp = t;
    const own = keyClass(dk);
    if (!layer.inheritClass && (own !== undefined || layer.semantics === 'supersede-local')) bk.className = own;
    if (layer.semantics === 'supersede-local') clearValues(bk);
  }
  setValues(bk, dk);
  for (const dc of children(dk)) {
    const l = keyLayer(dc)!;
    const name = keyName(dc);
    const below = bk.getSubkey(name);
    switch (l.semantics) {
      case 'tombstone':
        if (below !== undefined) bk.deleteSubkey(name);
        break;
      case 'supersede-tree':
        if (below !== undefined) bk.deleteSubkey(name);
        copyTree(dc, bk, below, l);
        break;
      default:
        if (below !== undefined) mergeKey(dc, below, l, true);
        else mergeKey(dc, newKey(dc, bk, undefined, l), l, false);
    }
  }
}

/**
 * A key of D created under `parent` (nothing of B's is kept but, with InheritClass, the class of `below`, the key it
 * replaces): D's spelling, flags, access bits (layer byte clear), user flags, descriptor, timestamp and class.
 */
function newKey(dk: HiveKey, parent: HiveKeyBuilder, below: HiveKeyBuilder | undefined, l: KeyLayer): HiveKeyBuilder {
  const k = parent.subkey(keyName(dk));
  k.flags = keyFlags(dk) & ~(KEY_FLAG.COMP_NAME | KEY_FLAG.HIVE_ENTRY | KEY_FLAG.NO_DELETE);
  k.accessBits = withLayerByte(keyAccessBits(dk), 0);
  k.userFlags = keyUserFlags(dk);
  k.security = keySecurity(dk);
  k.timestamp = keyTimestamp(dk);
  k.className = l.inheritClass ? below?.className : keyClass(dk);
  return k;
}

/** D's subtree at `dk` written under `parent` as it is in D (its tombstones left out); `below` is B's old key. */
function copyTree(dk: HiveKey, parent: HiveKeyBuilder, below: HiveKeyBuilder | undefined, l = keyLayer(dk)!): void {
  const k = newKey(dk, parent, below, l);
  setValues(k, dk);
  for (const dc of children(dk)) {
    const cl = keyLayer(dc)!;
    if (cl.semantics !== 'tombstone') copyTree(dc, k, below?.getSubkey(keyName(dc)), cl);
  }
}

/** D's values of `dk` onto `bk`: a tombstone value deletes, any other replaces in place or is added. */
function setValues(bk: HiveKeyBuilder, dk: HiveKey): void {
  for (const v of values(dk)) {
    if (isTombstoneValue(v)) bk.deleteValue(valueName(v));
    else bk.setValue(valueName(v), valueType(v), valueData(v), valueFlags(v) & ~VALUE_TOMBSTONE);
  }
}

function clearValues(bk: HiveKeyBuilder): void {
  for (const v of bk.values()) bk.deleteValue(v.name);
}
