/**
 * The writer threads of `writeLayerDir`: worker threads that perform the folder's filesystem calls (mkdir, create
 * with O_EXCL, write, futimes, close, link) while the main thread parses the archive and checks the next entries, so
 * that an import costs about the largest of their shares instead of their sum. How many: `writer-count.ts`.
 *
 * Hand-over without messages or copies: the main thread encodes operations into batches (`writer-protocol.ts`) in the
 * slots of one shared ring per thread (`internal/ring.ts`); each thread (`writer.thread.ts`) runs its ring in order.
 * File data is not copied when it already lies in shared memory: a plain tar file is read into a {@link SharedInput},
 * and an operation then names the bytes by offset (`*_REF`); the reader reuses an input buffer only once every
 * operation that names it is done ({@link SharedInput.release}). Other data (a stream's, a test's) is copied into the
 * batch. Memory is fixed: the batch rings and the input.
 *
 * Every wait is synchronous (`Atomics.wait`, bounded): the main thread's work is synchronous too, and a promise per
 * operation would cost more than the work. Failures: the first failing operation stops its thread, which leaves its
 * batch, index and error in the ring; the next call on the main thread throws it as `IO`, naming the entry.
 *
 * Safety is unchanged: the main thread checks every entry (`ImportGuard`) before it is queued. On SIGINT/SIGTERM the
 * threads are stopped before `AtomicTarget`'s handler removes the temporary folder, so none creates a file in a folder
 * being removed.
 */
import { WinlayerError } from '../errors.js';
import { controlMemory, Ring } from '../internal/ring.js';
import type { SharedInput } from './shared-input.js';
import { checkWriterThreads } from './writer-count.js';
import {
  BATCH,
  BatchEncoder,
  type BatchTimes,
  FLAG_CHMOD,
  fileFlags,
  OP_CLOSE,
  OP_FILE,
  OP_FILE_REF,
  OP_LINK,
  OP_MKDIR,
  OP_OPEN,
  OP_WRITE,
  OP_WRITE_REF,
  PIECE,
  SLOTS,
} from './writer-protocol.js';

/** Files up to this size may be queued whole ({@link WriterThreads.file}), their data copied into one batch. */
export const WHOLE_FILE_MAX = BATCH / 2;
/** A batch is published once it has this many operations, bytes of its own, or bytes of shared input named. */
const PUBLISH_OPS = 32;
const PUBLISH_BYTES = 64 * 1024;
const PUBLISH_REF_BYTES = 128 * 1024;

/** `IO` for a filesystem call that failed on an entry (on either thread); `cause` keeps its errno fields. */
export function entryWriteError(entry: string | undefined, cause: NodeJS.ErrnoException): WinlayerError {
  return new WinlayerError('IO', `cannot write the entry: ${cause.message}`, {
    entry,
    cause,
    ...(cause.code === 'ENAMETOOLONG' ? { hint: 'the path is longer than this host filesystem allows' } : {}),
  });
}

/**
 * Queues the filesystem work of a layer folder to writer threads. Calls return at once, or after waiting (bounded) for
 * a thread whose ring is full. `drain()` waits until everything queued is on disk; `stop()` ends the threads. A
 * failure surfaces from the next call as `WinlayerError` `IO` naming the failing entry.
 *
 * Order across threads: operations go to one thread while its batch fills, and the next batch goes to the least busy
 * thread, so batches stay large and every thread stays fed. A file being streamed keeps its thread until it is
 * closed. Folders are created on the calling thread when there is more than one thread (every later file, on
 * whichever thread, then finds its folder); a hard link waits in its thread until the other threads have finished
 * every batch published before it (its target is in one of them, or earlier on its own thread).
 */
export class WriterThreads {
  readonly #threads: WriterThread[];
  readonly #input: SharedInput | undefined;
  /** The thread whose batch is being filled. */
  #current: WriterThread;
  /** True between `open` and `close`: the open file's operations stay on one thread. */
  #streaming = false;
  #ready = false;
  #closed = false;
  readonly #onSignal = (): void => this.#stopNow();

