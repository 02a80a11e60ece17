/**
 * Test harness for the registry tests: Debian's docker-registry on 127.0.0.1 (a free port, config from this folder),
 * a test CA and certificates made with openssl, htpasswd (bcrypt) files, a small JWT token server, a fault-injecting
 * proxy, and a generator of small Windows-shaped test images. Everything listens on 127.0.0.1 only and is stopped in
 * `t.after`.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createSign, randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { gzipSync } from 'node:zlib';
import { END_OF_ARCHIVE, padding, ustarHeader } from '../../src/oci/archive-tar.js';
import { sha256Digest } from '../../src/oci/digest.js';
import { LayoutWriter, REF_NAME } from '../../src/oci/layout.js';
import { MEDIA } from '../../src/oci/media-types.js';
import { buildManifest, type Descriptor, jsonBlob } from '../../src/oci/spec.js';
import { run } from '../helpers/tools.js';

const HERE = new URL('.', import.meta.url).pathname;

/** A free TCP port on 127.0.0.1 (bound and released; good enough for tests). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, log: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited early:\n${readFileSync(log, 'utf8')}`);
    const ok = await new Promise<boolean>((resolve) => {
      const c = net.connect(port, '127.0.0.1');
      c.on('connect', () => {
        c.destroy();
        resolve(true);
      });
      c.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`docker-registry did not listen on ${port} within 10 s:\n${readFileSync(log, 'utf8')}`);
}

export interface RunningRegistry {
  /** `127.0.0.1:PORT` */
  readonly host: string;
  readonly port: number;
  /** The storage root (to check which blobs it holds). */
  readonly root: string;
}

