/**
 * `applyLayersToFolder`: layers applied one by one into a layer folder, each read once, as it streams — what
 * `unpack` needs (a registry layer is fetched once). The rules are those of `apply.ts` (the same options); the
 * plan-then-emit form there reads every layer twice instead.
 *
 * How: the first layer is imported (`writeLayerDir`, the import machinery with its safety rules) into a temporary
 * folder beside the destination. Each later layer is imported into a folder inside it, with the result so far as its
 * parent (so hard links into lower layers are found there), and then merged in:
 * 1. hard links into the result so far become host hard links in the new layer first, so they keep the content they
 *    name even when this layer replaces it;
 * 2. whiteouts (and symlinks, which have no disk object) delete what lies at their name, found as Windows finds it
 *    (case-insensitively, also on a case-sensitive disk), with everything beneath;
 * 3. the new layer's objects move in by rename: a folder over a folder merges (the upper spelling and metadata win),
 *    anything else replaces the lower object and its subtree;
 * 4. the sidecar is rewritten in one pass (`SidecarWriter`): the lower records that survive (re-spelled under renamed
 *    folders; a hard link whose data name went away takes the data's record), then the new layer's, whiteouts
 *    consumed. Its format is unchanged: no record is ever replaced in place.
 * The destination appears, atomically, once every layer is in. Memory: the two sidecar indexes and the names this
 * layer deleted, renamed or re-pointed; never file data.
 */
