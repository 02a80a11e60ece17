/**
 * Registry credentials the way Docker keeps them: `$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`) with
 * `auths` entries (`auth` = base64 `user:password`, or `identitytoken`), per-registry `credHelpers` and a default
 * `credsStore`, both served by `docker-credential-<name>` programs (`get`/`store` on stdin/stdout).
 * `winlayer login` writes the same file, so docker, skopeo, crane and winlayer share one login.
 *
 * The library never reads `process.env`: every function here takes the environment (`DOCKER_CONFIG`, `HOME`, and
 * what credential helpers need, such as `PATH`) from its caller; the CLI passes its own.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { AtomicTarget } from '../../atomic.js';
import { WinlayerError } from '../../errors.js';

/** Credentials for one registry. A username with a password (Basic, or the token flow), or an identity token. */
export interface Credentials {
  readonly username?: string;
  readonly password?: string;
  /** An OAuth2 refresh token (`identitytoken`), exchanged at the token realm. */
  readonly identityToken?: string;
}

/** Where credentials come from; `resolveCredentials` reads the Docker config, tests pass a fixed function. */
export type CredentialSource = (registry: string) => Promise<Credentials | undefined>;

interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
  [key: string]: unknown;
}

/** The environment the Docker config is found in (the CLI passes `process.env`; tests a fixed one). */
export type DockerEnv = Readonly<Record<string, string | undefined>>;

/**
 * The Docker config file path: `$DOCKER_CONFIG/config.json`, else `.docker/config.json` in the home folder (`HOME`,
 * else `USERPROFILE`, else the account's home folder).
 */
export function dockerConfigPath(env: DockerEnv): string {
  return join(nonEmpty(env.DOCKER_CONFIG) ?? join(homeOf(env), '.docker'), 'config.json');
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

function homeOf(env: DockerEnv): string {
  return nonEmpty(env.HOME) ?? nonEmpty(env.USERPROFILE) ?? userInfo().homedir;
}

function readConfig(path: string): DockerConfig {
  if (!existsSync(path)) return {};
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    return typeof v === 'object' && v !== null ? (v as DockerConfig) : {};
  } catch (e) {
    throw new WinlayerError('REGISTRY_AUTH', `the Docker config is not valid JSON: ${(e as Error).message}`, {
      path,
    });
  }
}

/** The keys a registry may have in `auths`, in the order Docker tries them. */
function authKeys(registry: string): string[] {
  if (registry === 'docker.io') return ['https://index.docker.io/v1/', 'index.docker.io', 'docker.io'];
  return [registry, `https://${registry}`, `http://${registry}`, `https://${registry}/v1/`, `https://${registry}/v2/`];
}

/** The name Docker stores a registry's login under: the `auths` key `login` writes, the server URL helpers get. */
function loginKey(registry: string): string {
  return registry === 'docker.io' ? 'https://index.docker.io/v1/' : registry;
}

/**
 * Looks up credentials for `registry` in the Docker config (helpers first, then `auths`). Returns `undefined` for
 * anonymous access. Throws `REGISTRY_AUTH` when a helper fails for a reason other than "not found".
 */
export async function resolveCredentials(registry: string, env: DockerEnv): Promise<Credentials | undefined> {
  const path = dockerConfigPath(env);
  const cfg = readConfig(path);
  const helper =
    cfg.credHelpers?.[registry] ?? (registry === 'docker.io' ? cfg.credHelpers?.['index.docker.io'] : undefined);
  if (helper !== undefined) return helperGet(helper, registry, env);
  for (const key of authKeys(registry)) {
    const a = cfg.auths?.[key];
    if (a === undefined) continue;
    if (a.identitytoken !== undefined && a.identitytoken !== '') return { identityToken: a.identitytoken };
    if (a.auth !== undefined && a.auth !== '') {
      const text = Buffer.from(a.auth, 'base64').toString('utf8');
      const i = text.indexOf(':');
      if (i < 0) throw new WinlayerError('REGISTRY_AUTH', `auths["${key}"].auth is not base64 user:password`, { path });
      return { username: text.slice(0, i), password: text.slice(i + 1) };
    }
    if (a.username !== undefined) return { username: a.username, password: a.password ?? '' };
  }
  if (cfg.credsStore !== undefined && cfg.credsStore !== '') return helperGet(cfg.credsStore, registry, env);
  return undefined;
}

/** A `CredentialSource` over the Docker config of `env`. */
export function dockerCredentials(env: DockerEnv): CredentialSource {
  return (registry) => resolveCredentials(registry, env);
}

async function runHelper(
  name: string,
  verb: 'get' | 'store' | 'erase',
  input: string,
  env: DockerEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const prog = `docker-credential-${name}`;
  return new Promise((resolve, reject) => {
    const child = spawn(prog, [verb], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e) =>
      reject(
        new WinlayerError('REGISTRY_AUTH', `cannot run the credential helper ${prog}: ${e.message}`, {
          hint: `install ${prog} or remove it from ${dockerConfigPath(env)}`,
          cause: e,
        }),
      ),
    );
    child.on('close', (code) =>
      resolve({
        code: code ?? 1,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
    child.stdin.end(input);
  });
}

async function helperGet(name: string, registry: string, env: DockerEnv): Promise<Credentials | undefined> {
  const r = await runHelper(name, 'get', loginKey(registry), env);
  if (r.code !== 0) {
    if (/credentials not found/i.test(r.stdout + r.stderr)) return undefined;
    throw new WinlayerError('REGISTRY_AUTH', `docker-credential-${name} get failed: ${(r.stderr || r.stdout).trim()}`);
  }
  let v: { Username?: string; Secret?: string };
  try {
    v = JSON.parse(r.stdout) as { Username?: string; Secret?: string };
  } catch {
    throw new WinlayerError('REGISTRY_AUTH', `docker-credential-${name} get printed something that is not JSON`);
  }
  if (v.Secret === undefined || v.Secret === '') return undefined;
  if (v.Username === '<token>') return { identityToken: v.Secret };
  return { username: v.Username ?? '', password: v.Secret };
}

/**
 * Stores credentials for `registry` where Docker would: its credential helper when the config names one, else
 * `auths` in the config file (written atomically, mode 0600, every other setting kept). Returns where they went.
 */
export async function saveCredentials(
  registry: string,
  creds: { username: string; password: string },
  env: DockerEnv,
): Promise<{ store: string }> {
  const path = dockerConfigPath(env);
  const cfg = readConfig(path);
  const helper = cfg.credHelpers?.[registry] ?? cfg.credsStore;
  if (helper !== undefined && helper !== '') {
    const input = JSON.stringify({ ServerURL: loginKey(registry), Username: creds.username, Secret: creds.password });
    const r = await runHelper(helper, 'store', input, env);
    if (r.code !== 0) {
      throw new WinlayerError(
        'REGISTRY_AUTH',
        `docker-credential-${helper} store failed: ${(r.stderr || r.stdout).trim()}`,
      );
    }
    return { store: `docker-credential-${helper}` };
  }
  const auths = { ...(cfg.auths ?? {}) };
  auths[loginKey(registry)] = { auth: Buffer.from(`${creds.username}:${creds.password}`, 'utf8').toString('base64') };
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const target = new AtomicTarget(path);
  try {
    writeFileSync(target.tempPath, `${JSON.stringify({ ...cfg, auths }, null, '\t')}\n`, { mode: 0o600 });
  } catch (e) {
    target.abort();
    throw new WinlayerError('IO', `cannot write the Docker config: ${(e as Error).message}`, { path, cause: e });
  }
  target.commit();
  return { store: path };
}
