/**
 * The layer-folder sink: `writeLayerDir(entries, dir)` turns a checked entry stream into a layer folder (`Files/`,
 * `UtilityVM/Files/`, `Hives/`, `bcd*.bak`, `.winlayer/`) — safely and atomically. `importLayer` is this sink fed by
 * the tar reader.
 *
 * Safety: every entry passes `ImportGuard` before anything touches the disk; the folder is built in a temporary
 * sibling (`AtomicTarget`), files are created with `O_CREAT|O_EXCL` (never through an existing name or link), no host
 * symbolic link is ever created, and on any error the temporary is removed — the target stays as it was.
 * Speed: synchronous fs calls (faster than promises for many small files), bodies written straight from the tar
 * reader's input chunk, times set on the open descriptor, one filesystem sync at the end instead of one fsync per file.
 * Memory: flat but for the guard's table of names (two 32-bit words per name); the names themselves and the folders
 * whose times are set last go to spill files in the temporary folder.
 */
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  fchmodSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  type Stats,
  statSync,
  utimesSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { AtomicTarget, hostPathProblem } from '../atomic.js';
import type { LayerEntry } from '../entry.js';
import { WinlayerError } from '../errors.js';
import { EventLoopTurns } from '../internal/turns.js';
import type { UnixNanos } from '../windows/index.js';
import { DeferredTimes } from './deferred-times.js';
import { DiskClock, type FileSink, LocalSink, ThreadSink, writeFile } from './file-sink.js';
import { ImportGuard, trimName } from './safety.js';
import type { SharedInput } from './shared-input.js';
import { type LayerKind, SIDECAR_DIR, type SidecarRecord, type SidecarStream, SidecarWriter } from './sidecar.js';
import { microsFloor, utimeSeconds } from './times.js';
import { EarlyWriteBack } from './write-back.js';
import { writerThreadCount } from './writer-count.js';
import { DIR_MODE, FILE_MODE } from './writer-protocol.js';
import { entryWriteError, WriterThreads } from './writer-threads.js';

/** Options of `writeLayerDir` and `importLayer`. */
export interface WriteLayerDirOptions {
  /** Force the layer kind; absent = decide from the entries (a `Hives/` entry or a whiteout ⇒ non-base). */
  readonly kind?: LayerKind;
  /**
   * Parent layer folders, nearest first. Hard links whose target is not in this layer are looked up under each
   * parent's `Files/`, in order; found ones are recorded as links into the parent (nothing is written on disk).
   */
  readonly parents?: readonly string[];
  /**
   * Replace an existing layer folder (one holding `Files/` or `.winlayer/`; never a file, a link or another folder):
   * the old folder is set aside and removed only once the new one is in place (`AtomicTarget.commit`).
   */
  readonly force?: boolean;
  /** Sync the new folder to stable storage once before the rename. Default true. */
  readonly sync?: boolean;
  /**
   * Writer threads: worker threads that make the filesystem calls while the entries are read and checked
   * (`writer-threads.ts`). Absent: two where the host has a second core, none on one core, started once the layer
   * passes 1,000 entries or 32 MiB (a small layer is written before threads would have started); `0`: none, every call
   * on the calling thread; `1` to `8`: that many, started at once. Files go to the least busy thread; with more than
   * one, folders are created on the calling thread. Used only where the filesystem keeps the microseconds of file
   * times (else the calling thread writes everything). Why these defaults: `docs/benchmarks.md`.
   */
  readonly writerThreads?: number;
  /**
   * Called with running totals (for progress display): after each entry, and every few MiB inside a large file
   * (`bytes` then counts the part written so far).
   */
  readonly onProgress?: (progress: ImportProgress) => void;
}

/** Running totals of an import, for progress display. */
export interface ImportProgress {
  /** Entries written. */
  readonly entries: number;
  /** Content bytes written (inside a large file: the part written so far). */
  readonly bytes: number;
  /**
   * Bytes read from the input file so far (compressed bytes for a compressed tar), to set against the file's size:
   * `importLayer` of a file path only.
   */
  readonly inputBytes?: number;
}

