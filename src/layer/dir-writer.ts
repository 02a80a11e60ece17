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
  fstatSync,
  futimesSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  type Stats,
  statSync,
  unlinkSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { AtomicTarget, hostPathProblem } from '../atomic.js';
import type { EntryBody, LayerEntry, WindowsMetadata } from '../entry.js';
import { WinlayerError } from '../errors.js';
import { bodyViewReader } from '../tar/read.js';
import type { UnixNanos } from '../windows/index.js';
import { RecordLog } from './record-log.js';
import { ImportGuard, trimName } from './safety.js';
import {
  decodeRecord,
  encodeRecord,
  type LayerKind,
  SIDECAR_DIR,
  type SidecarRecord,
  type SidecarStream,
  SidecarWriter,
} from './sidecar.js';
import { EarlyWriteBack } from './write-back.js';
import {
  BackgroundWriter,
  CREATE_FLAGS,
  checkWriterThreads,
  entryWriteError,
  type SharedInput,
  useWriterThread,
  utimeSeconds,
  WHOLE_FILE_MAX,
  writerLanes,
} from './write-worker.js';

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
   * Perform the filesystem calls on worker threads (`write-worker.ts`) while the entries are read and checked. Default:
   * on when the host has a second core (`useWriterThread`; measured 14–37% faster for layers of many small files, even
   * for a few large ones, ~6 MB more peak RSS a thread), started once the layer passes 1,000 entries or 32 MiB (a small
   * layer is written before threads would have started); `true` starts them at once; `false` keeps every call on the
   * calling thread. Used only where the filesystem keeps the microseconds of file times.
   */
  readonly background?: boolean;
  /**
   * Writer threads with `background` (default {@link writerLanes}: two where the host has two cores or more). Files go
   * to the least busy thread; with more than one, folders are created on the calling thread.
   */
  readonly writerThreads?: number;
  /** Called after each entry with running totals (for progress display). */
  readonly onProgress?: (progress: { readonly entries: number; readonly bytes: number }) => void;
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
export const BCD_BACKUPS: ReadonlyMap<string, string> = new Map([
  ['UtilityVM/Files/EFI/Microsoft/Boot/BCD', 'bcd.bak'],
  ['UtilityVM/Files/EFI/Microsoft/Boot/BCD.LOG', 'bcd.log.bak'],
  ['UtilityVM/Files/EFI/Microsoft/Boot/BCD.LOG1', 'bcd.log1.bak'],
  ['UtilityVM/Files/EFI/Microsoft/Boot/BCD.LOG2', 'bcd.log2.bak'],
]);

const FILE_MODE = 0o644;
const DIR_MODE = 0o755;
const COPY_BUFFER = 1 << 20;
/** Longest stretch (ms) without an event-loop turn: signal handlers must run. */
const YIELD_MS = 20;
/**
 * With the default `background`, the writer threads start only once the layer has shown this many entries or bytes: a
 * small layer is done before two threads would have started (~10 ms of a 95 ms CLI import of two entries, measured), and
 * up to here the calling thread writes everything itself, as it does while threads start.
 */
const LAZY_START_ENTRIES = 1000;
const LAZY_START_BYTES = 32 * 1024 * 1024;

/** A sidecar record under construction: one fixed shape for every kind (absent fields are `undefined`). */
type Rec = { -readonly [K in keyof SidecarRecord]: SidecarRecord[K] };

/**
 * Spill files in the temporary folder, unlinked as soon as they are open (else removed at the end): the guard's names
 * and the work left for the end (folder times, hard-link records). No layer entry can take these names (entries live
 * under `Files/`, `UtilityVM/` and `Hives/`).
 */
const NAMES_SPILL = '.winlayer-names';
const DEFERRED_SPILL = '.winlayer-deferred';
/** `#deferred` tags: a folder whose times are set at the end; a hard link whose record waits for its disk mtime. */
const DEFER_FOLDER = 0;
const DEFER_LINK = 1;

