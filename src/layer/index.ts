/**
 * `src/layer/`: layer semantics — the layer folder and its `.winlayer/` sidecar, walking a folder into entries,
 * applying layers, makebaselayer, export, import, comparison. The public surface of the folder: what a user of
 * `layer.*` may call. What other folders need but users must not see is re-exported by `src/internal/layer.ts`.
 */
export { type ApplyLayersOptions, applyLayers, type LayerPlan, type OpenLayer, planLayers } from './apply.js';
export { type ApplyToFolderOptions, type ApplyToFolderResult, applyLayersToFolder } from './apply-folder.js';
export { BASE_LAYER_HIVES } from './base-hives.js';
export {
  type ComparedEntry,
  type ComparedField,
  type ComparedKind,
  type CompareOptions,
  type ComparisonNoise,
  compareLayers,
  type EntryChange,
  type FieldChange,
  type LayerComparison,
} from './compare.js';
export { type ImportProgress, type ImportResult, type WriteLayerDirOptions, writeLayerDir } from './dir-writer.js';
export {
  type ExportLayerOptions,
  type ExportProgress,
  type ExportResult,
  exportLayer,
  type SkippedEntry,
} from './export.js';
export { type ImportLayerOptions, importLayer } from './import.js';
export {
  type HiveAction,
  type MakeBaseLayerOptions,
  type MakeBaseLayerResult,
  makeBaseLayer,
  type UtilityVmVerdict,
} from './makebaselayer.js';
export {
  DEFAULT_SD_PRESET,
  type MetadataPolicy,
  type PolicyKind,
  type PolicyOptions,
  parseSourceDateEpoch,
  type SdPreset,
} from './policy.js';
export { type LayerKind, type ParentRef, SIDECAR_DIR, type SidecarManifest } from './sidecar.js';
export { type WalkLayerOptions, walkLayer } from './walk.js';
