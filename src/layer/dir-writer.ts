/**
 * The layer-folder sink: `writeLayerDir(entries, dir)` turns a checked entry stream into a layer folder (`Files/`,
 * `UtilityVM/Files/`, `Hives/`, `bcd*.bak`, `.winlayer/`) — safely and atomically. `importLayer` is this sink fed by
 * the tar reader.
 *
 * Safety: every entry passes `ImportGuard` before anything touches the disk; the folder is built in a temporary
 * sibling (`AtomicTarget`), files are created with `O_CREAT|O_EXCL` (never through an existing name or link), no host
 * symbolic link is ever created, and on any error the temporary is removed — the target stays as it was.
 * Speed: synchronous fs calls (faster than promises for many small files), times set on the open descriptor, one
 * filesystem sync at the end instead of one fsync per file.
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
  statSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { AtomicTarget, removeStaleTemps } from '../atomic.js';
import type { EntryBody, LayerEntry, WindowsMetadata } from '../entry.js';
import { WinlayerError } from '../errors.js';
import type { UnixNanos } from '../windows/index.js';
import { ImportGuard, trimName } from './safety.js';
import { type LayerKind, type SidecarRecord, type SidecarStream, SidecarWriter } from './sidecar.js';

/** Options of `writeLayerDir` and `importLayer`. */
export interface WriteLayerDirOptions {
  /** Force the layer kind; absent = decide from the entries (a `Hives/` entry or a whiteout ⇒ non-base). */
  readonly kind?: LayerKind;
  /**
   * Parent layer folders, nearest first. Hard links whose target is not in this layer are looked up under each
   * parent's `Files/`, in order; found ones are recorded as links into the parent (nothing is written on disk).
   */
  readonly parents?: readonly string[];
  /** Replace an existing, non-empty target (atomically: the old folder is removed only after the new one is in place). */
  readonly force?: boolean;
  /** Sync the new folder to stable storage once before the rename. Default true. */
  readonly sync?: boolean;
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

interface PendingRecord {
  readonly record: SidecarRecord;
  readonly streams: SidecarStream[];
  readonly directory: boolean;
}

interface DirTimes {
  readonly disk: string;
  readonly atime: number | string;
  readonly mtime: number | string;
  readonly expected: UnixNanos | undefined;
}

/**
 * Writes `entries` into the layer folder `layerDir` (sink). Streams: bodies are copied straight to disk; memory holds
 * an index of names and the directory records (their times are set last, children first). The target must not exist
 * or be an empty folder, unless `force`. Throws `WinlayerError` — `LAYER_UNSAFE`, `LAYER_INVALID`, `LAYER_HARDLINK`,
 * `NAME_INVALID`, `NAME_COLLISION`, `LAYER_SPECIAL_FILE`, `LAYER_EXISTS`, `IO`, or whatever the source throws — and
 * then leaves nothing behind.
 */
export async function writeLayerDir(
  entries: AsyncIterable<LayerEntry>,
  layerDir: string,
  opts: WriteLayerDirOptions = {},
): Promise<ImportResult> {
  const finalPath = resolve(layerDir);
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
  const exists = checkTarget(finalPath, opts.force === true);
  removeStaleTemps(finalPath);
  const target = new AtomicTarget(finalPath);
  let sidecar: SidecarWriter | undefined;
  try {
    mkdirSync(target.tempPath, { mode: DIR_MODE });
    const w = new DirWriter(target.tempPath, parents, opts);
    sidecar = new SidecarWriter(target.tempPath, {
      kind: opts.kind ?? 'base',
      parents: (opts.parents ?? []).map((path) => ({ path })),
    });
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

/** Returns true when the target exists and will be replaced; throws `LAYER_EXISTS` when it may not be. */
function checkTarget(path: string, force: boolean): boolean {
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      if (!statSync(dirname(path), { throwIfNoEntry: false })?.isDirectory()) {
        throw new WinlayerError('NOT_FOUND', 'the folder that should hold the layer does not exist', {
          path: dirname(path),
        });
      }
      return false;
    }
    throw new WinlayerError('IO', `cannot inspect the target: ${(e as Error).message}`, { path, cause: e });
  }
  if (st.isDirectory() && readdirSync(path).length === 0) return false;
  if (force) return true;
  throw new WinlayerError('LAYER_EXISTS', st.isDirectory() ? 'the target folder is not empty' : 'the target exists', {
    path,
    hint: 'choose a new folder, empty this one, or pass --force to replace it',
  });
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

/**
 * Seconds that libuv's `utimes` truncates to exactly the microsecond of `ns` (Node keeps µs). A number, or for times
 * before 1970 a numeric string (Node turns a negative number into "now", but passes numeric strings through).
 */
export function utimeSeconds(ns: UnixNanos): number | string {
  const us = ns >= 0n ? ns / 1000n : -((-ns + 999n) / 1000n); // floor to µs
  const sec = us >= 0n ? us / 1_000_000n : -((-us + 999_999n) / 1_000_000n);
  const frac = Number(us - sec * 1_000_000n); // 0..999999
  const value = Number(sec) + frac / 1e6;
  // Nudge half a microsecond away from the truncation direction so float error never drops a microsecond.
  return value >= 0 ? Number(sec) + (frac + 0.5) / 1e6 : String(Number(sec) + (frac - 0.5) / 1e6);
}

/** `ns` truncated to whole microseconds (toward earlier time): what the disk shows after `utimeSeconds`. */
function microsFloor(ns: UnixNanos): UnixNanos {
  const us = ns >= 0n ? ns / 1000n : -((-ns + 999n) / 1000n);
  return us * 1000n;
}

class DirWriter {
  readonly #root: string;
  readonly #parents: readonly string[];
  readonly #opts: WriteLayerDirOptions;
  readonly #guard: ImportGuard;
  readonly #dirs: DirTimes[] = [];
  readonly #dirRecords: SidecarRecord[] = [];
  readonly #buffer = Buffer.allocUnsafe(COPY_BUFFER);
  #pending: PendingRecord | undefined;
  #fileChmod = false;
  #dirChmod = false;
  /** undefined until probed: whether the disk keeps the microseconds `utimes` sets (then no fstat per file). */
  #exactTimes: boolean | undefined;
  #nonBase = false;
  #sawFiles = false;
  #sdCount = 0;
  readonly #recentSds: [Buffer, number][] = [];
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

  constructor(root: string, parents: readonly string[], opts: WriteLayerDirOptions) {
    this.#root = root;
    this.#parents = parents;
    this.#opts = opts;
    // A base layer has no parents to link into; links into parents make an auto-detected layer non-base.
    this.#guard = new ImportGuard({
      kind: opts.kind ?? 'auto',
      parentLinks: parents.length > 0 && opts.kind !== 'base',
    });
    const umask = 0o777 & ~statSync(root).mode;
    this.#fileChmod = (FILE_MODE & umask) !== 0;
    this.#dirChmod = (DIR_MODE & umask) !== 0;
  }

