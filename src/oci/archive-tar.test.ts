import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { END_OF_ARCHIVE, indexTar, padding, ustarHeader } from './archive-tar.js';

test('the archive member writer and index round-trip, and GNU tar reads what we write', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winlayer-archive-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const a = Buffer.from('{"x":1}');
  const b = Buffer.alloc(1000, 9);
  const bytes = Buffer.concat([
    ustarHeader('blobs/', 0, 'dir', 0),
    ustarHeader('blobs/sha256/a', a.length, 'file', 5),
    a,
    padding(a.length),
    ustarHeader('manifest.json', b.length, 'file', 5),
    b,
    padding(b.length),
    END_OF_ARCHIVE,
  ]);
  const path = join(dir, 'a.tar');
  writeFileSync(path, bytes);
  assert.deepEqual(indexTar(path), [
    { name: 'blobs/', type: '5', offset: 512, size: 0 },
    { name: 'blobs/sha256/a', type: '0', offset: 1024, size: 7 },
    { name: 'manifest.json', type: '0', offset: 2048, size: 1000 },
  ]);
  assert.equal(execFileSync('tar', ['-tf', path]).toString(), 'blobs/\nblobs/sha256/a\nmanifest.json\n');
  // stop early
  assert.equal(indexTar(path, (m) => m.name === 'blobs/sha256/a').length, 2);
});
