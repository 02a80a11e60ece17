/**
 * `importLayer`: a Windows layer tar (plain, gzip or zstd, from a file or any byte stream) becomes a layer folder —
 * hcsshim's `ImportLayerFromTar`, on any OS. The tar reader (`src/tar/`) yields the entries; `writeLayerDir` checks
 * each one against the path-safety rules (`safety.ts`) and writes it atomically (`dir-writer.ts`).
 */
import { closeSync, readSync } from 'node:fs';
import { WinlayerError } from '../errors.js';
import { type ByteInput, detectCompression, openTarFile, type ReadTarOptions, readTar } from '../tar/index.js';
import { type ImportProgress, type ImportResult, type WriteLayerDirOptions, writeLayerFolder } from './dir-writer.js';
import { SharedInput } from './shared-input.js';
import { writerThreadCount } from './writer-count.js';

/** Options of `importLayer`: the layer-folder options plus the tar reader's. */
export interface ImportLayerOptions extends WriteLayerDirOptions {
  /** Options for the tar reader (compression is detected when absent; `lenient` never relaxes path safety). */
  readonly tar?: ReadTarOptions;
}

/** Bytes per read of a tar file. */
const READ_CHUNK = 1 << 20;
/**
 * Read buffers a plain tar cycles through. The tar reader holds at most the current chunk and the one before it (a
 * header or PAX block that straddles two chunks is copied out), and `writeLayerDir` writes each body slice before it
 * asks for more, so a buffer is free again long before its turn comes back. Memory stays flat instead of leaving one
 * garbage megabyte per read for the collector.
 */
const RING = 4;
/** Read buffers shared with the writer thread: more of them, so the reader runs ahead while the writer catches up. */
const SHARED_RING = 8;

/**
 * Imports the layer tar `input` — a file path (`FILE` or `layer:FILE`) or a byte stream such as stdin — into the
 * layer folder `layerDir`. Streams: the archive is read once, bodies go straight to disk, memory holds an index of
 * names. The target must not exist or be an empty folder unless `force` (then it must be a layer folder, and it is
 * replaced atomically: the old one is kept until the new one is in place). Returns
 * what was written. Throws `SOURCE_UNREADABLE` at once for an input file that cannot be opened, the tar reader's
 * errors (`TAR_*`, `COMPRESSION`) and `writeLayerDir`'s; on any error nothing is left behind and the target is
 * unchanged.
 */
export async function importLayer(
  input: string | ByteInput,
  layerDir: string,
  opts: ImportLayerOptions = {},
): Promise<ImportResult> {
  if (typeof input !== 'string') return writeLayerFolder(readTar(input, opts.tar ?? {}), layerDir, opts);
  const file = openTarFile(input);
  try {
    const tarOpts = opts.tar ?? {};
    const plain = tarOpts.compression === undefined ? isPlainTar(file.fd) : tarOpts.compression === 'none';
    // With writer threads, a plain tar is read into shared memory: file data goes to disk from there, uncopied.
    const shared =
      plain && writerThreadCount(opts.writerThreads) > 0 ? new SharedInput(SHARED_RING, READ_CHUNK) : undefined;
    const read = { bytes: 0 };
    const chunks = fileChunks(file.fd, file.path, plain, shared, read);
    const user = opts.onProgress;
    const onProgress =
      user === undefined
        ? undefined
        : (p: ImportProgress): void => user({ entries: p.entries, bytes: p.bytes, inputBytes: read.bytes });
    return await writeLayerFolder(readTar(chunks, tarOpts), layerDir, {
      ...opts,
      sharedInput: shared,
      ...(onProgress === undefined ? {} : { onProgress }),
    });
  } finally {
    closeSync(file.fd);
  }
}

/** True when the file's first bytes show no compression (read at offset 0: the file position does not move). */
function isPlainTar(fd: number): boolean {
  const head = Buffer.alloc(4);
  try {
    const n = readSync(fd, head, 0, 4, 0);
    return detectCompression(head.subarray(0, n)) === 'none';
  } catch {
    return false; // no positioned reads (a pipe given by name): the reader detects it; no buffer reuse
  }
}

/**
 * A file's bytes with synchronous reads (counted in `read`, for progress): the writer is synchronous too, and a read
 * from the page cache costs less than waiting for the thread pool between chunks. With `reuse` (a plain tar read by
 * `writeLayerDir`), chunks cycle through a ring of `RING` buffers; else each chunk is a fresh buffer (a decompressor
 * may hold on to its input).
 */
async function* fileChunks(
  fd: number,
  path: string,
  reuse: boolean,
  shared: SharedInput | undefined,
  read: { bytes: number },
): AsyncGenerator<Uint8Array> {
  const ring = shared?.buffers ?? (reuse ? Array.from({ length: RING }, () => Buffer.allocUnsafe(READ_CHUNK)) : []);
  for (let turn = 0; ; turn++) {
    // A shared buffer may still be named by queued writes: wait until the writer thread is done with them.
    shared?.release(turn % ring.length);
    const buf = reuse ? ring[turn % ring.length]! : Buffer.allocUnsafe(READ_CHUNK);
    let n: number;
    try {
      n = readSync(fd, buf, 0, READ_CHUNK, null);
    } catch (e) {
      throw new WinlayerError('IO', `cannot read the layer tar: ${(e as Error).message}`, { path, cause: e });
    }
    if (n === 0) return;
    read.bytes += n;
    yield n === READ_CHUNK ? buf : buf.subarray(0, n);
  }
}