  async run(
    entries: AsyncIterable<LayerEntry>,
    sidecar: SidecarWriter,
  ): Promise<Omit<ImportResult, 'layerDir' | 'replaced'>> {
    for await (const e of entries) {
      // The archive root (`./`, normalised to '') is the layer folder itself: nothing to write, nothing to record.
      if (e.kind === 'directory' && e.path === '' && e.raw !== undefined && /^(\.\/+)+$|^\.$/.test(e.raw.name))
        continue;
      const verdict = this.#guard.check(e);
      if (verdict.nonBase || verdict.link?.in === 'parent') this.#nonBase = true;
      if (e.kind !== 'stream') this.#flushPending(sidecar);
      try {
        await this.#write(e, verdict.link, sidecar);
      } catch (err) {
        const errno = err as NodeJS.ErrnoException;
        if (err instanceof WinlayerError || typeof errno?.code !== 'string' || errno.syscall === undefined) throw err;
        throw new WinlayerError('IO', `cannot write the entry: ${errno.message}`, {
          entry: e.raw?.name ?? e.path,
          cause: err,
          ...(errno.code === 'ENAMETOOLONG' ? { hint: 'the path is longer than this host filesystem allows' } : {}),
        });
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
    this.#finishDirectories(sidecar);
    const kind: LayerKind = this.#opts.kind ?? (this.#nonBase ? 'non-base' : 'base');
    sidecar.finish({ kind });
    return {
      kind,
      ...this.#counts,
      securityDescriptors: this.#sdCount,
      bcdBackups: this.#bcd,
    };
  }

  async #write(e: LayerEntry, link: ReturnType<ImportGuard['check']>['link'], sidecar: SidecarWriter): Promise<void> {
    // The guard has checked the path (relative, no `..`, `.`, empty parts or backslashes): plain concatenation is safe.
    const disk = `${this.#root}/${e.path}`;
    switch (e.kind) {
      case 'directory': {
        if (e.path === 'Files') this.#sawFiles = true;
        mkdirSync(disk, { mode: DIR_MODE });
        if (this.#dirChmod) chmodDir(disk);
        const atime = e.win.lastAccessTime ?? e.win.lastWriteTime;
        this.#dirs.push({
          disk,
          atime: utimeSeconds(atime),
          mtime: utimeSeconds(e.win.lastWriteTime),
          expected: e.win.lastWriteTime,
        });
        this.#pending = { record: this.#meta(e, 'directory', sidecar), streams: [], directory: true };
        this.#counts.directories++;
        return;
      }
      case 'file': {
        const diskMtime = await this.#writeFile(disk, e.body, e.size, e.path, e.win);
        const bak = BCD_BACKUPS.get(e.path);
        if (bak !== undefined) {
          copyFileSync(disk, join(this.#root, bak));
          this.#bcd.push(bak);
        }
        this.#pending = {
          record: { ...this.#meta(e, 'file', sidecar), size: e.size, diskMtime },
          streams: [],
          directory: false,
        };
        this.#counts.files++;
        this.#counts.bytes += e.size;
        return;
      }
      case 'hardlink': {
        if (link === undefined)
          throw new WinlayerError('INTERNAL', 'a hard link without a resolution', { entry: e.path });
        if (link.in === 'layer') {
          const from = `${this.#root}/${link.dataPath}`;
          linkSync(from, disk);
          const diskMtime = lstatSync(disk, { bigint: true }).mtimeNs;
          sidecar.add({ ...this.#meta(e, 'hardlink', sidecar), linkTarget: trimName(e.linkTarget), diskMtime });
          this.#counts.hardlinks++;
        } else {
          if (this.#findInParents(link.path) === undefined) {
            throw new WinlayerError(
              'LAYER_HARDLINK',
              `the hard-link target "${link.path}" is in neither this layer nor a parent layer`,
              { entry: e.raw?.name ?? e.path, hint: 'give every parent layer folder, nearest first (--parent DIR)' },
            );
          }
          sidecar.add({ ...this.#meta(e, 'hardlink', sidecar), linkTarget: link.path, inParent: true });
          this.#counts.parentLinks++;
        }
        return;
      }
      case 'symlink':
        // Never created on the host: the sidecar keeps it exactly (docs/layer-folder.md, "Import").
        sidecar.add({
          ...this.#meta(e, 'symlink', sidecar),
          linkTarget: e.linkTarget,
          ...(e.win.mountPoint === true ? { mountPoint: true } : {}),
        });
        this.#counts.symlinks++;
        return;
      case 'whiteout':
        sidecar.add({ path: e.path, kind: 'whiteout', target: e.target });
        this.#counts.whiteouts++;
        return;
      case 'stream': {
        const pending = this.#pending;
        if (pending === undefined || pending.record.path !== e.filePath) {
          throw new WinlayerError('INTERNAL', 'a stream without its file record', { entry: e.path });
        }
        const slot = sidecar.allocateStream();
        await this.#writeFile(slot.hostPath, e.body, e.size, e.path, undefined);
        pending.streams.push({ name: e.streamName, size: e.size, data: slot.data });
        this.#counts.streams++;
        return;
      }
      default:
        // The guard refuses every other kind before we get here.
        throw new WinlayerError('INTERNAL', `unexpected entry kind ${e.kind}`, { entry: e.path });
    }
  }

  /** Creates `disk` (O_EXCL: never through an existing name), copies the body, sets the times; returns the disk mtime. */
  async #writeFile(
    disk: string,
    body: EntryBody,
    size: number,
    entry: string,
    win: WindowsMetadata | undefined,
  ): Promise<UnixNanos | undefined> {
    const fd = openSync(disk, 'wx', FILE_MODE);
    try {
      if (this.#fileChmod) fchmodSync(fd, FILE_MODE);
      let written = 0;
      if (body.readSync !== undefined) {
        for (;;) {
          const n = body.readSync(this.#buffer);
          if (n === 0) break;
          writeAll(fd, this.#buffer, n);
          written += n;
        }
      } else {
        for await (const chunk of body) {
          writeAll(fd, chunk, chunk.length);
          written += chunk.length;
        }
      }
      if (written !== size) {
        throw new WinlayerError('LAYER_INVALID', `the entry declares ${size} bytes but holds ${written}`, { entry });
      }
      if (win === undefined) return undefined;
      futimesSync(fd, utimeSeconds(win.lastAccessTime ?? win.lastWriteTime), utimeSeconds(win.lastWriteTime));
      return this.#diskMtime(fd, win.lastWriteTime);
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

  #meta(e: LayerEntry, kind: SidecarRecord['kind'], sidecar: SidecarWriter): SidecarRecord {
    const sd = e.win.securityDescriptor;
    const record = metaRecord(e, kind, sd === undefined ? undefined : this.#sdId(sd, sidecar));
    if (record.sd !== undefined) this.#sdCount = Math.max(this.#sdCount, record.sd + 1);
    return record;
  }

  /** The table id of a security descriptor; the last few are remembered (neighbours usually share one). */
  #sdId(sd: Uint8Array, sidecar: SidecarWriter): number {
    for (const [bytes, id] of this.#recentSds) if (bytes.equals(sd)) return id;
    const id = sidecar.addSecurityDescriptor(sd);
    this.#recentSds.unshift([Buffer.from(sd), id]);
    if (this.#recentSds.length > 4) this.#recentSds.pop();
    return id;
  }

  #flushPending(sidecar: SidecarWriter): void {
    const p = this.#pending;
    if (p === undefined) return;
    this.#pending = undefined;
    const record = p.streams.length > 0 ? { ...p.record, streams: p.streams } : p.record;
    if (p.directory) this.#dirRecords.push(record);
    else sidecar.add(record);
  }

  /** Folder times last, children first (reverse archive order: parents always come before children). */
  #finishDirectories(sidecar: SidecarWriter): void {
    for (let i = this.#dirs.length - 1; i >= 0; i--) {
      const d = this.#dirs[i]!;
      utimesSync(d.disk, d.atime, d.mtime);
    }
    for (let i = 0; i < this.#dirRecords.length; i++) {
      const d = this.#dirs[i]!;
      const diskMtime =
        this.#exactTimes === true && d.expected !== undefined
          ? microsFloor(d.expected)
          : lstatSync(d.disk, { bigint: true }).mtimeNs;
      sidecar.add({ ...this.#dirRecords[i]!, diskMtime });
    }
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

function writeAll(fd: number, data: Uint8Array, length: number): void {
  let off = 0;
  while (off < length) off += writeSync(fd, data, off, length - off);
}

/** The sidecar record of an entry's Windows metadata; `sd` is the descriptor's id in the sidecar table. */
function metaRecord(e: LayerEntry, kind: SidecarRecord['kind'], sd: number | undefined): SidecarRecord {
  const w = e.win;
  return {
    path: e.path,
    kind,
    ...(w.attributes === undefined ? {} : { attributes: w.attributes }),
    ...(sd === undefined ? {} : { sd }),
    ...(w.creationTime === undefined ? {} : { creationTime: w.creationTime }),
    lastWriteTime: w.lastWriteTime,
    ...(w.lastAccessTime === undefined ? {} : { lastAccessTime: w.lastAccessTime }),
    ...(w.changeTime === undefined ? {} : { changeTime: w.changeTime }),
    ...(w.extendedAttributes === undefined || w.extendedAttributes.length === 0
      ? {}
      : { extendedAttributes: w.extendedAttributes }),
    ...(e.extraPax === undefined || e.extraPax.length === 0 ? {} : { extraPax: e.extraPax }),
  };
}
