import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs, {
  type BigIntStats,
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import type { Worker } from 'node:worker_threads';
import { tempDir } from '../../test/helpers/tools.js';
import { bufferBody, type LayerEntry } from '../entry.js';
import { writeLayerDir } from './dir-writer.js';
import { readSidecar } from './sidecar.js';
import { utimeSeconds } from './times.js';

const T = 1_677_606_423_123_456_789n;
const dir = (path: string, t = T): LayerEntry => ({ kind: 'directory', path, win: { lastWriteTime: t } });
const file = (path: string, data: string, t = T): LayerEntry => ({
  kind: 'file',
  path,
  size: Buffer.byteLength(data),
  body: bufferBody(Buffer.from(data)),
  win: { lastWriteTime: t, lastAccessTime: t + 5_000_000_000n, attributes: 0x21 },
});
async function* from(entries: LayerEntry[]): AsyncIterable<LayerEntry> {
  yield* entries;
}

test('utimeSeconds: the disk shows exactly the microsecond asked for (float error never drops one)', (t) => {
  const root = tempDir(t);
  const p = join(root, 'f');
  writeFileSync(p, '');
  const samples = [0n, 1n, 999n, 1000n, -1n, -1000n, -1_500_000_001n, T, 4_102_444_800_999_999_999n];
  for (let i = 0; i < 300; i++)
    samples.push(BigInt(Math.floor(Math.random() * 4e9)) * 1_000_000_000n + BigInt(i * 3_331_333));
  for (const ns of samples) {
    utimesSync(p, utimeSeconds(ns), utimeSeconds(ns));
    const us = ns >= 0n ? ns / 1000n : -((-ns + 999n) / 1000n);
    assert.equal(statSync(p, { bigint: true }).mtimeNs, us * 1000n, `ns ${ns}`);
  }
});

test('utimeSeconds: its fast path gives the very number the exact bigint formula gives', () => {
  const reference = (ns: bigint): number => {
    const us = ns / 1000n;
    const sec = us / 1_000_000n;
    return Number(sec) + (Number(us - sec * 1_000_000n) + 0.5) / 1e6;
  };
  const limit = BigInt(Number.MAX_SAFE_INTEGER) * 1000n;
  const samples = [0n, 999n, 1000n, 999_999_999n, 1_000_000_000n, T, limit - 1n, limit];
  for (let i = 0; i < 20_000; i++) {
    const sec = BigInt(Math.floor(Math.random() * 9e9));
    samples.push(sec * 1_000_000_000n + BigInt(Math.floor(Math.random() * 1e9)), sec * 1_000_000_000n - 1n);
  }
  for (const ns of samples) if (ns >= 0n) assert.equal(utimeSeconds(ns), reference(ns), `ns ${ns}`);
  assert.equal(typeof utimeSeconds(limit + 1_000_000n), 'number', 'beyond the fast path: the bigint path');
});

test('folder times survive (set last, children first); modes 0644/0755 under any umask', async (t) => {
  const root = tempDir(t);
  const target = join(root, 'layer');
  const old = process.umask(0o077);
  let r: Awaited<ReturnType<typeof writeLayerDir>>;
  try {
    r = await writeLayerDir(
      from([
        dir('Files', T),
        dir('Files/a', T + 1_000_000n),
        file('Files/a/x', 'hello', T + 2_000_000n),
        dir('Files/b', 0n),
      ]),
      target,
      { sync: false },
    );
  } finally {
    process.umask(old);
  }
  assert.equal(r.kind, 'base');
  assert.equal(r.files, 1);
  assert.equal(r.directories, 3);
  const st = (p: string) => lstatSync(join(target, p), { bigint: true });
  assert.equal(st('Files').mtimeNs, (T / 1000n) * 1000n);
  assert.equal(st('Files/a').mtimeNs, ((T + 1_000_000n) / 1000n) * 1000n);
  assert.equal(st('Files/b').mtimeNs, 0n);
  assert.equal(st('Files/a/x').atimeNs, ((T + 5_002_000_000n) / 1000n) * 1000n);
  assert.equal(Number(st('Files').mode & 0o777n), 0o755);
  assert.equal(Number(st('Files/a/x').mode & 0o777n), 0o644);
  const sidecar = readSidecar(target)!;
  assert.equal(sidecar.manifest.kind, 'base');
  const rec = sidecar.get('Files/a/x')!;
  assert.deepEqual(
    { attributes: rec.attributes, lastWriteTime: rec.lastWriteTime, diskMtime: rec.diskMtime, size: rec.size },
    { attributes: 0x21, lastWriteTime: T + 2_000_000n, diskMtime: ((T + 2_000_000n) / 1000n) * 1000n, size: 5 },
  );
  assert.equal(sidecar.get('Files/a')!.diskMtime, st('Files/a').mtimeNs);
});

test('spill files never stay in the layer; folders on a disk rounding times get the mtime read back', async (t) => {
  const root = tempDir(t);
  const target = join(root, 'layer');
  const realFstat = fs.fstatSync;
  // A disk that keeps whole seconds, as far as the writer can tell: its time probe and the fstat of each file.
  t.mock.method(fs, 'fstatSync', (fd: number, opts?: { bigint?: boolean }) => {
    const st = realFstat(fd, opts as { bigint: true });
    if (opts?.bigint === true) st.mtimeNs = (st.mtimeNs / 1_000_000_000n) * 1_000_000_000n;
    return st;
  });
  syncBuiltinESMExports();
  try {
    await writeLayerDir(
      from([dir('Files', T), dir('Files/a', T + 1_000_000n), file('Files/a/x', 'hi', T + 2_000_000n), dir('Files/b')]),
      target,
      { sync: false },
    );
  } finally {
    t.mock.restoreAll();
    syncBuiltinESMExports();
  }
  assert.deepEqual(readdirSync(target).sort(), ['.winlayer', 'Files']);
  const sidecar = readSidecar(target)!;
  assert.equal(sidecar.get('Files/a/x')!.diskMtime, ((T + 2_000_000n) / 1_000_000_000n) * 1_000_000_000n);
  for (const [path, t0] of [
    ['Files', T],
    ['Files/a', T + 1_000_000n],
    ['Files/b', T],
  ] as const) {
    const mtime = lstatSync(join(target, path), { bigint: true }).mtimeNs;
    assert.equal(mtime, (t0 / 1000n) * 1000n, path);
    const rec = sidecar.get(path)!;
    assert.deepEqual([rec.kind, rec.lastWriteTime, rec.diskMtime], ['directory', t0, mtime], path);
  }
  sidecar.close();
});

test('a parent folder holding a symlink is never followed when resolving links into parents', async (t) => {
  const root = tempDir(t);
  const parent = join(root, 'parent');
  mkdirSync(join(parent, 'Files'), { recursive: true });
  writeFileSync(join(root, 'secret'), 'outside');
  const { symlinkSync } = await import('node:fs');
  symlinkSync('../../secret', join(parent, 'Files/evil'));
  const entries: LayerEntry[] = [
    dir('Files'),
    { kind: 'hardlink', path: 'Files/h', linkTarget: 'Files/evil', win: { lastWriteTime: T } },
  ];
  await assert.rejects(writeLayerDir(from(entries), join(root, 'layer'), { parents: [parent], sync: false }), {
    code: 'LAYER_HARDLINK',
    message: /neither this layer nor a parent/,
  });
  assert.deepEqual(readdirSync(root).sort(), ['parent', 'secret']);
});

/**
 * Runs `script` (ESM, through tsx) in a child until it prints "started", lets `whileRunning` look, sends SIGTERM and
 * returns the exit code ('still running' after 15 s). The child never outlives the test.
 */
async function terminateWhileRunning(
  t: TestContext,
  script: string,
  whileRunning: () => void = () => undefined,
): Promise<number | null | 'still running'> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.after(() => child.kill('SIGKILL')); // a child that ignores the signal must not outlive the test (or fill the disk)
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('started') && resolve());
    child.on('exit', (code) => reject(new Error(`child exited early: ${code}`)));
  });
  whileRunning();
  const exited = new Promise<number | null | 'still running'>((resolve) => {
    child.on('exit', (code) => resolve(code));
    setTimeout(() => resolve('still running'), 15_000).unref();
  });
  child.kill('SIGTERM');
  return exited;
}

