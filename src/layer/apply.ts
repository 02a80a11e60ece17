/**
 * Applying layers: a stack of layers (the first at the bottom) seen as the one layer a container sees. The one engine
 * of `ls|lint|diff --flatten` (`inspect/flatten.ts`) and `image squash` (`oci/squash.ts`); what differs between them
 * is only what they pass in {@link ApplyLayersOptions}.
 *
 * The rules, applied layer after layer (names compared as Windows does, `upcase`):
 * - an entry replaces what lower layers wrote at its name; a non-folder (or a folder over a non-folder) takes every
 *   lower-layer name beneath it (children, and a file's alternate data streams `path:stream`) with it; a folder over a
 *   folder merges: the upper folder's metadata, the children of both;
 * - a whiteout deletes its target and everything beneath it in lower layers (its own layer may write them again);
 * - an opaque whiteout (`opaqueWhiteouts: 'honour'`) deletes everything beneath its folder in lower layers, not the
 *   folder;
 * - `Hives/` (registry deltas) is merged into the base hives (`hiveDeltas: 'merge'`, `hive-deltas.ts`: each layer's
 *   `Hives/*_Delta` applied, in layer order, to `Files/Windows/System32/config/<HIVE>` of the layer that holds it, as
 *   offreg's `ORMergeHives` does; the hives' stale `.LOG*` transaction logs left out), dropped, refused or kept as
 *   content; `onHiveDelta` sees each delta file as it is read;
 * - a hard link whose target a later layer replaced still names the old content: the first such link becomes a file
 *   with that content (read from the lower layer that held it), the others link to it (`lowerHardLinks: 'repoint'`).
 *
 * Plan then emit: `planLayers` reads every layer once without bodies and keeps an index of paths (who owns each final
 * name, folder metadata, the old owners that orphaned hard links need; never bytes); `LayerPlan.entries()` reads the
 * layers again and yields the survivors. Order: the layers' own orders, one after the other; a folder is yielded where
 * it first appears, with its final metadata and spelling, so parents come first; a hard link follows its target.
 * Every name is yielded under its folders' final spelling. Whiteouts are consumed, never yielded. The one-pass form
 * into a layer folder is `apply-folder.ts`.
 */
import type { FileEntry, LayerEntry } from '../entry.js';
import { WinlayerError } from '../errors.js';
import { upcase } from '../windows/index.js';
import { HiveDeltas, type HiveRewrite, rewrittenHive } from './hive-deltas.js';

/** Opens one layer's entry stream; called once per pass, so each call must read the layer again. */
export type OpenLayer = () => AsyncIterable<LayerEntry> | Promise<AsyncIterable<LayerEntry>>;

/** How `planLayers` / `applyLayers` treat what not every consumer can take. Every choice is explicit. */
export interface ApplyLayersOptions {
  /** `.wh..wh..opq` markers (Linux images; Windows has none): empty the folder of lower-layer content, or refuse. */
  readonly opaqueWhiteouts: 'honour' | 'refuse';
  /**
   * Entries under `Hives/`: merged into the base hives (`merge`: what Windows does on import; anything under `Hives/`
   * but the five known deltas is refused with `LAYER_INVALID`; `planLayers` only), left out (`drop`), refused with
   * `LAYER_INVALID` (`refuse`), or applied as ordinary content (`keep`). The `Hives` folder itself is left out but
   * under `keep`.
   */
  readonly hiveDeltas: 'merge' | 'drop' | 'refuse' | 'keep';
  /**
   * Called for every non-folder entry under `Hives/` (unless `hiveDeltas` is `refuse`), in layer order, before the
   * stream moves on — in the planning pass, or in the one pass of `applyLayersToFolder`. It may read the body, except
   * under `merge`, where the engine has read it.
   */
  readonly onHiveDelta?: (entry: LayerEntry, layer: number) => void | Promise<void>;
  /** A hard link whose target a later layer replaced or deleted: re-point it to the content (see above), or refuse. */
  readonly lowerHardLinks: 'repoint' | 'refuse';
  /** FIFOs, sockets and devices: kept as entries (default), or refused with `LAYER_SPECIAL_FILE`. */
  readonly specialFiles?: 'keep' | 'refuse';
}