  /** Starts `count` threads; `input` is the shared read buffers whose bytes file data may name. */
  constructor(count: number, input?: SharedInput) {
    checkWriterThreads(count);
    if (count === 0) throw new WinlayerError('INTERNAL', 'writer threads started with a count of 0');
    const controls = Array.from({ length: count }, () => controlMemory(SLOTS));
    this.#threads = controls.map((_, i) => new WriterThread(i, controls, input, () => this.#check()));
    this.#current = this.#threads[0]!;
    this.#input = input;
    if (input !== undefined) input.release = (i) => this.#release(i);
    // Run before AtomicTarget's handler (installed earlier with `on`): stop the threads, then the folder is removed.
    process.prependListener('SIGINT', this.#onSignal);
    process.prependListener('SIGTERM', this.#onSignal);
  }

  /**
   * Whether folders may be queued ({@link mkdir}): only with one thread. With more, the caller creates each folder
   * itself before it queues anything inside, so that a file on any thread finds its folder.
   */
  get queuesFolders(): boolean {
    return this.#threads.length === 1;
  }

  /**
   * Whether every thread has started. A thread takes tens of milliseconds to start (a new V8 isolate): until then the
   * caller does the filesystem calls itself, so the first entries do not wait; once it has queued anything, it must
   * keep queuing (the threads run the queue in order, after whatever the caller did itself).
   */
  get ready(): boolean {
    if (this.#ready) return true;
    this.#ready = this.#threads.every((t) => t.started());
    return this.#ready;
  }

  /** Queues `mkdir(path, 0755)` (and a chmod when the umask would narrow it); see {@link queuesFolders}. */
  mkdir(path: string, chmod: boolean, label: string): void {
    const t = this.#room(2 + 4 + path.length * 3);
    t.batch.putOp(OP_MKDIR, chmod ? FLAG_CHMOD : 0);
    t.batch.putString(path);
    this.#commit(t, label);
  }

  /**
   * Queues a whole small file (at most {@link WHOLE_FILE_MAX} bytes): `fill` writes exactly `size` bytes of data into
   * the batch view it is given (and throws when the source holds another count; nothing of the file is queued then).
   */
  file(
    path: string,
    size: number,
    fill: (into: Uint8Array) => void,
    times: BatchTimes,
    chmod: boolean,
    label: string,
  ): void {
    const t = this.#room(2 + 4 + path.length * 3 + 16 + 4 + size);
    const start = t.batch.pos;
    t.batch.putOp(OP_FILE, fileFlags(times, chmod));
    t.batch.putString(path);
    t.batch.putTimes(times);
    t.batch.putU32(size);
    try {
      fill(t.batch.buf.subarray(t.batch.pos, t.batch.pos + size));
    } catch (e) {
      t.batch.pos = start;
      throw e;
    }
    t.batch.pos += size;
    this.#commit(t, label);
  }

  /** Whether `data` lies in the shared input (then `fileFromInput` and `write` name it instead of copying it). */
  inInput(data: Uint8Array): boolean {
    return this.#input?.holds(data) === true;
  }

  /** Queues a whole file whose data (a view for which {@link inInput} holds) is written from the shared input. */
  fileFromInput(path: string, data: Uint8Array, times: BatchTimes, chmod: boolean, label: string): void {
    const t = this.#room(2 + 4 + path.length * 3 + 16 + 8);
    t.batch.putOp(OP_FILE_REF, fileFlags(times, chmod));
    t.batch.putString(path);
    t.batch.putTimes(times);
    t.putRef(data);
    this.#commit(t, label);
  }

  /** Queues the creation of a file whose data follows with `write` and ends with `close` (on the same thread). */
  open(path: string, times: BatchTimes, chmod: boolean, label: string): void {
    const t = this.#room(2 + 4 + path.length * 3 + 16);
    this.#streaming = true;
    t.batch.putOp(OP_OPEN, fileFlags(times, chmod));
    t.batch.putString(path);
    t.batch.putTimes(times);
    this.#commit(t, label);
  }

  /** Queues the open file's next data: named when it lies in the shared input, else copied (in pieces). */
  write(data: Uint8Array, label: string): void {
    if (this.inInput(data)) {
      const t = this.#room(2 + 8);
      t.batch.putOp(OP_WRITE_REF, 0);
      t.putRef(data);
      this.#commit(t, label);
      return;
    }
    for (let at = 0; at < data.length; at += PIECE) {
      const piece = data.subarray(at, at + PIECE);
      const t = this.#room(2 + 4 + piece.length);
      t.batch.putOp(OP_WRITE, 0);
      t.batch.putBytes(piece);
      this.#commit(t, label);
    }
  }

  /**
   * Queues `link(existing, path)` (a hard link). Its thread first waits for the other threads' published batches, so
   * that `existing`, queued earlier on whichever thread, is on disk.
   */
  link(existing: string, path: string, label: string): void {
    const others = this.#threads.length - 1;
    const t = this.#room(2 + 4 + 8 * others + (existing.length + path.length) * 3);
    t.batch.putOp(OP_LINK, 0);
    t.batch.putU32(others);
    for (const other of this.#threads) {
      if (other === t) continue;
      // Only the thread being filled has unpublished operations: every other thread's work is in `head` batches.
      t.batch.putU32(other.index);
      t.batch.putU32(other.head);
    }
    t.batch.putString(existing);
    t.batch.putString(path);
    this.#commit(t, label);
  }

  /** Queues the end of the open file: its times (when given to `open`), then close. */
  close(label: string): void {
    const t = this.#room(2);
    t.batch.putOp(OP_CLOSE, 0);
    this.#streaming = false;
    this.#commit(t, label);
  }

  /** Waits until every queued operation is done; throws the first failure. */
  drain(): void {
    this.#check();
    for (const t of this.#threads) t.publish();
    for (const t of this.#threads) t.waitDone(t.head);
  }

  /** Stops the threads (after `drain()`, or to abandon the queue on an error). Safe more than once. */
  async stop(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    process.removeListener('SIGINT', this.#onSignal);
    process.removeListener('SIGTERM', this.#onSignal);
    for (const t of this.#threads) t.ring.askStop();
    // A reader still running must not wait for writes that will never be done.
    if (this.#input !== undefined) this.#input.release = () => undefined;
    await Promise.all(this.#threads.map((t) => t.ring.terminate()));
  }

  /** Synchronous stop for a signal: ask every thread to stop and wait (≤ 2 s) until each is between operations. */
  #stopNow(): void {
    for (const t of this.#threads) t.ring.askStop();
    const until = Date.now() + 2000;
    for (const t of this.#threads) t.ring.waitIdle(until);
  }

  /** Waits until nothing queued names input buffer `i` (the reader is about to fill it again). */
  #release(i: number): void {
    for (const t of this.#threads) t.release(i);
  }

  #check(): void {
    for (const t of this.#threads) t.check();
  }

  /** The thread to put an operation of `n` bytes (at most a batch) into: the current one, or the next when full. */
  #room(n: number): WriterThread {
    this.#check();
    const t = this.#current;
    if (t.batch.pos + n <= BATCH) return t;
    if (n > BATCH) throw new WinlayerError('INTERNAL', `a writer operation of ${n} bytes exceeds a batch`);
    this.#publish(t);
    return this.#current;
  }

  /** Records the operation's entry name; publishes the batch once it is worth waking the thread for. */
  #commit(t: WriterThread, label: string): void {
    t.labels.push(label);
    if (t.labels.length >= PUBLISH_OPS || t.batch.pos >= PUBLISH_BYTES || t.refBytes >= PUBLISH_REF_BYTES)
      this.#publish(t);
  }

  /** Publishes the thread's batch; the next batch goes to the least busy thread, unless a file is being streamed. */
  #publish(t: WriterThread): void {
    t.publish();
    if (this.#streaming || this.#threads.length === 1) return;
    let best = t;
    let least = Number.MAX_SAFE_INTEGER;
    for (const candidate of this.#threads) {
      const queued = candidate.ring.queued();
      // Ties go to another thread than the last one, so that every thread starts early.
      if (queued < least || (queued === least && best === t)) {
        best = candidate;
        least = queued;
      }
    }
    this.#current = best;
  }
}

/** One writer thread and its ring of batches (see {@link WriterThreads}). */
class WriterThread {
  readonly ring: Ring;
  readonly batch: BatchEncoder;
  readonly #input: SharedInput | undefined;
  /** Checks every thread for a failure (a thread may wait for another whose work has failed). */
  readonly #checkAll: () => void;
  /** Per input buffer: the batch that last named it (-1: none). */
  readonly #lastUse: Int32Array;
  /** Shared-input bytes named by the batch being filled. */
  refBytes = 0;
  /** The entry name of every operation of the batch being filled. */
  labels: string[] = [];
  /** The entry names of the batches not yet known done, by batch number. */
  readonly #batchLabels = new Map<number, string[]>();
  #failure: WinlayerError | undefined;

  constructor(
    readonly index: number,
    controls: readonly SharedArrayBuffer[],
    input: SharedInput | undefined,
    checkAll: () => void,
  ) {
    this.ring = new Ring({
      owner: import.meta.url,
      program: 'writer',
      what: 'the writer thread',
      slots: SLOTS,
      slotSize: BATCH,
      control: controls[index]!,
      data: { peers: controls, input: input?.memory ?? null },
      // The thread only makes filesystem calls: keep its heap small.
      resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 2 },
    });
    this.batch = new BatchEncoder(this.ring.slots[0]!);
    this.#input = input;
    this.#checkAll = checkAll;
    this.#lastUse = new Int32Array(input?.count ?? 0).fill(-1);
  }

  /** Batches published so far; the batch being filled is number `head`. */
  get head(): number {
    return this.ring.head;
  }

  started(): boolean {
    return this.ring.started();
  }

  /** Names `data` (in the shared input) by offset and size, and remembers that this batch uses its buffer. */
  putRef(data: Uint8Array): void {
    this.batch.putU32(data.byteOffset);
    this.batch.putU32(data.length);
    this.refBytes += data.length;
    const size = this.#input!.size;
    // A view never spans two buffers (the reader hands out views of one buffer), but name both ends to be sure.
    this.#lastUse[Math.floor(data.byteOffset / size)] = this.head;
    if (data.length > 0) this.#lastUse[Math.floor((data.byteOffset + data.length - 1) / size)] = this.head;
  }

  /** Hands the batch being filled to the thread and takes the next slot (waiting while the ring is full). */
  publish(): void {
    if (this.labels.length === 0) return;
    this.#batchLabels.set(this.head, this.labels);
    this.ring.publish(this.batch.pos);
    this.labels = [];
    this.batch.pos = 0;
    this.refBytes = 0;
    // The next slot is free once the batch that used it last (SLOTS ago) is done.
    this.waitDone(this.head - SLOTS + 1);
    this.batch.buf = this.ring.slots[this.head % SLOTS]!;
  }

  /** Waits until nothing queued here names input buffer `i`. */
  release(i: number): void {
    const batch = this.#lastUse[i]!;
    if (batch < 0) return;
    if (batch === this.head) this.publish(); // named by the batch being filled
    this.waitDone(batch + 1);
    this.#lastUse[i] = -1;
  }

  /** Throws this thread's failure, if any. */
  check(): void {
    if (this.#failure === undefined) {
      const f = this.ring.failure();
      if (f !== undefined) this.#failure = this.#failureError(f);
    }
    if (this.#failure !== undefined) throw this.#failure;
  }

  /** Waits until the thread has finished `batches` batches; throws a failure, or after a stall. */
  waitDone(batches: number): void {
    const tail = this.ring.waitDone(batches, this.#checkAll);
    for (const b of this.#batchLabels.keys()) {
      if (b >= tail) break;
      this.#batchLabels.delete(b);
    }
  }

  /** The failure as an `IO` error naming the entry of the failed operation (`INTERNAL` when the thread itself broke). */
  #failureError(f: NonNullable<ReturnType<Ring['failure']>>): WinlayerError {
    if (f.slot < 0) return new WinlayerError('INTERNAL', `the writer thread failed: ${f.message}`);
    const entry = this.#batchLabels.get(f.slot)?.[f.item];
    return entryWriteError(entry, Object.assign(new Error(f.message), { code: f.code, syscall: f.syscall }));
  }
}