test('SIGTERM during an import removes the temporary folder', async (t) => {
  const root = tempDir(t);
  const script = `
    import { writeLayerDir } from ${JSON.stringify(new URL('./dir-writer.ts', import.meta.url).pathname)};
    async function* entries() {
      yield { kind: 'directory', path: 'Files', win: { lastWriteTime: 0n } };
      process.stdout.write('started\\n');
      await new Promise(() => setInterval(() => {}, 1000));
    }
    await writeLayerDir(entries(), ${JSON.stringify(join(root, 'layer'))});
  `;
  const code = await terminateWhileRunning(t, script, () =>
    assert.equal(readdirSync(root).length, 1, 'the temporary exists while the import runs'),
  );
  assert.equal(code, 143);
  assert.deepEqual(readdirSync(root), []);
});

test('a file that holds fewer bytes than declared is refused', async (t) => {
  const root = tempDir(t);
  const short: LayerEntry = {
    kind: 'file',
    path: 'Files/a',
    size: 10,
    body: bufferBody(Buffer.from('abc')),
    win: { lastWriteTime: 0n },
  };
  await assert.rejects(writeLayerDir(from([dir('Files'), short]), join(root, 'layer'), { sync: false }), {
    code: 'LAYER_INVALID',
    message: /declares 10 bytes but holds 3/,
  });
  assert.deepEqual(readdirSync(root), []);
  const fd = openSync(join(root, 'x'), 'w');
  closeSync(fd);
});