/** Starts docker-registry with `<kind>.yml` from this folder, the placeholders filled from `vars`. */
export async function startRegistry(
  t: TestContext,
  dir: string,
  kind: 'open' | 'basic-tls' | 'token',
  vars: Record<string, string> = {},
): Promise<RunningRegistry> {
  const port = await freePort();
  const root = join(dir, `registry-${port}`);
  mkdirSync(root, { recursive: true });
  let cfg = readFileSync(join(HERE, `${kind}.yml`), 'utf8');
  for (const [k, v] of Object.entries({ ...vars, PORT: String(port), ROOT: root })) cfg = cfg.replaceAll(`@${k}@`, v);
  const cfgPath = join(dir, `registry-${port}.yml`);
  writeFileSync(cfgPath, cfg);
  const log = join(dir, `registry-${port}.log`);
  const fd = openSync(log, 'w');
  const child = spawn('docker-registry', ['serve', cfgPath], { stdio: ['ignore', fd, fd] });
  closeSync(fd); // the child has its own copy
  t.after(async () => {
    if (child.exitCode !== null) return;
    const done = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([done, new Promise((r) => setTimeout(r, 3000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  await waitForPort(port, child, log);
  return { host: `127.0.0.1:${port}`, port, root };
}

/** The sha256 digests of every blob the registry stores. */
export function registryBlobs(reg: RunningRegistry): Set<string> {
  const base = join(reg.root, 'docker/registry/v2/blobs/sha256');
  const out = new Set<string>();
  if (!existsSync(base)) return out;
  for (const two of readdirSync(base)) {
    for (const hex of readdirSync(join(base, two)))
      if (existsSync(join(base, two, hex, 'data'))) out.add(`sha256:${hex}`);
  }
  return out;
}

export interface TestCa {
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  /** A folder with `ca.crt` only (skopeo's --cert-dir). */
  readonly certDir: string;
}

/** A CA and a server certificate for 127.0.0.1, made with openssl. */
export function makeCa(dir: string): TestCa {
  const d = join(dir, 'pki');
  mkdirSync(d, { recursive: true });
  const o = (args: string[]): void => void run('openssl', args, { cwd: d });
  o([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '2',
    '-subj',
    '/CN=winlayer-test-ca',
  ]);
  o(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
  writeFileSync(
    join(d, 'ext.cnf'),
    'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n',
  );
  o([
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.crt',
    '-days',
    '2',
    '-extfile',
    'ext.cnf',
  ]);
  const certDir = join(d, 'certs');
  mkdirSync(certDir);
  writeFileSync(join(certDir, 'ca.crt'), readFileSync(join(d, 'ca.crt')));
  return { caCert: join(d, 'ca.crt'), serverCert: join(d, 'server.crt'), serverKey: join(d, 'server.key'), certDir };
}

/** An htpasswd file with one bcrypt user (`htpasswd -B`). */
export function makeHtpasswd(dir: string, user: string, password: string): string {
  const path = join(dir, 'htpasswd');
  writeFileSync(path, run('htpasswd', ['-Bbn', user, password]));
  return path;
}

function b64url(b: Buffer | string): string {
  return Buffer.from(b).toString('base64url');
}

export interface TokenServer {
  readonly realm: string;
  /** The certificate the registry must trust for token signatures. */
  readonly signingCert: string;
  /** Token requests seen (scope lists), to check the flow. */
  readonly requests: { user: string | undefined; scopes: string[] }[];
}

/**
 * A minimal token server (the Docker token spec): checks Basic credentials, grants the requested actions to the one
 * user, signs an RS256 JWT with an `x5c` certificate the registry trusts. HTTPS with the test CA's server certificate.
 */
export async function startTokenServer(
  t: TestContext,
  dir: string,
  ca: TestCa,
  user: string,
  password: string,
): Promise<TokenServer> {
  const d = join(dir, 'token');
  mkdirSync(d, { recursive: true });
  run(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'sign.key',
      '-out',
      'sign.crt',
      '-days',
      '2',
      '-subj',
      '/CN=winlayer-token-signer',
    ],
    { cwd: d },
  );
  const signKey = readFileSync(join(d, 'sign.key'), 'utf8');
  const certDer = new X509Certificate(readFileSync(join(d, 'sign.crt'))).raw;
  const requests: TokenServer['requests'] = [];
  const server = https.createServer(
    { cert: readFileSync(ca.serverCert), key: readFileSync(ca.serverKey) },
    (req, res) => {
      const url = new URL(req.url ?? '/', 'https://127.0.0.1');
      const auth = req.headers.authorization;
      let who: string | undefined;
      if (auth?.startsWith('Basic ') === true) {
        const [u, p] = Buffer.from(auth.slice(6), 'base64').toString().split(':');
        if (u !== user || p !== password) {
          res.writeHead(401, { 'Content-Type': 'application/json' }).end('{"details":"bad credentials"}');
          return;
        }
        who = u;
      }
      const scopes = url.searchParams.getAll('scope');
      requests.push({ user: who, scopes });
      const access =
        who === undefined
          ? []
          : scopes.map((s) => {
              const [type, ...rest] = s.split(':');
              const actions = rest.pop() ?? '';
              return { type, name: rest.join(':'), actions: actions.split(',') };
            });
      const now = Math.floor(Date.now() / 1000);
      const head = { alg: 'RS256', typ: 'JWT', x5c: [certDer.toString('base64')] };
      const claims = {
        iss: 'winlayer-test-token-server',
        sub: who ?? '',
        aud: url.searchParams.get('service') ?? '',
        exp: now + 300,
        nbf: now - 10,
        iat: now,
        jti: randomUUID(),
        access,
      };
      const input = `${b64url(JSON.stringify(head))}.${b64url(JSON.stringify(claims))}`;
      const sig = createSign('RSA-SHA256').update(input).sign(signKey);
      res
        .writeHead(200, { 'Content-Type': 'application/json' })
        .end(JSON.stringify({ token: `${input}.${b64url(sig)}`, expires_in: 300 }));
    },
  );
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  t.after(() => server.closeAllConnections());
  return { realm: `https://127.0.0.1:${port}/token`, signingCert: join(d, 'sign.crt'), requests };
}

export interface TestImage {
  readonly dir: string;
  readonly manifest: Descriptor;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
}

/** A tar (in memory: test sizes only) holding `Files` and one file of `size` random bytes. */
function tinyLayerTar(name: string, size: number): Buffer {
  const body = randomBytes(size);
  return Buffer.concat([
    ustarHeader('Files/', 0, 'dir', 0),
    ustarHeader(`Files/${name}`, size, 'file', 0),
    body,
    padding(size),
    END_OF_ARCHIVE,
  ]);
}

/**
 * Writes a small Windows-shaped image (gzip layers of random content, so sizes survive compression) as an OCI layout.
 */
export function makeTestImage(
  dir: string,
  layerSizes: readonly number[],
  tag = 'test',
  osVersion = '10.0.20348.1',
): TestImage {
  const w = new LayoutWriter(dir);
  const layers: Descriptor[] = [];
  const diffIds: string[] = [];
  layerSizes.forEach((size, i) => {
    const tar = tinyLayerTar(`f${i}.bin`, size);
    diffIds.push(sha256Digest(tar));
    layers.push(w.putBytes(gzipSync(tar), MEDIA.ociLayerGzip));
  });
  const cfg = jsonBlob(
    {
      architecture: 'amd64',
      os: 'windows',
      'os.version': osVersion,
      created: '1970-01-01T00:00:00Z',
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: layerSizes.map(() => ({ created: '1970-01-01T00:00:00Z', created_by: 'winlayer test' })),
    },
    MEDIA.ociConfig,
  );
  w.putBytes(cfg.bytes, MEDIA.ociConfig);
  const m = buildManifest(cfg.descriptor, layers);
  w.putBytes(m.bytes, MEDIA.ociManifest);
  const root = {
    ...m.descriptor,
    platform: { architecture: 'amd64', os: 'windows', 'os.version': osVersion },
    annotations: { [REF_NAME]: tag },
  };
  w.commit([root]);
  return { dir, manifest: m.descriptor, config: cfg.descriptor, layers };
}

/** Runs a tool without blocking the event loop (needed while an in-process server must answer it). */
export function runAsync(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** Skopeo's flags for a registry the tests run: TLS verification off (plain HTTP) or a cert dir. */
export function skopeoTls(kind: 'src' | 'dest' | 'plain', certDir?: string): string[] {
  const pre = kind === 'plain' ? '' : `${kind}-`;
  return certDir === undefined ? [`--${pre}tls-verify=false`] : [`--${pre}cert-dir=${certDir}`];
}
