/**
 * Registry auth against real components: docker-registry 2.8 with htpasswd (bcrypt) Basic auth over TLS from a test
 * CA (passed with caFiles / --ca-file), and with token auth against the test token server. Credentials come from a
 * Docker config written by `winlayer login`. Configs: test/fixtures-registry/{basic-tls,token}.yml.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { isWinlayerError } from '../src/errors.js';
import { pullImage } from '../src/oci/copy.js';
import { readOciLayout } from '../src/oci/layout.js';
import { dockerCredentials, resolveCredentials, saveCredentials } from '../src/oci/registry/credentials.js';
import { openRegistryImage, pushImage, Registries } from '../src/oci/registry/remote.js';
import {
  makeCa,
  makeHtpasswd,
  makeTestImage,
  runAsync,
  startRegistry,
  startTokenServer,
} from './fixtures-registry/harness.js';
import { runCli } from './helpers/cli.js';
import { requireTool, run, tempDir } from './helpers/tools.js';

test('Basic auth over TLS with a test CA: login writes the Docker config, push and pull use it, skopeo agrees', async (t) => {
  if (!requireTool(t, 'docker-registry') || !requireTool(t, 'openssl') || !requireTool(t, 'htpasswd')) return;
  if (!requireTool(t, 'skopeo')) return;
  const dir = tempDir(t);
  const ca = makeCa(dir);
  const reg = await startRegistry(t, dir, 'basic-tls', {
    CERT: ca.serverCert,
    KEY: ca.serverKey,
    HTPASSWD: makeHtpasswd(dir, 'alice', 's3cret'),
  });
  const env = { ...process.env, DOCKER_CONFIG: join(dir, 'docker') };
  const img = makeTestImage(join(dir, 'img'), [40_000]);

  // without credentials: refused with a hint to log in
  const anon = new Registries({ caFiles: [ca.caCert], credentials: async () => undefined, tuning: { maxAttempts: 1 } });
  t.after(() => anon.close());
  await assert.rejects(pushImage(await readOciLayout(img.dir), `${reg.host}/app:1`, anon), (e: unknown) => {
    assert.ok(isWinlayerError(e, 'REGISTRY_AUTH'), String(e));
    assert.match((e as Error).message, /winlayer login/);
    return true;
  });
  // without the CA: the TLS handshake fails
  const noCa = new Registries({
    credentials: async () => ({ username: 'alice', password: 's3cret' }),
    tuning: { maxAttempts: 1 },
  });
  t.after(() => noCa.close());
  await assert.rejects(openRegistryImage(`${reg.host}/app:1`, noCa), /REGISTRY/);

  // wrong password: login fails and stores nothing
  const bad = await runCli(['login', reg.host, '-u', 'alice', '--password-stdin', '--ca-file', ca.caCert], {
    stdin: 'nope\n',
    env,
  });
  assert.equal(bad.code, 1, bad.stderr);
  assert.equal(await resolveCredentials(reg.host, env), undefined);

  const login = await runCli(['login', reg.host, '-u', 'alice', '--password-stdin', '--ca-file', ca.caCert], {
    stdin: 's3cret\n',
    env,
  });
  assert.equal(login.code, 0, login.stderr);
  assert.deepEqual(await resolveCredentials(reg.host, env), { username: 'alice', password: 's3cret' });
  const cfg = JSON.parse(readFileSync(join(dir, 'docker/config.json'), 'utf8')) as {
    auths: Record<string, { auth: string }>;
  };
  assert.equal(Buffer.from(cfg.auths[reg.host]!.auth, 'base64').toString(), 'alice:s3cret');

  const push = await runCli(['push', img.dir, `${reg.host}/app:1`, '--ca-file', ca.caCert], { env });
  assert.equal(push.code, 0, push.stderr);
  assert.match(push.stdout, new RegExp(img.manifest.digest));

  const inspected = JSON.parse(
    run('skopeo', [
      'inspect',
      '--override-os',
      'windows',
      `--cert-dir=${ca.certDir}`,
      '--creds',
      'alice:s3cret',
      `docker://${reg.host}/app:1`,
    ]).toString(),
  ) as { Digest: string };
  assert.equal(inspected.Digest, img.manifest.digest);

  const registries = new Registries({ caFiles: [ca.caCert], credentials: dockerCredentials(env) });
  t.after(() => registries.close());
  const r = await pullImage(`${reg.host}/app:1`, join(dir, 'pulled'), { registries });
  assert.equal(r.descriptor.digest, img.manifest.digest);
});

test('token auth: the Bearer flow from WWW-Authenticate against a token server, push, mount and pull', async (t) => {
  if (!requireTool(t, 'docker-registry') || !requireTool(t, 'openssl') || !requireTool(t, 'skopeo')) return;
  const dir = tempDir(t);
  const ca = makeCa(dir);
  const tokens = await startTokenServer(t, dir, ca, 'bob', 'pw-bob');
  const reg = await startRegistry(t, dir, 'token', {
    CERT: ca.serverCert,
    KEY: ca.serverKey,
    REALM: tokens.realm,
    TOKENCERT: tokens.signingCert,
  });
  const img = makeTestImage(join(dir, 'img'), [25_000, 10_000]);
  const registries = new Registries({
    caFiles: [ca.caCert],
    credentials: async () => ({ username: 'bob', password: 'pw-bob' }),
  });
  t.after(() => registries.close());
  const first = await pushImage(await readOciLayout(img.dir), `${reg.host}/team/app:1`, registries);
  assert.equal(first.digest, img.manifest.digest);
  assert.ok(tokens.requests.some((r) => r.user === 'bob' && r.scopes.includes('repository:team/app:pull,push')));

  const remote = await openRegistryImage(`${reg.host}/team/app:1`, registries);
  const mounted = await pushImage(remote, `${reg.host}/team/copy:1`, registries);
  assert.equal(mounted.blobs.mounted, 3);
  assert.ok(
    tokens.requests.some(
      (r) => r.scopes.includes('repository:team/app:pull') && r.scopes.includes('repository:team/copy:pull,push'),
    ),
  );

  const r = await pullImage(`${reg.host}/team/copy:1`, join(dir, 'pulled'), { registries });
  assert.equal(r.descriptor.digest, img.manifest.digest);

  const inspected = JSON.parse(
    await runAsync('skopeo', [
      'inspect',
      '--override-os',
      'windows',
      `--cert-dir=${ca.certDir}`,
      '--creds',
      'bob:pw-bob',
      `docker://${reg.host}/team/copy:1`,
    ]),
  ) as { Digest: string };
  assert.equal(inspected.Digest, img.manifest.digest);

  const wrong = new Registries({
    caFiles: [ca.caCert],
    credentials: async () => ({ username: 'bob', password: 'bad' }),
    tuning: { maxAttempts: 1 },
  });
  t.after(() => wrong.close());
  await assert.rejects(openRegistryImage(`${reg.host}/team/app:1`, wrong), (e: unknown) =>
    isWinlayerError(e, 'REGISTRY_AUTH'),
  );
});

test('saveCredentials keeps other settings of the Docker config', async (t) => {
  const dir = tempDir(t);
  const env = { DOCKER_CONFIG: dir };
  const { writeFileSync } = await import('node:fs');
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({ auths: { 'other.example': { auth: 'eDp5' } }, psFormat: 'x' }),
  );
  await saveCredentials('reg.example:5000', { username: 'u', password: 'p:w' }, env);
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(cfg.psFormat, 'x');
  assert.deepEqual(await resolveCredentials('other.example', env), { username: 'x', password: 'y' });
  assert.deepEqual(await resolveCredentials('reg.example:5000', env), { username: 'u', password: 'p:w' });
  assert.equal(await resolveCredentials('unknown.example', env), undefined);
});

test('credential helpers: credHelpers and credsStore are asked through docker-credential-<name>', async (t) => {
  const dir = tempDir(t);
  const { writeFileSync, chmodSync } = await import('node:fs');
  const helper = join(dir, 'docker-credential-wltest');
  writeFileSync(
    helper,
    [
      '#!/bin/sh',
      'read server',
      'if [ "$1" = get ] && [ "$server" = "reg.example:5000" ]; then echo \'{"ServerURL":"reg.example:5000","Username":"hu","Secret":"hs"}\'; exit 0; fi',
      'if [ "$1" = get ] && [ "$server" = "tok.example" ]; then echo \'{"Username":"<token>","Secret":"refresh-me"}\'; exit 0; fi',
      'echo "credentials not found in native keychain"; exit 1',
    ].join('\n'),
  );
  chmodSync(helper, 0o755);
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({ credHelpers: { 'reg.example:5000': 'wltest' }, credsStore: 'wltest' }),
  );
  const env = { DOCKER_CONFIG: dir, PATH: `${dir}:${process.env.PATH ?? ''}` };
  assert.deepEqual(await resolveCredentials('reg.example:5000', env), { username: 'hu', password: 'hs' });
  assert.deepEqual(await resolveCredentials('tok.example', env), { identityToken: 'refresh-me' });
  assert.equal(await resolveCredentials('other.example', env), undefined);
});

test('a token server answering JSON that is not an object is REGISTRY_AUTH, not a crash', async (t) => {
  const server = http.createServer((req, res) => {
    const host = req.headers.host ?? '';
    if (req.url?.startsWith('/token')) res.writeHead(200, { 'Content-Type': 'application/json' }).end('null');
    else res.writeHead(401, { 'WWW-Authenticate': `Bearer realm="http://${host}/token",service="x"` }).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const registries = new Registries({ insecureRegistry: host, credentials: async () => undefined });
  t.after(() => registries.close());
  await assert.rejects(
    openRegistryImage(`${host}/x/y:1`, registries),
    (e: unknown) => isWinlayerError(e, 'REGISTRY_AUTH') && /is not a JSON object/.test(e.message),
  );
});
