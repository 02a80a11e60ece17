/**
 * The writer thread on a real tar file: the tar is read into shared buffers and file data is written from them by
 * offset (no copy), each buffer reused only once the writes naming it are done. The tar here is several times the
 * shared ring, with files that fit one read, files that straddle two reads, and files of many reads, so every path
 * (whole file by reference, open/write/close by reference, buffer reuse while writes are queued) runs; the folder, the
 * sidecar and the re-exported tar must equal what the synchronous path gives.
 */
import assert from 'node:assert/strict';
import { linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { exportLayer } from '../src/layer/export.js';
import { importLayer } from '../src/layer/import.js';
import { tempDir } from './helpers/tools.js';

/** Deterministic bytes: each file's content depends on its index, so a byte written from the wrong buffer shows. */
function content(i: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = (i + 1) * 2654435761;
  for (let k = 0; k < size; k += 4) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    b.writeUInt32LE(x, k - (k + 4 > size ? k + 4 - size : 0));
  }
  return b;
}

/** Every file and folder of the layer (not `.winlayer/`, compared by content) with size, mtime and bytes, sorted. */
function snapshot(root: string): string[] {
  const rows: string[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      if (rel === '' && name === '.winlayer') continue;
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = lstatSync(join(root, r), { bigint: true });
      if (st.isDirectory()) {
        rows.push(`${r}/ ${st.mtimeNs}`);
        walk(r);
      } else {
        const data = readFileSync(join(root, r));
        rows.push(`${r} ${st.size} ${st.mtimeNs} ${st.nlink} ${data.subarray(0, 16).toString('hex')}`);
        rows.push(`${r} sum ${data.reduce((a, v, k) => (a + v * (k + 1)) % 4294967291, 0)}`);
      }
    }
  };
  walk('');
  return rows;
}

test('writer threads: an import of a tar larger than the shared input (plain and gzip): the same folder, sidecar and tar as the synchronous path', async (t) => {
  const root = tempDir(t, 'winlayer-bg-');
  const src = join(root, 'src');
  // ~40 MB: small files, files around the 1 MiB read size, and a few of several MiB.
  const sizes: number[] = [];
  for (let i = 0; i < 400; i++) sizes.push((i * 7919) % 20_000);
  for (let i = 0; i < 12; i++) sizes.push((1 << 20) - 700 + i * 137);
  for (let i = 0; i < 6; i++) sizes.push(3_000_000 + i * 555_555);
  let n = 0;
  for (const [i, size] of sizes.entries()) {
    const dir = join(src, 'Files', `d${i % 9}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `f${i}.bin`), content(i, size));
    n += size;
  }
  // Hard links into other folders: with several writer threads the target may have been written by another one.
  for (let i = 0; i < sizes.length; i += 23) {
    const dir = join(src, 'Files', `links${i % 4}`);
    mkdirSync(dir, { recursive: true });
    linkSync(join(src, 'Files', `d${i % 9}`, `f${i}.bin`), join(dir, `l${i}.bin`));
  }
  assert.ok(n > 30e6, `the tar must exceed the shared ring several times (${n} bytes)`);
  const tar = join(root, 'layer.tar');
  // No registry hives: exported as a layer with parents (a base layer without them is refused); the same bytes.
  await exportLayer(src, { output: tar, kind: 'non-base' });

  const plain = await importLayer(tar, join(root, 'sync'), { sync: false, writerThreads: 0 });
  assert.ok(plain.hardlinks > 10, `the tar must hold hard links (${plain.hardlinks})`);
  // One writer thread queues folders too; with more, folders are made on the calling thread and links wait for the
  // other threads.
  for (const threads of [1, 2, 3]) {
    const out = join(root, `bg${threads}`);
    const bg = await importLayer(tar, out, { sync: false, writerThreads: threads });
    assert.deepEqual({ ...bg, layerDir: '' }, { ...plain, layerDir: '' }, `${threads} writer threads`);
    assert.equal(bg.files, sizes.length);
    assert.deepEqual(snapshot(out), snapshot(join(root, 'sync')), `${threads} writer threads`);
    for (const f of ['entries.ndjson', 'sds.ndjson', 'manifest.json']) {
      assert.equal(
        readFileSync(join(out, '.winlayer', f), 'utf8'),
        readFileSync(join(root, 'sync', '.winlayer', f), 'utf8'),
      );
    }
    const again = join(root, `again${threads}.tar`);
    await exportLayer(out, { output: again, kind: 'non-base' });
    assert.ok(
      readFileSync(again).equals(readFileSync(tar)),
      `the re-export of ${threads} writer threads' import differs`,
    );
  }

  // A compressed tar is not read into the shared ring: its bodies are copied into the writer's batches instead.
  const gz = join(root, 'layer.tar.gz');
  await exportLayer(src, { output: gz, compression: 'gzip', kind: 'non-base' });
  const bgz = await importLayer(gz, join(root, 'bg-gzip'), { sync: false, writerThreads: 2 });
  assert.deepEqual({ ...bgz, layerDir: '' }, { ...plain, layerDir: '' });
  assert.deepEqual(snapshot(join(root, 'bg-gzip')), snapshot(join(root, 'sync')));
});

test('writer threads: a count out of range is refused with USAGE, and nothing is left behind', async (t) => {
  const root = tempDir(t, 'winlayer-bg-threads-');
  const src = join(root, 'src');
  mkdirSync(join(src, 'Files'), { recursive: true });
  writeFileSync(join(src, 'Files', 'a.txt'), 'a');
  const tar = join(root, 'layer.tar');
  await exportLayer(src, { output: tar, kind: 'non-base' });
  for (const writerThreads of [-1, 1.5, 9]) {
    const out = join(root, `out-${writerThreads}`);
    await assert.rejects(importLayer(tar, out, { sync: false, writerThreads }), (e: Error) => {
      assert.equal((e as { code?: string }).code, 'USAGE');
      assert.match(e.message, /writer threads must be a whole number from 0 to 8/);
      return true;
    });
    assert.deepEqual(
      readdirSync(root).filter((n) => n.startsWith('.out') || n.startsWith('out')),
      [],
      'no target and no temporary folder',
    );
  }
});
