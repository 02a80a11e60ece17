/**
 * `flattenSource`: an image's layers applied in order, seen as one layer — what a container would see, for `ls`,
 * `lint` and `diff` with `--flatten`. Two streaming passes: the first reads every layer's names (no bodies) and keeps
 * an index of paths — which layer writes each name last, where whiteouts and opaque markers delete, and the metadata
 * of folders (never file data); the second reads the layers again and yields the entries that survive.
 *
 * Order: the layers' own orders, one after the other; a folder that a later layer writes again is yielded where the
 * folder first appears, with the later layer's metadata, so parents still come before children. Whiteouts are
 * consumed, never yielded. Names are matched case-insensitively (`upcase`), as Windows does. `Hives/` and what it
 * holds are left out: registry deltas (`Hives/*_Delta`) apply to the hives only on Windows (`ORMergeHives`), so the
 * flattened view shows the base layer's hives as they are.
 */
import type { LayerEntry } from '../entry.js';
import { upcase } from '../windows/index.js';
import type { InspectLayer, InspectSource } from './source.js';

interface Writer {
  readonly layer: number;
  readonly isDir: boolean;
}

/** The index the first pass builds. */
interface Plan {
  /** upcase(path) → the last layer that writes it. */
  readonly last: Map<string, Writer>;
  /** upcase(path) → the last layer whose whiteout deletes it (and everything beneath). */
  readonly deleted: Map<string, number>;
  /** upcase(folder) → the last layer whose opaque marker empties it. */
  readonly emptied: Map<string, number>;
  /** upcase(folder) → the final entry of every folder (metadata only). */
  readonly folders: Map<string, LayerEntry>;
}

/**
 * Returns a one-layer source that applies `src`'s layers in order. A source with one layer is returned unchanged.
 * Nothing is read until the layer is opened; each open reads every layer twice.
 */
export function flattenSource(src: InspectSource): InspectSource {
  if (src.layers.length <= 1) return src;
  const layers = src.layers;
  const layer: InspectLayer = {
    title: `${src.name} (${layers.length} layers applied)`,
    base: true,
    open: () => ({
      async *[Symbol.asyncIterator]() {
        const plan = await planFlatten(layers);
        yield* applyPlan(layers, plan);
      },
    }),
  };
  return {
    name: src.name,
    kind: 'flattened',
    layers: [layer],
    ...(src.config === undefined ? {} : { config: src.config }),
    ...(src.close === undefined ? {} : { close: src.close }),
  };
}

async function planFlatten(layers: readonly InspectLayer[]): Promise<Plan> {
  const plan: Plan = { last: new Map(), deleted: new Map(), emptied: new Map(), folders: new Map() };
  for (const [i, l] of layers.entries()) {
    for await (const e of l.open()) {
      if (e.kind === 'whiteout') plan.deleted.set(upcase(e.target), i);
      else if (e.kind === 'opaqueWhiteout') plan.emptied.set(upcase(e.directory), i);
      else {
        const key = upcase(e.path);
        plan.last.set(key, { layer: i, isDir: e.kind === 'directory' });
        if (e.kind === 'directory') plan.folders.set(key, e);
      }
    }
  }
  return plan;
}

async function* applyPlan(layers: readonly InspectLayer[], plan: Plan): AsyncGenerator<LayerEntry> {
  const yieldedFolders = new Set<string>();
  for (const [i, l] of layers.entries()) {
    for await (const e of l.open()) {
      if (e.kind === 'whiteout' || e.kind === 'opaqueWhiteout' || isHives(e.path)) continue;
      const key = upcase(e.path);
      if (!survives(plan, key, i)) continue;
      if (e.kind === 'directory') {
        if (yieldedFolders.has(key)) continue;
        const final = plan.last.get(key);
        if (final?.isDir !== true) continue; // replaced by a file later
        yieldedFolders.add(key);
        yield final.layer === i ? e : plan.folders.get(key)!;
        continue;
      }
      if (plan.last.get(key)?.layer !== i) continue;
      yield e;
    }
  }
}

/**
 * True when the entry `key` written by layer `i` is still there after all layers: no later whiteout deletes it or
 * a folder above it, no later opaque marker empties a folder above it, and no later layer replaces a folder above it
 * with something that is not a folder. (Whether a later layer writes the same name again is decided by the caller.)
 */
function survives(plan: Plan, key: string, i: number): boolean {
  for (let ancestor = key; ; ) {
    const d = plan.deleted.get(ancestor);
    if (d !== undefined && d > i) {
      // Deleted after layer i — unless this very folder is written again later (then the caller picks that one).
      const w = plan.last.get(ancestor);
      if (ancestor !== key || w === undefined || w.layer <= d) return false;
    }
    if (ancestor !== key) {
      const o = plan.emptied.get(ancestor);
      if (o !== undefined && o > i) return false;
      const w = plan.last.get(ancestor);
      if (w !== undefined && !w.isDir && w.layer > i) return false;
    }
    const at = ancestor.lastIndexOf('/');
    if (at < 0) return true;
    ancestor = ancestor.slice(0, at);
  }
}

function isHives(path: string): boolean {
  return path === 'Hives' || path.startsWith('Hives/');
}
