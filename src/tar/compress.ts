/**
 * Compression at the tar codec's edges: detection from the first bytes, streaming decompression for the reader, and
 * the writer's output chain (plain, gzip, zstd) with the digest and size of the bytes written.
 *
 * gzip output is written by us: a fixed 10-byte header (no name, mtime 0, XFL by level, OS 255) + raw deflate
 * (`zlib.createDeflateRaw`, which compresses in the libuv threadpool so the main thread keeps reading files) + CRC32
 * (`zlib.crc32`) and ISIZE. Same bytes in, same bytes out. zstd goes through `zstd-napi`'s streaming compressor.
 */
import { createHash, type Hash } from 'node:crypto';
import { writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { pipeline, Readable, type Transform } from 'node:stream';
import * as zlib from 'node:zlib';
import type * as ZstdNapi from 'zstd-napi';
import { WinlayerError } from '../errors.js';
import type { Compression, TarOutput } from './types.js';

/** `zstd-napi`, loaded on first use: its native module costs every command's start-up ~8 ms otherwise. */
let zstdModule: typeof ZstdNapi | undefined;
function zstd(): typeof ZstdNapi {
  zstdModule ??= createRequire(import.meta.url)('zstd-napi') as typeof ZstdNapi;
  return zstdModule;
}

const GZIP_MAGIC = [0x1f, 0x8b] as const;
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd] as const;

/**
 * The compression of a byte stream, from its first bytes (give at least 4): gzip `1f 8b`, zstd `28 b5 2f fd`, else
 * `'none'`. Pure.
 */
export function detectCompression(bytes: Uint8Array): Compression {
  if (bytes.length >= 2 && bytes[0] === GZIP_MAGIC[0] && bytes[1] === GZIP_MAGIC[1]) return 'gzip';
  if (bytes.length >= 4 && ZSTD_MAGIC.every((b, i) => bytes[i] === b)) return 'zstd';
  return 'none';
}

/** Any byte input the reader accepts. */
export type ByteInput = AsyncIterable<Uint8Array> | NodeJS.ReadableStream;

/**
 * The input as an async iterable of bytes. A string chunk (a stream with an encoding set) is `USAGE`; a failing
 * input (a read error) is `IO`.
 */
export async function* bytesOf(input: ByteInput): AsyncGenerator<Uint8Array> {
  const it = (input as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  try {
    for (;;) {
      let r: IteratorResult<unknown>;
      try {
        r = await it.next();
      } catch (e) {
        if (e instanceof WinlayerError) throw e;
        throw new WinlayerError('IO', `cannot read the tar input: ${(e as Error)?.message ?? String(e)}`, { cause: e });
      }
      if (r.done === true) return;
      const chunk = r.value;
      if (!(chunk instanceof Uint8Array)) {
        throw new WinlayerError('USAGE', 'the tar input yields text, not bytes', {
          hint: 'do not set an encoding on the input stream',
        });
      }
      yield chunk;
    }
  } finally {
    await it.return?.();
  }
}

/**
 * Decompresses a byte stream (streaming; memory stays flat). `'none'` returns the input unchanged. Corrupt or
 * truncated compressed data ends the iteration with `COMPRESSION`.
 */
export function decompress(input: ByteInput, kind: Compression): AsyncIterable<Uint8Array> {
  if (kind === 'none') return bytesOf(input);
  return decompressWith(input, kind);
}

async function* decompressWith(input: ByteInput, kind: 'gzip' | 'zstd'): AsyncGenerator<Uint8Array> {
  const source = Readable.from(bytesOf(input), { objectMode: false });
  const inflater: Transform =
    kind === 'gzip'
      ? zlib.createGunzip({ chunkSize: 128 * 1024 })
      : (new (zstd().DecompressStream)() as unknown as Transform);
  let sourceError: unknown;
  pipeline(source, inflater, (err) => {
    if (err) sourceError = err;
  });
  try {
    for await (const chunk of inflater) yield chunk as Uint8Array;
  } catch (e) {
    if (e instanceof WinlayerError) throw e;
    if (sourceError instanceof WinlayerError) throw sourceError;
    throw new WinlayerError('COMPRESSION', `the ${kind} data is corrupt or truncated: ${(e as Error).message}`, {
      cause: e,
    });
  } finally {
    source.destroy();
    inflater.destroy();
  }
}

/** Where compressed (or plain) bytes go: counts and hashes what is written. */
interface Sink {
  write(chunk: Uint8Array): Promise<void> | undefined;
  finish(): Promise<void>;
}

/** Something to `Atomics.wait` on: a synchronous sleep. */
const SLEEP = new Int32Array(new SharedArrayBuffer(4));

class FdSink implements Sink {
  constructor(
    private readonly fd: number,
    private readonly counter: Counter,
  ) {}
  write(chunk: Uint8Array): undefined {
    this.counter.add(chunk);
    let off = 0;
    let waits = 0;
    while (off < chunk.length) {
      try {
        off += writeSync(this.fd, chunk, off, chunk.length - off);
        waits = 0;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EPIPE') {
          throw new WinlayerError('IO', 'the program reading the tar stopped reading before its end (EPIPE)', {
            cause: e,
            hint: 'the tar was not written whole; let the reader take all of it, or write it to a file with -o',
          });
        }
        if (code !== 'EAGAIN') {
          throw new WinlayerError('IO', `cannot write the tar: ${(e as Error).message}`, { cause: e });
        }
        // A non-blocking pipe or socket is full: wait for the reader (20 µs, doubling to 2 ms) instead of spinning.
        Atomics.wait(SLEEP, 0, 0, Math.min(2, 0.02 * 2 ** waits++));
      }
    }
    return undefined;
  }
  async finish(): Promise<void> {}
}

