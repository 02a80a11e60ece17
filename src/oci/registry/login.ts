/** `winlayer login`: check credentials against the registry, then store them where Docker keeps them. */
import { RegistryClient } from './client.js';
import { type DockerEnv, saveCredentials } from './credentials.js';

/** Options of `loginRegistry`. */
export interface LoginOptions {
  readonly insecure?: boolean;
  readonly caFiles?: readonly string[];
  /** Where the Docker config is (`DOCKER_CONFIG`, `HOME`) and what a credential helper runs with. */
  readonly env: DockerEnv;
}

/**
 * Verifies `username`/`password` with `registry` (Basic, or a token from its Bearer realm) and stores them in the
 * Docker config (or its credential helper). Stores nothing when the registry refuses (`REGISTRY_AUTH`).
 */
export async function loginRegistry(
  registry: string,
  creds: { readonly username: string; readonly password: string },
  opts: LoginOptions,
): Promise<{ registry: string; store: string }> {
  const client = new RegistryClient({
    registry,
    insecure: opts.insecure === true,
    caFiles: opts.caFiles ?? [],
    credentials: async () => creds,
    maxAttempts: 3,
  });
  try {
    await client.checkLogin();
  } finally {
    client.close();
  }
  const { store } = await saveCredentials(registry, creds, opts.env);
  return { registry, store };
}
