/**
 * Atomic writes, the one helper behind every writer (tar, hive, layer folder, OCI layout): work happens in a temporary
 * sibling `.NAME.winlayer-tmp-<pid>-<random>`, which is fsynced and renamed onto the final path at the end. On any
 * error the temporary is removed; SIGINT and SIGTERM remove every live temporary before the process exits; after a
 * SIGKILL the next run removes temporaries whose process is gone (`removeStaleTemps`). No partial file ever sits at the
 * final path, and a folder that is replaced is kept until its replacement is in place (see `AtomicTarget.commit`).
 *
 * It also holds what every writer needs of the host filesystem: its path limits (`HOST_PATH_LIMITS`) and the one
 * function that removes a tree (`removeTree`), whatever its depth.
 *
 * Like `errors.ts`, this module sits beneath the folders of the house and imports nothing of ours but errors.
 */
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  fsyncSync,
  lstatSync,
  openSync,
  readdirSync,
  renameSync,
  rmdirSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { WinlayerError } from './errors.js';

/** A temporary: removed on error, on a signal, or by the next run once its process is gone. */
const TEMP_MARK = '.winlayer-tmp-';
/**
 * An old folder set aside while its replacement is renamed in (`.NAME.winlayer-old-<pid>-<random>`: the name says
 * what it replaces). Once its process is gone, the next run puts it back when `NAME` is missing, else removes it.
 */
const ASIDE_MARK = '.winlayer-old-';
const live = new Set<string>();
let handlersInstalled = false;

/**
 * The host filesystem's limits, in bytes of UTF-8, as the kernel counts them: `PATH_MAX` includes the terminating NUL
 * (a path given to a system call holds at most `PATH_MAX - 1` bytes), `NAME_MAX` is one component. Linux: 4096 and
 * 255; macOS: 1024 and 255. Writers refuse a path beyond them before creating anything (`hostPathProblem`);
 * `removeTree` never passes a longer path, whatever the depth of what it removes.
 */
export const HOST_PATH_LIMITS = {
  PATH_MAX: process.platform === 'darwin' ? 1024 : 4096,
  NAME_MAX: 255,
} as const;

/**
 * Why the host cannot create `relPath` (a `/`-separated path) inside the folder `folder`, or undefined when it can: the
 * whole path, `folder` included, is measured against `PATH_MAX`, the last name against `NAME_MAX` (the folders above
 * it exist already). Nothing is encoded on the common path.
 */
export function hostPathProblem(folder: string, relPath: string): string | undefined {
  const { PATH_MAX, NAME_MAX } = HOST_PATH_LIMITS;
  const nameLength = relPath.length - relPath.lastIndexOf('/') - 1;
  // A UTF-16 unit is at most 3 bytes of UTF-8: most paths are measured without encoding them.
  if (nameLength * 3 > NAME_MAX) {
    const bytes = Buffer.byteLength(relPath.slice(relPath.length - nameLength));
    if (bytes > NAME_MAX) return `the name is ${bytes} bytes; this host takes at most ${NAME_MAX} (NAME_MAX)`;
  }
  if ((folder.length + 1 + relPath.length) * 3 >= PATH_MAX) {
    const bytes = Buffer.byteLength(folder) + 1 + Buffer.byteLength(relPath);
    if (bytes >= PATH_MAX) {
      return `the path is ${bytes} bytes with the folder it is written to; this host takes at most ${PATH_MAX - 1} (PATH_MAX)`;
    }
  }
  return undefined;
}

/** Where `removeTree` moves a folder whose path nears `PATH_MAX`: directly under the root being removed. */
const MOVED_UP = '.winlayer-rm-';

/**
 * Removes `path` and everything under it, as `rm -rf` does (a missing path is no error; symbolic links are removed,
 * never followed), for any depth: Node's recursive `rmSync` recurses on the JS stack (it overflows near 2,000 levels)
 * and passes paths longer than `PATH_MAX` (`ENAMETOOLONG`). Here folders are walked depth first with an explicit stack,
 * and a folder whose path would pass the limit is first renamed to a short name directly under `path`, from where the
 * walk goes on (Node has no `openat`, so everything is done by path). Throws the first error met (an errno exception).
 */
