import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isWinlayerError } from '../errors.js';
import { encodePax } from '../internal/tar.js';
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

test('member headers keep their bytes: UTF-8 names, no device numbers, base-256 sizes over 8 GiB', () => {
  const cases: [string, number, 'file' | 'dir', number][] = [
    ['blobs/', 0, 'dir', 0],
    [`blobs/sha256/${'a'.repeat(64)}`, 123456, 'file', 1700000000],
    ['manifest.json', 1000, 'file', 5],
    ['日本語/é.json', 9 * 1024 ** 3, 'file', 1],
    ['x', 0o77777777777, 'file', 0o77777777777],
  ];
  const h = createHash('sha256');
  for (const c of cases) h.update(ustarHeader(...c));
  // The digest of what docker archives have always held (the writer before it used the tar header codec).
  assert.equal(h.digest('hex'), '4d55a01b3eb49950ed2071a98fa5cf1e281677fff02f4f3bdb0eda77d79636ac');
});

test('the index reads PAX path and size records, and names the file in a header error', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winlayer-archive-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const long = `blobs/${'n'.repeat(120)}`;
  const pax = Buffer.from(encodePax([{ key: 'path', value: long }]));
  const body = [pax, padding(pax.length), ustarHeader('short-name', 3, 'file', 0), Buffer.from('abc'), padding(3)];
  const path = join(dir, 'a.tar');
  writeFileSync(path, Buffer.concat([ustarHeaderWithType('PaxHeaders.0/x', pax.length, 'x'), ...body, END_OF_ARCHIVE]));
  assert.deepEqual(indexTar(path), [
    { name: long, type: '0', offset: 1024 + pax.length + padding(pax.length).length, size: 3 },
  ]);
  // A header whose bytes changed after its checksum was written.
  const broken = ustarHeader('PaxHeaders.0/x', pax.length, 'file', 0).fill(0x78, 156, 157);
  writeFileSync(path, Buffer.concat([broken, ...body, END_OF_ARCHIVE]));
  assert.throws(
    () => indexTar(path),
    (e: unknown) => isWinlayerError(e, 'TAR_CHECKSUM') && e.path === path && e.offset === 0,
  );
});

/** {@link ustarHeader} with another typeflag (and its checksum recomputed by re-encoding). */
function ustarHeaderWithType(name: string, size: number, typeflag: string): Buffer {
  const h = ustarHeader(name, size, 'file', 0);
  h.write(typeflag, 156, 1, 'ascii');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return h;
}
