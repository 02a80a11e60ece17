/**
 * The background writer of `writeLayerDir`: worker threads that perform the folder's filesystem calls (mkdir,
 * create with O_EXCL, write, futimes, close, link) while the main thread parses the archive and checks the next
 * entries, so that an import costs about the largest of their shares instead of their sum. Used by default on a host
 * with a second core ({@link useWriterThread}), with two threads ({@link writerLanes}; see {@link BackgroundWriter}
 * for how work is shared and ordered between them).
 *
 * Hand-over without messages or copies: the main thread encodes operations into batches in a fixed ring of shared
 * memory and publishes each with `Atomics` (like the hashing ring of `tar/hash.ts`); each worker runs its ring in order and
 * publishes how many batches it has finished. File data is not copied when it already lies in shared memory: a plain
 * tar file is read into a {@link SharedInput} ring, and an operation then names the bytes by offset (`*_REF`); the
 * reader reuses an input buffer only once every operation that names it is done ({@link SharedInput.release}). Other
 * data (a stream's, a test's) is copied into the batch. Memory is fixed: the batch ring and the input ring.
 *
 * Every wait is synchronous (`Atomics.wait`, bounded): the main thread's work is synchronous too, and a promise per
 * operation would cost more than the work. Failures: the first failing operation stops the worker, which leaves its
 * batch, index and error in shared memory; the next call on the main thread throws it as `IO`, naming the entry.
 *
 * Safety is unchanged: the main thread checks every entry (`ImportGuard`) before it is queued; the worker only creates
 * names inside the temporary folder, with O_EXCL, never through a link. On SIGINT/SIGTERM the worker is stopped
 * before `AtomicTarget`'s handler removes the temporary folder, so it cannot create a file in a folder being removed.
 */
import { constants } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { WinlayerError } from '../errors.js';
import type { UnixNanos } from '../windows/index.js';

/**
 * Seconds that libuv's `utimes` truncates to exactly the microsecond of `ns` (Node keeps µs). A number, or for times
 * before 1970 a numeric string (Node turns a negative number into "now", but passes numeric strings through).
 */
export function utimeSeconds(ns: UnixNanos): number | string {
  if (ns >= 0n && ns <= MAX_FAST_NS) {
    // One bigint division; below 2^53 µs the rest is exact in doubles, and the result is the same number as below.
    const us = Number(ns / 1000n);
    let sec = Math.floor(us / 1e6);
    let frac = us - sec * 1e6;
    if (frac < 0) {
      sec -= 1;
      frac += 1e6;
    } else if (frac >= 1e6) {
      sec += 1;
      frac -= 1e6;
    }
    return sec + (frac + 0.5) / 1e6;
  }
  const us = ns >= 0n ? ns / 1000n : -((-ns + 999n) / 1000n); // floor to µs
  const sec = us >= 0n ? us / 1_000_000n : -((-us + 999_999n) / 1_000_000n);
  const frac = Number(us - sec * 1_000_000n); // 0..999999
  const value = Number(sec) + frac / 1e6;
  // Nudge half a microsecond away from the truncation direction so float error never drops a microsecond.
  return value >= 0 ? Number(sec) + (frac + 0.5) / 1e6 : String(Number(sec) + (frac - 0.5) / 1e6);
}

/** The largest time (ns) whose microseconds are a safe integer: `utimeSeconds` then avoids most bigint work. */
const MAX_FAST_NS = BigInt(Number.MAX_SAFE_INTEGER) * 1000n;

/** File creation flags: create, never through an existing name or link (`wx`). */
export const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL;
const FILE_MODE = 0o644;
const DIR_MODE = 0o755;

const OP_MKDIR = 1;
const OP_FILE = 2;
const OP_OPEN = 3;
const OP_WRITE = 4;
const OP_CLOSE = 5;
const OP_LINK = 6;
/** A whole file whose data lies in the shared input (offset, size) instead of the batch. */
const OP_FILE_REF = 7;
/** The open file's next data, in the shared input. */
const OP_WRITE_REF = 8;
const FLAG_TIMES = 1;
const FLAG_CHMOD = 2;

