/**
 * The `.winlayer/` metadata sidecar of a layer folder (format: `docs/layer-folder.md`). It keeps what a non-Windows
 * filesystem cannot: attributes, security descriptors, the four Windows times, EAs, ADS, symlink text, junctions,
 * whiteouts, hard links into parents and unknown PAX records.
 *
 * This module reads it: `readSidecar` loads an index of path → record whose memory grows with the number of entries,
 * never with data (a `LineIndex`: each record's byte offset and the hash of its path; `get` reads and parses it). The
 * codec is `sidecar-record.ts`, the writer `sidecar-writer.ts`; both are re-exported here, so `./sidecar.js` is the
 * one name the other modules import.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WinlayerError } from '../errors.js';
import { upcaseHash } from '../internal/windows.js';
import { equalUpcase } from '../windows/index.js';
import { fileLines, LineIndex, type LineIndexLimits } from './line-index.js';
import {
  decodeRecord,
  decodeSdLine,
  sidecarInvalid as invalid,
  parseManifest,
  SIDECAR_DIR,
  SIDECAR_FILES,
  type SidecarManifest,
  type SidecarRecord,
  type SidecarStream,
} from './sidecar-record.js';

export {
  decodeRecord,
  encodeRecord,
  type LayerKind,
  type ParentRef,
  SIDECAR_DIR,
  SIDECAR_VERSION,
  type SidecarManifest,
  type SidecarRecord,
  type SidecarRecordKind,
  type SidecarStream,
} from './sidecar-record.js';
export { SidecarWriter, type SidecarWriterOptions } from './sidecar-writer.js';

/** A loaded sidecar: the manifest, the SD table and a path → record index. */
export interface Sidecar {
  /** Absolute (or as given) path of the `.winlayer` folder. */
  readonly dir: string;
  readonly manifest: SidecarManifest;
  /** The record of a layer path, parsed on each call; undefined when there is none. */
  get(path: string): SidecarRecord | undefined;
  has(path: string): boolean;
  /** The number of records. */
  readonly size: number;
  /** Every path with a record, in file order. */
  paths(): IterableIterator<string>;
  /** Every record, in file order, parsed as it is reached. */
  records(): IterableIterator<SidecarRecord>;
  /** The first record (in file order) whose path equals `path` by Windows' case rule (`upcase`), or undefined. */
  getFolded(path: string): SidecarRecord | undefined;
  /** The security descriptor bytes of a table id (throws `SIDECAR_INVALID` for an unknown id). */
  securityDescriptor(id: number): Uint8Array;
  /**
   * Records that stand without a disk object (whiteouts, hard links into parents and symlinks: import never creates a
   * host symlink), grouped by the layer path of the folder that contains them.
   */
  readonly detached: ReadonlyMap<string, readonly SidecarRecord[]>;
  /** Host path of a stream's data file (`streams/<n>` resolved inside `.winlayer/`). */
  streamPath(stream: SidecarStream): string;
  /**
   * Closes the file `get` reads records from (a later `get` opens it again); an index that spilled to a temporary file
   * is released with its folder, and must not be used afterwards.
   */
  close(): void;
}

/** Internal limits of {@link readSidecar}'s index (tests make them small to take the bounded paths). */
export type SidecarIndexLimits = LineIndexLimits;

/** The layer path of the folder that holds `path` (`''` for a top-level name). */
function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

/**
 * Loads the sidecar of `layerDir`, or returns `undefined` when the folder has no `.winlayer/` (a plain folder).
 * Reads `entries.ndjson` once (synchronously, in 1 MiB chunks), checks every record, and keeps no paths: a hash
 * table of (hash of the path, line number) and each line's offset: 4 bytes a line plus 8–16 a slot, and past 2^20
 * slots (786,000 records) the table moves to a spill file in a private temporary folder (4 MiB of it cached), so
 * memory stays bounded whatever the size; `get` reads a record back with one positioned read and confirms its path.
 * Records that stand without a disk object (`detached`) are kept whole. Throws `SIDECAR_INVALID` for a malformed or
 * incomplete sidecar (no `manifest.json`, unknown version, bad line, duplicate path, unknown SD id). Call `close()`
 * when done.
 */