interface Owner {
  readonly layer: number;
  readonly kind: LayerEntry['kind'];
  /** The spelling of the owning entry. */
  readonly path: string;
  /** A folder's final entry (metadata, unknown PAX records; no raw header). */
  readonly dir?: LayerEntry;
  readonly linkTarget?: string;
  /** A hard link whose target a later layer replaced: written as a file with the old content, from this layer. */
  readonly fromLayer?: number;
}

/** The index of `planLayers`: what survives all layers, and where the content of re-pointed hard links lies. */
export interface LayerPlan {
  /** The number of layers. */
  readonly count: number;
  /**
   * `path` as the layer that owns it after all layers spelled it (matched case-insensitively), or undefined when
   * nothing is there.
   */
  finalPath(path: string): string | undefined;
  /**
   * The surviving entries, streamed: reads every layer a second time (a layer must give the same entries again).
   * Throws what the layers' streams throw.
   */
  entries(): AsyncIterable<LayerEntry>;
}

function isHives(path: string): boolean {
  return path === 'Hives' || path.startsWith('Hives/');
}

/** True when `key` is one of `prefixes`, beneath one, or an alternate data stream of one. */
function isUnder(key: string, prefixes: readonly string[]): boolean {
  return prefixes.some((p) => key === p || key.startsWith(`${p}/`) || key.startsWith(`${p}:`));
}

/** True when `key` lies strictly beneath one of `folders`. */
function isBeneath(key: string, folders: readonly string[]): boolean {
  return folders.some((p) => key.startsWith(`${p}/`));
}

/**
 * The options' part, the same for both ways to apply layers: whether entry `e` of layer `i` takes part (false: left
 * out). Throws the refusals the options ask for; calls `onHiveDelta` for each delta file.
 */
export async function admit(e: LayerEntry, i: number, opts: ApplyLayersOptions, deltas?: HiveDeltas): Promise<boolean> {
  if (isHives(e.path)) {
    if (e.kind !== 'directory' && opts.hiveDeltas === 'merge') {
      if (deltas === undefined) throw new WinlayerError('INTERNAL', "hiveDeltas 'merge' needs the planning pass");
      await deltas.add(e, i);
    }
    if (e.kind !== 'directory' && opts.hiveDeltas !== 'refuse') await opts.onHiveDelta?.(e, i);
    if (opts.hiveDeltas === 'keep') return true;
    if (e.kind === 'directory' && e.path === 'Hives') return false;
    if (opts.hiveDeltas === 'refuse') {
      throw new WinlayerError(
        'LAYER_INVALID',
        `layer ${i + 1} carries registry changes (${e.path}), which this use of the layers refuses`,
        {
          entry: e.path,
          hint: 'Windows merges Hives/*_Delta into the base hives (offreg ORMergeHives); `image squash` and --flatten merge them too',
        },
      );
    }
    return false;
  }
  if (e.kind === 'opaqueWhiteout' && opts.opaqueWhiteouts === 'refuse') {
    throw new WinlayerError('LAYER_INVALID', `layer ${i + 1} holds an opaque whiteout, which Windows does not know`, {
      entry: e.path,
    });
  }
  if (e.kind === 'special' && opts.specialFiles === 'refuse') {
    throw new WinlayerError('LAYER_SPECIAL_FILE', `layer ${i + 1}: a ${e.description}`, { entry: e.path });
  }
  return true;
}

async function open(layers: readonly OpenLayer[], i: number): Promise<AsyncIterable<LayerEntry>> {
  return await layers[i]!();
}

/**
 * Reads `layers` (bottom first) once, headers only, and returns the plan of what survives (see the module comment).
 * Memory: the path index only, and under `hiveDeltas: 'merge'` the deltas' bytes. Throws `LAYER_INVALID` (an opaque
 * whiteout or a `Hives/` entry refused by the options, deltas without a base hive, a hard link to content no layer
 * holds, or under `lowerHardLinks: 'refuse'` to content a later layer replaced), `LAYER_SPECIAL_FILE` under
 * `specialFiles: 'refuse'`, and what the layers' streams throw; while entries stream, what `applyDeltaHives` throws.
 */
