/** Small file helpers of the image writers: stream to a file and fsync it; hash while writing. */
import { closeSync, createWriteStream, fsyncSync, openSync } from 'node:fs';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { WinlayerError } from '../errors.js';
import { Digester } from './digest.js';

/** Writes `src` to `path` (created, mode 0644), fsyncs it. Streams. Returns the sha256 digest and size written. */
export async function streamToFile(src: Readable, path: string): Promise<{ digest: string; size: number }> {
  const d = new Digester();
  const tap = new Transform({
    transform(chunk: Buffer, _e, cb) {
      d.update(chunk);
      cb(null, chunk);
    },
  });
  try {
    await pipeline(src, tap, createWriteStream(path, { flags: 'wx', mode: 0o644 }));
  } catch (e) {
    if (e instanceof WinlayerError) throw e;
    throw new WinlayerError('IO', `cannot write: ${(e as Error).message}`, { path, cause: e });
  }
  fsyncFile(path);
  return { digest: d.digest(), size: d.size };
}

/** Flushes a file (or folder) to disk. Throws the fs error. */
export function fsyncFile(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Runs `fn` over `items` with at most `n` at a time; rejects with the first error (the others finish first). */
export async function mapLimit<T>(items: readonly T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: { e: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < items.length && failed === undefined) {
      try {
        await fn(items[next++]!);
      } catch (e) {
        failed ??= { e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  if (failed !== undefined) throw failed.e;
}
