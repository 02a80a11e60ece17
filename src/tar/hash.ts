/**
 * sha256 of a byte stream, computed on a second thread once the stream is large: hashing a layer costs about half as
 * much CPU as reading it, and on a 2-core machine a worker thread lets both run at once.
 *
 * The hand-over is a fixed ring of {@link SLOTS} × {@link SLOT_SIZE} bytes of shared memory, synchronised with
 * `Atomics` (no message per chunk, no copy, no garbage): the producer fills a slot (the tar writer encodes headers and
 * reads file bodies straight into it), submits it, and takes the next free slot, blocking only when the hashing
 * thread is a whole ring behind. Memory is fixed (8 MiB + the thread), whatever the stream's size. Small streams
 * (whose first chunk is under {@link WORKER_THRESHOLD}) are hashed inline, so tests and small tars start no thread.
 * Everything is synchronous: `digest()` returns at once (inline) or after the thread has hashed the last slot.
 * The ring is `internal/ring.ts`; its layout `hash-ring.ts`; the thread program `hash.thread.ts`.
 */
import { createHash, type Hash } from 'node:crypto';
import { WinlayerError } from '../errors.js';
import { Ring } from '../internal/ring.js';
import { END, SLOT_SIZE, SLOTS } from './hash-ring.js';

export { SLOT_SIZE, SLOTS } from './hash-ring.js';

/** A first chunk at least this large (the writer flushes ~1 MiB chunks) moves hashing to a worker. */
export const WORKER_THRESHOLD = 256 * 1024;
/**
 * A sleeping worker is woken when this many slots wait (or at the end): it then hashes them in one go, so the two
 * threads switch a few times per 4 MiB rather than for every slot.
 */
const WAKE_AT = 4;

/**
 * Incremental sha256 + byte count. Feed it with {@link update}; a producer that wants no copy fills
 * {@link buffer} and passes (a prefix of) it to `update`, then takes the next `buffer`.
 */
export class StreamHash {
  #inline: Hash | undefined;
  #ring: HashRing | undefined;
  #started = false;
  #result: string | undefined;
  bytes = 0;

  /**
   * `threaded: true` starts the hashing thread at once instead of at the first large chunk: a caller that knows the
   * stream will be large (a layer export) then has the thread up (it takes tens of milliseconds to start) before its
   * first slot is full, rather than filling the whole ring and waiting for the thread to start.
   */
  constructor(opts: { readonly threaded?: boolean } = {}) {
    if (opts.threaded === true) {
      this.#started = true;
      this.#ring = new HashRing();
    }
  }

  /**
   * A buffer of {@link SLOT_SIZE} bytes to build the next chunk in: a free ring slot once hashing runs on the worker
   * (passing a prefix of it to `update` hands it over without a copy), else undefined (use your own buffer).
   * Blocks while the worker is a whole ring behind.
   */
  buffer(): Buffer | undefined {
    return this.#ring?.acquire();
  }

  /**
   * Adds a chunk. Synchronous. A chunk that is a prefix of the last {@link buffer} is handed to the worker as is (the
   * caller must not touch it again); any other chunk is hashed inline or copied into the ring, and the caller may
   * reuse it at once.
   */
  update(chunk: Uint8Array): void {
    if (this.#result !== undefined) throw new WinlayerError('INTERNAL', 'hash updated after its digest');
    this.bytes += chunk.length;
    if (!this.#started) {
      this.#started = true;
      if (chunk.length >= WORKER_THRESHOLD) this.#ring = new HashRing();
      else this.#inline = createHash('sha256');
    }
    if (this.#inline !== undefined) this.#inline.update(chunk);
    else this.#ring!.submit(chunk);
  }

  /** The shared memory behind the ring's slots, once hashing runs on the worker. */
  get ringMemory(): SharedArrayBuffer | undefined {
    return this.#ring?.memory;
  }

  /** `sha256:<hex>` of everything added; ends the worker. Synchronous. */
  digest(): string {
    if (this.#result === undefined) {
      const hex = this.#ring !== undefined ? this.#ring.finish() : (this.#inline ?? createHash('sha256')).digest('hex');
      this.#result = `sha256:${hex}`;
      this.#ring = undefined;
    }
    return this.#result;
  }

  /** Stops the worker, if any (safe to call more than once, and after an error). */
  close(): void {
    this.#ring?.close();
    this.#ring = undefined;
  }
}

/** The shared ring and its hashing thread (`hash.thread.ts`). */
class HashRing {
  readonly #ring = new Ring({
    owner: import.meta.url,
    program: 'hash',
    what: 'the hashing thread',
    slots: SLOTS,
    slotSize: SLOT_SIZE,
    // An abandoned stream's thread (`close` not called) must not keep the process alive.
    unref: true,
    // The thread only hashes: keep its heap small.
    resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
  });
  /** The slot handed out by `acquire` and not yet submitted. */
  #acquired = -1;
  #closed = false;
  readonly #check = (): void => {
    if (this.#ring.failure() !== undefined) throw this.#fail();
  };

  get memory(): SharedArrayBuffer {
    return this.#ring.memory.data;
  }

  /** The next free slot (waits while all are being hashed). */
  acquire(): Buffer {
    const i = this.#ring.head % SLOTS;
    if (this.#acquired !== i) {
      try {
        this.#ring.waitDone(this.#ring.head - SLOTS + 1, this.#check);
      } catch (e) {
        this.close();
        throw e;
      }
      this.#acquired = i;
    }
    return this.#ring.slots[i]!;
  }

  /** Hands a chunk to the thread: without a copy when it lies at the start of the acquired slot. */
  submit(chunk: Uint8Array): void {
    let off = 0;
    while (off < chunk.length) {
      const slot = this.acquire();
      let n: number;
      if (off === 0 && chunk.buffer === this.memory && chunk.byteOffset === slot.byteOffset) {
        n = chunk.length;
      } else {
        n = Math.min(SLOT_SIZE, chunk.length - off);
        slot.set(chunk.subarray(off, off + n));
      }
      this.#publish(n);
      off += n;
    }
  }

  /** Ends the stream and returns the hex digest. */
  finish(): string {
    this.acquire();
    this.#publish(END);
    try {
      this.#ring.waitFinished(this.#check);
    } catch (e) {
      this.close();
      throw e;
    }
    this.#closed = true; // the thread ends by itself
    return this.#ring.reply().toString('hex');
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    void this.#ring.terminate().catch(() => undefined);
  }

  #publish(len: number): void {
    this.#acquired = -1;
    this.#ring.publish(len, WAKE_AT);
  }

  #fail(): WinlayerError {
    return new WinlayerError('INTERNAL', 'the hashing thread failed', {
      hint: 'this is a bug in winlayer (or the machine ran out of memory); please report it',
    });
  }
}