export async function planLayers(layers: readonly OpenLayer[], opts: ApplyLayersOptions): Promise<LayerPlan> {
  const map = new Map<string, Owner>();
  // earlier owners of paths that a later layer replaced or deleted (files only: what orphaned links may need)
  const past = new Map<string, Owner[]>();
  const remember = (k: string, o: Owner): void => {
    if (o.kind !== 'file') return;
    const list = past.get(k) ?? [];
    list.push(o);
    past.set(k, list);
  };
  const deltas = opts.hiveDeltas === 'merge' ? new HiveDeltas() : undefined;
  for (let i = 0; i < layers.length; i++) {
    const deleted: string[] = []; // whiteouts and replacements: the name and everything beneath it
    const emptied: string[] = []; // opaque whiteouts: everything beneath the folder
    for await (const e of await open(layers, i)) {
      if (!(await admit(e, i, opts, deltas))) continue;
      if (e.kind === 'opaqueWhiteout') {
        emptied.push(upcase(e.directory));
        continue;
      }
      if (e.kind === 'whiteout') {
        deleted.push(upcase(e.target));
        continue;
      }
      const key = upcase(e.path);
      const prev = map.get(key);
      if (prev !== undefined && prev.layer < i) {
        remember(key, prev);
        // a replaced object takes its lower-layer children and streams with it; folders over folders merge
        if (!(prev.kind === 'directory' && e.kind === 'directory')) deleted.push(key);
      }
      map.set(key, {
        layer: i,
        kind: e.kind,
        path: e.path,
        ...(e.kind === 'directory' ? { dir: withoutRaw(e) } : {}),
        ...(e.kind === 'hardlink' || e.kind === 'symlink' ? { linkTarget: e.linkTarget } : {}),
      });
    }
    if (deleted.length > 0 || emptied.length > 0) {
      for (const [k, o] of map) {
        if (o.layer < i && (isUnder(k, deleted) || isBeneath(k, emptied))) {
          remember(k, o);
          map.delete(k);
        }
      }
    }
  }
  // the rewritten hives' transaction logs describe the old files: left out
  const rewrites = deltas?.resolve(
    (key) => map.get(key),
    (prefix) => {
      for (const k of map.keys()) if (k.startsWith(prefix)) map.delete(k);
    },
  );
  const materialize = repointLinks(map, past, opts.lowerHardLinks);
  return {
    count: layers.length,
    finalPath: (path) => map.get(upcase(path))?.path,
    entries: () => ({
      [Symbol.asyncIterator]: () => emit(layers, map, materialize, rewrites?.size === 0 ? undefined : rewrites),
    }),
  };
}

/**
 * Hard links whose target a later layer replaced or deleted still name the old content: the first such link becomes a
 * file with that content (read from the layer that held it), the others link to it. Returns `layer:key` of each old
 * file → the link path that receives its content.
 */
function repointLinks(
  map: Map<string, Owner>,
  past: ReadonlyMap<string, readonly Owner[]>,
  mode: ApplyLayersOptions['lowerHardLinks'],
): Map<string, string> {
  const materialize = new Map<string, string>();
  for (const [k, o] of map) {
    if (o.kind !== 'hardlink') continue;
    const tkey = upcase(o.linkTarget!);
    const t = map.get(tkey);
    if (t !== undefined && t.layer <= o.layer) continue;
    const old = (past.get(tkey) ?? []).filter((p) => p.layer <= o.layer).at(-1);
    if (old === undefined) {
      throw new WinlayerError(
        'LAYER_INVALID',
        `hard link ${o.path} → ${o.linkTarget}: no layer holds the content it names`,
        {
          entry: o.path,
          hint: 'the link names a file that none of the layers below it holds; the image is broken',
        },
      );
    }
    if (mode === 'refuse') {
      throw new WinlayerError(
        'LAYER_INVALID',
        `hard link ${o.path} → ${o.linkTarget}: a later layer replaced the content it names`,
        { entry: o.path },
      );
    }
    const slot = `${old.layer}:${tkey}`;
    const first = materialize.get(slot);
    if (first === undefined) {
      materialize.set(slot, o.path);
      map.set(k, { layer: old.layer, kind: 'file', path: o.path, fromLayer: old.layer });
    } else {
      map.set(k, { ...o, linkTarget: first });
    }
  }
  return materialize;
}

