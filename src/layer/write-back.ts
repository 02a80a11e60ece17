/**
 * Early write-back for a large import: while the layer is still being written, a background `sync -f` (syncfs(2) of
 * the filesystem that holds the new folder) now and then, so that the disk writes the first gigabytes while the rest
 * is extracted, and the one sync the import owes at the end finds little left. Linux keeps up to 10% of RAM dirty
 * before it starts writing back on its own: on a machine with a few GB free, an import of 2 GB would otherwise reach
 * its final sync with all 2 GB still to write. Measured on the 2-core VM of `docs/benchmarks.md` (servercore-like
 * layer, 2 GB, the CLI with its final sync, three rounds in turns): 3.34–3.56 s with it, 3.72–3.98 s without, `tar -xf`
 * 3.58–4.08 s; the nanoserver-like layer (268 MB, at most one early sync) is unchanged.
 *
 * Only ever one at a time, never waited for: it is an optimisation, and the final sync still decides durability.
 */
import { type ChildProcess, spawn } from 'node:child_process';

/** Bytes written before the first early sync: an import smaller than this pays only its final sync. */
export const FIRST_AFTER = 256 * 1024 * 1024;
/** Bytes written between two early syncs. */
export const EVERY = 128 * 1024 * 1024;

export class EarlyWriteBack {
  readonly #path: string;
  #child: ChildProcess | undefined;
  /** Bytes written when the last early sync started. */
  #startedAt = 0;
  /** False once `sync -f` turned out to be missing or failing here: never tried again. */
  #usable = true;

  /** For the folder `path` (a new layer folder being written). */
  constructor(path: string) {
    this.#path = path;
  }

  /** Called now and then with the bytes written so far: starts a sync when enough were written since the last. */
  progress(bytes: number): void {
    if (!this.#usable || this.#child !== undefined || bytes < FIRST_AFTER || bytes - this.#startedAt < EVERY) return;
    this.#startedAt = bytes;
    let child: ChildProcess;
    try {
      child = spawn('sync', ['-f', this.#path], { stdio: 'ignore' });
    } catch {
      this.#usable = false;
      return;
    }
    this.#child = child;
    child.on('error', () => {
      this.#usable = false;
      this.#child = undefined;
    });
    child.on('exit', (code) => {
      if (code !== 0) this.#usable = false;
      this.#child = undefined;
    });
  }

  /** Whether an early sync is running now. */
  get running(): boolean {
    return this.#child !== undefined;
  }

  /** Stops a sync still running (the import has ended: its final sync, if any, covers everything). */
  stop(): void {
    this.#child?.kill();
    this.#usable = false;
  }
}