export function removeTree(path: string): void {
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  if (!st.isDirectory()) {
    ignoreMissing(() => unlinkSync(path));
    return;
  }
  // A folder pushed on the stack has a path shorter than this, so each child's path (one name more) fits the limit.
  const folderLimit = HOST_PATH_LIMITS.PATH_MAX - 1 - HOST_PATH_LIMITS.NAME_MAX - 1;
  const stack = [path];
  let moved = 0;
  while (stack.length > 0) {
    const dir = stack[stack.length - 1]!;
    let folders = 0;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const child = `${dir}/${e.name}`;
      if (!e.isDirectory()) {
        ignoreMissing(() => unlinkSync(child));
        continue;
      }
      folders++;
      if (Buffer.byteLength(child) < folderLimit) {
        stack.push(child);
        continue;
      }
      let short: string;
      do short = `${path}/${MOVED_UP}${moved++}`;
      while (lstatSync(short, { throwIfNoEntry: false }) !== undefined);
      renameSync(child, short);
      stack.push(short);
    }
    // A folder is removed once it has no folders left: on the first visit, or on the visit after its children's.
    if (folders === 0) {
      ignoreMissing(() => rmdirSync(dir));
      stack.pop();
    }
  }
}

function ignoreMissing(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

/** `removeTree` for cleanup that must not hide the error being reported: a failure leaves the path to a later run. */
function removeQuietly(path: string): boolean {
  try {
    removeTree(path);
    return true;
  } catch {
    return false;
  }
}

function installSignalHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.on(signal, () => {
      for (const p of live) removeQuietly(p);
      process.exit(code);
    });
  }
}

