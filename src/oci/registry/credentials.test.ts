import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { removeTree } from '../../atomic.js';
import { dockerConfigPath, dockerCredentials, resolveCredentials } from './credentials.js';
import { Registries } from './remote.js';

function configDir(t: TestContext, registry: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'winlayer-cred-'));
  t.after(() => removeTree(dir));
  mkdirSync(join(dir, '.docker'));
  const auth = Buffer.from('alice:s3cret').toString('base64');
  writeFileSync(join(dir, '.docker', 'config.json'), JSON.stringify({ auths: { [registry]: { auth } } }));
  return dir;
}

test('dockerConfigPath: DOCKER_CONFIG, else HOME, else USERPROFILE, from the environment given', () => {
  assert.equal(dockerConfigPath({ DOCKER_CONFIG: '/cfg', HOME: '/home/a' }), join('/cfg', 'config.json'));
  assert.equal(dockerConfigPath({ DOCKER_CONFIG: '', HOME: '/home/a' }), join('/home/a', '.docker', 'config.json'));
  assert.equal(dockerConfigPath({ USERPROFILE: '/users/b' }), join('/users/b', '.docker', 'config.json'));
});

test('credentials come from the environment passed, not from process.env', async (t) => {
  const home = configDir(t, 'reg.example');
  const saved = process.env.HOME;
  process.env.HOME = '/nonexistent-home';
  t.after(() => {
    process.env.HOME = saved;
  });
  assert.deepEqual(await resolveCredentials('reg.example', { HOME: home }), { username: 'alice', password: 's3cret' });
  assert.deepEqual(await dockerCredentials({ HOME: home })('reg.example'), { username: 'alice', password: 's3cret' });
  assert.equal(await resolveCredentials('reg.example', { HOME: '/nonexistent-home' }), undefined);
});

test('Registries without `credentials` is anonymous, even when process.env points at a Docker config', async (t) => {
  const seen: (string | undefined)[] = [];
  const server = http.createServer((req, res) => {
    req.resume();
    seen.push(req.headers.authorization);
    res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="r"' }).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const saved = process.env.DOCKER_CONFIG;
  process.env.DOCKER_CONFIG = join(configDir(t, host), '.docker');
  t.after(() => {
    if (saved === undefined) delete process.env.DOCKER_CONFIG;
    else process.env.DOCKER_CONFIG = saved;
  });
  const registries = new Registries({ insecureRegistry: host, tuning: { maxAttempts: 1 } });
  t.after(() => registries.close());
  await assert.rejects(registries.client(host).getManifest('a/b', 'v1'), /REGISTRY_AUTH/);
  assert.ok(seen.length >= 2, `requests: ${seen.length}`);
  assert.deepEqual(
    seen.filter((a) => a !== undefined),
    [],
    'no credentials sent',
  );
});
