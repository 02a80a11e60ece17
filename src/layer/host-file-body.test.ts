import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../test/helpers/tools.js';
import { isWinlayerError } from '../errors.js';
import { exportLayer } from './export.js';
import { HostFileBody } from './host-file-body.js';

const collect = async (body: AsyncIterable<Uint8Array>): Promise<Buffer> => {
  const parts: Buffer[] = [];
  for await (const c of body) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
};

test('HostFileBody: exactly the size the walk saw, by read or iteration; then 0; stale once closed', async (t) => {
  const file = join(tempDir(t), 'f');
  writeFileSync(file, '0123456789');
  const sync = new HostFileBody(file, 'Files/f', 10);
  const buf = Buffer.alloc(64);
  assert.equal(sync.read(buf, 0, buf.length), 10);
  assert.equal(buf.toString('utf8', 0, 10), '0123456789');
  assert.equal(sync.read(buf, 0, buf.length), 0, 'the end stays the end');
  sync.close();
  assert.throws(
    () => sync.read(buf, 0, buf.length),
    (e: unknown) => isWinlayerError(e, 'BODY_STALE'),
  );

  const small = new HostFileBody(file, 'Files/f', 10);
  const parts: string[] = [];
  const four = Buffer.alloc(4);
  for (let n = small.read(four, 0, four.length); n > 0; n = small.read(four, 0, four.length))
    parts.push(four.toString('utf8', 0, n));
  assert.deepEqual(parts, ['0123', '4567', '89']);
  const at = Buffer.alloc(8, 0x2e);
  assert.equal(new HostFileBody(file, 'Files/f', 10).read(at, 3, 4), 4);
  assert.equal(at.toString('latin1'), '...0123.', 'only [offset, offset + length) is written');

  assert.equal((await collect(new HostFileBody(file, 'Files/f', 10))).toString(), '0123456789');
  const empty = join(tempDir(t), 'e');
  writeFileSync(empty, '');
  assert.equal(new HostFileBody(empty, 'Files/e', 0).read(buf, 0, buf.length), 0);
});

test('HostFileBody: a file that grew or shrank since the walk listed it fails the read, naming the file once', async (t) => {
  const file = join(tempDir(t), 'f');
  writeFileSync(file, '0123456789');
  const changed = (what: RegExp) => (e: unknown) =>
    isWinlayerError(e, 'IO') && e.path === file && e.entry === undefined && what.test(e.message);
  assert.throws(
    () => new HostFileBody(file, 'Files/f', 6).read(Buffer.alloc(64), 0, 64),
    changed(/grew past the 6 bytes/),
  );
  // A buffer that ends exactly at the size: the growth shows on the next read.
  const exact = new HostFileBody(file, 'Files/f', 6);
  assert.equal(exact.read(Buffer.alloc(6), 0, 6), 6);
  assert.throws(() => exact.read(Buffer.alloc(1), 0, 1), changed(/grew/));
  assert.throws(
    () => new HostFileBody(file, 'Files/f', 0).read(Buffer.alloc(1), 0, 1),
    changed(/grew past the 0 bytes/),
  );
  // A short read is not taken for the end (some filesystems return them): the shrink shows when a read gives 0.
  const shrunk = new HostFileBody(file, 'Files/f', 12);
  assert.equal(shrunk.read(Buffer.alloc(64), 0, 64), 10);
  assert.throws(() => shrunk.read(Buffer.alloc(64), 0, 64), changed(/shrank to 10 of 12/));
  await assert.rejects(collect(new HostFileBody(file, 'Files/f', 3)), changed(/grew/));
  // The data of a stream lies elsewhere (the sidecar): then the entry is named too.
  assert.throws(
    () => new HostFileBody(file, 'Files/a:zone', 6, { entryIsHost: false }).read(Buffer.alloc(64), 0, 64),
    (e: unknown) => isWinlayerError(e, 'IO') && e.path === file && e.entry === 'Files/a:zone',
  );
});

test('export: a file that grows while the layer is exported fails the export and leaves no output', async (t) => {
  const layer = tempDir(t);
  mkdirSync(join(layer, 'Files/dir'), { recursive: true });
  writeFileSync(join(layer, 'Files/dir/grows.log'), 'first line\n');
  writeFileSync(join(layer, 'Files/dir/z.txt'), 'z');
  const outDir = tempDir(t);
  const output = join(outDir, 'layer.tar');
  await assert.rejects(
    exportLayer(layer, {
      output,
      kind: 'non-base', // no registry hives, which a base layer needs
      // Called as each entry is handed to the writer, after the walk's lstat and before its body is read.
      onProgress: (p) => {
        if (p.path === 'Files/dir/grows.log') appendFileSync(join(layer, p.path), 'second line\n');
      },
    }),
    (e: unknown) =>
      isWinlayerError(e, 'IO') &&
      e.path === join(layer, 'Files/dir/grows.log') &&
      e.message.split('Files/dir/grows.log').length === 2 && // the file named once
      /grew/.test(e.message),
  );
  assert.equal(existsSync(output), false);
  assert.deepEqual(readdirSync(outDir), [], 'no temporary left behind');
});
