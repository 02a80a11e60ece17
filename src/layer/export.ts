/**
 * export: a layer folder → a Windows layer tar (plain, gzip or zstd), hcsshim's `ExportLayerToTar` on any OS. The
 * layer-folder walk (`walk.ts`) is the source, the canonical tar writer the sink; digests come back in the result.
 *
 * The walk is handed to the writer as a synchronous iterable: the writer then runs without a promise per entry and
 * gives the event loop a turn itself (at least every 20 ms, and after every 1 MiB when compressing), so signal
 * handlers still remove the temporary output.
 */
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { WinlayerError } from '../errors.js';
import { type Compression, type TarProgress, type TarSummary, writeTar, writeTarFile } from '../tar/index.js';
import { requireBaseHives } from './base-hives.js';
import { resolvePolicy } from './policy.js';
import { type LayerKind, readSidecar } from './sidecar.js';
import { requireLayerFolder, type WalkLayerOptions, type WalkSyncOptions, walkLayerSync } from './walk.js';

/** Options of {@link exportLayer}: the walk's (metadata policy, symlinks, kind) plus where and how to write. */
export interface ExportLayerOptions extends Omit<WalkLayerOptions, 'onSkip'> {
  /**
   * Where the tar goes: a file path (written atomically: a temporary sibling `.NAME.winlayer-tmp-*`, fsynced and
   * renamed; removed on error or SIGINT/SIGTERM), an open file descriptor, or a writable stream (neither closed).
   */
  readonly output: string | number | NodeJS.WritableStream;
  /** Default `none`. */
  readonly compression?: Compression;
  /** gzip 1–9 (default 6), zstd 1–22 (default 3). */
  readonly level?: number;
  /**
   * Called as each entry starts, every few MiB inside a large file, and once at the end (the CLI throttles it into a
   * progress line on a terminal). See the tar writer's `onProgress`.
   */
  readonly onProgress?: (progress: ExportProgress) => void;
}

/** How far an export has come: entries started, content bytes written, the entry being written. */
export type ExportProgress = TarProgress;

/** A symlink left out under `symlinks: 'skip'`. */
export interface SkippedEntry {
  readonly path: string;
  readonly reason: string;
}

/** What {@link exportLayer} wrote: the tar writer's digests and sizes, plus the layer kind and what was skipped. */
export interface ExportResult extends TarSummary {
  readonly kind: LayerKind;
  /** The file written (absent when writing to a descriptor or stream). */
  readonly output?: string;
  readonly skipped: SkippedEntry[];
}

/**
 * Exports the layer folder `layerDir` (see `docs/layer-folder.md`) as a layer tar. Streams: memory stays flat; the
 * `diffId` (sha256 of the uncompressed tar), the digest and size of the bytes written are computed on the way.
 * The same folder gives the same bytes whatever the creation order, umask, owner or filesystem.
 *
 * Throws, before writing: `NOT_FOUND` / `SOURCE_UNREADABLE` when `layerDir` is missing or a file, `USAGE` for bad
 * options or an output inside the layer folder, `LAYER_HIVE` for a base layer without its five hives (what `lint`
 * reports as `base-hive-missing`; a layer with parents says `kind: 'non-base'`). While writing, the walk's errors
 * (`LAYER_INVALID` for content export would leave out, `NAME_INVALID` / `NAME_COLLISION` for all such names at once,
 * `LAYER_SYMLINK`, `LAYER_SPECIAL_FILE`, `SIDECAR_INVALID`, `IO`) and the tar writer's (`TAR_ENTRY`, `TAR_TOO_LARGE`,
 * `IO`). A file output is never left partial.
 */
export async function exportLayer(layerDir: string, opts: ExportLayerOptions): Promise<ExportResult> {
  const policy = resolvePolicy(opts);
  if (opts.symlinks !== undefined && opts.symlinks !== 'error' && opts.symlinks !== 'skip') {
    throw new WinlayerError('USAGE', `--symlinks must be "error" or "skip", not "${String(opts.symlinks)}"`);
  }
  requireLayerFolder(layerDir);
  const sidecar = readSidecar(layerDir);
  const kind: LayerKind = opts.kind ?? sidecar?.manifest.kind ?? 'base';
  try {
    // What `lint` would rate an error, refused before anything is written.
    if (kind === 'base') requireBaseHives(layerDir);
  } catch (e) {
    sidecar?.close();
    throw e;
  }
  const skipped: SkippedEntry[] = [];
  const walkOpts: WalkSyncOptions = {
    ...opts,
    kind,
    policy,
    sidecar: sidecar ?? null,
    onSkip: (path, reason) => skipped.push({ path, reason }),
  };
  const entries = () => walkLayerSync(layerDir, walkOpts);
  // A layer is large: the sha256 thread starts with the walk instead of after the first 256 KiB.
  const tarOpts = {
    threadedHash: true,
    ...(opts.onProgress === undefined ? {} : { onProgress: opts.onProgress }),
    ...(opts.compression === undefined ? {} : { compression: opts.compression }),
    ...(opts.level === undefined ? {} : { level: opts.level }),
  };
  try {
    if (typeof opts.output !== 'string') {
      const summary = await writeTar(entries(), opts.output, tarOpts);
      return { ...summary, kind, skipped };
    }

    const output = resolve(opts.output);
    const inside = relative(resolve(layerDir), output);
    // Anywhere inside: in Files/ it would export itself, beside Files/ the next export would refuse it as stray.
    if (inside !== '' && inside.split(sep)[0] !== '..' && !isAbsolute(inside)) {
      throw new WinlayerError('USAGE', 'the output file would be inside the layer folder it exports', {
        path: output,
        hint: 'write the tar outside the layer folder, e.g. -o ../layer.tar',
      });
    }
    // AtomicTarget refuses a folder (USAGE, before the walk starts), and writes a device, FIFO or socket (`/dev/null`,
    // `/dev/stdout`) in place instead of renaming over it.
    const summary = await writeTarFile(entries(), output, tarOpts);
    return { ...summary, kind, output, skipped };
  } finally {
    sidecar?.close();
  }
}
