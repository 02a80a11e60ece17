/**
 * `src/oci/`: images. Digests, OCI objects, OCI layouts, docker archives, our own registry client, and the image
 * commands (create, append, squash, platform, index, push, pull). The public surface of the folder.
 */
export * from './build.js';
export * from './copy.js';
export * from './digest.js';
export { isDockerArchive, readDockerArchive, repoTag, writeDockerArchive } from './docker-archive.js';
export * from './image.js';
export { isOciLayout, LayoutWriter, REF_NAME, readOciLayout } from './layout.js';
export {
  INDEX_TYPES,
  isIndexType,
  isManifestType,
  layerCompression,
  MANIFEST_TYPES,
  MEDIA,
  ociLayerType,
  sniffCompression,
} from './media-types.js';
export * from './mutate.js';
export * from './platform.js';
export * from './reference.js';
export * from './registry/index.js';
export {
  comparePaths,
  hostSpelling,
  type PlainOptions,
  walkPlainFolder,
  windowsizeEntries,
  withBaseHives,
} from './rootfs.js';
export * from './source.js';
export * from './spec.js';
export * from './squash.js';
export * from './store.js';
