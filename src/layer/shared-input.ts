/**
 * The read buffers of a plain tar file, in shared memory so that a writer thread writes file data straight from them.
 */

/**
 * {@link count} buffers of {@link size} bytes in one shared memory. The reader takes buffer `i` again only after
 * {@link release}`(i)`: the writer threads that name its bytes (they install `release`) wait there until every
 * operation naming buffer `i` is done.
 */
export class SharedInput {
  readonly memory: SharedArrayBuffer;
  readonly buffers: readonly Buffer[];
  /** Installed by the writer threads that queue operations naming these buffers; a no-op until then. */
  release: (buffer: number) => void = () => undefined;

  constructor(
    readonly count: number,
    readonly size: number,
  ) {
    this.memory = new SharedArrayBuffer(count * size);
    this.buffers = Array.from({ length: count }, (_, i) => Buffer.from(this.memory, i * size, size));
  }

  /** Whether `data` lies in these buffers (then a writer thread can name it instead of copying it). */
  holds(data: Uint8Array): boolean {
    return data.buffer === this.memory;
  }
}
