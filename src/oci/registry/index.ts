/** The registry client and its helpers (public surface of `src/oci/registry/`). */
export { type Challenge, parseWwwAuthenticate } from './auth.js';
export {
  type BlobSource,
  type Body,
  RegistryClient,
  type RegistryClientOptions,
  type RegistryTuning,
  repoScope,
  type TransferProgress,
} from './client.js';
export {
  type CredentialSource,
  type Credentials,
  type DockerEnv,
  dockerConfigPath,
  dockerCredentials,
  resolveCredentials,
  saveCredentials,
} from './credentials.js';
export { type LoginOptions, loginRegistry } from './login.js';
export { type RegistryDiagnostic, RegistryError } from './registry-error.js';
export { openRegistryImage, type PushResult, pushImage, Registries, type RegistryAccess } from './remote.js';
