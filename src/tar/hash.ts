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
 */
import { createHash, type Hash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { WinlayerError } from '../errors.js';

/** A first chunk at least this large (the writer flushes ~1 MiB chunks) moves hashing to a worker. */
export const WORKER_THRESHOLD = 256 * 1024;
/** Bytes per ring slot: the writer's buffer size. */
export const SLOT_SIZE = 1024 * 1024;
/** Slots in the ring. */
export const SLOTS = 8;
/**
 * A sleeping worker is woken when this many slots wait (or at the end): it then hashes them in one go, so the two
 * threads switch a few times per 4 MiB rather than for every slot.
 */
const WAKE_AT = 4;

/** Indexes into the shared control words. */
const HEAD = 0; // slots submitted (by the producer)
const TAIL = 1; // slots hashed (by the worker)
const STATE = 2; // RUNNING, DONE, FAILED
const SLEEPING = 3; // bit 1: the worker waits for HEAD; bit 2: the producer waits for TAIL
const LEN = 4; // LEN + i: byte length of slot i (-1: end of stream)
const RUNNING = 0;
const DONE = 1;
const FAILED = 2;
const DIGEST_BYTES = 32;
/** Longest silence of the hashing thread before the producer gives up (it never takes this long when alive). */
const STALL_MS = 60_000;

const WORKER_CODE = `
const { workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { control, data, slots, slotSize } = workerData;
const c = new Int32Array(control);
let tail = 0;
try {
  const hash = createHash('sha256');
  for (;;) {
    let head = Atomics.load(c, ${HEAD});
    while (head === tail) {
      Atomics.or(c, ${SLEEPING}, 1);
      Atomics.wait(c, ${HEAD}, head);
      Atomics.and(c, ${SLEEPING}, ~1);
      head = Atomics.load(c, ${HEAD});
    }
    const slot = tail % slots;
    const len = c[${LEN} + slot];
    if (len < 0) break;
    hash.update(new Uint8Array(data, slot * slotSize, len));
    tail++;
    Atomics.store(c, ${TAIL}, tail);
    if ((Atomics.load(c, ${SLEEPING}) & 2) !== 0) Atomics.notify(c, ${TAIL});
  }
  new Uint8Array(data, slots * slotSize, ${DIGEST_BYTES}).set(hash.digest());
  Atomics.store(c, ${STATE}, ${DONE});
} catch (e) {
  Atomics.store(c, ${STATE}, ${FAILED});
}
Atomics.notify(c, ${STATE});
Atomics.notify(c, ${TAIL});
`;

/**
 * Incremental sha256 + byte count. Feed it with {@link update}; a producer that wants no copy fills
 * {@link buffer} and passes (a prefix of) it to `update`, then takes the next `buffer`.
 */
export class StreamHash {
  #inline: Hash | undefined;
  #ring: Ring | undefined;
  #started = false;
  #result: string | undefined;
  bytes = 0;

  /**
   * `threaded: true` starts the hashing thread at once instead of at the first large chunk: a caller that knows the
   * stream will be large (a layer export) then has the thread up (~20 ms) before its first slot is full, rather than
   * filling the whole ring and waiting for the thread to start.
   */
  constructor(opts: { readonly threaded?: boolean } = {}) {
    if (opts.threaded === true) {
      this.#started = true;
      this.#ring = new Ring();
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
      if (chunk.length >= WORKER_THRESHOLD) this.#ring = new Ring();
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

/** The shared ring and its hashing thread. */
class Ring {
  readonly #control = new SharedArrayBuffer((LEN + SLOTS) * 4);
  readonly #c = new Int32Array(this.#control);
  readonly #data = new SharedArrayBuffer(SLOTS * SLOT_SIZE + DIGEST_BYTES);
  readonly #slots: Buffer[] = [];
  readonly #worker: Worker;
  /** Slots submitted so far (the producer's copy of HEAD). */
  #head = 0;
  /** The slot handed out by `acquire` and not yet submitted. */
  #acquired = -1;
  #closed = false;

  get memory(): SharedArrayBuffer {
    return this.#data;
  }

  constructor() {
    for (let i = 0; i < SLOTS; i++) this.#slots.push(Buffer.from(this.#data, i * SLOT_SIZE, SLOT_SIZE));
    this.#worker = new Worker(WORKER_CODE, {
      eval: true,
      // Not the parent's flags: `--input-type=module` would make this CommonJS code ESM, `--import tsx` slows the start.
      execArgv: [],
      workerData: { control: this.#control, data: this.#data, slots: SLOTS, slotSize: SLOT_SIZE },
      // The thread only hashes: keep its heap small.
      resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
    });
    this.#worker.unref();
    // A failure is reported through STATE; the event only keeps an uncaught error from ending the process.
    this.#worker.on('error', () => {
      Atomics.store(this.#c, STATE, FAILED);
    });
  }

  /** The next free slot (waits while all are being hashed). */
  acquire(): Buffer {
    const i = this.#head % SLOTS;
    if (this.#acquired !== i) {
      this.#waitForSlot();
      this.#acquired = i;
    }
    return this.#slots[i]!;
  }

  /** Hands a chunk to the thread: without a copy when it lies at the start of the acquired slot. */
  submit(chunk: Uint8Array): void {
    let off = 0;
    while (off < chunk.length) {
      const slot = this.acquire();
      let n: number;
      if (off === 0 && chunk.buffer === this.#data && chunk.byteOffset === slot.byteOffset) {
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
    this.#publish(-1);
    const deadline = Date.now() + STALL_MS;
    for (;;) {
      const state = Atomics.load(this.#c, STATE);
      if (state === DONE) break;
      if (state === FAILED || Date.now() > deadline) throw this.#fail();
      Atomics.wait(this.#c, STATE, RUNNING, 1000);
    }
    const hex = Buffer.from(this.#data, SLOTS * SLOT_SIZE, DIGEST_BYTES).toString('hex');
    this.#closed = true; // the thread ends by itself
    return hex;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    void this.#worker.terminate().catch(() => undefined);
  }

  #publish(len: number): void {
    const i = this.#head % SLOTS;
    this.#c[LEN + i] = len;
    this.#head++;
    this.#acquired = -1;
    Atomics.store(this.#c, HEAD, this.#head);
    // Sequentially consistent: either we see the worker's sleeping bit, or its wait sees the new HEAD.
    if (
      (Atomics.load(this.#c, SLEEPING) & 1) !== 0 &&
      (len < 0 || this.#head - Atomics.load(this.#c, TAIL) >= WAKE_AT)
    ) {
      Atomics.notify(this.#c, HEAD);
    }
  }

  #waitForSlot(): void {
    let deadline = 0;
    for (;;) {
      const tail = Atomics.load(this.#c, TAIL);
      if (this.#head - tail < SLOTS) return;
      if (Atomics.load(this.#c, STATE) === FAILED) throw this.#fail();
      if (deadline === 0) deadline = Date.now() + STALL_MS;
      else if (Date.now() > deadline) throw this.#fail();
      Atomics.or(this.#c, SLEEPING, 2);
      Atomics.wait(this.#c, TAIL, tail, 1000);
      Atomics.and(this.#c, SLEEPING, ~2);
    }
  }

  #fail(): WinlayerError {
    this.close();
    return new WinlayerError('INTERNAL', 'the hashing thread failed or stopped answering', {
      hint: 'this is a bug in winlayer (or the machine ran out of memory); please report it',
    });
  }
}
