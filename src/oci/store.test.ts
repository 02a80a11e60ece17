import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isWinlayerError } from '../errors.js';
import { sha256Digest } from './digest.js';
import { DirBlobStore, RoutedBlobStore, readSmallBlob } from './store.js';

test('blob stores verify what they serve, empty blobs included', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winlayer-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'sha256'));
  const empty = sha256Digest(new Uint8Array(0));
  const text = Buffer.from('{"a":1}');
  writeFileSync(join(dir, 'sha256', empty.slice(7)), '');
  writeFileSync(join(dir, 'sha256', sha256Digest(text).slice(7)), 'tampered');
  const store = new DirBlobStore(dir);
  assert.equal((await readSmallBlob(store, { digest: empty, size: 0 })).length, 0);
  await assert.rejects(readSmallBlob(store, { digest: sha256Digest(text), size: text.length }), (e: unknown) =>
    isWinlayerError(e, 'OCI_DIGEST'),
  );
  await assert.rejects(readSmallBlob(store, { digest: sha256Digest('x'), size: 1 }), (e: unknown) =>
    isWinlayerError(e, 'NOT_FOUND'),
  );
  const routed = new RoutedBlobStore().addBytes(sha256Digest(text), text).route(empty, store);
  assert.deepEqual(await readSmallBlob(routed, { digest: sha256Digest(text), size: text.length }), text);
  assert.equal((await readSmallBlob(routed, { digest: empty, size: 0 })).length, 0);
});
