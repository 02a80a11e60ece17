/**
 * Opening a layer tar named on a command line: `-` (stdin), `layer:FILE` or a bare file path. The file is opened at
 * once (so a missing file fails before any output); the entries stream when iterated. Later sources (`oci:`,
 * `docker-archive:`, `dir:`) belong to the folders above this one and wrap this function.
 */
import { closeSync, createReadStream, fstatSync, openSync } from 'node:fs';
import type { LayerEntry } from '../entry.js';
import { WinlayerError } from '../errors.js';
import { readTar } from './read.js';
import type { ReadTarOptions } from './types.js';

/** An opened source: a display name and its entries (iterable once). */
export interface TarSource {
  readonly name: string;
  readonly entries: AsyncIterable<LayerEntry>;
}

/**
 * Opens `spec` (`-`, `layer:FILE` or `FILE`) as a layer tar, plain, gzip or zstd. Throws `SOURCE_UNREADABLE` (exit 2)
 * when the file cannot be opened or is a folder; reading errors come later, from the iteration (see `readTar`).
 */
export function openTarSource(
  spec: string,
  opts: { readonly stdin?: NodeJS.ReadableStream; readonly read?: ReadTarOptions } = {},
): TarSource {
  if (spec === '-') {
    if (opts.stdin === undefined) throw new WinlayerError('SOURCE_UNREADABLE', 'no standard input to read', {});
    return { name: '<stdin>', entries: readTar(opts.stdin, { ...opts.read, stdin: true }) };
  }
  const { fd, path } = openTarFile(spec);
  const stream = createReadStream('', { fd, highWaterMark: 1024 * 1024 });
  return { name: path, entries: readTar(stream, opts.read) };
}

/**
 * Opens `FILE` or `layer:FILE` for reading and returns its descriptor. Throws `SOURCE_UNREADABLE` (exit 2) when it
 * cannot be opened or is a folder.
 */
export function openTarFile(spec: string): { readonly fd: number; readonly path: string } {
  const path = spec.startsWith('layer:') ? spec.slice('layer:'.length) : spec;
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new WinlayerError('SOURCE_UNREADABLE', `cannot open: ${(e as Error).message}`, { path, cause: e });
  }
  if (fstatSync(fd).isDirectory()) {
    closeSync(fd);
    throw new WinlayerError('SOURCE_UNREADABLE', 'is a folder, not a layer tar', {
      path,
      hint: 'pass a .tar, .tar.gz or .tar.zst file (a layer folder is read by commands that take dir:DIR)',
    });
  }
  return { fd, path };
}
