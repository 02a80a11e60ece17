import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isWinlayerError } from '../errors.js';
import { formatPlatform, parsePlatform, platformMatches, selectManifest } from './platform.js';
import type { Descriptor } from './spec.js';

test('parses and formats platforms', () => {
  assert.deepEqual(parsePlatform('windows/amd64:10.0.20348.2113'), {
    architecture: 'amd64',
    os: 'windows',
    'os.version': '10.0.20348.2113',
  });
  assert.deepEqual(parsePlatform('linux/arm64/v8'), { architecture: 'arm64', os: 'linux', variant: 'v8' });
  assert.equal(formatPlatform(parsePlatform('windows/amd64:10.0.17763')), 'windows/amd64:10.0.17763');
  assert.throws(
    () => parsePlatform('windows'),
    (e: unknown) => isWinlayerError(e, 'USAGE'),
  );
  assert.throws(
    () => parsePlatform('windows/amd64:ltsc'),
    (e: unknown) => isWinlayerError(e, 'USAGE'),
  );
});

test('os.version matches by prefix on dot boundaries', () => {
  const have = { os: 'windows', architecture: 'amd64', 'os.version': '10.0.20348.2113' };
  assert.equal(platformMatches(parsePlatform('windows/amd64:10.0.20348'), have), true);
  assert.equal(platformMatches(parsePlatform('windows/amd64:10.0.2034'), have), false);
  assert.equal(platformMatches(parsePlatform('windows/amd64'), have), true);
  assert.equal(platformMatches(parsePlatform('windows/arm64'), have), false);
});

test('selects the newest matching manifest; names what exists when nothing matches', () => {
  const d = (v: string): Descriptor => ({
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: `sha256:${v.replaceAll('.', '').padStart(64, '0')}`,
    size: 1,
    platform: { os: 'windows', architecture: 'amd64', 'os.version': v },
  });
  const ms = [d('10.0.20348.100'), d('10.0.20348.2113'), d('10.0.17763.1')];
  assert.equal(
    selectManifest(ms, parsePlatform('windows/amd64:10.0.20348'), 'x').platform?.['os.version'],
    '10.0.20348.2113',
  );
  assert.throws(
    () => selectManifest(ms, parsePlatform('windows/amd64:10.0.26100'), 'x'),
    (e: unknown) => isWinlayerError(e, 'OCI_PLATFORM') && /10\.0\.17763\.1/.test((e as Error).message),
  );
});