/** Bytes per batch (one slot of the ring); larger data is split. */
const BATCH = 256 * 1024;
/** Files up to this size may be queued whole (`file`), their data copied into one batch. */
export const WHOLE_FILE_MAX = BATCH / 2;
/**
 * Batches in the ring (8 MiB in all): the one being filled and those queued. Many small batches let the main thread
 * run far ahead of the worker (as far as the shared input's 8 MiB) while the worker always has a batch to start on.
 */
const SLOTS = 16;
/** A batch is published once it has this many operations, bytes of its own, or bytes of shared input named. */
const PUBLISH_OPS = 32;
const PUBLISH_BYTES = 64 * 1024;
const PUBLISH_REF_BYTES = 128 * 1024;
/** The largest piece of data in one WRITE operation. */
const PIECE = BATCH - 64;
/** Longest silence of the worker before the main thread gives up on it (it never takes this long when alive). */
const STALL_MS = 60_000;

/** Control words shared with the worker. */
const C_STOP = 0; // 1: the main thread asks the worker to stop
const C_BUSY = 1; // 1 while the worker runs an operation
const C_HEAD = 2; // batches published (main thread)
const C_TAIL = 3; // batches done (worker)
const C_SLEEP = 4; // bit 1: the worker waits for HEAD; bit 2: the main thread waits for TAIL; bit 4: another worker does
const C_FAILED = 5; // 1: an operation failed (details below and in the failure area)
const C_FAIL_BATCH = 6;
const C_FAIL_INDEX = 7;
const C_FAIL_LEN = 8; // bytes of the failure's JSON in the failure area
const C_READY = 9; // 1 once the worker runs (it takes tens of milliseconds to start)
const C_LEN = 10; // C_LEN + i: bytes in batch slot i
const CONTROL_WORDS = C_LEN + SLOTS;
const FAILURE_BYTES = 4096;

/** `IO` for a filesystem call that failed on an entry (on either thread); `cause` keeps its errno fields. */
export function entryWriteError(entry: string | undefined, cause: NodeJS.ErrnoException): WinlayerError {
  return new WinlayerError('IO', `cannot write the entry: ${cause.message}`, {
    entry,
    cause,
    ...(cause.code === 'ENAMETOOLONG' ? { hint: 'the path is longer than this host filesystem allows' } : {}),
  });
}

/**
 * Whether an import uses writer threads: as asked, else whenever the host has a second core. Measured on a 2-core VM
 * (`docs/benchmarks.md`): one thread made a layer of 100,000 mostly small files 14–21% faster and 1.1 million empty
 * ones 37% faster, even (±5%) for 7,000 files of 268 MB; the CLI with two threads peaks at 138–142 MB for a layer of
 * 1.1 to 3.3 million entries, under the 150 MB target.
 */
export function useWriterThread(asked: boolean | undefined): boolean {
  return asked ?? availableParallelism() > 1;
}

/** The most writer threads an import starts: each holds 4 MiB of batches and a V8 isolate. */
const MAX_LANES = 8;

/** Throws `USAGE` unless `n` is a writer-thread count an import can start (1 to {@link MAX_LANES}). */
export function checkWriterThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_LANES) {
    throw new WinlayerError('USAGE', `writer threads must be a whole number from 1 to ${MAX_LANES} (got ${n})`);
  }
}

/**
 * How many writer threads an import starts by default: two where the host has two cores or more. Measured on a
 * 2-core VM (`docs/benchmarks.md`): the kernel's share of an import (copying data into the page cache, creating
 * inodes) spreads over both cores; a third thread only competes with the reader.
 */
export function writerLanes(): number {
  return Math.min(2, availableParallelism());
}

/**
 * The read buffers of a plain tar file, in shared memory so that the writer thread writes file data straight from
 * them. The reader takes buffer `i` again only after {@link release}`(i)`: the writer that names its bytes (it
 * installs `release`) waits there until every operation naming buffer `i` is done.
 */
export class SharedInput {
  readonly memory: SharedArrayBuffer;
  readonly buffers: readonly Buffer[];
  /** Installed by the writer that queues operations naming these buffers; a no-op until then. */
  release: (buffer: number) => void = () => undefined;

