import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isWinlayerError } from '../errors.js';
import { formatReference, formatTarget, parseReference, parseRegistryName } from './reference.js';
import { parseDestination } from './source.js';

const D = `sha256:${'a'.repeat(64)}`;

test('parses and normalises references as Docker does', () => {
  assert.deepEqual(parseReference('nginx'), { registry: 'docker.io', repository: 'library/nginx', tag: 'latest' });
  assert.deepEqual(parseReference('mcr.microsoft.com/windows/servercore:ltsc2022'), {
    registry: 'mcr.microsoft.com',
    repository: 'windows/servercore',
    tag: 'ltsc2022',
  });
  assert.deepEqual(parseReference(`localhost:5000/a/b@${D}`), {
    registry: 'localhost:5000',
    repository: 'a/b',
    digest: D,
  });
  assert.deepEqual(parseReference(`127.0.0.1:5000/app:1.0@${D}`), {
    registry: '127.0.0.1:5000',
    repository: 'app',
    tag: '1.0',
    digest: D,
  });
  assert.deepEqual(parseReference('team/app'), { registry: 'docker.io', repository: 'team/app', tag: 'latest' });
  assert.equal(formatReference(parseReference('localhost:5000/x:y')), 'localhost:5000/x:y');
  assert.equal(formatReference(parseReference(`localhost:5000/x@${D}`)), `localhost:5000/x@${D}`);
  assert.equal(formatTarget('localhost:5000', 'x', D), `localhost:5000/x@${D}`);
  assert.equal(formatTarget('localhost:5000', 'x', 'v1'), 'localhost:5000/x:v1');
});

test('refuses malformed references with OCI_REF', () => {
  for (const bad of ['', 'UPPER/case', 'a//b', 'a:b:c', `x@sha256:${'z'.repeat(64)}`, 'app:-tag']) {
    assert.throws(
      () => parseReference(bad),
      (e: unknown) => isWinlayerError(e, 'OCI_REF'),
      bad,
    );
  }
});

test('registry names for login', () => {
  assert.equal(parseRegistryName('https://ghcr.io/'), 'ghcr.io');
  assert.equal(parseRegistryName('index.docker.io'), 'docker.io');
  assert.equal(parseRegistryName('127.0.0.1:5000'), '127.0.0.1:5000');
});

test('destinations: prefixes, bare .tar is a docker archive, other bare paths are layouts', () => {
  assert.deepEqual(parseDestination('oci:out:v1'), { kind: 'oci-layout', path: 'out', tag: 'v1' });
  assert.deepEqual(parseDestination('oci:/a/b'), { kind: 'oci-layout', path: '/a/b' });
  assert.deepEqual(parseDestination('docker-archive:x.tar:app:1'), {
    kind: 'docker-archive',
    path: 'x.tar',
    tag: 'app:1',
  });
  assert.deepEqual(parseDestination('img.tar'), { kind: 'docker-archive', path: 'img.tar' });
  assert.deepEqual(parseDestination('img'), { kind: 'oci-layout', path: 'img' });
  assert.equal(parseDestination('docker://localhost:5000/a:1').kind, 'registry');
});
