/**
 * Tar codec benchmark: pack and parse a 50,000-entry stream (in memory and from disk) and a few large entries,
 * beside GNU tar on the same data in the same run. GNU tar skips reading file data when it writes to /dev/null, so it
 * writes to a pipe (`| cat >/dev/null`); for listing it reads from a pipe so it cannot seek over data.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, lstatSync, mkdirSync, openSync, readdirSync, readSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { bufferBody, type EntryBody, type LayerEntry } from '../src/entry.js';
import { readTar, writeTar, writeTarFile } from '../src/tar/index.js';
import { compareUtf8 } from '../src/windows/index.js';
import { type BenchContext, type BenchResult, time } from './run.js';

const T = 1_700_000_000_000_000_000n;
/** Each case runs this many times; the best time is reported. */
const RUNS = 2;

/** Deterministic pseudo-random bytes. */
function pool(size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let s = 12345;
  for (let i = 0; i < size; i++) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    b[i] = s >>> 16;
  }
  return b;
}

interface Shape {
  dirs: number;
  filesPerDir: number;
  /** Size of file i (0…~4 KiB, average ~1 KiB). */
  sizeOf(i: number): number;
}

function* memoryEntries(shape: Shape, data: Buffer): Generator<LayerEntry> {
  const win = { lastWriteTime: T };
  yield { kind: 'directory', path: 'Files', win };
  let i = 0;
  for (let d = 0; d < shape.dirs; d++) {
    const dir = `Files/dir${String(d).padStart(5, '0')}`;
    yield { kind: 'directory', path: dir, win };
    for (let f = 0; f < shape.filesPerDir; f++, i++) {
      const size = shape.sizeOf(i);
      const off = (i * 977) % (data.length - size);
      yield { kind: 'file', path: `${dir}/file${f}.dll`, size, body: bufferBody(data.subarray(off, off + size)), win };
    }
  }
}

/**
 * A minimal layer-folder walk (parents first, UTF-8 order) with synchronous (`read`) bodies, like the real walker but
 * without its sidecar work: it measures the tar writer plus the file-system calls any walker makes.
 */
export function* diskEntries(root: string, prefix = 'Files'): Generator<LayerEntry> {
  const st = statSync(root);
  const win = { lastWriteTime: BigInt(Math.floor(st.mtimeMs)) * 1_000_000n };
  if (prefix === 'Files') yield { kind: 'directory', path: 'Files', win };
  for (const name of readdirSync(root).sort(compareUtf8)) {
    const full = join(root, name);
    const path = `${prefix}/${name}`;
    const s = lstatSync(full);
    const w = { lastWriteTime: BigInt(Math.trunc(s.mtimeMs)) * 1_000_000n };
    if (s.isDirectory()) {
      yield { kind: 'directory', path, win: w };
      yield* diskEntries(full, path);
    } else {
      yield { kind: 'file', path, size: Number(s.size), body: fileBody(full), win: w };
    }
  }
}

function fileBody(path: string): EntryBody {
  let fd: number | undefined;
  let done = false;
  return {
    [Symbol.asyncIterator]() {
      throw new Error('bench bodies are pulled with read');
    },
    read(buffer: Uint8Array, offset: number, length: number): number {
      if (done) return 0;
      fd ??= openSync(path, 'r');
      const n = readSync(fd, buffer, offset, length, null);
      if (n < length) {
        // a short read of a regular file is its end: close now (the writer may not ask again)
        closeSync(fd);
        done = true;
      }
      return n;
    },
  };
}

/** A sink that drops everything (measures the writer alone). */
function nullSink(): Writable {
  return new Writable({
    highWaterMark: 4 * 1024 * 1024,
    write(_c, _e, cb) {
      cb();
    },
  });
}

async function* memChunks(buf: Buffer, size = 1024 * 1024): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

async function parse(input: AsyncIterable<Uint8Array>): Promise<{ entries: number; bytes: number }> {
  let entries = 0;
  let bytes = 0;
  for await (const e of readTar(input)) {
    entries++;
    if (e.kind === 'file' || e.kind === 'stream') for await (const c of e.body) bytes += c.length;
  }
  return { entries, bytes };
}