async function* emit(
  layers: readonly OpenLayer[],
  index: ReadonlyMap<string, Owner>,
  materialize: ReadonlyMap<string, string>,
  rewrites: ReadonlyMap<string, HiveRewrite> | undefined,
): AsyncGenerator<LayerEntry> {
  // Every name is yielded under its folders' final spelling (the last layer that wrote each folder), as one layer
  // must spell a folder one way (the import refuses two spellings).
  const folders = new Map<string, string>(); // upper-case folder → its final spelling, whole
  const spellFolder = (key: string, path: string): string => {
    const hit = folders.get(key);
    if (hit !== undefined) return hit;
    const at = path.lastIndexOf('/');
    const o = index.get(key);
    const leaf = o?.kind === 'directory' ? o.path.slice(o.path.lastIndexOf('/') + 1) : path.slice(at + 1);
    // upcase maps each UTF-16 unit to one unit, so a key and its path share their offsets
    const spelled = at < 0 ? leaf : `${spellFolder(key.slice(0, at), path.slice(0, at))}/${leaf}`;
    folders.set(key, spelled);
    return spelled;
  };
  const spell = (path: string): string => {
    const at = path.lastIndexOf('/');
    if (at < 0) return path;
    const parent = spellFolder(upcase(path.slice(0, at)), path.slice(0, at));
    return parent.length === at && path.startsWith(parent) ? path : `${parent}${path.slice(at)}`;
  };
  /** `e` under the name `path` (and link target), unchanged when both are as they were. */
  const as = (e: LayerEntry, path: string, linkTarget?: string): LayerEntry => {
    const link = e.kind === 'hardlink' && linkTarget !== undefined && linkTarget !== e.linkTarget;
    if (path === e.path && !link) return e;
    const out: Record<string, unknown> = { ...withoutRaw(e), path };
    if (link) out.linkTarget = linkTarget;
    if (e.kind === 'stream') out.filePath = spell(e.filePath);
    return out as unknown as LayerEntry;
  };
  const dirsDone = new Set<string>();
  // folders are yielded where first needed, with their final owner's metadata: parents always come first
  const parents = function* (path: string): Generator<LayerEntry> {
    const parts = path.split('/');
    for (let n = 1; n < parts.length; n++) {
      const key = upcase(parts.slice(0, n).join('/'));
      if (dirsDone.has(key)) continue;
      const o = index.get(key);
      if (o?.dir === undefined) continue;
      dirsDone.add(key);
      yield as(o.dir, spellFolder(key, o.path));
    }
  };
  for (let i = 0; i < layers.length; i++) {
    for await (const e of await open(layers, i)) {
      if (e.kind === 'whiteout' || e.kind === 'opaqueWhiteout') continue;
      const key = upcase(e.path);
      const target = e.kind === 'file' ? materialize.get(`${i}:${key}`) : undefined;
      if (target !== undefined) {
        yield* parents(target);
        yield as(e, spell(target));
        continue;
      }
      const o = index.get(key);
      if (o === undefined) continue; // deleted, or a Hives/ entry left out
      if (o.kind === 'directory') {
        if (e.kind !== 'directory' || dirsDone.has(key)) continue;
        yield* parents(e.path);
        dirsDone.add(key);
        yield as(o.layer === i && e.path === o.path ? e : o.dir!, spellFolder(key, o.path));
        continue;
      }
      if (o.layer !== i || o.kind !== e.kind || o.fromLayer !== undefined) continue;
      yield* parents(e.path);
      const out = as(e, spell(e.path), o.linkTarget === undefined ? undefined : spell(o.linkTarget));
      const rw = out.kind === 'file' ? rewrites?.get(key) : undefined;
      yield rw === undefined ? out : await rewrittenHive(out as FileEntry, i, rw);
    }
  }
}

/** An entry whose name or link target the engine changed loses its raw tar header, which no longer describes it. */
function withoutRaw(e: LayerEntry): LayerEntry {
  if (e.raw === undefined) return e;
  const { raw: _raw, ...rest } = e;
  return rest as LayerEntry;
}

/**
 * `layers` (bottom first) applied in order, as one lazily computed entry stream: nothing is read until iteration
 * starts, then every layer is read twice (`planLayers`, then `LayerPlan.entries`). Iterable once per iteration
 * started (each starts both passes again). Throws what `planLayers` throws.
 */
export function applyLayers(layers: readonly OpenLayer[], opts: ApplyLayersOptions): AsyncIterable<LayerEntry> {
  return {
    async *[Symbol.asyncIterator]() {
      const plan = await planLayers(layers, opts);
      yield* plan.entries();
    },
  };
}