export function readSidecar(layerDir: string, limits: SidecarIndexLimits = {}): Sidecar | undefined {
  const dir = join(layerDir, SIDECAR_DIR);
  if (!existsSync(dir)) return undefined;
  const manifestPath = join(dir, SIDECAR_FILES.manifest);
  if (!existsSync(manifestPath)) {
    throw invalid(manifestPath, 'missing: the sidecar is incomplete (an import was interrupted?)');
  }
  const manifest = parseManifest(manifestPath, readText(manifestPath));
  const sdsPath = join(dir, SIDECAR_FILES.sds);
  const sds = readSds(sdsPath);

  const entriesPath = join(dir, SIDECAR_FILES.entries);
  // The index holds no paths: (hash of the path by Windows' case rule, line number) plus each line's offset.
  const index = new LineIndex(entriesPath, limits);
  const readBack = (i: number): SidecarRecord => decodeRecord(index.line(i), entriesPath, i + 1);
  /** The record of `path`, found through the hash table and confirmed by its own path. */
  const lookup = (path: string): SidecarRecord | undefined => {
    let found: SidecarRecord | undefined;
    index.find(upcaseHash(path), (i) => {
      const r = readBack(i);
      if (r.path !== path) return false;
      found = r;
      return true;
    });
    return found;
  };
  const detached = new Map<string, SidecarRecord[]>();
  try {
    if (existsSync(entriesPath)) {
      for (const { text, start, length } of fileLines(entriesPath)) {
        const n = index.size + 1;
        const r = decodeRecord(text, entriesPath, n);
        if (r.sd !== undefined && r.sd >= sds.length) {
          throw invalid(entriesPath, `sd id ${r.sd} is not in ${SIDECAR_FILES.sds}`, n);
        }
        if (lookup(r.path) !== undefined) throw invalid(entriesPath, `duplicate record for ${r.path}`, n);
        index.push(start, length, upcaseHash(r.path));
        if (r.kind === 'whiteout' || r.kind === 'symlink' || (r.kind === 'hardlink' && r.inParent === true)) {
          const p = parentOf(r.path);
          const group = detached.get(p);
          if (group === undefined) detached.set(p, [r]);
          else group.push(r);
        }
      }
    }
  } catch (e) {
    index.dispose();
    throw e;
  }
  const count = index.size;

  return {
    dir,
    manifest,
    size: count,
    detached,
    get: lookup,
    has: (path: string) => lookup(path) !== undefined,
    *paths(): IterableIterator<string> {
      for (let i = 0; i < count; i++) yield readBack(i).path;
    },
    *records(): IterableIterator<SidecarRecord> {
      for (let i = 0; i < count; i++) yield readBack(i);
    },
    getFolded(path: string): SidecarRecord | undefined {
      let found: SidecarRecord | undefined;
      index.find(upcaseHash(path), (i) => {
        const r = readBack(i);
        if (!equalUpcase(r.path, path)) return false;
        found = r;
        return true;
      });
      return found;
    },
    securityDescriptor(id: number): Uint8Array {
      const sd = sds[id];
      if (sd === undefined) throw invalid(sdsPath, `no security descriptor with id ${id}`);
      return sd;
    },
    streamPath: (s: SidecarStream) => join(dir, ...s.data.split('/')),
    close: () => index.close(),
  };
}

function readSds(sdsPath: string): Uint8Array[] {
  const sds: Uint8Array[] = [];
  if (!existsSync(sdsPath)) return sds;
  for (const line of lines(readText(sdsPath))) sds.push(decodeSdLine(line, sds.length, sdsPath, sds.length + 1));
  return sds;
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new WinlayerError('IO', `cannot read: ${(e as Error).message}`, { path, cause: e });
  }
}

function* lines(text: string): Generator<string> {
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    if (line.trim() !== '') yield line;
  }
}
