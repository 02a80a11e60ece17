/**
 * Early write-back for an import that ends with one filesystem sync. Linux leaves freshly written data in the page
 * cache until it passes the dirty limits (gigabytes on a large machine) or ages for 30 s, so the final sync of a
 * layer of a few hundred MB would wait for all of it at the end, while the CPU is idle. `WriteBehind` starts a
 * `sync -f` in the background after every {@link KICK_BYTES} of file data (one at a time): the disk then writes while
 * the import goes on, and the final sync finds little left. Durability does not depend on it — the final sync still
 * comes before the rename — only the waiting does.
 */
import { type ChildProcess, spawn } from 'node:child_process';

/** File data written between two background syncs. */
export const KICK_BYTES = 32 * 1024 * 1024;

export class WriteBehind {
  readonly #path: string;
  #since = 0;
  #child: ChildProcess | undefined;
  #done: Promise<void> | undefined;
  /** False once `sync` could not be started: no more attempts. */
  #usable = true;
  /** Background syncs started so far. */
  started = 0;

  /** `path`: a folder on the filesystem being written. */
  constructor(path: string) {
    this.#path = path;
  }

  /** Counts `bytes` more of file data; starts a background sync when enough has been written since the last one. */
  wrote(bytes: number): void {
    this.#since += bytes;
    if (this.#since < KICK_BYTES || this.#child !== undefined || !this.#usable) return;
    this.#since = 0;
    this.started++;
    const child = spawn('sync', ['-f', this.#path], { stdio: 'ignore' });
    // Not unref'd: `settle()` awaits it, and an unref'd child would let the event loop end under that await.
    this.#child = child;
    this.#done = new Promise<void>((resolve) => {
      child.once('error', () => {
        this.#usable = false; // no sync tool: the final sync falls back by itself
        resolve();
      });
      child.once('exit', () => resolve());
    }).then(() => {
      this.#child = undefined;
    });
  }

  /** Waits for the background sync under way, if any (before the final one, so no child outlives the import). */
  async settle(): Promise<void> {
    await this.#done;
  }
}