/** A sibling of `finalPath` named `.NAME<mark><pid>-<random>`: same folder, so a rename never crosses filesystems. */
function siblingPath(finalPath: string, mark: string): string {
  return join(dirname(finalPath), `.${basename(finalPath)}${mark}${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** The temporary sibling name for `finalPath`: same folder, so the final rename never crosses filesystems. */
export function tempSiblingPath(finalPath: string): string {
  return siblingPath(finalPath, TEMP_MARK);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Cleans up after processes that no longer run (a SIGKILL, a crash, a power cut) around `finalPath`: a set-aside old
 * folder whose replacement never arrived (`finalPath` is missing or an empty folder) is renamed back to `finalPath`;
 * other set-asides and temporaries are removed. Returns the paths removed. A removal that fails is left for a later run
 * (it never keeps a writer from working); a rename back that fails throws `IO` (writing on would lose the old folder).
 */
export function removeStaleTemps(finalPath: string): string[] {
  const dir = dirname(finalPath);
  const tempPrefix = `.${basename(finalPath)}${TEMP_MARK}`;
  const asidePrefix = `.${basename(finalPath)}${ASIDE_MARK}`;
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const aside = name.startsWith(asidePrefix);
    if (!aside && !name.startsWith(tempPrefix)) continue;
    const path = join(dir, name);
    const pid = Number.parseInt(name.slice((aside ? asidePrefix : tempPrefix).length).split('-')[0] ?? '', 10);
    if (Number.isInteger(pid) && pid !== process.pid && pidAlive(pid)) continue;
    // This process's own: a live temporary is in use; a set-aside never outlives the synchronous `commit` that made
    // it, so one with this pid was left by an earlier process that had the same pid (pid 1 in a container).
    if (pid === process.pid && live.has(path)) continue;
    if (aside && replacementNeverArrived(finalPath)) {
      try {
        ignoreMissing(() => rmdirSync(finalPath)); // an empty folder made since holds nothing; the old layer does
        renameSync(path, finalPath);
      } catch (e) {
        throw new WinlayerError(
          'IO',
          `cannot put back the folder an interrupted run set aside: ${(e as Error).message}`,
          {
            path: finalPath,
            hint: `rename ${path} back to ${finalPath} by hand`,
            cause: e,
          },
        );
      }
      continue;
    }
    // A set-aside is renamed to a temporary before it is removed: cut short, a removal must not leave a partial old
    // folder that a later run, finding the final path gone, would put back.
    if (aside ? removeSetAside(path, finalPath) : removeQuietly(path)) removed.push(path);
  }
  return removed;
}

/**
 * True when the final path shows no sign of the replacement: it is missing, or an empty folder (made by hand since the
 * crash: the replacement is never empty, as a layer folder holds at least `Files/`). Then the set-aside old folder is
 * the only copy of the data, and it is put back instead of removed.
 */
function replacementNeverArrived(finalPath: string): boolean {
  const st = lstatSync(finalPath, { throwIfNoEntry: false });
  if (st === undefined) return true;
  if (!st.isDirectory()) return false;
  try {
    return readdirSync(finalPath).length === 0;
  } catch {
    return false;
  }
}

/** What an `AtomicTarget` writes: a file (the default; an existing folder at the final path is refused) or a folder. */
export type AtomicTargetKind = 'file' | 'folder';

/** The steps of a folder replacement, for tests that stop a process between them (`commit`'s `afterStep`). */
export type ReplaceStep = 'set-aside' | 'in-place';

/**
 * A temporary sibling of `finalPath` that becomes `finalPath` on `commit()` and disappears on `abort()`, on a signal
 * or (after a crash) at the next run. The caller writes into `tempPath` (a file or a folder).
 */
export class AtomicTarget {
  readonly finalPath: string;
  readonly tempPath: string;
  /**
   * True when the final path is a device, FIFO or socket (`/dev/null`, `/dev/stdout`, a named pipe): such a path is
   * written in place — renaming a regular file over it would replace the device node. `commit` and `abort` then do
   * nothing.
   */
  readonly direct: boolean;
  #done = false;

  /**
   * Checks the destination before anything is created: its folder must exist (`NOT_FOUND`, exit 2) and, for a `file`
   * target, it must not be a folder (`USAGE`). Then cleans up after dead processes (`removeStaleTemps`: an old folder
   * an interrupted replacement set aside is put back first).
   */
  constructor(finalPath: string, opts: { readonly kind?: AtomicTargetKind } = {}) {
    this.finalPath = finalPath;
    this.direct = isSpecialFile(finalPath);
    if (this.direct) {
      this.tempPath = finalPath;
      return;
    }
    if (statOrUndefined(dirname(finalPath))?.isDirectory() !== true) {
      throw new WinlayerError('NOT_FOUND', 'the destination folder does not exist', {
        path: finalPath,
        hint: 'create the folder first, or write somewhere else',
      });
    }
    removeStaleTemps(finalPath);
    if ((opts.kind ?? 'file') === 'file' && statOrUndefined(finalPath)?.isDirectory() === true) {
      throw new WinlayerError('USAGE', 'the destination is a folder', {
        path: finalPath,
        hint: 'give a file name: DIR/NAME',
      });
    }
    this.tempPath = tempSiblingPath(finalPath);
    live.add(this.tempPath);
    installSignalHandlers();
  }

  /**
   * Renames the temporary onto the final path. A file is fsynced first unless `synced` says the caller did it; the
   * folder is fsynced after the rename so the new name survives a crash.
   *
   * `replaceDirectory`: an existing folder at the final path is replaced (a folder cannot be renamed over a non-empty
   * one) and kept until its replacement is in place: (1) the old folder is renamed to a set-aside sibling
   * `.NAME.winlayer-old-<pid>-<random>`, (2) the temporary is renamed to `NAME`, (3) the set-aside is renamed to a
   * temporary name and removed. A crash after (1) leaves no `NAME`: the next run of any writer to it puts the set-aside
   * back (`removeStaleTemps`); after (2) the new folder is in place and the next run removes what is left of the old.
   * Each step is one rename, so no crash loses both. `afterStep` (tests only) is called after steps 1 and 2.
   */
  commit(
    opts: {
      readonly synced?: boolean;
      readonly replaceDirectory?: boolean;
      readonly afterStep?: (step: ReplaceStep) => void;
    } = {},
  ): void {
    if (this.#done) throw new WinlayerError('INTERNAL', `commit after the target was closed: ${this.finalPath}`);
    if (this.direct) {
      this.#done = true;
      return;
    }
    let aside: string | undefined;
    try {
      if (opts.synced !== true) fsyncPath(this.tempPath);
      if (opts.replaceDirectory === true) aside = this.#setAside(opts.afterStep);
      else renameSync(this.tempPath, this.finalPath);
      fsyncPath(dirname(this.finalPath));
    } catch (e) {
      this.abort();
      throw new WinlayerError('IO', `cannot move the finished output into place: ${(e as Error).message}`, {
        path: this.finalPath,
        cause: e,
      });
    }
    this.#done = true;
    live.delete(this.tempPath);
    if (aside !== undefined) removeSetAside(aside, this.finalPath);
  }

  /** Steps 1 and 2 of a folder replacement; returns the set-aside old folder (undefined when there was none). */
  #setAside(afterStep: ((step: ReplaceStep) => void) | undefined): string | undefined {
    let aside: string | undefined = siblingPath(this.finalPath, ASIDE_MARK);
    try {
      renameSync(this.finalPath, aside);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      aside = undefined;
    }
    afterStep?.('set-aside');
    try {
      renameSync(this.tempPath, this.finalPath);
    } catch (e) {
      // The old folder goes back; should that fail too, the next run puts it back.
      if (aside !== undefined) ignoreMissing(() => renameSync(aside!, this.finalPath));
      throw e;
    }
    afterStep?.('in-place');
    return aside;
  }

  /** Removes the temporary. Safe to call more than once, and after commit (then it does nothing). Never throws. */
  abort(): void {
    if (this.#done) return;
    this.#done = true;
    if (this.direct) return;
    // A removal that fails must not hide the error being reported: the next run removes what is left.
    removeQuietly(this.tempPath);
    live.delete(this.tempPath);
  }
}

/**
 * Step 3 of a folder replacement (and `removeStaleTemps`' removal of a set-aside): the set-aside old folder is renamed
 * to a temporary name first (a partly removed folder must never be put back), then removed. A failure leaves a
 * temporary that the next run removes: the new folder is in place, and that is what the caller asked for. Returns true
 * when the old folder is gone.
 */
function removeSetAside(aside: string, finalPath: string): boolean {
  const doomed = tempSiblingPath(finalPath);
  try {
    renameSync(aside, doomed);
  } catch {
    return false; // the set-aside stays: the next run finds the final path there and removes it
  }
  live.add(doomed);
  const removed = removeQuietly(doomed);
  live.delete(doomed);
  return removed;
}

function statOrUndefined(path: string): ReturnType<typeof statSync> | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

/** A path that exists and is (or links to) something other than a regular file or a folder. */
function isSpecialFile(path: string): boolean {
  const st = statOrUndefined(path);
  return st !== undefined && !st.isFile() && !st.isDirectory();
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes a whole small file (a hive, a manifest) atomically. `mode` sets the permission bits of the new file (a
 * rewrite passes the old file's, so a 0600 hive stays 0600; the umask does not apply); default: created as usual.
 */
export function writeFileAtomic(
  finalPath: string,
  data: Uint8Array | string,
  opts: { readonly mode?: number } = {},
): void {
  const target = new AtomicTarget(finalPath);
  try {
    writeFileSync(target.tempPath, data);
    if (opts.mode !== undefined && !target.direct) chmodSync(target.tempPath, opts.mode);
  } catch (e) {
    target.abort();
    throw new WinlayerError('IO', `cannot write: ${(e as Error).message}`, { path: finalPath, cause: e });
  }
  target.commit();
}