  constructor(
    readonly count: number,
    readonly size: number,
  ) {
    this.memory = new SharedArrayBuffer(count * size);
    this.buffers = Array.from({ length: count }, (_, i) => Buffer.from(this.memory, i * size, size));
  }
}

/**
 * Queues the filesystem work of a layer folder to worker threads ("lanes", {@link writerLanes}). Calls return at once,
 * or after waiting (bounded) for a lane whose ring is full. `drain()` waits until everything queued is on disk;
 * `stop()` ends the workers. A failure surfaces from the next call as `WinlayerError` `IO` naming the failing entry.
 *
 * Order across lanes: operations go to one lane while its batch fills, and the next batch goes to the least busy
 * lane, so a lane's batches stay large and both lanes stay fed. A file being streamed keeps its lane until it is
 * closed. Folders are created on the calling thread when there is more than one lane (every later file, on whichever
 * lane, then finds its folder); a hard link waits in its worker until the other lanes have finished every batch
 * published before it (its target is in one of them, or earlier on its own lane).
 */
export class BackgroundWriter {
  readonly #lanes: Lane[];
  readonly #input: SharedInput | undefined;
  /** The lane whose batch is being filled. */
  #lane: Lane;
  /** True between `open` and `close`: the open file's operations stay on one lane. */
  #streaming = false;
  #ready = false;
  #closed = false;
  readonly #onSignal = (): void => this.#stopNow();

