/**
 * `importLayer`: a Windows layer tar (plain, gzip or zstd, from a file or any byte stream) becomes a layer folder —
 * hcsshim's `ImportLayerFromTar`, on any OS. The tar reader (`src/tar/`) yields the entries; `writeLayerDir` checks
 * each one against the path-safety rules (`safety.ts`) and writes it atomically (`dir-writer.ts`).
 */
import type { LayerEntry } from '../entry.js';
import { type ByteInput, openTarSource, type ReadTarOptions, readTar } from '../tar/index.js';
import { type ImportResult, type WriteLayerDirOptions, writeLayerDir } from './dir-writer.js';

/** Options of `importLayer`: the layer-folder options plus the tar reader's. */
export interface ImportLayerOptions extends WriteLayerDirOptions {
  /** Options for the tar reader (compression is detected when absent; `lenient` never relaxes path safety). */
  readonly tar?: ReadTarOptions;
}

/**
 * Imports the layer tar `input` — a file path (`FILE` or `layer:FILE`) or a byte stream such as stdin — into the
 * layer folder `layerDir`. Streams: the archive is read once, bodies go straight to disk, memory holds an index of
 * names. The target must not exist or be an empty folder unless `force` (then it is replaced atomically). Returns
 * what was written. Throws `SOURCE_UNREADABLE` at once for an input file that cannot be opened, the tar reader's
 * errors (`TAR_*`, `COMPRESSION`) and `writeLayerDir`'s; on any error nothing is left behind and the target is
 * unchanged.
 */
export async function importLayer(
  input: string | ByteInput,
  layerDir: string,
  opts: ImportLayerOptions = {},
): Promise<ImportResult> {
  const entries: AsyncIterable<LayerEntry> =
    typeof input === 'string' ? openTarSource(input, { read: opts.tar ?? {} }).entries : readTar(input, opts.tar ?? {});
  return writeLayerDir(entries, layerDir, opts);
}