/** Every entry kind the writer threads handle, with fresh bodies on each call; `many` small files fill batches. */
function variety(many: number): LayerEntry[] {
  const big = Buffer.alloc(600 * 1024, 0x5a);
  const asyncBody = (data: Buffer): AsyncIterable<Uint8Array> => ({
    async *[Symbol.asyncIterator]() {
      yield data.subarray(0, 1000);
      yield data.subarray(1000);
    },
  });
  const entries: LayerEntry[] = [
    dir('Files'),
    dir('Files/a', T + 1_000n),
    file('Files/a/small.txt', 'hello'),
    {
      kind: 'stream',
      path: 'Files/a/small.txt:Zone.Identifier',
      filePath: 'Files/a/small.txt',
      streamName: 'Zone.Identifier',
      size: 7,
      body: bufferBody(Buffer.from('zone=3\n')),
      win: { lastWriteTime: T },
    },
    { kind: 'file', path: 'Files/a/big.bin', size: big.length, body: bufferBody(big), win: { lastWriteTime: T } },
    {
      kind: 'file',
      path: 'Files/a/async.bin',
      size: 3000,
      body: asyncBody(Buffer.alloc(3000, 1)),
      win: { lastWriteTime: T - 7n },
    },
    { kind: 'hardlink', path: 'Files/a/link.txt', linkTarget: 'Files/a/small.txt', win: { lastWriteTime: T } },
    dir('Files/many'),
  ];
  for (let i = 0; i < many; i++) entries.push(file(`Files/many/f${i}.txt`, `${i}`.repeat(1000), T + BigInt(i)));
  for (const d of ['UtilityVM', 'UtilityVM/Files', 'UtilityVM/Files/EFI', 'UtilityVM/Files/EFI/Microsoft']) {
    entries.push(dir(d));
  }
  entries.push(dir('UtilityVM/Files/EFI/Microsoft/Boot'), file('UtilityVM/Files/EFI/Microsoft/Boot/BCD', 'bcd'));
  return entries;
}

/**
 * The folder as text: every object with its kind, mode, size, times (ns) and content, sorted. Times of what the import
 * makes itself (`.winlayer/`, `bcd.bak`) are left out, and the atime of the BCD file (copying it reads it). All stats
 * are taken before any content is read.
 */
function snapshot(root: string): string[] {
  const rows: [string, BigIntStats][] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = lstatSync(join(root, r), { bigint: true });
      rows.push([r, st]);
      if (st.isDirectory()) walk(r);
    }
  };
  walk('');
  return rows.map(([r, st]) => {
    const what = st.isDirectory() ? 'dir' : `file ${readFileSync(join(root, r)).toString('base64').slice(0, 64)}`;
    const own = r.startsWith('.winlayer') || r === 'bcd.bak';
    const atime = own || r.endsWith('/Boot/BCD') ? '' : st.atimeNs;
    // A folder's size is the filesystem's (ext4 grows an htree as names arrive, in whatever order two threads make
    // them), not something we write.
    const size = st.isDirectory() ? '' : st.size;
    return `${r} ${what} ${st.mode.toString(8)} ${size} ${own ? '' : st.mtimeNs} ${atime} links=${st.nlink}`;
  });
}

/**
 * `entries`, the rest after the first only once `n` threads run: a thread takes a while to start, and until it runs
 * the calling thread writes entries itself; this way the threads write the rest.
 */