/** What `writeLayerDir` / `importLayer` wrote. */
export interface ImportResult {
  /** The layer folder (absolute). */
  readonly layerDir: string;
  readonly kind: LayerKind;
  /** Entries accepted (streams included). */
  readonly entries: number;
  readonly directories: number;
  readonly files: number;
  /** Hard links within the layer (written as host hard links). */
  readonly hardlinks: number;
  /** Hard links into parent layers (recorded in the sidecar only). */
  readonly parentLinks: number;
  /** Symbolic links and junctions (recorded in the sidecar only). */
  readonly symlinks: number;
  readonly whiteouts: number;
  /** Alternate data streams (kept in `.winlayer/streams/`). */
  readonly streams: number;
  /** Sum of the sizes of regular files (what hcsshim's import returns). */
  readonly bytes: number;
  /** Distinct security descriptors in the sidecar table. */
  readonly securityDescriptors: number;
  /** The `bcd*.bak` copies written at the layer root. */
  readonly bcdBackups: readonly string[];
  /** True when an existing target was replaced (`force`). */
  readonly replaced: boolean;
}

/** The four UtilityVM boot files hcsshim keeps an original copy of, and the copy's name at the layer root. */
const BCD_BACKUPS: ReadonlyMap<string, string> = new Map([
  ['UtilityVM/Files/EFI/Microsoft/Boot/BCD', 'bcd.bak'],
  ['UtilityVM/Files/EFI/Microsoft/Boot/BCD.LOG', 'bcd.log.bak'],
  ['UtilityVM/Files/EFI/Microsoft/Boot/BCD.LOG1', 'bcd.log1.bak'],
  ['UtilityVM/Files/EFI/Microsoft/Boot/BCD.LOG2', 'bcd.log2.bak'],
]);

/**
 * With the default `writerThreads`, the threads start only once the layer has shown this many entries or bytes: a
 * small layer is done before two threads would have started, and up to here the calling thread writes everything
 * itself, as it does while threads start.
 */
const LAZY_START_ENTRIES = 1000;
const LAZY_START_BYTES = 32 * 1024 * 1024;
/** Bytes between two progress reports inside one large file. */
const PROGRESS_BYTES = 4 * 1024 * 1024;

/** A sidecar record under construction: one fixed shape for every kind (absent fields are `undefined`). */
type DraftRecord = { -readonly [K in keyof SidecarRecord]: SidecarRecord[K] };

/**
 * Spill files in the temporary folder, unlinked as soon as they are open (else removed at the end): the guard's names
 * and the work left for the end (folder times, hard-link records). No layer entry can take these names (entries live
 * under `Files/`, `UtilityVM/` and `Hives/`).
 */
const NAMES_SPILL = '.winlayer-names';
const DEFERRED_SPILL = '.winlayer-deferred';

/** What `importLayer` adds to the options (not part of the public API). */
export interface LayerDirInput {
  /** The shared buffers the entries' bodies are read into: the writer threads write from there without a copy. */
  readonly sharedInput?: SharedInput;
}

/**
 * Writes `entries` into the layer folder `layerDir` (sink). Streams: bodies are copied straight to disk; memory holds
 * a table of two 32-bit words per name, the names and the folders (whose times are set last) are spilled to files in
 * the temporary folder. The target must not exist or be an empty folder, unless `force` (a layer folder only). A
 * folder or file whose path passes the host's limits (`HOST_PATH_LIMITS`) is refused before it is made. Throws
 * `WinlayerError` — `LAYER_UNSAFE`, `LAYER_INVALID`, `LAYER_HARDLINK`, `NAME_INVALID`, `NAME_COLLISION`, `SD_INVALID`,
 * `LAYER_SPECIAL_FILE`, `LAYER_EXISTS`, `NOT_FOUND`, `IO`, `USAGE` (a `writerThreads` out of range), or whatever the
 * source throws — and then leaves nothing behind.
 */
export function writeLayerDir(
  entries: AsyncIterable<LayerEntry>,
  layerDir: string,
  opts: WriteLayerDirOptions = {},
): Promise<ImportResult> {
  return writeLayerFolder(entries, layerDir, opts);
}

