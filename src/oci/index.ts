/**
 * `src/oci/`: images. Digests, OCI objects, OCI layouts, docker archives, our own registry client, and the image
 * commands (create, append, squash, platform, index, push, pull). The public surface of the folder: what a user of
 * `oci.*` may call. The rest (spec parsers, blob stores, the registry client's parts) is internal to the folder.
 */
export {
  type AppendImageOptions,
  appendImage,
  type BuildImageOptions,
  type BuildResult,
  type CreateImageOptions,
  createImage,
  type RuntimeSettings,
} from './build.js';
export {
  type BuiltLayer,
  type PullOptions,
  pullImage,
  type WriteImageOptions,
  type WriteImageResult,
  writeImage,
} from './copy.js';
export { type Digest, isDigest, sha256Digest } from './digest.js';
export { isDockerArchive, readDockerArchive, writeDockerArchive } from './docker-archive.js';
export { type ImageHandle, type ResolvedImage, resolveImage } from './image.js';
export { type CreateImageIndexOptions, createImageIndex } from './image-index.js';
export { isOciLayout, readOciLayout } from './layout.js';
export { MEDIA } from './media-types.js';
export { buildImageIndex, setImagePlatform } from './mutate.js';
export { formatPlatform, parsePlatform } from './platform.js';
export { formatReference, parseReference, parseRegistryName, type Reference } from './reference.js';
export {
  type BlobSource,
  type CredentialSource,
  type Credentials,
  type DockerEnv,
  dockerCredentials,
  type LoginOptions,
  loginRegistry,
  type PushResult,
  pushImage,
  Registries,
  type RegistryAccess,
  type RegistryClient,
  type RegistryClientOptions,
  type RegistryDiagnostic,
  RegistryError,
  type RegistryTuning,
  type TransferProgress,
} from './registry/index.js';
export type { RegistryErrorDetails } from './registry/registry-error.js';
export {
  type Destination,
  formatDestination,
  openImage,
  openSource,
  parseDestination,
  type Source,
} from './source.js';
export type {
  ContainerConfig,
  Descriptor,
  HistoryEntry,
  ImageConfig,
  ImageIndex,
  ImageManifest,
  Platform,
} from './spec.js';
export { type SquashOptions, type SquashResult, squashImage } from './squash.js';
export type { BlobLocation, BlobStore } from './store.js';