/**
 * Writes `entries` into the layer folder `layerDir` (sink). Streams: bodies are copied straight to disk; memory holds
 * a table of two 32-bit words per name, the names and the folders (whose times are set last) are spilled to files in
 * the temporary folder. The target must not exist or be an empty folder, unless `force` (a layer folder only). A
 * folder or file whose path passes the host's limits (`HOST_PATH_LIMITS`) is refused before it is made. Throws
 * `WinlayerError` — `LAYER_UNSAFE`, `LAYER_INVALID`, `LAYER_HARDLINK`, `NAME_INVALID`, `NAME_COLLISION`, `SD_INVALID`,
 * `LAYER_SPECIAL_FILE`, `LAYER_EXISTS`, `NOT_FOUND`, `IO`, or whatever the source throws — and then leaves nothing
 * behind. `input` (from `importLayer`): the shared buffers the entries' bodies are read into, whose bytes the
 * background writer then writes without a copy.
 */
export async function writeLayerDir(
  entries: AsyncIterable<LayerEntry>,
  layerDir: string,
  opts: WriteLayerDirOptions = {},
  input?: SharedInput,
): Promise<ImportResult> {
  const finalPath = resolve(layerDir);
  // Checked here, with the other options, even when the threads would start later or never.
  if (opts.writerThreads !== undefined) checkWriterThreads(opts.writerThreads);
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
    const w = new DirWriter(target.tempPath, parents, opts, input);
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

export { utimeSeconds } from './write-worker.js';

/** Throws `LAYER_INVALID` when a body held another number of bytes than its entry declared. */
function checkSize(written: number, size: number, entry: string): void {
  if (written !== size) {
    throw new WinlayerError('LAYER_INVALID', `the entry declares ${size} bytes but holds ${written}`, { entry });
  }
}

/** `ns` truncated to whole microseconds (toward earlier time): what the disk shows after `utimeSeconds`. */
function microsFloor(ns: UnixNanos): UnixNanos {
  const us = ns >= 0n ? ns / 1000n : -((-ns + 999n) / 1000n);
  return us * 1000n;
}

class DirWriter {
  readonly #root: string;
  /** The tar reader's shared read buffers, when it reads a plain file (the background writer names their bytes). */
  readonly #input: SharedInput | undefined;
  readonly #parents: readonly string[];
  readonly #opts: WriteLayerDirOptions;
  readonly #guard: ImportGuard;
  /**
   * What is done at the end, in archive order. `DEFER_FOLDER`: path, then `atime\nmtime` (numbers as `utimeSeconds`
   * gives them) and, when the disk's mtime must be read back, the record's JSON line. `DEFER_LINK`: path, then the
   * record's JSON line (a link shares its file's mtime, read back with one `lstat` once every link exists: links are
   * made in order with the files, on the writer thread too, never waiting for it).
   */
  readonly #deferred: RecordLog;
  readonly #buffer = Buffer.allocUnsafe(COPY_BUFFER);
  /** The last file's or folder's record, added once its streams (if any: `record.streams`) are known. */
  #pending: Rec | undefined;
  #pendingIsDir = false;
  #fileChmod = false;
  #dirChmod = false;
  /** undefined until probed: whether the disk keeps the microseconds `utimes` sets (then no fstat per file). */
  #exactTimes: boolean | undefined;
  #bg: BackgroundWriter | undefined;
  /** True while writer threads are wanted but not started yet (see {@link LAZY_START_ENTRIES}). */
  #bgDue = false;
  /** Background syncs while a large layer is written (only when the import ends with a sync). */
  readonly #writeBack: EarlyWriteBack | undefined;
  #nonBase = false;
  #sawFiles = false;
  #sdCount = 0;
  readonly #recentSds: [Buffer, number][] = [];
  /** The last descriptor array and its id: the tar reader hands neighbours with the same rawsd the same array. */
  #lastSd: Uint8Array | undefined;
  #lastSdId = 0;
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

  constructor(root: string, parents: readonly string[], opts: WriteLayerDirOptions, input?: SharedInput) {
    this.#root = root;
    this.#input = input;
    this.#parents = parents;
    this.#opts = opts;
    this.#writeBack = opts.sync === false ? undefined : new EarlyWriteBack(root);
    const umask = 0o777 & ~statSync(root).mode;
    this.#fileChmod = (FILE_MODE & umask) !== 0;
    this.#dirChmod = (DIR_MODE & umask) !== 0;
    // A base layer has no parents to link into; links into parents make an auto-detected layer non-base.
    this.#guard = new ImportGuard({
      kind: opts.kind ?? 'auto',
      parentLinks: parents.length > 0 && opts.kind !== 'base',
      spillFile: `${root}/${NAMES_SPILL}`,
    });
    try {
      this.#deferred = new RecordLog(`${root}/${DEFERRED_SPILL}`);
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
      if (this.#probeExactTimes() && useWriterThread(this.#opts.background)) {
        if (this.#opts.background === true) this.#startWriter();
        else this.#bgDue = true;
      }
      return await this.#run(entries, sidecar);
    } finally {
      this.#writeBack?.stop();
      await this.#bg?.stop();
      this.#guard.close();
      this.#deferred.close();
    }
  }

  async #run(
    entries: AsyncIterable<LayerEntry>,
    sidecar: SidecarWriter,
  ): Promise<Omit<ImportResult, 'layerDir' | 'replaced'>> {
    let lastTurn = performance.now();
    for await (const e of entries) {
      // A source that never waits (a tar file read synchronously) would keep the event loop from ever turning: give
      // it a turn every YIELD_MS, so that SIGINT/SIGTERM handlers run and remove the temporary folder.
      if (performance.now() - lastTurn > YIELD_MS) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        lastTurn = performance.now();
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
    this.#bg?.drain();
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
        const bg = this.#writer();
        if (bg?.queuesFolders === true) bg.mkdir(disk, this.#dirChmod, e.raw?.name ?? e.path);
        else {
          mkdirSync(disk, { mode: DIR_MODE });
          if (this.#dirChmod) chmodDir(disk);
        }
        const record = this.#meta(e, 'directory', sidecar);
        const lastWrite = e.win.lastWriteTime;
        const lastAccess = e.win.lastAccessTime;
        const mtime = utimeSeconds(lastWrite);
        const atime = lastAccess === undefined || lastAccess === lastWrite ? mtime : utimeSeconds(lastAccess);
        const times = `${atime}\n${mtime}`;
        if (this.#exactTimes === true) {
          // What the disk will show once the times are set at the end: the record is final now.
          record.diskMtime = microsFloor(lastWrite);
          this.#deferred.append(DEFER_FOLDER, e.path, times);
        } else {
          this.#deferred.append(DEFER_FOLDER, e.path, `${times}\n${encodeRecord(record)}`);
        }
        this.#pending = record;
        this.#pendingIsDir = true;
        this.#counts.directories++;
        return;
      }
      case 'file': {
        const bg = this.#writer();
        if (bg !== undefined) return this.#fileInBackground(bg, e, disk, sidecar);
        if (e.body.readSync === undefined) {
          return this.#writeFileAsync(disk, e.body, e.size, e.path, e.win).then((t) =>
            this.#fileWritten(e, disk, t, sidecar),
          );
        }
        this.#fileWritten(e, disk, this.#writeFileSync(disk, e.body, e.size, e.path, e.win), sidecar);
        return;
      }
      case 'hardlink': {
        if (link === undefined)
          throw new WinlayerError('INTERNAL', 'a hard link without a resolution', { entry: e.path });
        if (link.in === 'layer') {
          const record = this.#meta(e, 'hardlink', sidecar);
          record.linkTarget = trimName(e.linkTarget);
          this.#deferred.append(DEFER_LINK, e.path, encodeRecord(record));
          this.#counts.hardlinks++;
          // The target file is on disk before the link is made: written here, or queued before the link (a writer
          // thread runs its queue in order, and a link waits for the other threads' earlier batches).
          const bg = this.#writer();
          if (bg !== undefined) bg.link(`${this.#root}/${link.dataPath}`, disk, e.raw?.name ?? e.path);
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
        const bg = this.#writer();
        if (bg !== undefined) {
          const queued = this.#queueFile(bg, slot.hostPath, e, undefined);
          if (queued !== undefined) return queued.then(done);
          done();
          return;
        }
        if (e.body.readSync === undefined) {
          return this.#writeFileAsync(slot.hostPath, e.body, e.size, e.path, undefined).then(done);
        }
        this.#writeFileSync(slot.hostPath, e.body, e.size, e.path, undefined);
        done();
        return;
      }
      default:
        // The guard refuses every other kind before we get here.
        throw new WinlayerError('INTERNAL', `unexpected entry kind ${e.kind}`, { entry: e.path });
    }
  }

  /**
   * The background writer once its threads run, else undefined: until then this thread writes the entries itself
   * (the first entries need not wait for a thread to start), and from then on everything is queued, in order.
   */
  #writer(): BackgroundWriter | undefined {
    if (this.#bgDue && (this.#counts.entries >= LAZY_START_ENTRIES || this.#counts.bytes >= LAZY_START_BYTES))
      this.#startWriter();
    return this.#bg?.ready === true ? this.#bg : undefined;
  }

  #startWriter(): void {
    this.#bgDue = false;
    this.#bg = new BackgroundWriter(this.#input, this.#opts.writerThreads ?? writerLanes());
  }

  /** After a file's data is on disk: the BCD backup copy, the pending sidecar record, the counts. */
  #fileWritten(
    e: Extract<LayerEntry, { kind: 'file' }>,
    disk: string,
    diskMtime: UnixNanos | undefined,
    sidecar: SidecarWriter,
  ): void {
    // Every boot file starts with `U`: most paths skip the map.
    const bak = e.path.charCodeAt(0) === 0x55 ? BCD_BACKUPS.get(e.path) : undefined;
    if (bak !== undefined) {
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
  }

  /** A file through the background writer: queued, then recorded (its disk mtime is known: exact times). */
  #fileInBackground(
    bg: BackgroundWriter,
    e: Extract<LayerEntry, { kind: 'file' }>,
    disk: string,
    sidecar: SidecarWriter,
  ): Promise<void> | undefined {
    const w = e.win;
    const record = (): void => {
      // The boot-file backup copies the file on disk: wait for it.
      if (BCD_BACKUPS.has(e.path)) bg.drain();
      this.#fileWritten(e, disk, microsFloor(w.lastWriteTime), sidecar);
    };
    const queued = this.#queueFile(bg, disk, e, [w.lastAccessTime ?? w.lastWriteTime, w.lastWriteTime]);
    if (queued !== undefined) return queued.then(record);
    record();
    return undefined;
  }

  /**
   * Queues a file's (or stream's) data to the background writer. A body lent by the tar reader from the shared input
   * is named, not copied; another synchronous body is copied into the batch when small; the rest is streamed (a
   * promise only for a body that must be iterated).
   */
  #queueFile(
    bg: BackgroundWriter,
    disk: string,
    e: Extract<LayerEntry, { kind: 'file' | 'stream' }>,
    times: readonly [UnixNanos, UnixNanos] | undefined,
  ): Promise<void> | undefined {
    const label = e.raw?.name ?? e.path;
    const { body, size } = e;
    const view = bodyViewReader(body);
    if (view !== undefined) {
      // The whole body lies in the reader's current chunk (else it offers no view): one view holds it.
      const data = view(size);
      const whole = data.length === size;
      if (whole && bg.inInput(data)) {
        bg.fileFromInput(disk, data, times, this.#fileChmod, label);
        return undefined;
      }
      if (whole && size <= WHOLE_FILE_MAX) {
        bg.file(disk, size, (into) => into.set(data), times, this.#fileChmod, label);
        return undefined;
      }
      bg.open(disk, times, this.#fileChmod, label);
      let written = data.length;
      bg.write(data, label);
      for (let v = view(COPY_BUFFER); v.length > 0; v = view(COPY_BUFFER)) {
        bg.write(v, label);
        written += v.length;
      }
      checkSize(written, e.size, e.path);
      bg.close(label);
      return undefined;
    }
    const readSync = body.readSync;
    if (readSync === undefined || size > WHOLE_FILE_MAX) return this.#streamFile(bg, disk, e, times, label);
    const fill = (into: Uint8Array): void => {
      let got = 0;
      while (got < size) {
        const n = readSync(into.subarray(got));
        if (n === 0) break;
        got += n;
      }
      if (got === size) for (let n = readSync(this.#buffer); n > 0; n = readSync(this.#buffer)) got += n;
      checkSize(got, e.size, e.path);
    };
    bg.file(disk, size, fill, times, this.#fileChmod, label);
    return undefined;
  }

  /** Streams a large or iterated body to the background writer (open, pieces, close). */
  async #streamFile(
    bg: BackgroundWriter,
    disk: string,
    e: Extract<LayerEntry, { kind: 'file' | 'stream' }>,
    times: readonly [UnixNanos, UnixNanos] | undefined,
    label: string,
  ): Promise<void> {
    bg.open(disk, times, this.#fileChmod, label);
    let written = 0;
    const body = e.body;
    if (body.readSync !== undefined) {
      for (let n = body.readSync(this.#buffer); n > 0; n = body.readSync(this.#buffer)) {
        bg.write(this.#buffer.subarray(0, n), label);
        written += n;
      }
    } else {
      // Chunks of the tar reader's shared input are named; others are copied.
      for await (const chunk of body) {
        bg.write(chunk, label);
        written += chunk.length;
      }
    }
    checkSize(written, e.size, e.path);
    bg.close(label);
  }

  /**
   * Whether this filesystem keeps the microseconds `utimes` sets (then disk mtimes are known without an fstat, and the
   * background writer can be used): one probe file in the new folder, removed at once.
   */
  #probeExactTimes(): boolean {
    const probe = `${this.#root}/.winlayer-time-probe`;
    const set = 1_600_000_000_123_456_789n;
    const fd = openSync(probe, CREATE_FLAGS, FILE_MODE);
    try {
      futimesSync(fd, utimeSeconds(set), utimeSeconds(set));
      this.#exactTimes = fstatSync(fd, { bigint: true }).mtimeNs === microsFloor(set);
    } finally {
      closeSync(fd);
      unlinkSync(probe);
    }
    return this.#exactTimes;
  }

  /** Creates `disk` with O_EXCL (never through an existing name) and the file mode; returns the descriptor. */
  #create(disk: string): number {
    const fd = openSync(disk, CREATE_FLAGS, FILE_MODE);
    if (this.#fileChmod) {
      try {
        fchmodSync(fd, FILE_MODE);
      } catch (e) {
        closeSync(fd);
        throw e;
      }
    }
    return fd;
  }

  /** Checks the byte count, sets the times (files, not streams); returns the disk mtime. */
  #finishFile(
    fd: number,
    written: number,
    size: number,
    entry: string,
    win: WindowsMetadata | undefined,
  ): UnixNanos | undefined {
    checkSize(written, size, entry);
    if (win === undefined) return undefined;
    const mtime = utimeSeconds(win.lastWriteTime);
    const at = win.lastAccessTime;
    futimesSync(fd, at === undefined || at === win.lastWriteTime ? mtime : utimeSeconds(at), mtime);
    return this.#diskMtime(fd, win.lastWriteTime);
  }

  /** Writes a body that offers `readSync` (a local file, or a tar entry within the current input chunk). */
  #writeFileSync(
    disk: string,
    body: EntryBody,
    size: number,
    entry: string,
    win: WindowsMetadata | undefined,
  ): UnixNanos | undefined {
    const fd = this.#create(disk);
    try {
      let written = 0;
      const view = bodyViewReader(body);
      if (view !== undefined) {
        // The tar reader lends its input chunk: written from there, without a copy.
        for (let v = view(COPY_BUFFER); v.length > 0; v = view(COPY_BUFFER)) {
          writeAll(fd, v, v.length);
          written += v.length;
        }
      } else {
        for (let n = body.readSync!(this.#buffer); n > 0; n = body.readSync!(this.#buffer)) {
          writeAll(fd, this.#buffer, n);
          written += n;
        }
      }
      return this.#finishFile(fd, written, size, entry, win);
    } finally {
      closeSync(fd);
    }
  }

  /** Writes a body that must be iterated (it spans input chunks, or its source is a stream). */
  async #writeFileAsync(
    disk: string,
    body: EntryBody,
    size: number,
    entry: string,
    win: WindowsMetadata | undefined,
  ): Promise<UnixNanos | undefined> {
    const fd = this.#create(disk);
    try {
      let written = 0;
      for await (const chunk of body) {
        writeAll(fd, chunk, chunk.length);
        written += chunk.length;
      }
      return this.#finishFile(fd, written, size, entry, win);
    } finally {
      closeSync(fd);
    }
  }

  /** The mtime the disk now shows: probed once with fstat, then computed while the filesystem keeps microseconds. */
  #diskMtime(fd: number, set: UnixNanos): UnixNanos {
    const expected = microsFloor(set);
    if (this.#exactTimes === true) return expected;
    const actual = fstatSync(fd, { bigint: true }).mtimeNs;
    if (this.#exactTimes === undefined) this.#exactTimes = actual === expected;
    return actual;
  }

  #meta(e: LayerEntry, kind: SidecarRecord['kind'], sidecar: SidecarWriter): Rec {
    const sd = e.win.securityDescriptor;
    const record = metaRecord(e, kind, sd === undefined ? undefined : this.#sdId(sd, sidecar));
    if (record.sd !== undefined) this.#sdCount = Math.max(this.#sdCount, record.sd + 1);
    return record;
  }

  /** The table id of a security descriptor; the last few are remembered (neighbours usually share one). */
  #sdId(sd: Uint8Array, sidecar: SidecarWriter): number {
    // The same array is the same bytes (the entry model's arrays are never changed in place): the same id.
    if (sd === this.#lastSd) return this.#lastSdId;
    const recent = this.#recentSds;
    for (let i = 0; i < recent.length; i++) {
      const r = recent[i]!;
      if (r[0].equals(sd)) return this.#rememberSd(sd, r[1]);
    }
    const id = this.#rememberSd(sd, sidecar.addSecurityDescriptor(sd));
    this.#recentSds.unshift([Buffer.from(sd), id]);
    if (this.#recentSds.length > 4) this.#recentSds.pop();
    return id;
  }

  #rememberSd(sd: Uint8Array, id: number): number {
    this.#lastSd = sd;
    this.#lastSdId = id;
    return id;
  }

  #flushPending(sidecar: SidecarWriter): void {
    const p = this.#pending;
    if (p === undefined) return;
    this.#pending = undefined;
    // A folder's record waits in the folders' spill file unless its disk mtime is known already.
    if (!this.#pendingIsDir || this.#exactTimes === true) sidecar.add(p);
  }

  /**
   * Folder times last, when nothing more is created inside them. Archive order is fine: setting a folder's times does
   * not change its parent's (only creating or removing a name does). Where the disk's mtime cannot be computed (a
   * folder on a disk that rounds times, a hard link), it is read back and the record written now.
   */
  #finishDeferred(sidecar: SidecarWriter): void {
    this.#deferred.forEach(({ tag, first: path, second }) => {
      const disk = `${this.#root}/${path}`;
      let json: string | undefined = second;
      if (tag === DEFER_FOLDER) {
        const [atime, mtime, folderJson] = (second ?? '').split('\n', 3);
        utimesSync(disk, utimeArg(atime!), utimeArg(mtime!));
        json = folderJson;
      }
      if (json === undefined) return;
      const record = decodeRecord(json) as Rec;
      record.diskMtime = lstatSync(disk, { bigint: true }).mtimeNs;
      sidecar.add(record);
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

/** A time spilled as text back to what `utimeSeconds` gave: a number, or a numeric string for times before 1970. */
function utimeArg(text: string): number | string {
  return text.startsWith('-') ? text : Number(text);
}

function chmodDir(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fchmodSync(fd, DIR_MODE);
  } finally {
    closeSync(fd);
  }
}

function writeAll(fd: number, data: Uint8Array, length: number): void {
  let off = 0;
  while (off < length) off += writeSync(fd, data, off, length - off);
}

/** The sidecar record of an entry's Windows metadata; `sd` is the descriptor's id in the sidecar table. */
function metaRecord(e: LayerEntry, kind: SidecarRecord['kind'], sd: number | undefined): Rec {
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