async function* afterThreads(entries: LayerEntry[], n: number): AsyncIterable<LayerEntry> {
  const online: Promise<void>[] = [];
  const seen = (w: Worker): void => {
    online.push(new Promise((resolve) => w.once('online', () => resolve())));
  };
  process.on('worker', seen);
  try {
    // `writeLayerDir` starts its threads (a count given: at once) before it asks for the first entry.
    yield entries[0]!;
    for (let i = 0; i < 2000 && online.length < n; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(online.length, n, 'the writer threads started');
    await Promise.all(online);
    // A thread is ready shortly after it is online (its module has loaded).
    await new Promise((resolve) => setTimeout(resolve, 100));
  } finally {
    process.off('worker', seen);
  }
  yield* entries.slice(1);
}

test('writer threads: the same folder, sidecar and result as the synchronous path', async (t) => {
  const root = tempDir(t);
  const a = await writeLayerDir(from(variety(1200)), join(root, 'sync'), { sync: false, writerThreads: 0 });
  const b = await writeLayerDir(afterThreads(variety(1200), 2), join(root, 'bg'), { sync: false, writerThreads: 2 });
  assert.deepEqual({ ...b, layerDir: '' }, { ...a, layerDir: '' });
  assert.equal(b.files, 1204);
  assert.deepEqual(b.bcdBackups, ['bcd.bak']);
  assert.deepEqual(snapshot(join(root, 'bg')), snapshot(join(root, 'sync')));
  for (const f of ['entries.ndjson', 'sds.ndjson', 'manifest.json']) {
    assert.equal(
      readFileSync(join(root, 'bg', '.winlayer', f), 'utf8'),
      readFileSync(join(root, 'sync', '.winlayer', f), 'utf8'),
    );
  }
});

test('a name past NAME_MAX is refused before it is made, naming the entry and the limit', async (t) => {
  const root = tempDir(t);
  const entries = variety(500);
  // 100 UTF-16 units pass the Windows rules, but 300 UTF-8 bytes exceed a Linux name (255 bytes).
  const long = `Files/many/${'あ'.repeat(100)}`;
  entries.splice(entries.length - 6, 0, file(long, 'x'));
  await assert.rejects(writeLayerDir(from(entries), join(root, 'layer'), { sync: false, writerThreads: 2 }), {
    code: 'IO',
    entry: long,
    message: /cannot write the entry: the name is 300 bytes; this host takes at most 255 \(NAME_MAX\)/,
  });
  assert.deepEqual(readdirSync(root), []);
});

test('writer threads: a failure on the writer thread names its entry and leaves nothing behind', async (t) => {
  const root = tempDir(t);
  const victim = 'Files/many/f1499.txt';
  async function* entries(): AsyncIterable<LayerEntry> {
    for (const e of variety(1500)) {
      if (e.path === victim) {
        // Something else takes the name on disk first: the thread's O_EXCL create fails (EEXIST).
        const folder = join(root, readdirSync(root)[0]!, 'Files', 'many');
        while (!existsSync(folder)) await new Promise((resolve) => setTimeout(resolve, 1));
        writeFileSync(join(folder, 'f1499.txt'), 'squatter');
      }
      yield e;
    }
  }
  await assert.rejects(writeLayerDir(entries(), join(root, 'layer'), { sync: false, writerThreads: 2 }), {
    code: 'IO',
    entry: victim,
    message: /EEXIST/,
  });
  assert.deepEqual(readdirSync(root), []);
});

for (const background of [true, false]) {
  // A source that never waits (as a tar file read synchronously) must not keep the signal handlers from running.
  const what = background ? 'the writer threads work: they stop first,' : 'a source that never waits is written:';
  test(`SIGTERM while ${what} the temporary folder is removed`, async (t) => {
    const root = tempDir(t);
    const script = `
      import { writeLayerDir } from ${JSON.stringify(new URL('./dir-writer.ts', import.meta.url).pathname)};
      import { bufferBody } from ${JSON.stringify(new URL('../entry.ts', import.meta.url).pathname)};
      const win = { lastWriteTime: 0n };
      async function* entries() {
        yield { kind: 'directory', path: 'Files', win };
        for (let d = 0; ; d++) {
          yield { kind: 'directory', path: 'Files/d' + d, win };
          for (let i = 0; i < 200; i++) {
            const data = Buffer.alloc(2000, i);
            yield { kind: 'file', path: 'Files/d' + d + '/f' + i, size: data.length, body: bufferBody(data), win };
          }
          if (d === 5) process.stdout.write('started\\n');
        }
      }
      await writeLayerDir(entries(), ${JSON.stringify(join(root, 'layer'))}, { writerThreads: ${background ? 2 : 0}, sync: false });
    `;
    assert.equal(await terminateWhileRunning(t, script), 143);
    assert.deepEqual(readdirSync(root), []);
  });
}

test('progress inside a large file: bytes every 4 MiB while its body is written, then the entry', async (t) => {
  const root = tempDir(t);
  const chunk = Buffer.alloc(1024 * 1024, 0x61);
  const body: AsyncIterable<Uint8Array> = {
    async *[Symbol.asyncIterator]() {
      for (let i = 0; i < 10; i++) yield chunk;
    },
  };
  const big: LayerEntry = { kind: 'file', path: 'Files/big', size: 10 * chunk.length, body, win: { lastWriteTime: T } };
  const seen: string[] = [];
  await writeLayerDir(from([dir('Files'), big]), join(root, 'layer'), {
    sync: false,
    writerThreads: 0,
    onProgress: (p) => seen.push(`${p.entries} ${p.bytes / chunk.length}`),
  });
  assert.deepEqual(seen, ['1 0', '1 4', '1 8', '2 10']);
});