  /** Starts `lanes` workers; `input` is the shared read ring whose bytes file data may name. */
  constructor(input?: SharedInput, lanes = 1) {
    checkWriterThreads(lanes);
    const controls = Array.from({ length: lanes }, () => new SharedArrayBuffer(CONTROL_WORDS * 4));
    this.#lanes = controls.map((_, i) => new Lane(i, controls, input, () => this.#check()));
    this.#lane = this.#lanes[0]!;
    this.#input = input;
    if (input !== undefined) input.release = (i) => this.#release(i);
    // Run before AtomicTarget's handler (installed earlier with `on`): stop the workers, then the folder is removed.
    process.prependListener('SIGINT', this.#onSignal);
    process.prependListener('SIGTERM', this.#onSignal);
  }

  /**
   * Whether folders may be queued ({@link mkdir}): only with one lane. With more, the caller creates each folder
   * itself before it queues anything inside, so that a file on any lane finds its folder.
   */
  get queuesFolders(): boolean {
    return this.#lanes.length === 1;
  }

  /**
   * Whether every worker has started. A worker takes tens of milliseconds to start (a new V8 isolate): until then the
   * caller does the filesystem calls itself, so the first entries do not wait; once it has queued anything, it must
   * keep queuing (the workers run the queue in order, after whatever the caller did itself).
   */
  get ready(): boolean {
    if (this.#ready) return true;
    this.#ready = this.#lanes.every((lane) => lane.started());
    return this.#ready;
  }

  /** Queues `mkdir(path, 0755)` (and a chmod when the umask would narrow it); see {@link queuesFolders}. */
  mkdir(path: string, chmod: boolean, label: string): void {
    const lane = this.#room(2 + 4 + path.length * 3);
    lane.putOp(OP_MKDIR, chmod ? FLAG_CHMOD : 0);
    lane.putString(path);
    this.#commit(lane, label);
  }

  /**
   * Queues a whole small file: `fill` writes exactly `size` bytes of data into the view it is given (and throws when
   * the source holds another count). `times` (atime, mtime) are set with futimes when given.
   */
  file(
    path: string,
    size: number,
    fill: (into: Uint8Array) => void,
    times: readonly [UnixNanos, UnixNanos] | undefined,
    chmod: boolean,
    label: string,
  ): void {
    const lane = this.#room(2 + 4 + path.length * 3 + 16 + 4 + size);
    const start = lane.pos;
    lane.putOp(OP_FILE, fileFlags(times, chmod));
    lane.putString(path);
    lane.putTimes(times);
    lane.putU32(size);
    try {
      fill(lane.buf.subarray(lane.pos, lane.pos + size));
    } catch (e) {
      lane.pos = start; // nothing of this file is queued
      throw e;
    }
    lane.pos += size;
    this.#commit(lane, label);
  }

  /** Whether `data` lies in the shared input (then `fileFromInput` and `write` name it instead of copying it). */
  inInput(data: Uint8Array): boolean {
    return this.#input !== undefined && data.buffer === this.#input.memory;
  }

  /** Queues a whole file whose data (a view for which {@link inInput} holds) is written from the shared input. */
  fileFromInput(
    path: string,
    data: Uint8Array,
    times: readonly [UnixNanos, UnixNanos] | undefined,
    chmod: boolean,
    label: string,
  ): void {
    const lane = this.#room(2 + 4 + path.length * 3 + 16 + 8);
    lane.putOp(OP_FILE_REF, fileFlags(times, chmod));
    lane.putString(path);
    lane.putTimes(times);
    lane.putRef(data);
    this.#commit(lane, label);
  }

  /** Queues the creation of a large file whose data follows with `write` and ends with `close` (on the same lane). */
  open(path: string, times: readonly [UnixNanos, UnixNanos] | undefined, chmod: boolean, label: string): void {
    const lane = this.#room(2 + 4 + path.length * 3 + 16);
    this.#streaming = true;
    lane.putOp(OP_OPEN, fileFlags(times, chmod));
    lane.putString(path);
    lane.putTimes(times);
    this.#commit(lane, label);
  }

  /** Queues the open file's next data: named when it lies in the shared input, else copied (in pieces). */
  write(data: Uint8Array, label: string): void {
    if (this.inInput(data)) {
      const lane = this.#room(2 + 8);
      lane.putOp(OP_WRITE_REF, 0);
      lane.putRef(data);
      this.#commit(lane, label);
      return;
    }
    for (let at = 0; at < data.length; at += PIECE) {
      const piece = data.subarray(at, at + PIECE);
      const lane = this.#room(2 + 4 + piece.length);
      lane.putOp(OP_WRITE, 0);
      lane.putU32(piece.length);
      lane.buf.set(piece, lane.pos);
      lane.pos += piece.length;
      this.#commit(lane, label);
    }
  }

  /**
   * Queues `link(existing, path)` (a hard link). Its worker first waits for the other lanes' published batches, so
   * that `existing`, queued earlier on whichever lane, is on disk.
   */
  link(existing: string, path: string, label: string): void {
    const others = this.#lanes.length - 1;
    const lane = this.#room(2 + 4 + 8 * others + (existing.length + path.length) * 3);
    lane.putOp(OP_LINK, 0);
    lane.putU32(others);
    for (const other of this.#lanes) {
      if (other === lane) continue;
      // Only the lane being filled has unpublished operations: every other lane's work is in `head` batches.
      lane.putU32(other.index);
      lane.putU32(other.head);
    }
    lane.putString(existing);
    lane.putString(path);
    this.#commit(lane, label);
  }

  /** Queues the end of the open file: its times (when given to `open`), then close. */
  close(label: string): void {
    const lane = this.#room(2);
    lane.putOp(OP_CLOSE, 0);
    this.#streaming = false;
    this.#commit(lane, label);
  }

  /** Waits until every queued operation is done; throws the first failure. */
  drain(): void {
    this.#check();
    for (const lane of this.#lanes) lane.publish();
    for (const lane of this.#lanes) lane.waitDone(lane.head);
  }

  /** Stops the workers (after `drain()`, or to abandon the queue on an error). Safe more than once. */
  async stop(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    process.removeListener('SIGINT', this.#onSignal);
    process.removeListener('SIGTERM', this.#onSignal);
    for (const lane of this.#lanes) lane.askStop();
    // A reader still running must not wait for writes that will never be done.
    if (this.#input !== undefined) this.#input.release = () => undefined;
    await Promise.all(this.#lanes.map((lane) => lane.terminate()));
  }

  /** Synchronous stop for a signal: ask every worker to stop and wait (≤ 2 s) until each is between operations. */
  #stopNow(): void {
    for (const lane of this.#lanes) lane.askStop();
    const until = Date.now() + 2000;
    for (const lane of this.#lanes) lane.waitIdle(until);
  }

  /** Waits until nothing queued names input buffer `i` (the reader is about to fill it again). */
  #release(i: number): void {
    for (const lane of this.#lanes) lane.release(i);
  }

  #check(): void {
    for (const lane of this.#lanes) lane.check();
  }

  /** The lane to put an operation of `n` bytes (at most a batch) into: the current one, or the next when it is full. */
  #room(n: number): Lane {
    this.#check();
    const lane = this.#lane;
    if (lane.pos + n <= BATCH) return lane;
    if (n > BATCH) throw new WinlayerError('INTERNAL', `a writer operation of ${n} bytes exceeds a batch`);
    this.#publish(lane);
    return this.#lane;
  }

  /** Records the operation's entry name; publishes the batch once it is worth waking the worker for. */
  #commit(lane: Lane, label: string): void {
    lane.labels.push(label);
    if (lane.labels.length >= PUBLISH_OPS || lane.pos >= PUBLISH_BYTES || lane.refBytes >= PUBLISH_REF_BYTES)
      this.#publish(lane);
  }

  /** Publishes the lane's batch; the next batch goes to the least busy lane, unless a file is being streamed. */
  #publish(lane: Lane): void {
    lane.publish();
    if (this.#streaming || this.#lanes.length === 1) return;
    let best = lane;
    let least = Number.MAX_SAFE_INTEGER;
    for (const candidate of this.#lanes) {
      const queued = candidate.queued();
      // Ties go to another lane than the last one, so that both workers start early.
      if (queued < least || (queued === least && best === lane)) {
        best = candidate;
        least = queued;
      }
    }
    this.#lane = best;
  }
}

/** One worker thread and its ring of batches (see {@link BackgroundWriter}). */
class Lane {
  readonly #worker: Worker;
  readonly #c: Int32Array;
  readonly #failureArea: SharedArrayBuffer;
  readonly #slots: Buffer[];
  readonly #input: SharedInput | undefined;
  /** Checks every lane for a failure (a worker may wait for another lane whose worker has failed). */
  readonly #checkAll: () => void;
  /** Per input buffer: the batch that last named it (-1: none). */
  readonly #lastUse: Int32Array;
  /** Batches published so far (the main thread's copy of HEAD); the batch being filled is number `head`. */
  head = 0;
  buf: Buffer;
  pos = 0;
  /** Shared-input bytes named by the batch being filled. */
  refBytes = 0;
  labels: string[] = [];
  /** The entry name of every operation of the batches not yet known done, by batch number. */
  readonly #batchLabels = new Map<number, string[]>();
  #failure: WinlayerError | undefined;

  constructor(
    readonly index: number,
    controls: readonly SharedArrayBuffer[],
    input: SharedInput | undefined,
    checkAll: () => void,
  ) {
    this.#c = new Int32Array(controls[index]!);
    this.#failureArea = new SharedArrayBuffer(FAILURE_BYTES);
    const ring = new SharedArrayBuffer(SLOTS * BATCH);
    this.#slots = Array.from({ length: SLOTS }, (_, i) => Buffer.from(ring, i * BATCH, BATCH));
    this.buf = this.#slots[0]!;
    this.#input = input;
    this.#checkAll = checkAll;
    this.#lastUse = new Int32Array(input?.count ?? 0).fill(-1);
    this.#worker = new Worker(WORKER_SOURCE, {
      eval: true,
      // Plain CommonJS, whatever flags started this process (`--input-type=module`, `--import tsx`).
      execArgv: [],
      workerData: { controls, index, ring, failure: this.#failureArea, input: input?.memory ?? null },
      stdout: false,
      stderr: false,
      // The thread only makes filesystem calls: keep its heap small.
      resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 2 },
    });
    this.#worker.on('error', (e) => {
      this.#failure ??= new WinlayerError('INTERNAL', `the writer thread failed: ${e.message}`);
    });
  }

  /** Whether the worker has started running. */
  started(): boolean {
    return Atomics.load(this.#c, C_READY) === 1;
  }

  /** Batches published and not yet done. */
  queued(): number {
    return this.head - Atomics.load(this.#c, C_TAIL);
  }

  putOp(op: number, flags: number): void {
    this.buf[this.pos++] = op;
    this.buf[this.pos++] = flags;
  }

  putU32(v: number): void {
    this.buf.writeUInt32LE(v, this.pos);
    this.pos += 4;
  }

  putString(s: string): void {
    const n = this.buf.write(s, this.pos + 4, 'utf8');
    this.buf.writeUInt32LE(n, this.pos);
    this.pos += 4 + n;
  }

  putTimes(times: readonly [UnixNanos, UnixNanos] | undefined): void {
    this.buf.writeDoubleLE(times === undefined ? 0 : Number(utimeSeconds(times[0])), this.pos);
    this.buf.writeDoubleLE(times === undefined ? 0 : Number(utimeSeconds(times[1])), this.pos + 8);
    this.pos += 16;
  }

  /** Names `data` (in the shared input) by offset and size, and remembers that this batch uses its buffer. */
  putRef(data: Uint8Array): void {
    this.putU32(data.byteOffset);
    this.putU32(data.length);
    this.refBytes += data.length;
    const size = this.#input!.size;
    // A view never spans two buffers (the reader hands out views of one buffer), but name both ends to be sure.
    this.#lastUse[Math.floor(data.byteOffset / size)] = this.head;
    if (data.length > 0) this.#lastUse[Math.floor((data.byteOffset + data.length - 1) / size)] = this.head;
  }

  /** Hands the batch being filled to the worker and takes the next slot (waiting while the ring is full). */
  publish(): void {
    if (this.labels.length === 0) return;
    const c = this.#c;
    const batch = this.head;
    c[C_LEN + (batch % SLOTS)] = this.pos;
    this.#batchLabels.set(batch, this.labels);
    this.head = batch + 1;
    Atomics.store(c, C_HEAD, this.head);
    // Sequentially consistent: either we see the worker's sleeping bit, or its wait sees the new HEAD.
    if ((Atomics.load(c, C_SLEEP) & 1) !== 0) Atomics.notify(c, C_HEAD);
    this.labels = [];
    this.pos = 0;
    this.refBytes = 0;
    // The next slot is free once the batch that used it last (SLOTS ago) is done.
    this.waitDone(this.head - SLOTS + 1);
    this.buf = this.#slots[this.head % SLOTS]!;
  }

  /** Waits until nothing queued here names input buffer `i`. */
  release(i: number): void {
    const batch = this.#lastUse[i]!;
    if (batch < 0) return;
    if (batch === this.head) this.publish(); // named by the batch being filled
    this.waitDone(batch + 1);
    this.#lastUse[i] = -1;
  }

  /** Throws this lane's failure, if any. */
  check(): void {
    if (this.#failure === undefined && Atomics.load(this.#c, C_FAILED) === 1) this.#failure = this.#readFailure();
    if (this.#failure !== undefined) throw this.#failure;
  }

  /** Waits until the worker has finished `batches` batches; throws a failure, or after {@link STALL_MS} of silence. */
  waitDone(batches: number): void {
    const c = this.#c;
    let tail = Atomics.load(c, C_TAIL);
    let deadline = 0;
    while (tail < batches) {
      this.#checkAll();
      if (deadline === 0) deadline = Date.now() + STALL_MS;
      else if (Date.now() > deadline) {
        throw new WinlayerError('INTERNAL', 'the writer thread stopped answering', {
          hint: 'this is a bug in winlayer (or the machine ran out of memory); please report it',
        });
      }
      Atomics.or(c, C_SLEEP, 2);
      Atomics.wait(c, C_TAIL, tail, 1000);
      Atomics.and(c, C_SLEEP, ~2);
      tail = Atomics.load(c, C_TAIL);
    }
    for (const b of this.#batchLabels.keys()) {
      if (b >= tail) break;
      this.#batchLabels.delete(b);
    }
  }

  askStop(): void {
    Atomics.store(this.#c, C_STOP, 1);
    Atomics.notify(this.#c, C_HEAD);
  }

  /** Waits (until the time `until`) for the worker to be between operations. */
  waitIdle(until: number): void {
    while (Atomics.load(this.#c, C_BUSY) === 1 && Date.now() < until) Atomics.wait(this.#c, C_BUSY, 1, 50);
  }

  async terminate(): Promise<void> {
    await this.#worker.terminate();
  }

  /** The worker's failure as an `IO` error naming the entry of the failed operation. */
  #readFailure(): WinlayerError {
    const c = this.#c;
    const json = Buffer.from(this.#failureArea, 0, Atomics.load(c, C_FAIL_LEN)).toString('utf8');
    const f = JSON.parse(json) as { message: string; code?: string; syscall?: string };
    const entry = this.#batchLabels.get(Atomics.load(c, C_FAIL_BATCH))?.[Atomics.load(c, C_FAIL_INDEX)];
    return entryWriteError(entry, Object.assign(new Error(f.message), { code: f.code, syscall: f.syscall }));
  }
}

function fileFlags(times: readonly [UnixNanos, UnixNanos] | undefined, chmod: boolean): number {
  return (times === undefined ? 0 : FLAG_TIMES) | (chmod ? FLAG_CHMOD : 0);
}

// ── the worker side ────────────────────────────────────────────────────────────────────────────────────────────────

/**
 * The worker's code, as plain JavaScript run with `eval` (a worker does not inherit the TypeScript loader of tests and
 * `tsx`). Batch layout, per operation: op (u8), flags (u8), then by op — MKDIR: path; FILE: path, times, u32 size,
 * data; FILE_REF: path, times, u32 offset and u32 size in the shared input; OPEN: path, times; WRITE: u32 size, data;
 * WRITE_REF: u32 offset, u32 size; CLOSE: nothing; LINK: u32 count and that many (u32 lane, u32
 * batches) that lane must have finished first, then the existing path and the new one. A path is u32 length +
 * UTF-8; times are two f64 seconds (atime, mtime) as `utimeSeconds` gives them, a negative value standing for the
 * numeric string.
 */
const WORKER_SOURCE = `
'use strict';
const { closeSync, fchmodSync, futimesSync, linkSync, mkdirSync, openSync, writeSync } = require('node:fs');
const { workerData } = require('node:worker_threads');
const peers = workerData.controls.map((m) => new Int32Array(m));
const c = peers[workerData.index];
const ring = workerData.ring;
const input = workerData.input === null ? null : Buffer.from(workerData.input);
const FLAGS = ${CREATE_FLAGS};
const sec = (v) => (v < 0 ? String(v) : v);
let fd = -1;
let openTimes;
let buf;
let pos = 0;
const str = () => {
  const n = buf.readUInt32LE(pos);
  const s = buf.toString('utf8', pos + 4, pos + 4 + n);
  pos += 4 + n;
  return s;
};
const times = () => {
  const t = [sec(buf.readDoubleLE(pos)), sec(buf.readDoubleLE(pos + 8))];
  pos += 16;
  return t;
};
const writeAll = (f, from, off, size) => {
  let done = 0;
  while (done < size) done += writeSync(f, from, off + done, size - done);
};
const create = (path, flags) => {
  const f = openSync(path, FLAGS, ${FILE_MODE});
  if ((flags & ${FLAG_CHMOD}) !== 0) {
    try {
      fchmodSync(f, ${FILE_MODE});
    } catch (e) {
      closeSync(f);
      throw e;
    }
  }
  return f;
};
const finish = (f, t) => {
  try {
    if (t !== undefined) futimesSync(f, t[0], t[1]);
  } finally {
    closeSync(f);
  }
};
// Waits until another lane has finished \`batches\` batches; false when asked to stop or when that lane failed (the
// main thread reports its failure).
const awaitPeer = (p, batches) => {
  for (;;) {
    const tail = Atomics.load(p, ${C_TAIL});
    if (tail >= batches) return true;
    if (Atomics.load(c, ${C_STOP}) === 1 || Atomics.load(p, ${C_FAILED}) === 1) return false;
    Atomics.or(p, ${C_SLEEP}, 4);
    Atomics.wait(p, ${C_TAIL}, tail, 50);
  }
};
function runBatch(index) {
  for (; pos < buf.length; index.i++) {
    if (Atomics.load(c, ${C_STOP}) === 1) return false;
    const op = buf[pos];
    const flags = buf[pos + 1];
    pos += 2;
    if (op === ${OP_FILE} || op === ${OP_FILE_REF}) {
      const path = str();
      const t = times();
      const f = create(path, flags);
      try {
        if (op === ${OP_FILE}) {
          const size = buf.readUInt32LE(pos);
          writeAll(f, buf, pos + 4, size);
          pos += 4 + size;
        } else {
          writeAll(f, input, buf.readUInt32LE(pos), buf.readUInt32LE(pos + 4));
          pos += 8;
        }
      } catch (e) {
        closeSync(f);
        throw e;
      }
      finish(f, (flags & ${FLAG_TIMES}) !== 0 ? t : undefined);
    } else if (op === ${OP_MKDIR}) {
      const path = str();
      mkdirSync(path, { mode: ${DIR_MODE} });
      if ((flags & ${FLAG_CHMOD}) !== 0) {
        const d = openSync(path, 'r');
        try {
          fchmodSync(d, ${DIR_MODE});
        } finally {
          closeSync(d);
        }
      }
    } else if (op === ${OP_OPEN}) {
      const path = str();
      const t = times();
      fd = create(path, flags);
      openTimes = (flags & ${FLAG_TIMES}) !== 0 ? t : undefined;
    } else if (op === ${OP_WRITE}) {
      const size = buf.readUInt32LE(pos);
      writeAll(fd, buf, pos + 4, size);
      pos += 4 + size;
    } else if (op === ${OP_WRITE_REF}) {
      writeAll(fd, input, buf.readUInt32LE(pos), buf.readUInt32LE(pos + 4));
      pos += 8;
    } else if (op === ${OP_CLOSE}) {
      const f = fd;
      fd = -1;
      finish(f, openTimes);
    } else if (op === ${OP_LINK}) {
      const deps = buf.readUInt32LE(pos);
      pos += 4;
      for (let d = 0; d < deps; d++, pos += 8) {
        if (!awaitPeer(peers[buf.readUInt32LE(pos)], buf.readUInt32LE(pos + 4))) return false;
      }
      const existing = str();
      linkSync(existing, str());
    } else {
      throw new Error('unknown writer operation ' + op);
    }
  }
  return true;
}
Atomics.store(c, ${C_READY}, 1);
let tail = 0;
for (;;) {
  let head = Atomics.load(c, ${C_HEAD});
  while (head === tail && Atomics.load(c, ${C_STOP}) === 0) {
    Atomics.or(c, ${C_SLEEP}, 1);
    Atomics.wait(c, ${C_HEAD}, head);
    Atomics.and(c, ${C_SLEEP}, ~1);
    head = Atomics.load(c, ${C_HEAD});
  }
  if (Atomics.load(c, ${C_STOP}) === 1) break;
  const slot = tail % ${SLOTS};
  buf = Buffer.from(ring, slot * ${BATCH}, c[${C_LEN} + slot]);
  pos = 0;
  const index = { i: 0 };
  Atomics.store(c, ${C_BUSY}, 1);
  let ok;
  try {
    ok = runBatch(index);
  } catch (e) {
    if (fd >= 0) {
      try {
        closeSync(fd);
      } catch {}
    }
    // The message names the path, which may be long: shortened until the JSON fits the failure area.
    let message = String(e && e.message);
    let json;
    for (;;) {
      json = Buffer.from(JSON.stringify({ message, code: e && e.code, syscall: e && e.syscall }));
      if (json.length <= ${FAILURE_BYTES}) break;
      message = message.slice(0, Math.floor(message.length / 2)) + '…';
    }
    const n = json.length;
    Buffer.from(workerData.failure).set(json);
    Atomics.store(c, ${C_FAIL_LEN}, n);
    Atomics.store(c, ${C_FAIL_BATCH}, tail);
    Atomics.store(c, ${C_FAIL_INDEX}, index.i);
    Atomics.store(c, ${C_FAILED}, 1);
    ok = false;
  } finally {
    Atomics.store(c, ${C_BUSY}, 0);
    Atomics.notify(c, ${C_BUSY});
  }
  if (!ok) {
    Atomics.notify(c, ${C_TAIL});
    break;
  }
  tail++;
  Atomics.store(c, ${C_TAIL}, tail);
  // Bit 2: the main thread waits; bit 4: another lane's worker waits (it sets the bit again before each wait).
  if ((Atomics.load(c, ${C_SLEEP}) & 6) !== 0) {
    Atomics.and(c, ${C_SLEEP}, ~4);
    Atomics.notify(c, ${C_TAIL});
  }
}
`;
