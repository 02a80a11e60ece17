/**
 * Faults between us and a real registry (docker-registry 2.8, open.yml): a proxy in front of it drops the connection
 * in the middle of an upload, answers 500 once, and announces `OCI-Chunk-Min-Length` (registry 2.8 never sends it).
 * The push still completes and the registry holds exactly the image's blobs.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { isWinlayerError } from '../src/errors.js';
import { pullImage } from '../src/oci/copy.js';
import { readOciLayout } from '../src/oci/layout.js';
import { pushImage, Registries } from '../src/oci/registry/remote.js';
import {
  freePort,
  makeTestImage,
  type RunningRegistry,
  registryBlobs,
  startRegistry,
} from './fixtures-registry/harness.js';
import { requireTool, tempDir } from './helpers/tools.js';

interface Faults {
  /** Answer 500 to the first request whose method matches. */
  readonly fail500Once?: string;
  /** Destroy the connection after this many body bytes of the first upload request (PATCH or PUT with a body). */
  readonly dropAfterBytes?: number;
  /** Add OCI-Chunk-Min-Length to upload-session answers. */
  readonly chunkMin?: number;
  /** Flip one byte of every blob body served (GET /v2/.../blobs/...). */
  readonly corruptBlobs?: boolean;
}

interface Proxy {
  readonly host: string;
  readonly patchSizes: number[];
  readonly events: string[];
}

