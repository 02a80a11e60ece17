/**
 * Early write-back for a large import: while the layer is still being written, a background `sync -f` (syncfs(2) of
 * the filesystem that holds the new folder) now and then, so that the disk writes the first gigabytes while the rest
 * is extracted, and the one sync the import owes at the end finds little left. Linux keeps up to 10% of RAM dirty
 * before it starts writing back on its own: on a machine with a few GB free, an import of 2 GB would otherwise reach
 * its final sync with all 2 GB still to write. How much it saves, measured: `docs/benchmarks.md`, "Moved from code
 * comments".
 *
 * Only ever one at a time, never waited for: it is an optimisation, and the final sync still decides durability.
 */
import { type ChildProcess, spawn } from 'node:child_process';

/**
 * Bytes written between two early syncs, and before the first. An import smaller than this pays only its final sync;
 * why 128 MiB rather than 256: `docs/benchmarks.md`, "Moved from code comments".
 */
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
    if (!this.#usable || this.#child !== undefined || bytes - this.#startedAt < EVERY) return;
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