/** {@link writeLayerDir} with what `importLayer` adds ({@link LayerDirInput}). */
export async function writeLayerFolder(
  entries: AsyncIterable<LayerEntry>,
  layerDir: string,
  opts: WriteLayerDirOptions & LayerDirInput,
): Promise<ImportResult> {
  const finalPath = resolve(layerDir);
  // Checked here, with the other options, even when the threads would start later or never.
  const threads = writerThreadCount(opts.writerThreads);
  const parents = (opts.parents ?? []).map((p) => resolve(p));
  for (const p of parents) {
    let ok = false;
    try {
      ok = statSync(p).isDirectory();
    } catch {
      ok = false;
    }
    if (!ok) throw new WinlayerError('NOT_FOUND', 'the parent layer folder does not exist', { path: p });
  }
  // Checks that the folder that holds the target exists, and puts back an old layer an interrupted `--force` set aside
  // (before the target is looked at: it is the target again).
  const target = new AtomicTarget(finalPath, { kind: 'folder' });
  let sidecar: SidecarWriter | undefined;
  let exists = false;
  try {
    exists = checkTarget(finalPath, opts.force === true);
    mkdirSync(target.tempPath, { mode: DIR_MODE });
    sidecar = new SidecarWriter(target.tempPath, {
      kind: opts.kind ?? 'base',
      parents: (opts.parents ?? []).map((path) => ({ path })),
      uniquePaths: true, // the guard refuses duplicate names
    });
    // Opens its spill files last: from here on, `run` closes them whatever happens.
    const w = new DirWriter(target.tempPath, parents, threads, opts);
    const result = await w.run(entries, sidecar);
    if (opts.sync !== false) syncTree(target.tempPath);
    target.commit({ synced: true, replaceDirectory: exists });
    return { ...result, layerDir: finalPath, replaced: exists };
  } catch (e) {
    sidecar?.abort();
    target.abort();
    if (e instanceof WinlayerError) throw e;
    // Only filesystem failures (errno codes) are IO errors; anything else is a bug and keeps its stack.
    if (typeof (e as NodeJS.ErrnoException)?.code !== 'string' || (e as NodeJS.ErrnoException).syscall === undefined) {
      throw e;
    }
    throw new WinlayerError('IO', `cannot write the layer folder: ${(e as Error).message}`, {
      path: finalPath,
      cause: e,
    });
  }
}

/**
 * Returns true when the target exists and will be replaced; throws `LAYER_EXISTS` when it may not be: it is not empty
 * and `force` is not given, or `force` would replace something other than a layer folder (a file, a link, a folder
 * holding neither `Files/` nor the sidecar).
 */
function checkTarget(path: string, force: boolean): boolean {
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new WinlayerError('IO', `cannot inspect the target: ${(e as Error).message}`, { path, cause: e });
  }
  if (st.isDirectory() && readdirSync(path).length === 0) return false;
  if (!force) {
    throw new WinlayerError('LAYER_EXISTS', st.isDirectory() ? 'the target folder is not empty' : 'the target exists', {
      path,
      hint: 'choose a new folder, empty this one, or pass --force to replace it',
    });
  }
  const other = notALayerFolder(path, st);
  if (other === undefined) return true;
  throw new WinlayerError('LAYER_EXISTS', `the target is ${other}: --force replaces a layer folder only`, {
    path,
    hint: 'choose a new folder, or remove this one yourself if it should go',
  });
}

/**
 * What the target is when it is not a layer folder `--force` may replace (one holding `Files/` or the `.winlayer/`
 * sidecar, as folders, not links), in words; undefined when it is one.
 */
function notALayerFolder(path: string, st: Stats): string | undefined {
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isFile()) return 'a file';
  if (!st.isDirectory()) return 'not a folder';
  const layer = [join(path, 'Files'), join(path, SIDECAR_DIR)].some(
    (p) => lstatSync(p, { throwIfNoEntry: false })?.isDirectory() === true,
  );
  return layer ? undefined : 'a folder that holds neither Files/ nor .winlayer/';
}

/**
 * Flushes the new folder to stable storage with one call: `sync -f` (syncfs(2) on the filesystem that holds it) where
 * coreutils has it, else a plain `sync`. One filesystem sync costs what one fsync does; one fsync per file costs
 * seconds per ten thousand files.
 */