class StreamSink implements Sink {
  #error: unknown;
  #onError = (e: unknown): void => {
    this.#error ??= e;
  };
  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly counter: Counter,
  ) {
    out.on('error', this.#onError);
  }
  #check(): void {
    if (this.#error !== undefined) {
      throw new WinlayerError('IO', `cannot write the tar: ${(this.#error as Error).message}`, { cause: this.#error });
    }
  }
  write(chunk: Uint8Array): Promise<void> | undefined {
    this.#check();
    this.counter.add(chunk);
    if (this.out.write(chunk)) return undefined;
    return new Promise<void>((resolve, reject) => {
      const done = (): void => {
        this.out.off('drain', done);
        this.out.off('error', fail);
        this.out.off('close', done);
        if (this.#error !== undefined) {
          reject(new WinlayerError('IO', `cannot write the tar: ${(this.#error as Error).message}`));
        } else resolve();
      };
      const fail = (e: unknown): void => {
        this.#onError(e);
        done();
      };
      this.out.on('drain', done);
      this.out.on('error', fail);
      this.out.on('close', done);
    });
  }
  async finish(): Promise<void> {
    this.#check();
    // Wait until everything handed to the stream has been flushed through its write callback.
    await new Promise<void>((resolve, reject) => {
      this.out.write(new Uint8Array(0), (e) => (e ? reject(e) : resolve()));
    }).catch((e: unknown) => {
      throw new WinlayerError('IO', `cannot write the tar: ${(e as Error).message}`, { cause: e });
    });
    this.out.off('error', this.#onError);
    this.#check();
  }
}

/**
 * sha256 + byte count of a stream of chunks. `hashing: false` only counts (plain output: the writer's own hash of the
 * uncompressed tar is the digest; hashing the same bytes twice would cost a third of the export's CPU); `digest()` is
 * then undefined.
 */
export class Counter {
  readonly hash: Hash | undefined;
  bytes = 0;
  constructor(hashing = true) {
    this.hash = hashing ? createHash('sha256') : undefined;
  }
  add(chunk: Uint8Array): void {
    this.hash?.update(chunk);
    this.bytes += chunk.length;
  }
  digest(): string | undefined {
    return this.hash === undefined ? undefined : `sha256:${this.hash.digest('hex')}`;
  }
}

/**
 * The writer's output chain: takes uncompressed tar chunks, compresses, writes. `reusesChunks` says whether a chunk
 * may be overwritten as soon as `write` returns (plain output to a file descriptor); otherwise each chunk is owned by
 * the chain once written.
 */
export interface TarOutputChain {
  readonly reusesChunks: boolean;
  /** Writes one uncompressed chunk; await the result when it is a promise (backpressure). */
  write(chunk: Uint8Array): Promise<void> | undefined;
  /**
   * Flushes everything; returns the digest and size of the bytes written. Without compression the digest is
   * undefined: the bytes written are the uncompressed tar, whose digest the writer computes itself.
   */
  finish(): Promise<{ digest: string | undefined; size: number }>;
}

/** Default compression levels. */
const DEFAULT_LEVEL: Readonly<Record<Compression, number>> = { none: 0, gzip: 6, zstd: 3 };

/** Builds the output chain for `out` and `compression`. Checks the level (`USAGE` when out of range). */
export function createOutputChain(out: TarOutput, compression: Compression, level?: number): TarOutputChain {
  const counter = new Counter(compression !== 'none');
  const sink: Sink = typeof out === 'number' ? new FdSink(out, counter) : new StreamSink(out, counter);
  if (compression === 'none') {
    return {
      reusesChunks: typeof out === 'number',
      write: (chunk) => sink.write(chunk),
      finish: async () => {
        await sink.finish();
        return { digest: counter.digest(), size: counter.bytes };
      },
    };
  }
  const lvl = level ?? DEFAULT_LEVEL[compression];
  const [lo, hi] = compression === 'gzip' ? [1, 9] : [1, 22];
  if (!Number.isInteger(lvl) || lvl < lo || lvl > hi) {
    throw new WinlayerError('USAGE', `${compression} level ${lvl} is out of range ${lo}–${hi}`);
  }
  return compression === 'gzip' ? gzipChain(sink, counter, lvl) : zstdChain(sink, counter, lvl);
}

/** Runs a Transform as a compressor feeding `sink`, with backpressure both ways. */
function transformChain(
  t: Transform,
  sink: Sink,
  counter: Counter,
  hooks: { onInput?: (chunk: Uint8Array) => void; trailer?: () => Uint8Array },
): TarOutputChain {
  let error: unknown;
  t.on('error', (e) => {
    error ??= e;
  });
  t.on('data', (c: Uint8Array) => {
    try {
      const p = sink.write(c);
      if (p !== undefined) {
        t.pause();
        p.then(
          () => t.resume(),
          (e: unknown) => {
            error ??= e;
            t.destroy(e as Error);
          },
        );
      }
    } catch (e) {
      error ??= e;
      t.destroy(e as Error);
    }
  });
  const ended = new Promise<void>((resolve) => {
    t.on('end', () => resolve());
    t.on('close', () => resolve());
  });
  const check = (): void => {
    if (error === undefined) return;
    if (error instanceof WinlayerError) throw error;
    throw new WinlayerError('COMPRESSION', `compression failed: ${(error as Error).message}`, { cause: error });
  };
  return {
    reusesChunks: false,
    write(chunk) {
      check();
      hooks.onInput?.(chunk);
      if (t.write(chunk)) return undefined;
      return new Promise<void>((resolve) => {
        const done = (): void => {
          t.off('drain', done);
          t.off('close', done);
          resolve();
        };
        t.on('drain', done);
        t.on('close', done);
      }).then(check);
    },
    async finish() {
      check();
      t.end();
      await ended;
      check();
      if (hooks.trailer !== undefined) await sink.write(hooks.trailer());
      await sink.finish();
      return { digest: counter.digest(), size: counter.bytes };
    },
  };
}

/** The 10-byte gzip header we write: no flags, mtime 0, XFL (2 = best, 4 = fastest), OS 255 (unknown). */
function gzipHeader(level: number): Uint8Array {
  const xfl = level >= 9 ? 2 : level <= 1 ? 4 : 0;
  return Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255);
}

const HIGH_WATER = 4 * 1024 * 1024;

let CRC_TABLE: Uint32Array | undefined;

/** CRC-32 (gzip's): `zlib.crc32` (native, Node ≥ 20.15), or a table-driven fallback for older Node 20 releases. */
export function crc32(data: Uint8Array, crc = 0): number {
  const native = (zlib as { crc32?: (d: Uint8Array, v?: number) => number }).crc32;
  return native !== undefined ? native(data, crc) : crc32Table(data, crc);
}

/** The table-driven CRC-32 (the fallback of {@link crc32}). */
export function crc32Table(data: Uint8Array, crc = 0): number {
  if (CRC_TABLE === undefined) {
    CRC_TABLE = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      CRC_TABLE[n] = c >>> 0;
    }
  }
  let c = ~crc >>> 0;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

function gzipChain(sink: Sink, counter: Counter, level: number): TarOutputChain {
  const header = sink.write(gzipHeader(level));
  void header;
  let crc = 0;
  let isize = 0;
  const deflate = zlib.createDeflateRaw({
    level,
    chunkSize: 256 * 1024,
    writableHighWaterMark: HIGH_WATER,
  } as zlib.ZlibOptions);
  return transformChain(deflate, sink, counter, {
    onInput(chunk) {
      crc = crc32(chunk, crc);
      isize = (isize + chunk.length) >>> 0;
    },
    trailer() {
      const t = new Uint8Array(8);
      const v = new DataView(t.buffer);
      v.setUint32(0, crc >>> 0, true);
      v.setUint32(4, isize, true);
      return t;
    },
  });
}

/** Bytes of input per zstd job (multi-threaded mode); part of what makes our zstd bytes what they are. */
const ZSTD_JOB_SIZE = 2 * 1024 * 1024;

/**
 * zstd in multi-threaded mode (its own worker threads, so the main thread keeps reading files). zstd's output in this
 * mode is the same for any number of workers ≥ 1 and any input chunking, so the bytes stay deterministic across
 * machines; they differ from single-threaded zstd's, which we never use.
 */
function zstdChain(sink: Sink, counter: Counter, level: number): TarOutputChain {
  const nbWorkers = Math.max(1, Math.min(4, availableParallelism() - 1));
  const cs = new (zstd().CompressStream)({
    compressionLevel: level,
    nbWorkers,
    // zstd's default job is 4 windows (8 MiB at level 3), with buffers for several jobs in flight. 2 MiB jobs that
    // overlap by half a window (overlapLog 8) need far less memory and compress no worse on real layers (the numbers:
    // docs/benchmarks.md, "Moved from code comments").
    jobSize: ZSTD_JOB_SIZE,
    overlapLog: 8,
  }) as unknown as Transform;
  return transformChain(cs, sink, counter, {});
}