/** Best of `runs` timings (the first run pays JIT warm-up and cold caches; both tools get the same treatment). */
async function best<T>(runs: number, fn: () => Promise<T> | T): Promise<{ seconds: number; value: T }> {
  let top: { seconds: number; value: T } | undefined;
  for (let i = 0; i < runs; i++) {
    const r = await time(fn);
    if (top === undefined || r.seconds < top.seconds) top = r;
  }
  return top!;
}

function sh(script: string): void {
  execFileSync('sh', ['-c', script], { stdio: ['ignore', 'ignore', 'inherit'] });
}

export async function run(ctx: BenchContext): Promise<BenchResult[]> {
  const out: BenchResult[] = [];
  const n = Math.max(100, Math.round(50_000 * ctx.scale));
  const filesPerDir = 50;
  const shape: Shape = {
    dirs: Math.ceil(n / filesPerDir),
    filesPerDir,
    sizeOf: (i) => (i * 2654435761) % 2048,
  };
  const total = shape.dirs * filesPerDir;
  const data = pool(1 << 20);
  const label = `${total.toLocaleString('en-US')} small files`;

  // ── in memory ──────────────────────────────────────────────────────────────────────────────────────────────────
  ctx.log(`pack ${label} in memory`);
  let content = 0;
  for (const e of memoryEntries(shape, data)) if (e.kind === 'file') content += e.size;
  const packed = await best(RUNS, () => writeTar(memoryEntries(shape, data), nullSink()));
  out.push({
    case: `pack ${label} (memory → null)`,
    tool: 'winlayer',
    seconds: packed.seconds,
    entries: packed.value.entries,
    bytes: packed.value.uncompressedSize,
    note: `${(content / 1e6).toFixed(1)} MB content`,
  });

  const chunksOut: Buffer[] = [];
  const collectSink = new Writable({
    write(c: Buffer, _e, cb) {
      chunksOut.push(c);
      cb();
    },
  });
  await writeTar(memoryEntries(shape, data), collectSink);
  const tarBytes = Buffer.concat(chunksOut);
  ctx.log(`parse ${label} in memory`);
  const parsed = await best(RUNS, () => parse(memChunks(tarBytes)));
  out.push({
    case: `parse ${label} (memory, bodies read)`,
    tool: 'winlayer',
    seconds: parsed.seconds,
    entries: parsed.value.entries,
    bytes: tarBytes.length,
  });

  // ── on disk, beside GNU tar ────────────────────────────────────────────────────────────────────────────────────
  ctx.log(`create ${label} on disk`);
  const root = join(ctx.tmp, 'small');
  let i = 0;
  for (let d = 0; d < shape.dirs; d++) {
    const dir = join(root, `dir${String(d).padStart(5, '0')}`);
    mkdirSync(dir, { recursive: true });
    for (let f = 0; f < filesPerDir; f++, i++) {
      const size = shape.sizeOf(i);
      const off = (i * 977) % (data.length - size);
      writeFileSync(join(dir, `file${f}.dll`), data.subarray(off, off + size));
    }
  }
  const smallTar = join(ctx.tmp, 'small.tar');
  sh(`tar -cf ${smallTar} -C ${root} . && cat ${smallTar} > /dev/null`); // warm the page cache

  ctx.log(`pack ${label} from disk`);
  const devnull = openSync('/dev/null', 'w');
  try {
    const ours = await best(RUNS, () => writeTar(diskEntries(root), devnull));
    out.push({
      case: `pack ${label} (disk → /dev/null)`,
      tool: 'winlayer',
      seconds: ours.seconds,
      entries: ours.value.entries,
      bytes: ours.value.uncompressedSize,
    });
    const gnu = await best(RUNS, () => sh(`tar -cf - -C ${root} . | cat > /dev/null`));
    out.push({
      case: `pack ${label} (disk → pipe)`,
      tool: 'GNU tar',
      seconds: gnu.seconds,
      entries: ours.value.entries,
      bytes: ours.value.uncompressedSize,
    });
    const oursGz = await best(RUNS, () => writeTar(diskEntries(root), devnull, { compression: 'gzip' }));
    out.push({
      case: `pack ${label} gzip -6`,
      tool: 'winlayer',
      seconds: oursGz.seconds,
      entries: oursGz.value.entries,
      bytes: oursGz.value.uncompressedSize,
    });
    const gnuGz = await best(RUNS, () => sh(`tar -cf - -C ${root} . | gzip -6 > /dev/null`));
    out.push({
      case: `pack ${label} gzip -6`,
      tool: 'GNU tar + gzip',
      seconds: gnuGz.seconds,
      entries: oursGz.value.entries,
      bytes: oursGz.value.uncompressedSize,
    });

    const oursTar = join(ctx.tmp, 'ours-small.tar');
    await writeTarFile(diskEntries(root), oursTar);
    const { createReadStream } = await import('node:fs');
    ctx.log(`parse ${label} from disk`);
    const p = await best(RUNS, () => parse(createReadStream(oursTar, { highWaterMark: 1024 * 1024 })));
    const size = statSync(oursTar).size;
    out.push({
      case: `parse ${label} (file, bodies read)`,
      tool: 'winlayer',
      seconds: p.seconds,
      entries: p.value.entries,
      bytes: size,
    });
    const gl = await best(RUNS, () => sh(`cat ${oursTar} | tar -tf - > /dev/null 2>&1`));
    out.push({
      case: `parse ${label} (pipe, list)`,
      tool: 'GNU tar',
      seconds: gl.seconds,
      entries: p.value.entries,
      bytes: size,
    });

    // ── a few large entries ──────────────────────────────────────────────────────────────────────────────────────
    const big = join(ctx.tmp, 'big');
    mkdirSync(big);
    const bigSize = Math.max(1 << 20, Math.round(256 * 1024 * 1024 * ctx.scale));
    const count = 4;
    ctx.log(`create ${count} × ${(bigSize / 2 ** 20).toFixed(0)} MiB files`);
    for (let k = 0; k < count; k++) {
      const fd = openSync(join(big, `large${k}.vhdx`), 'w');
      for (let written = 0; written < bigSize; written += data.length) {
        const { writeSync } = await import('node:fs');
        writeSync(fd, data, 0, Math.min(data.length, bigSize - written));
      }
      closeSync(fd);
    }
    sh(`cat ${big}/* > /dev/null`);
    const bigLabel = `${count} × ${(bigSize / 2 ** 20).toFixed(0)} MiB files`;
    const ob = await best(RUNS, () => writeTar(diskEntries(big), devnull));
    out.push({
      case: `pack ${bigLabel} (disk → /dev/null)`,
      tool: 'winlayer',
      seconds: ob.seconds,
      entries: ob.value.entries,
      bytes: ob.value.uncompressedSize,
    });
    const gb = await best(RUNS, () => sh(`tar -cf - -C ${big} . | cat > /dev/null`));
    out.push({
      case: `pack ${bigLabel} (disk → pipe)`,
      tool: 'GNU tar',
      seconds: gb.seconds,
      entries: ob.value.entries,
      bytes: ob.value.uncompressedSize,
    });
    const bigTar = join(ctx.tmp, 'big.tar');
    await writeTarFile(diskEntries(big), bigTar);
    const pb = await best(RUNS, () => parse(createReadStream(bigTar, { highWaterMark: 1024 * 1024 })));
    out.push({
      case: `parse ${bigLabel} (file, bodies read)`,
      tool: 'winlayer',
      seconds: pb.seconds,
      entries: pb.value.entries,
      bytes: statSync(bigTar).size,
    });
    const gpb = await best(RUNS, () => sh(`cat ${bigTar} | tar -tf - > /dev/null 2>&1`));
    out.push({
      case: `parse ${bigLabel} (pipe, list)`,
      tool: 'GNU tar',
      seconds: gpb.seconds,
      entries: pb.value.entries,
      bytes: statSync(bigTar).size,
    });
  } finally {
    closeSync(devnull);
  }
  return out;
}
