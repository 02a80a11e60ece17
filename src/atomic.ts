/**
 * Atomic writes, the one helper behind every writer (tar, hive, layer folder, OCI layout): work happens in a temporary
 * sibling `.NAME.winlayer-tmp-<pid>-<random>`, which is fsynced and renamed onto the final path at the end. On any error
 * the temporary is removed; SIGINT and SIGTERM remove every live temporary before the process exits; after a SIGKILL
 * the next run removes temporaries whose process is gone (`removeStaleTemps`). No partial file ever sits at the final
 * path.
 *
 * Like `errors.ts`, this module sits beneath the folders of the house and imports nothing of ours but errors.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { WinlayerError } from './errors.js';

const MARK = '.winlayer-tmp-';
const live = new Set<string>();
let handlersInstalled = false;

function installSignalHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.on(signal, () => {
      for (const p of live) rmSync(p, { recursive: true, force: true });
      process.exit(code);
    });
  }
}

/** The temporary sibling name for `finalPath`: same folder, so the final rename never crosses filesystems. */
export function tempSiblingPath(finalPath: string): string {
  return join(dirname(finalPath), `.${basename(finalPath)}${MARK}${process.pid}-${randomBytes(4).toString('hex')}`);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes temporaries left for `finalPath` by processes that no longer run (after a SIGKILL). Returns their paths. */
export function removeStaleTemps(finalPath: string): string[] {
  const dir = dirname(finalPath);
  const prefix = `.${basename(finalPath)}${MARK}`;
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number.parseInt(name.slice(prefix.length).split('-')[0] ?? '', 10);
    if (Number.isInteger(pid) && pid !== process.pid && pidAlive(pid)) continue;
    if (pid === process.pid && live.has(join(dir, name))) continue;
    rmSync(join(dir, name), { recursive: true, force: true });
    removed.push(join(dir, name));
  }
  return removed;
}

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

  constructor(finalPath: string) {
    this.finalPath = finalPath;
    this.direct = isSpecialFile(finalPath);
    if (this.direct) {
      this.tempPath = finalPath;
      return;
    }
    removeStaleTemps(finalPath);
    this.tempPath = tempSiblingPath(finalPath);
    live.add(this.tempPath);
    installSignalHandlers();
  }

  /**
   * Renames the temporary onto the final path. A file is fsynced first unless `synced` says the caller did it; the
   * folder is fsynced after the rename so the new name survives a crash.
   */
  commit(opts: { readonly synced?: boolean; readonly replaceDirectory?: boolean } = {}): void {
    if (this.#done) throw new WinlayerError('INTERNAL', `commit after the target was closed: ${this.finalPath}`);
    if (this.direct) {
      this.#done = true;
      return;
    }
    try {
      if (opts.synced !== true) fsyncPath(this.tempPath);
      if (opts.replaceDirectory === true) {
        // A folder cannot be renamed over a non-empty folder: move the old one aside first, remove it after.
        const old = tempSiblingPath(this.finalPath);
        live.add(old);
        try {
          renameSync(this.finalPath, old);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        }
        renameSync(this.tempPath, this.finalPath);
        rmSync(old, { recursive: true, force: true });
        live.delete(old);
      } else {
        renameSync(this.tempPath, this.finalPath);
      }
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
  }

  /** Removes the temporary. Safe to call more than once, and after commit (then it does nothing). */
  abort(): void {
    if (this.#done) return;
    this.#done = true;
    if (this.direct) return;
    rmSync(this.tempPath, { recursive: true, force: true });
    live.delete(this.tempPath);
  }
}

/** A path that exists and is (or links to) something other than a regular file or a folder. */
function isSpecialFile(path: string): boolean {
  try {
    const st = statSync(path);
    return !st.isFile() && !st.isDirectory();
  } catch {
    return false;
  }
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes a whole small file (a hive, a manifest) atomically. */
export function writeFileAtomic(finalPath: string, data: Uint8Array | string): void {
  const target = new AtomicTarget(finalPath);
  try {
    writeFileSync(target.tempPath, data);
  } catch (e) {
    target.abort();
    throw new WinlayerError('IO', `cannot write: ${(e as Error).message}`, { path: finalPath, cause: e });
  }
  target.commit();
}
