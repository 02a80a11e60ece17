/**
 * `flattenSource`: an image's layers applied in order, seen as one layer, for `ls`, `lint` and `diff` with
 * `--flatten`. The engine is `applyLayers` (`layer/apply.ts`, where the rules are written); this file only chooses
 * its options and wraps the result as a one-layer source.
 */
import { type ApplyLayersOptions, applyLayers } from '../layer/index.js';
import type { InspectLayer, InspectSource } from './source.js';

/**
 * What `--flatten` shows is what a container sees, so it tolerates what a container runtime tolerates: opaque
 * whiteouts (Linux-built images) are honoured, registry deltas are merged into the base hives (as Windows merges
 * them on import, `ORMergeHives`, so the view shows the registry the container has), special files are kept for lint
 * to report, and a hard link whose target a later layer replaced shows the content it still names.
 */
const FLATTEN_OPTIONS: ApplyLayersOptions = {
  opaqueWhiteouts: 'honour',
  hiveDeltas: 'merge',
  lowerHardLinks: 'repoint',
  specialFiles: 'keep',
};

/**
 * Returns a one-layer source that applies `src`'s layers in order. A source with one layer is returned unchanged.
 * Nothing is read until the layer is opened; each open reads every layer twice. Iterating throws what `applyLayers`
 * throws (`LAYER_INVALID` for a hard link to content no layer holds or deltas without a base hive, `HIVE_*` for a
 * delta that cannot be merged).
 */
export function flattenSource(src: InspectSource): InspectSource {
  if (src.layers.length <= 1) return src;
  const layers = src.layers;
  const layer: InspectLayer = {
    title: `${src.name} (${layers.length} layers applied)`,
    base: true,
    open: () =>
      applyLayers(
        layers.map((l) => l.open),
        FLATTEN_OPTIONS,
      ),
  };
  return {
    name: src.name,
    kind: 'flattened',
    layers: [layer],
    ...(src.config === undefined ? {} : { config: src.config }),
    ...(src.close === undefined ? {} : { close: src.close }),
  };
}
