/**
 * winlayer's public library API, chosen on purpose (see "Public API and internals" in docs/architecture.md): the
 * headline verbs and their types at the root, and one namespace per folder (`hive`, `tar`, `oci`, `layer`, `inspect`,
 * `windows`) holding that folder's public surface. Nothing from `src/internal/` is exported.
 *
 * @packageDocumentation
 */
export {
  bufferBody,
  type DirectoryEntry,
  type EntryBase,
  type EntryBody,
  type EntryKind,
  type ExtendedAttribute,
  type FileEntry,
  type HardlinkEntry,
  type LayerEntry,
  type OpaqueWhiteoutEntry,
  type PaxRecord,
  type RawTarInfo,
  type SpecialEntry,
  type StreamEntry,
  type SymlinkEntry,
  type WhiteoutEntry,
  type WindowsMetadata,
} from './entry.js';
export { ERROR_CODES, type ErrorCode, isWinlayerError, WinlayerError, type WinlayerErrorDetails } from './errors.js';
export * as hive from './hive/index.js';
export * as inspect from './inspect/index.js';
export {
  type InspectSource,
  type LintOptions,
  type LintReport,
  type LintSourceOptions,
  lintLayer,
  lintSource,
  openInspectSource,
} from './inspect/index.js';
export * as layer from './layer/index.js';
export {
  type CompareOptions,
  compareLayers,
  type ExportLayerOptions,
  type ExportResult,
  exportLayer,
  type ImportLayerOptions,
  type ImportResult,
  importLayer,
  type LayerComparison,
  type MakeBaseLayerOptions,
  type MakeBaseLayerResult,
  makeBaseLayer,
  type WalkLayerOptions,
  walkLayer,
} from './layer/index.js';
export * as oci from './oci/index.js';
export {
  type AppendImageOptions,
  appendImage,
  type CreateImageOptions,
  createImage,
  type ImageHandle,
  openImage,
  type PullOptions,
  type PushResult,
  pullImage,
  pushImage,
  Registries,
  type Source,
  type SquashOptions,
  type SquashResult,
  squashImage,
  type WriteImageOptions,
  type WriteImageResult,
  writeImage,
} from './oci/index.js';
export * as tar from './tar/index.js';
export {
  type ByteInput,
  type Compression,
  type ReadTarOptions,
  readTar,
  type TarOutput,
  type TarSummary,
  type WriteTarOptions,
  writeTar,
  writeTarFile,
} from './tar/index.js';
export * as windows from './windows/index.js';