async function startFaultProxy(t: TestContext, reg: RunningRegistry, f: Faults): Promise<Proxy> {
  const patchSizes: number[] = [];
  const events: string[] = [];
  let failed = false;
  let dropped = false;
  const server = http.createServer((req, res) => {
    const method = req.method ?? 'GET';
    if (!failed && f.fail500Once === method) {
      failed = true;
      events.push(`500 ${method}`);
      req.resume();
      res
        .writeHead(500, { 'Content-Type': 'application/json' })
        .end('{"errors":[{"code":"UNKNOWN","message":"injected"}]}');
      return;
    }
    const upstream = http.request(
      { host: '127.0.0.1', port: reg.port, method, path: req.url, headers: req.headers },
      (up) => {
        const headers = { ...up.headers };
        if (f.chunkMin !== undefined && method === 'POST' && up.statusCode === 202)
          headers['oci-chunk-min-length'] = String(f.chunkMin);
        res.writeHead(up.statusCode ?? 502, headers);
        if (f.corruptBlobs === true && method === 'GET' && /\/blobs\/sha256:/.test(req.url ?? '')) {
          let first = true;
          up.on('data', (c: Buffer) => {
            if (first && c.length > 0) {
              c[0] = c[0]! ^ 0xff;
              first = false;
            }
            res.write(c);
          });
          up.on('end', () => res.end());
          return;
        }
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    let seen = 0;
    const isUpload = (method === 'PATCH' || method === 'PUT') && Number(req.headers['content-length'] ?? 0) > 0;
    req.on('data', (c: Buffer) => {
      seen += c.length;
      if (isUpload && !dropped && f.dropAfterBytes !== undefined && seen > f.dropAfterBytes) {
        dropped = true;
        events.push(`drop ${method} after ${seen}`);
        upstream.destroy();
        req.socket.destroy();
      }
    });
    req.on('end', () => {
      if (method === 'PATCH') patchSizes.push(seen);
    });
    req.pipe(upstream);
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  t.after(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return { host: `127.0.0.1:${port}`, patchSizes, events };
}

test('chunked push through drops, a 500 and OCI-Chunk-Min-Length completes with exactly the right blobs', async (t) => {
  if (!requireTool(t, 'docker-registry')) return;
  const dir = tempDir(t);
  const reg = await startRegistry(t, dir, 'open');
  const MIN = 256 * 1024;
  const proxy = await startFaultProxy(t, reg, { fail500Once: 'PATCH', dropAfterBytes: 100_000, chunkMin: MIN });
  const img = makeTestImage(join(dir, 'img'), [1_100_000, 600_000]);
  const registries = new Registries({
    insecureRegistry: proxy.host,
    credentials: async () => undefined,
    tuning: { monolithicMax: 0, chunkSize: 64 * 1024, backoffMs: 5, maxAttempts: 6 },
  });
  t.after(() => registries.close());
  const r = await pushImage(await readOciLayout(img.dir), `${proxy.host}/faults/chunked:1`, registries, {
    concurrency: 1,
  });
  assert.equal(r.digest, img.manifest.digest);
  assert.deepEqual(
    proxy.events.slice().sort(),
    ['500 PATCH', proxy.events.find((e) => e.startsWith('drop PATCH'))].sort(),
  );
  // every chunk but the last of a blob is at least the announced minimum
  assert.ok(proxy.patchSizes.length >= 5, `chunks: ${proxy.patchSizes.join(',')}`);
  const small = proxy.patchSizes.filter((n) => n < MIN);
  assert.ok(small.length <= 3, `only the tail chunks (one per blob) may be short: ${proxy.patchSizes.join(',')}`);
  assert.deepEqual(
    registryBlobs(reg),
    new Set([img.manifest.digest, img.config.digest, ...img.layers.map((l) => l.digest)]),
  );
  const back = await pullImage(`${proxy.host}/faults/chunked:1`, join(dir, 'pulled'), { registries });
  assert.equal(back.descriptor.digest, img.manifest.digest);
});

test('monolithic push through a dropped PUT and a 500 on the session start completes', async (t) => {
  if (!requireTool(t, 'docker-registry')) return;
  const dir = tempDir(t);
  const reg = await startRegistry(t, dir, 'open');
  const proxy = await startFaultProxy(t, reg, { fail500Once: 'POST', dropAfterBytes: 100_000 });
  const img = makeTestImage(join(dir, 'img'), [400_000]);
  const registries = new Registries({
    insecureRegistry: proxy.host,
    credentials: async () => undefined,
    tuning: { backoffMs: 5 },
  });
  t.after(() => registries.close());
  const r = await pushImage(await readOciLayout(img.dir), `${proxy.host}/faults/mono:1`, registries, {
    concurrency: 1,
  });
  assert.equal(r.digest, img.manifest.digest);
  assert.deepEqual(
    proxy.events.map((e) => e.split(' ').slice(0, 2).join(' ')),
    ['500 POST', 'drop PUT'],
  );
  assert.deepEqual(
    registryBlobs(reg),
    new Set([img.manifest.digest, img.config.digest, ...img.layers.map((l) => l.digest)]),
  );
});

test('retries are bounded: a registry that always fails gives a clear error', async (t) => {
  const server = http.createServer((req, res) => {
    req.resume();
    res.writeHead(503).end();
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const registries = new Registries({
    insecureRegistry: `127.0.0.1:${port}`,
    credentials: async () => undefined,
    tuning: { backoffMs: 1, maxAttempts: 3 },
  });
  t.after(() => registries.close());
  const { openRegistryImage } = await import('../src/oci/registry/remote.js');
  await assert.rejects(openRegistryImage(`127.0.0.1:${port}/a/b:1`, registries), /503/);
});

test('a blob whose bytes do not match its digest is never stored: pull fails with OCI_DIGEST, no layout appears', async (t) => {
  if (!requireTool(t, 'docker-registry')) return;
  const dir = tempDir(t);
  const reg = await startRegistry(t, dir, 'open');
  const img = makeTestImage(join(dir, 'img'), [50_000]);
  const direct = new Registries({ insecureRegistry: reg.host, credentials: async () => undefined });
  t.after(() => direct.close());
  await pushImage(await readOciLayout(img.dir), `${reg.host}/bad/blob:1`, direct);
  const proxy = await startFaultProxy(t, reg, { corruptBlobs: true });
  const registries = new Registries({
    insecureRegistry: proxy.host,
    credentials: async () => undefined,
    tuning: { backoffMs: 1 },
  });
  t.after(() => registries.close());
  await assert.rejects(pullImage(`${proxy.host}/bad/blob:1`, join(dir, 'pulled'), { registries }), (e: unknown) =>
    isWinlayerError(e, 'OCI_DIGEST'),
  );
  assert.equal(existsSync(join(dir, 'pulled')), false);
  assert.deepEqual(
    readdirSync(dir).filter((n) => n.includes('winlayer-tmp')),
    [],
    'no temporary left behind',
  );
});

test('--insecure covers the named registry only: a plain-HTTP token realm on another host is refused', async (t) => {
  const realmPort = await freePort();
  const seen: string[] = [];
  const realm = http.createServer((req, res) => {
    seen.push(req.url ?? '');
    res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"token":"t"}');
  });
  await new Promise<void>((r) => realm.listen(realmPort, '127.0.0.1', r));
  let hits429 = 0;
  const registry = http.createServer((req, res) => {
    req.resume();
    if (hits429 === 0) {
      hits429++;
      res.writeHead(429, { 'Retry-After': '0' }).end();
      return;
    }
    res.writeHead(401, { 'WWW-Authenticate': `Bearer realm="http://127.0.0.1:${realmPort}/token",service="x"` }).end();
  });
  const port = await freePort();
  await new Promise<void>((r) => registry.listen(port, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => registry.close(() => r())));
  t.after(() => new Promise<void>((r) => realm.close(() => r())));
  const registries = new Registries({
    insecureRegistry: `127.0.0.1:${port}`,
    credentials: async () => ({ username: 'u', password: 'p' }),
    tuning: { backoffMs: 1, maxAttempts: 3 },
  });
  t.after(() => registries.close());
  const { openRegistryImage } = await import('../src/oci/registry/remote.js');
  await assert.rejects(
    openRegistryImage(`127.0.0.1:${port}/a/b:1`, registries),
    /refusing plain HTTP to 127\.0\.0\.1:\d+/,
  );
  assert.equal(hits429, 1, 'the 429 was retried');
  assert.deepEqual(seen, [], 'no credentials went to the plain-HTTP realm');
});