function syncTree(path: string): void {
  try {
    execFileSync('sync', ['-f', path], { stdio: 'ignore' });
  } catch {
    try {
      execFileSync('sync', [], { stdio: 'ignore' });
    } catch {
      // No sync tool: AtomicTarget's fsync of the folder and the rename still order the metadata.
    }
  }
}

class DirWriter {
  readonly #root: string;
  readonly #parents: readonly string[];
  readonly #opts: WriteLayerDirOptions & LayerDirInput;
  /** Writer threads to start (0: none). */
  readonly #threadCount: number;
  readonly #guard: ImportGuard;
  /** Folder times and the records that wait for a disk mtime, done at the end. */
  readonly #deferred: DeferredTimes;
  readonly #clock = new DiskClock();
  readonly #local: LocalSink;
  #thread: ThreadSink | undefined;
  /** The last file's or folder's record, added once its streams (if any: `record.streams`) are known. */
  #pending: DraftRecord | undefined;
  #pendingIsDir = false;
  readonly #fileChmod: boolean;
  readonly #dirChmod: boolean;
  #threads: WriterThreads | undefined;
  /** True while writer threads are wanted but not started yet (see {@link LAZY_START_ENTRIES}). */
  #threadsDue = false;
  /** Background syncs while a large layer is written (only when the import ends with a sync). */
  readonly #writeBack: EarlyWriteBack | undefined;
  #nonBase = false;
  #sawFiles = false;
  #sdCount = 0;
  /** Bytes of the current file body written so far (for progress inside a large file), and when last reported. */
  #bodyBytes = 0;
  #bodyReported = 0;
  #countBody = false;
  #counts = {
    entries: 0,
    directories: 0,
    files: 0,
    hardlinks: 0,
    parentLinks: 0,
    symlinks: 0,
    whiteouts: 0,
    streams: 0,
    bytes: 0,
  };
  readonly #bcd: string[] = [];

  constructor(
    root: string,
    parents: readonly string[],
    threadCount: number,
    opts: WriteLayerDirOptions & LayerDirInput,
  ) {
    this.#root = root;
    this.#parents = parents;
    this.#threadCount = threadCount;
    this.#opts = opts;
    this.#writeBack = opts.sync === false ? undefined : new EarlyWriteBack(root);
    const umask = 0o777 & ~statSync(root).mode;
    this.#fileChmod = (FILE_MODE & umask) !== 0;
    this.#dirChmod = (DIR_MODE & umask) !== 0;
    this.#local = new LocalSink(this.#clock, this.#fileChmod, this.#onBodyBytes);
    // A base layer has no parents to link into; links into parents make an auto-detected layer non-base.
    this.#guard = new ImportGuard({
      kind: opts.kind ?? 'auto',
      parentLinks: parents.length > 0 && opts.kind !== 'base',
      spillFile: `${root}/${NAMES_SPILL}`,
    });
    try {
      this.#deferred = new DeferredTimes(`${root}/${DEFERRED_SPILL}`);
    } catch (e) {
      this.#guard.close();
      throw e;
    }
  }

  async run(
    entries: AsyncIterable<LayerEntry>,
    sidecar: SidecarWriter,
  ): Promise<Omit<ImportResult, 'layerDir' | 'replaced'>> {
    try {
      // Known before the first folder: then a folder's record is final at once (its mtime on disk is computed).
      if (this.#clock.probe(this.#root) && this.#threadCount > 0) {
        if (this.#opts.writerThreads !== undefined) this.#startThreads();
        else this.#threadsDue = true;
      }
      return await this.#run(entries, sidecar);
    } finally {
      this.#writeBack?.stop();
      await this.#threads?.stop();
      this.#guard.close();
      this.#deferred.close();
    }
  }

  async #run(
    entries: AsyncIterable<LayerEntry>,
    sidecar: SidecarWriter,
  ): Promise<Omit<ImportResult, 'layerDir' | 'replaced'>> {
    const turns = new EventLoopTurns();
    for await (const e of entries) {
      // A source that never waits (a tar file read synchronously) would keep the event loop from ever turning.
      if (turns.due()) {
        await turns.take();
        this.#writeBack?.progress(this.#counts.bytes);
      }
      // The archive root (`./`, normalised to '') is the layer folder itself: nothing to write, nothing to record.
      if (e.kind === 'directory' && e.path === '' && e.raw !== undefined && /^(\.\/+)+$|^\.$/.test(e.raw.name))
        continue;
      const verdict = this.#guard.check(e);
      if (verdict.nonBase || verdict.link?.in === 'parent') this.#nonBase = true;
      if (e.kind === 'directory' || e.kind === 'file' || (e.kind === 'hardlink' && verdict.link?.in === 'layer')) {
        // Refused before it is made: past the host's limits, a deep folder would fail half-made (and its error hide).
        const problem = hostPathProblem(this.#root, e.path);
        if (problem !== undefined) {
          throw new WinlayerError('IO', `cannot write the entry: ${problem}`, { entry: e.raw?.name ?? e.path });
        }
      }
      if (e.kind !== 'stream') this.#flushPending(sidecar);
      try {
        // Synchronous unless a body must be awaited: no promise per entry on the common path.
        const writing = this.#write(e, verdict.link, sidecar);
        if (writing !== undefined) await writing;
      } catch (err) {
        const errno = err as NodeJS.ErrnoException;
        if (err instanceof WinlayerError || typeof errno?.code !== 'string' || errno.syscall === undefined) throw err;
        throw entryWriteError(e.raw?.name ?? e.path, errno);
      }
      this.#counts.entries++;
      this.#opts.onProgress?.({ entries: this.#counts.entries, bytes: this.#counts.bytes });
    }
    this.#flushPending(sidecar);
    if (this.#counts.directories === 0 || !this.#sawFiles) {
      throw new WinlayerError('LAYER_INVALID', 'the archive has no Files folder entry', {
        entry: 'Files',
        hint: 'every Windows layer holds Files/ (the container sees it as C:\\)',
      });
    }
    this.#threads?.drain();
    this.#finishDeferred(sidecar);
    const kind: LayerKind = this.#opts.kind ?? (this.#nonBase ? 'non-base' : 'base');
    sidecar.finish({ kind });
    return {
      kind,
      ...this.#counts,
      securityDescriptors: this.#sdCount,
      bcdBackups: this.#bcd,
    };
  }

  #write(
    e: LayerEntry,
    link: ReturnType<ImportGuard['check']>['link'],
    sidecar: SidecarWriter,
  ): Promise<void> | undefined {
    // The guard has checked the path (relative, no `..`, `.`, empty parts or backslashes): plain concatenation is safe.
    const disk = `${this.#root}/${e.path}`;
    switch (e.kind) {
      case 'directory': {
        if (e.path === 'Files') this.#sawFiles = true;
        const threads = this.#writer();
        if (threads?.queuesFolders === true) threads.mkdir(disk, this.#dirChmod, e.raw?.name ?? e.path);
        else {
          mkdirSync(disk, { mode: DIR_MODE });
          if (this.#dirChmod) chmodDir(disk);
        }
        const record = this.#meta(e, 'directory', sidecar);
        const { lastWriteTime, lastAccessTime } = e.win;
        if (this.#clock.exact === true) {
          // What the disk will show once the times are set at the end: the record is final now.
          record.diskMtime = microsFloor(lastWriteTime);
          this.#deferred.folder(e.path, lastWriteTime, lastAccessTime);
        } else {
          this.#deferred.folder(e.path, lastWriteTime, lastAccessTime, record);
        }
        this.#pending = record;
        this.#pendingIsDir = true;
        this.#counts.directories++;
        return;
      }
      case 'file': {
        const w = e.win;
        const sink = this.#sink();
        this.#countBody = true;
        const written = writeFile(
          sink,
          disk,
          e.path,
          e.body,
          e.size,
          [w.lastAccessTime ?? w.lastWriteTime, w.lastWriteTime],
          e.raw?.name ?? e.path,
        );
        if (written instanceof Promise) return written.then((t) => this.#fileWritten(e, disk, t, sidecar));
        this.#fileWritten(e, disk, written, sidecar);
        return;
      }
      case 'hardlink': {
        if (link === undefined)
          throw new WinlayerError('INTERNAL', 'a hard link without a resolution', { entry: e.path });
        if (link.in === 'layer') {
          const record = this.#meta(e, 'hardlink', sidecar);
          record.linkTarget = trimName(e.linkTarget);
          this.#deferred.link(e.path, record);
          this.#counts.hardlinks++;
          // The target file is on disk before the link is made: written here, or queued before the link (a writer
          // thread runs its queue in order, and a link waits for the other threads' earlier batches).
          const threads = this.#writer();
          if (threads !== undefined) threads.link(`${this.#root}/${link.dataPath}`, disk, e.raw?.name ?? e.path);
          else linkSync(`${this.#root}/${link.dataPath}`, disk);
        } else {
          if (this.#findInParents(link.path) === undefined) {
            throw new WinlayerError(
              'LAYER_HARDLINK',
              `the hard-link target "${link.path}" is in neither this layer nor a parent layer`,
              { entry: e.raw?.name ?? e.path, hint: 'give every parent layer folder, nearest first (--parent DIR)' },
            );
          }
          const record = this.#meta(e, 'hardlink', sidecar);
          record.linkTarget = link.path;
          record.inParent = true;
          sidecar.add(record);
          this.#counts.parentLinks++;
        }
        return;
      }
      case 'symlink': {
        // Never created on the host: the sidecar keeps it exactly (docs/layer-folder.md, "Import").
        const record = this.#meta(e, 'symlink', sidecar);
        record.linkTarget = e.linkTarget;
        if (e.win.mountPoint === true) record.mountPoint = true;
        sidecar.add(record);
        this.#counts.symlinks++;
        return;
      }
      case 'whiteout':
        sidecar.add({ path: e.path, kind: 'whiteout', target: e.target });
        this.#counts.whiteouts++;
        return;
      case 'stream': {
        const pending = this.#pending;
        if (pending === undefined || pending.path !== e.filePath) {
          throw new WinlayerError('INTERNAL', 'a stream without its file record', { entry: e.path });
        }
        const slot = sidecar.allocateStream();
        const done = (): void => {
          const stream: SidecarStream = { name: e.streamName, size: e.size, data: slot.data };
          // A record's stream list is made by its first stream (the record stays without `streams` when it has none).
          if (pending.streams === undefined) pending.streams = [stream];
          else (pending.streams as SidecarStream[]).push(stream);
          this.#counts.streams++;
        };
        this.#countBody = false;
        const written = writeFile(
          this.#sink(),
          slot.hostPath,
          e.path,
          e.body,
          e.size,
          undefined,
          e.raw?.name ?? e.path,
        );
        if (written instanceof Promise) return written.then(done);
        done();
        return;
      }
      default:
        // The guard refuses every other kind before we get here.
        throw new WinlayerError('INTERNAL', `unexpected entry kind ${e.kind}`, { entry: e.path });
    }
  }

  /**
   * The writer threads once they run, else undefined: until then this thread writes the entries itself (the first
   * entries need not wait for a thread to start), and from then on everything is queued, in order.
   */
  #writer(): WriterThreads | undefined {
    if (this.#threadsDue && (this.#counts.entries >= LAZY_START_ENTRIES || this.#counts.bytes >= LAZY_START_BYTES))
      this.#startThreads();
    return this.#threads?.ready === true ? this.#threads : undefined;
  }

  /** Where the next file's data goes: the writer threads once they run, else this thread. */
  #sink(): FileSink {
    const threads = this.#writer();
    if (threads === undefined) return this.#local;
    this.#thread ??= new ThreadSink(threads, this.#fileChmod, this.#onBodyBytes);
    return this.#thread;
  }

  #startThreads(): void {
    this.#threadsDue = false;
    this.#threads = new WriterThreads(this.#threadCount, this.#opts.sharedInput);
  }

  /** Progress inside a large file: reported every {@link PROGRESS_BYTES} (files only; streams are not counted). */
  readonly #onBodyBytes = (n: number): void => {
    if (!this.#countBody) return;
    this.#bodyBytes += n;
    if (this.#bodyBytes - this.#bodyReported < PROGRESS_BYTES) return;
    this.#bodyReported = this.#bodyBytes;
    this.#opts.onProgress?.({ entries: this.#counts.entries, bytes: this.#counts.bytes + this.#bodyBytes });
  };

  /** After a file's data is written (or queued): the BCD backup copy, the pending sidecar record, the counts. */
  #fileWritten(
    e: Extract<LayerEntry, { kind: 'file' }>,
    disk: string,
    diskMtime: UnixNanos | undefined,
    sidecar: SidecarWriter,
  ): void {
    // Every boot file starts with `U`: most paths skip the map.
    const bak = e.path.charCodeAt(0) === 0x55 ? BCD_BACKUPS.get(e.path) : undefined;
    if (bak !== undefined) {
      // The copy reads the file on disk: wait for queued writes.
      this.#threads?.drain();
      copyFileSync(disk, join(this.#root, bak));
      this.#bcd.push(bak);
    }
    const record = this.#meta(e, 'file', sidecar);
    record.size = e.size;
    record.diskMtime = diskMtime;
    this.#pending = record;
    this.#pendingIsDir = false;
    this.#counts.files++;
    this.#counts.bytes += e.size;
    this.#bodyBytes = 0;
    this.#bodyReported = 0;
  }

  #meta(e: LayerEntry, kind: SidecarRecord['kind'], sidecar: SidecarWriter): DraftRecord {
    const sd = e.win.securityDescriptor;
    const id = sd === undefined ? undefined : sidecar.addSecurityDescriptor(sd);
    if (id !== undefined && id >= this.#sdCount) this.#sdCount = id + 1;
    return metaRecord(e, kind, id);
  }

  #flushPending(sidecar: SidecarWriter): void {
    const p = this.#pending;
    if (p === undefined) return;
    this.#pending = undefined;
    // A folder's record waits in the deferred log unless its disk mtime is known already.
    if (!this.#pendingIsDir || this.#clock.exact === true) sidecar.add(p);
  }

  /**
   * Folder times last, when nothing more is created inside them. Archive order is fine: setting a folder's times does
   * not change its parent's (only creating or removing a name does). Where the disk's mtime cannot be computed (a
   * folder on a disk that rounds times, a hard link), it is read back and the record written now.
   */
  #finishDeferred(sidecar: SidecarWriter): void {
    this.#deferred.forEach((d) => {
      const disk = `${this.#root}/${d.path}`;
      let record: SidecarRecord | undefined;
      if (d.kind === 'folder') {
        const mtime = utimeSeconds(d.lastWriteTime);
        const at = d.lastAccessTime;
        utimesSync(disk, at === undefined || at === d.lastWriteTime ? mtime : utimeSeconds(at), mtime);
        record = d.readBack;
      } else {
        record = d.record;
      }
      if (record === undefined) return;
      sidecar.add({ ...record, diskMtime: lstatSync(disk, { bigint: true }).mtimeNs });
    });
  }

  /** The first parent folder whose `Files/...` holds `layerPath` as a regular file, reached without any symlink. */
  #findInParents(layerPath: string): string | undefined {
    const parts = layerPath.split('/');
    for (const parent of this.#parents) {
      let cur = parent;
      let found = true;
      for (let i = 0; i < parts.length; i++) {
        cur = join(cur, parts[i]!);
        const st = lstatSync(cur, { throwIfNoEntry: false });
        const last = i === parts.length - 1;
        if (st === undefined || st.isSymbolicLink() || (last ? !st.isFile() : !st.isDirectory())) {
          found = false;
          break;
        }
      }
      if (found) return parent;
    }
    return undefined;
  }
}

function chmodDir(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fchmodSync(fd, DIR_MODE);
  } finally {
    closeSync(fd);
  }
}

/** The sidecar record of an entry's Windows metadata; `sd` is the descriptor's id in the sidecar table. */
function metaRecord(e: LayerEntry, kind: SidecarRecord['kind'], sd: number | undefined): DraftRecord {
  const w = e.win;
  const eas = w.extendedAttributes;
  const extra = e.extraPax;
  return {
    path: e.path,
    kind,
    attributes: w.attributes,
    sd,
    creationTime: w.creationTime,
    lastWriteTime: w.lastWriteTime,
    lastAccessTime: w.lastAccessTime,
    changeTime: w.changeTime,
    size: undefined,
    diskMtime: undefined,
    linkTarget: undefined,
    mountPoint: undefined,
    inParent: undefined,
    target: undefined,
    extendedAttributes: eas === undefined || eas.length === 0 ? undefined : eas,
    streams: undefined,
    extraPax: extra === undefined || extra.length === 0 ? undefined : extra,
  };
}