import { existsSync, linkSync, lstatSync, mkdirSync, readdirSync, renameSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { AtomicTarget, removeTree } from '../atomic.js';
import type { LayerEntry } from '../entry.js';
import { WinlayerError } from '../errors.js';
import { equalUpcase, upcase } from '../windows/index.js';
import { type ApplyLayersOptions, admit, type OpenLayer } from './apply.js';
import { writeLayerDir } from './dir-writer.js';
import {
  type LayerKind,
  readSidecar,
  SIDECAR_DIR,
  type Sidecar,
  type SidecarRecord,
  SidecarWriter,
} from './sidecar.js';

/** Options of {@link applyLayersToFolder}: the rules of `applyLayers`, and where the result goes. */
export interface ApplyToFolderOptions extends ApplyLayersOptions {
  /** Replace an existing layer folder at the destination (refused without it, as for import). */
  readonly force?: boolean;
  /** Sync the result to stable storage before it takes the destination's name. Default true. */
  readonly sync?: boolean;
}

/** What {@link applyLayersToFolder} wrote. */
export interface ApplyToFolderResult {
  /** The layer folder (absolute). */
  readonly layerDir: string;
  /** Base, unless `Hives/` deltas were kept. */
  readonly kind: LayerKind;
  readonly layers: number;
}

/**
 * Applies `layers` (bottom first) into the layer folder `dir` in one pass over each (see the module comment): each
 * layer is opened once, in order, and the destination is touched only at the end. Throws `USAGE` for no layers, `LAYER_EXISTS` for a
 * non-empty destination without `force` or for `hiveDeltas: 'merge'`, what `planLayers` throws for the options (opaque whiteouts, `Hives/`,
 * special files, re-pointed hard links under `refuse`), and the import's errors (`importLayer`).
 */
export async function applyLayersToFolder(
  layers: readonly OpenLayer[],
  dir: string,
  opts: ApplyToFolderOptions,
): Promise<ApplyToFolderResult> {
  if (layers.length === 0) throw new WinlayerError('USAGE', 'no layers to apply');
  if (opts.hiveDeltas === 'merge') {
    // the deltas' base hives would have to be rewritten on disk with their sidecar records: not done in one pass yet
    throw new WinlayerError('USAGE', "hiveDeltas 'merge' is not supported when applying layers into a folder", {
      hint: "use applyLayers (or planLayers) with hiveDeltas 'merge', then writeLayerDir",
    });
  }
  const finalPath = resolve(dir);
  const target = new AtomicTarget(finalPath, { kind: 'folder' });
  const exists = destinationExists(finalPath, opts.force === true);
  const acc = target.tempPath;
  try {
    // One `sync -f` (the whole filesystem), with the last import: the merges after it rename and rewrite the sidecar,
    // which the commit's fsync of the folder does not cover (the import's tree sync is private to dir-writer.ts).
    const sync = (i: number): boolean => opts.sync !== false && i === layers.length - 1;
    await writeLayerDir(await filtered(layers, 0, acc, undefined, opts), acc, { sync: sync(0) });
    for (let i = 1; i < layers.length; i++) {
      const up = join(acc, `.winlayer-apply-${i}`);
      const lower = sidecarOf(acc);
      try {
        await writeLayerDir(await filtered(layers, i, acc, lower, opts), up, {
          kind: 'non-base',
          parents: [acc],
          sync: sync(i),
        });
        mergeLayer(acc, up, lower, opts);
      } finally {
        lower.close();
      }
      removeTree(up);
    }
    const kind = existsSync(join(acc, 'Hives')) ? 'non-base' : 'base';
    rewriteKind(acc, kind);
    target.commit({ replaceDirectory: exists });
    return { layerDir: finalPath, kind, layers: layers.length };
  } catch (e) {
    target.abort();
    throw e;
  }
}

/**
 * True when `path` holds a layer folder to replace; throws `LAYER_EXISTS` for anything else that is there and not an
 * empty folder, and for a layer folder without `force` (the rule of import).
 */
function destinationExists(path: string, force: boolean): boolean {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (st === undefined || (st.isDirectory() && readdirSync(path).length === 0)) return false;
  const layer = st.isDirectory() && (existsSync(join(path, 'Files')) || existsSync(join(path, SIDECAR_DIR)));
  if (layer && force) return true;
  throw new WinlayerError('LAYER_EXISTS', layer ? 'the layer folder exists' : 'the destination is not a layer folder', {
    path,
    hint: layer ? 'pass force to replace it' : 'give an empty or new folder',
  });
}

function sidecarOf(layerDir: string): Sidecar {
  const sc = readSidecar(layerDir);
  if (sc === undefined) throw new WinlayerError('INTERNAL', 'an imported layer has no sidecar', { path: layerDir });
  return sc;
}

/**
 * Layer `i` as the import should see it: `Hives/` per the options (the hook sees each delta), special files refused
 * with the layer's number when asked, and an opaque whiteout (honoured) turned into a whiteout of each name the
 * result so far holds in that folder (the import, like Windows, knows only per-name whiteouts).
 */
async function filtered(
  layers: readonly OpenLayer[],
  i: number,
  acc: string,
  lower: Sidecar | undefined,
  opts: ApplyLayersOptions,
): Promise<AsyncIterable<LayerEntry>> {
  const source = await layers[i]!();
  return {
    async *[Symbol.asyncIterator]() {
      for await (const e of source) {
        if (!(await admit(e, i, opts))) continue;
        if (e.kind === 'whiteout' && i === 0) continue; // nothing lies beneath the first layer
        if (e.kind !== 'opaqueWhiteout') {
          yield e;
          continue;
        }
        for (const name of lowerChildren(acc, lower, e.directory)) {
          yield { kind: 'whiteout', path: `${e.directory}/.wh.${name}`, target: `${e.directory}/${name}`, win: e.win };
        }
      }
    },
  };
}

/** The names the result so far holds in the folder `layerPath`: on disk, and records without a disk object. */
function lowerChildren(acc: string, lower: Sidecar | undefined, layerPath: string): string[] {
  const host = resolveFolded(acc, layerPath);
  if (host === undefined || lower === undefined) return [];
  const names = readdirSync(host.path);
  for (const r of lower.detached.get(host.layerPath) ?? []) {
    if (r.kind !== 'whiteout') names.push(r.path.slice(r.path.lastIndexOf('/') + 1));
  }
  return names;
}

/**
 * The object at `layerPath` in the layer folder `root`, each name found as Windows finds it (the exact name, else one
 * equal by `upcase`): its host path and its layer path as spelled on disk; undefined when there is none.
 */
function resolveFolded(root: string, layerPath: string): { path: string; layerPath: string } | undefined {
  let host = root;
  const spelled: string[] = [];
  for (const part of layerPath.split('/')) {
    let name: string | undefined = part;
    if (lstatSync(join(host, part), { throwIfNoEntry: false }) === undefined) {
      let names: string[];
      try {
        names = readdirSync(host);
      } catch {
        return undefined;
      }
      name = names.find((n) => equalUpcase(n, part));
      if (name === undefined) return undefined;
    }
    host = join(host, name);
    spelled.push(name);
  }
  return { path: host, layerPath: spelled.join('/') };
}

/** What one merge changed in the result so far, by upper-case layer path. */
interface MergeState {
  /** Deleted or replaced objects: their records, and everything beneath, are dropped. */
  readonly removed: Set<string>;
  /** Folders merged under the upper layer's spelling: upper-case path → the new last name. */
  readonly renamed: Map<string, string>;
}

/** Merges the imported layer `up` into the layer folder `acc` (steps 1–4 of the module comment). */
function mergeLayer(acc: string, up: string, lower: Sidecar, opts: ApplyLayersOptions): void {
  const upper = sidecarOf(up);
  const state: MergeState = { removed: new Set(), renamed: new Map() };
  try {
    // 1. hard links into the result so far: host links in the new layer, made while their data is still there
    for (const group of upper.detached.values()) {
      for (const r of group) {
        if (r.kind !== 'hardlink' || r.inParent !== true) continue;
        const to = join(up, ...r.path.split('/'));
        mkdirSync(dirname(to), { recursive: true });
        linkSync(join(acc, ...r.linkTarget!.split('/')), to);
      }
    }
    // 2. whiteouts and symlinks delete what lies at their name
    for (const group of upper.detached.values()) {
      for (const r of group) {
        if (r.kind !== 'whiteout' && r.kind !== 'symlink') continue;
        const name = r.kind === 'whiteout' ? r.target! : r.path;
        const found = resolveFolded(acc, name);
        if (found !== undefined) removeTree(found.path);
        state.removed.add(upcase(name));
      }
    }
    // 3. the new objects move in
    for (const top of readdirSync(up)) {
      if (top === SIDECAR_DIR) continue;
      mergeFolder(join(up, top), acc, top, top, state);
    }
    // 4. one sidecar for the result
    writeMergedSidecar(acc, lower, upper, state, opts);
  } finally {
    upper.close();
  }
}

/** Moves the object `from` (layer path `layerPath`) into the folder `into`, where it is called `name`. */
function mergeFolder(from: string, into: string, name: string, layerPath: string, state: MergeState): void {
  const existing =
    lstatSync(join(into, name), { throwIfNoEntry: false }) !== undefined
      ? name
      : readdirSync(into).find((n) => equalUpcase(n, name));
  if (existing === undefined) {
    renameSync(from, join(into, name));
    return;
  }
  const at = join(into, existing);
  if (lstatSync(from).isDirectory() && lstatSync(at).isDirectory()) {
    if (existing !== name) {
      renameSync(at, join(into, name));
      state.renamed.set(upcase(layerPath), name);
    }
    for (const child of readdirSync(from)) {
      mergeFolder(join(from, child), join(into, name), child, `${layerPath}/${child}`, state);
    }
    return;
  }
  removeTree(at);
  state.removed.add(upcase(layerPath));
  renameSync(from, join(into, name));
}

/** True when `key` (upper case) or a folder above it is in `removed`. */
function isRemoved(key: string, removed: ReadonlySet<string>): boolean {
  if (removed.size === 0) return false;
  for (let at = key.length; at > 0; at = key.lastIndexOf('/', at - 1)) {
    if (removed.has(at === key.length ? key : key.slice(0, at))) return true;
  }
  return false;
}

/** `path` with each folder the merge renamed spelled the new way. */
function respell(path: string, renamed: ReadonlyMap<string, string>): string {
  if (renamed.size === 0) return path;
  const parts = path.split('/');
  const key = upcase(path);
  let end = 0;
  for (let k = 0; k < parts.length; k++) {
    end += parts[k]!.length;
    const name = renamed.get(key.slice(0, end));
    if (name !== undefined) parts[k] = name;
    end += 1;
  }
  return parts.join('/');
}

/**
 * Writes the result's sidecar: the lower records that survive, then the upper layer's (step 4). A hard link whose
 * data name is gone (deleted or replaced by this layer, or a link of this layer into content it replaced) takes the
 * data's record under its own name; further links to the same data link to it.
 */
function writeMergedSidecar(
  acc: string,
  lower: Sidecar,
  upper: Sidecar,
  state: MergeState,
  opts: ApplyLayersOptions,
): void {
  const w = new SidecarWriter(acc, { kind: lower.manifest.kind, uniquePaths: true });
  try {
    // upper-case data name that went away → the link that now holds the data
    const heirs = new Map<string, string>();
    /** The record of a link at `path` (from `from`) whose data name `dataPath` went away, and whose SD table it uses. */
    const relink = (r: SidecarRecord, from: Sidecar, path: string, dataPath: string): [SidecarRecord, Sidecar] => {
      const key = upcase(dataPath);
      const heir = heirs.get(key);
      if (heir !== undefined) return [{ ...r, path, linkTarget: heir, inParent: undefined }, from];
      if (opts.lowerHardLinks === 'refuse') {
        throw new WinlayerError(
          'LAYER_INVALID',
          `hard link ${r.path} → ${r.linkTarget}: a later layer replaced the content it names`,
          { entry: r.path },
        );
      }
      const data = lower.get(dataPath);
      if (data === undefined || data.kind !== 'file') {
        throw new WinlayerError(
          'LAYER_INVALID',
          `hard link ${r.path} → ${r.linkTarget}: no layer holds the content it names`,
          { entry: r.path },
        );
      }
      heirs.set(key, path);
      // the data's record under the link's name; its streams stay with the name that went away, as in applyLayers
      const { streams: _streams, ...rest } = data;
      return [{ ...rest, path }, lower];
    };
    for (const r of lower.records()) {
      if (r.kind === 'whiteout') continue;
      if (upper.getFolded(r.path) !== undefined || isRemoved(upcase(r.path), state.removed)) continue;
      const path = respell(r.path, state.renamed);
      if (r.kind === 'hardlink' && r.inParent !== true && isRemoved(upcase(r.linkTarget!), state.removed)) {
        addRecord(w, ...relink(r, lower, path, r.linkTarget!));
        continue;
      }
      const linkTarget = r.kind === 'hardlink' ? respell(r.linkTarget!, state.renamed) : r.linkTarget;
      addRecord(w, path === r.path && linkTarget === r.linkTarget ? r : { ...r, path, linkTarget }, lower, acc);
    }
    for (const r of upper.records()) {
      if (r.kind === 'whiteout') continue;
      if (r.kind === 'hardlink' && r.inParent === true) {
        const data = lower.get(r.linkTarget!);
        // the data name of a link into the result so far (import resolves chains, so one step is enough)
        const dataPath = data?.kind === 'hardlink' ? data.linkTarget! : r.linkTarget!;
        if (isRemoved(upcase(dataPath), state.removed)) addRecord(w, ...relink(r, upper, r.path, dataPath));
        else addRecord(w, { ...r, inParent: undefined, linkTarget: respell(dataPath, state.renamed) }, upper);
        continue;
      }
      addRecord(w, r, upper, acc);
    }
    w.finish();
  } catch (e) {
    w.abort();
    throw e;
  }
}

/**
 * Adds `r` (whose SD id and stream files are those of `from`) to the new sidecar. A folder's `diskMtime` is read
 * again when `acc` is given: moving names in and out changed the folder's time on disk, not its recorded times.
 */
function addRecord(w: SidecarWriter, r: SidecarRecord, from: Sidecar, acc?: string): void {
  const sd = r.sd === undefined ? undefined : w.addSecurityDescriptor(from.securityDescriptor(r.sd));
  const streams = r.streams?.map((st) => {
    const slot = w.allocateStream();
    renameSync(from.streamPath(st), slot.hostPath);
    return { name: st.name, size: st.size, data: slot.data };
  });
  const out: { -readonly [K in keyof SidecarRecord]: SidecarRecord[K] } = { ...r };
  if (sd !== undefined) out.sd = sd;
  if (streams !== undefined) out.streams = streams;
  if (out.inParent !== true) delete out.inParent;
  if (out.linkTarget === undefined) delete out.linkTarget;
  if (acc !== undefined && r.kind === 'directory' && r.diskMtime !== undefined) {
    out.diskMtime = lstatSync(join(acc, ...r.path.split('/')), { bigint: true }).mtimeNs;
  }
  w.add(out);
}

/** Sets the result's kind in its sidecar (the records stay as they are). */
function rewriteKind(acc: string, kind: LayerKind): void {
  const sc = sidecarOf(acc);
  try {
    if (sc.manifest.kind === kind && sc.manifest.parents.length === 0) return;
    const w = new SidecarWriter(acc, { kind, uniquePaths: true });
    try {
      for (const r of sc.records()) addRecord(w, r, sc);
      w.finish();
    } catch (e) {
      w.abort();
      throw e;
    }
  } finally {
    sc.close();
  }
}
