/**
 * Real-registry interop: Debian's docker-registry 2.8 on 127.0.0.1 (open, plain HTTP), skopeo reading back what we
 * push and pushing what we pull. Config: test/fixtures-registry/open.yml.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { pullImage } from '../src/oci/copy.js';
import { readOciLayout } from '../src/oci/layout.js';
import { openRegistryImage, pushImage, Registries } from '../src/oci/registry/remote.js';
import { makeTestImage, registryBlobs, skopeoTls, startRegistry } from './fixtures-registry/harness.js';
import { runCli } from './helpers/cli.js';
import { requireTool, run, tempDir } from './helpers/tools.js';

function skopeoJson(args: string[]): Record<string, unknown> {
  return JSON.parse(run('skopeo', args).toString('utf8')) as Record<string, unknown>;
}

test('push to an open registry, skopeo reads it back; re-push skips, other repo mounts, pull verifies', async (t) => {
  if (!requireTool(t, 'docker-registry') || !requireTool(t, 'skopeo')) return;
  const dir = tempDir(t);
  const reg = await startRegistry(t, dir, 'open');
  const img = makeTestImage(join(dir, 'img'), [200_000, 50_000]);
  const registries = new Registries({ insecureRegistry: reg.host, credentials: async () => undefined });
  t.after(() => registries.close());

  const h = await readOciLayout(img.dir);
  const first = await pushImage(h, `${reg.host}/winlayer/test:1`, registries);
  assert.equal(first.digest, img.manifest.digest);
  assert.deepEqual(first.blobs, { uploaded: 3, existed: 0, mounted: 0, skippedForeign: 0 });
  assert.deepEqual(
    registryBlobs(reg),
    new Set([img.manifest.digest, img.config.digest, ...img.layers.map((l) => l.digest)]),
  );

  const inspected = skopeoJson([
    'inspect',
    '--override-os',
    'windows',
    ...skopeoTls('plain'),
    `docker://${reg.host}/winlayer/test:1`,
  ]);
  assert.equal(inspected.Digest, img.manifest.digest);
  assert.deepEqual(
    inspected.Layers,
    img.layers.map((l) => l.digest),
  );
  assert.equal(inspected.Os, 'windows');

  // skopeo copies it out to an OCI layout: the same manifest, byte for byte
  const copied = join(dir, 'skopeo-copy');
  run('skopeo', [
    'copy',
    '--override-os',
    'windows',
    ...skopeoTls('src'),
    `docker://${reg.host}/winlayer/test:1`,
    `oci:${copied}:x`,
  ]);
  const idx = JSON.parse(readFileSync(join(copied, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  assert.equal(idx.manifests[0]?.digest, img.manifest.digest);

  const again = await pushImage(h, `${reg.host}/winlayer/test:2`, registries);
  assert.deepEqual(again.blobs, { uploaded: 0, existed: 3, mounted: 0, skippedForeign: 0 });

  const remote = await openRegistryImage(`${reg.host}/winlayer/test:1`, registries);
  const mounted = await pushImage(remote, `${reg.host}/other/repo:1`, registries);
  assert.deepEqual(mounted.blobs, { uploaded: 0, existed: 0, mounted: 3, skippedForeign: 0 });

  const pulled = join(dir, 'pulled');
  const r = await pullImage(`${reg.host}/other/repo:1`, pulled, { registries });
  assert.equal(r.descriptor.digest, img.manifest.digest);
  assert.equal(r.platform, 'windows/amd64:10.0.20348.1');
  for (const l of img.layers) {
    assert.deepEqual(
      readFileSync(join(pulled, 'blobs/sha256', l.digest.slice(7))),
      readFileSync(join(img.dir, 'blobs/sha256', l.digest.slice(7))),
    );
  }
});

test('we pull and verify an image that skopeo pushed', async (t) => {
  if (!requireTool(t, 'docker-registry') || !requireTool(t, 'skopeo')) return;
  const dir = tempDir(t);
  const reg = await startRegistry(t, dir, 'open');
  const img = makeTestImage(join(dir, 'img'), [30_000]);
  run('skopeo', ['copy', ...skopeoTls('dest'), `oci:${img.dir}:test`, `docker://${reg.host}/by/skopeo:v1`]);
  const registries = new Registries({ insecureRegistry: reg.host, credentials: async () => undefined });
  t.after(() => registries.close());
  const pulled = join(dir, 'pulled');
  const r = await pullImage(`${reg.host}/by/skopeo:v1`, pulled, { registries, platform: 'windows/amd64:10.0.20348' });
  const back = await readOciLayout(pulled);
  assert.equal(back.root.descriptor.digest, r.descriptor.digest);
  const inspected = skopeoJson(['inspect', '--override-os', 'windows', `oci:${pulled}`]);
  assert.deepEqual(
    inspected.Layers,
    img.layers.map((l) => l.digest),
  );
});

test('plain HTTP is refused without --insecure for that registry', async (t) => {
  if (!requireTool(t, 'docker-registry')) return;
  const dir = tempDir(t);
  const reg = await startRegistry(t, dir, 'open');
  const registries = new Registries({
    insecureRegistry: 'example.invalid:5000',
    credentials: async () => undefined,
    tuning: { maxAttempts: 1 },
  });
  t.after(() => registries.close());
  await assert.rejects(openRegistryImage(`${reg.host}/x/y:1`, registries), /REGISTRY/);
});

test('a plain-HTTP registry reached without --insecure: the message says so and names --insecure, without retries', async (t) => {
  if (!requireTool(t, 'docker-registry')) return;
  const dir = tempDir(t);
  const reg = await startRegistry(t, dir, 'open');
  const img = makeTestImage(join(dir, 'img'), [1000]);
  const started = Date.now();
  const push = await runCli(['push', img.dir, `${reg.host}/x/y:1`]);
  assert.equal(push.code, 1);
  assert.match(
    push.stderr,
    new RegExp(`the registry at ${reg.host.replace(/\./g, '\\.')} answers in plain HTTP, not HTTPS \\(REGISTRY\\)`),
  );
  assert.match(push.stderr, /hint: pass --insecure to allow plain HTTP to this registry/);
  assert.doesNotMatch(push.stderr, /EPROTO|wrong version number/);
  assert.ok(Date.now() - started < 2500, 'not retried (5 tries back off for 3 s)');
  const pushed = await runCli(['push', img.dir, `${reg.host}/x/y:1`, '--insecure']);
  assert.equal(pushed.code, 0, pushed.stderr);
});

test('a digest reference is named repo@sha256:… in messages (a manifest that does not match its digest)', async (t) => {
  const wrong = Buffer.from('{"schemaVersion":2}');
  const server = http.createServer((req, res) => {
    if (req.url === '/v2/') res.writeHead(200).end('{}');
    else res.writeHead(200, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' }).end(wrong);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const registries = new Registries({ insecureRegistry: host, credentials: async () => undefined });
  t.after(() => registries.close());
  const digest = `sha256:${'a'.repeat(64)}`;
  await assert.rejects(openRegistryImage(`${host}/x/y@${digest}`, registries), (e: Error) => {
    assert.match(e.message, new RegExp(`${host}/x/y@${digest}`));
    assert.doesNotMatch(e.message, /x\/y:sha256/);
    return true;
  });
});

test('pull into an existing OCI layout adds the image under the tag pulled; the images there stay', async (t) => {
  if (!requireTool(t, 'docker-registry')) return;
  const dir = tempDir(t);
  const reg = await startRegistry(t, dir, 'open');
  const a = makeTestImage(join(dir, 'a'), [3000], 'a');
  const b = makeTestImage(join(dir, 'b'), [4000], 'b');
  assert.equal((await runCli(['push', a.dir, `${reg.host}/x/a:1`, '--insecure'])).code, 0);
  const pull = await runCli(['pull', `${reg.host}/x/a:1`, '-o', b.dir, '--insecure']);
  assert.equal(pull.code, 0, pull.stderr);
  const index = JSON.parse(readFileSync(join(b.dir, 'index.json'), 'utf8')) as {
    manifests: { digest: string; annotations?: Record<string, string> }[];
  };
  assert.deepEqual(
    index.manifests.map((m) => [m.digest, m.annotations?.['org.opencontainers.image.ref.name']]),
    [
      [b.manifest.digest, 'b'],
      [a.manifest.digest, '1'],
    ],
  );
  for (const tag of ['b', '1']) {
    const ls = await runCli(['ls', `oci:${b.dir}:${tag}`]);
    assert.equal(ls.code, 0, ls.stderr);
  }
});
