/**
 * The background writer of `writeLayerDir`: a worker thread that performs the folder's filesystem calls (mkdir,
 * create with O_EXCL, write, futimes, close, link) while the main thread parses the archive and checks the next
 * entries, so that an import costs about the larger of the two instead of their sum. Used by default on a host with a
 * second core ({@link useWriterThread}).
 *
 * Hand-over without messages or copies: the main thread encodes operations into batches in a fixed ring of shared
 * memory and publishes each with `Atomics` (like the hashing ring of `tar/hash.ts`); the worker runs them in order and
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
const C_SLEEP = 4; // bit 1: the worker waits for HEAD; bit 2: the main thread waits for TAIL
const C_FAILED = 5; // 1: an operation failed (details below and in the failure area)
const C_FAIL_BATCH = 6;
const C_FAIL_INDEX = 7;
const C_FAIL_LEN = 8; // bytes of the failure's JSON in the failure area
const C_LEN = 9; // C_LEN + i: bytes in batch slot i
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
 * Whether an import uses the writer thread: as asked, else whenever the host has a second core. Measured on a 2-core
 * VM (`docs/benchmarks.md`): 14–21% faster for a layer of 100,000 mostly small files, 37% for 1.1 million empty ones,
 * even (±5%) for 7,000 files of 268 MB; 20–40 MB more peak RSS (the worker, its two shared rings, the rest not pinned
 * down): 147 MB for a layer of 1.1 million entries, under the 150 MB target.
 */
export function useWriterThread(asked: boolean | undefined): boolean {
  return asked ?? availableParallelism() > 1;
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
 * Queues the filesystem work of a layer folder to a worker thread. Calls return at once, or after waiting (bounded)
 * for the worker when the ring is full. `drain()` waits until everything queued is on disk; `stop()` ends the worker.
 * A failure surfaces from the next call as `WinlayerError` `IO` naming the entry whose operation failed.
 */
export class BackgroundWriter {
  readonly #worker: Worker;
  readonly #c: Int32Array;
  readonly #failureArea: SharedArrayBuffer;
  readonly #slots: Buffer[];
  readonly #input: SharedInput | undefined;
  /** Per input buffer: the batch that last named it (-1: none). */
  readonly #lastUse: Int32Array;
  /** Batches published so far (the main thread's copy of HEAD); the batch being filled is number `#head`. */
  #head = 0;
  #buf: Buffer;
  #pos = 0;
  /** Shared-input bytes named by the batch being filled. */
  #refBytes = 0;
  #labels: string[] = [];
  /** The entry name of every operation of the batches not yet known done, by batch number. */
  readonly #batchLabels = new Map<number, string[]>();
  #failure: WinlayerError | undefined;
  #closed = false;
  readonly #onSignal = (): void => this.#stopNow();

  /** Starts the worker; `input` is the shared read ring whose bytes file data may name. */
  constructor(input?: SharedInput) {
    const control = new SharedArrayBuffer(CONTROL_WORDS * 4);
    this.#c = new Int32Array(control);
    this.#failureArea = new SharedArrayBuffer(FAILURE_BYTES);
    const ring = new SharedArrayBuffer(SLOTS * BATCH);
    this.#slots = Array.from({ length: SLOTS }, (_, i) => Buffer.from(ring, i * BATCH, BATCH));
    this.#buf = this.#slots[0]!;
    this.#input = input;
    this.#lastUse = new Int32Array(input?.count ?? 0).fill(-1);
    this.#worker = new Worker(WORKER_SOURCE, {
      eval: true,
      // Plain CommonJS, whatever flags started this process (`--input-type=module`, `--import tsx`).
      execArgv: [],
      workerData: { control, ring, failure: this.#failureArea, input: input?.memory ?? null },
      stdout: false,
      stderr: false,
      // The thread only makes filesystem calls: keep its heap small.
      resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 },
    });
    this.#worker.on('error', (e) => {
      this.#failure ??= new WinlayerError('INTERNAL', `the writer thread failed: ${e.message}`);
    });
    if (input !== undefined) input.release = (i) => this.#release(i);
    // Run before AtomicTarget's handler (installed earlier with `on`): stop the worker, then the folder is removed.
    process.prependListener('SIGINT', this.#onSignal);
    process.prependListener('SIGTERM', this.#onSignal);
  }

  /** Queues `mkdir(path, 0755)` (and a chmod when the umask would narrow it). */
  mkdir(path: string, chmod: boolean, label: string): void {
    this.#room(2 + 4 + path.length * 3);
    this.#buf[this.#pos++] = OP_MKDIR;
    this.#buf[this.#pos++] = chmod ? FLAG_CHMOD : 0;
    this.#putString(path);
    this.#commit(label);
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
    this.#room(2 + 4 + path.length * 3 + 16 + 4 + size);
    const start = this.#pos;
    this.#buf[this.#pos++] = OP_FILE;
    this.#buf[this.#pos++] = (times === undefined ? 0 : FLAG_TIMES) | (chmod ? FLAG_CHMOD : 0);
    this.#putString(path);
    this.#putTimes(times);
    this.#buf.writeUInt32LE(size, this.#pos);
    this.#pos += 4;
    try {
      fill(this.#buf.subarray(this.#pos, this.#pos + size));
    } catch (e) {
      this.#pos = start; // nothing of this file is queued
      throw e;
    }
    this.#pos += size;
    this.#commit(label);
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
    this.#room(2 + 4 + path.length * 3 + 16 + 8);
    this.#buf[this.#pos++] = OP_FILE_REF;
    this.#buf[this.#pos++] = (times === undefined ? 0 : FLAG_TIMES) | (chmod ? FLAG_CHMOD : 0);
    this.#putString(path);
    this.#putTimes(times);
    this.#putRef(data);
    this.#commit(label);
  }

  /** Queues the creation of a large file whose data follows with `write` and ends with `close`. */
  open(path: string, times: readonly [UnixNanos, UnixNanos] | undefined, chmod: boolean, label: string): void {
    this.#room(2 + 4 + path.length * 3 + 16);
    this.#buf[this.#pos++] = OP_OPEN;
    this.#buf[this.#pos++] = (times === undefined ? 0 : FLAG_TIMES) | (chmod ? FLAG_CHMOD : 0);
    this.#putString(path);
    this.#putTimes(times);
    this.#commit(label);
  }

  /** Queues the open file's next data: named when it lies in the shared input, else copied (in pieces). */
  write(data: Uint8Array, label: string): void {
    if (this.inInput(data)) {
      this.#room(2 + 8);
      this.#buf[this.#pos++] = OP_WRITE_REF;
      this.#buf[this.#pos++] = 0;
      this.#putRef(data);
      this.#commit(label);
      return;
    }
    for (let at = 0; at < data.length; at += PIECE) {
      const piece = data.subarray(at, at + PIECE);
      this.#room(2 + 4 + piece.length);
      this.#buf[this.#pos++] = OP_WRITE;
      this.#buf[this.#pos++] = 0;
      this.#buf.writeUInt32LE(piece.length, this.#pos);
      this.#pos += 4;
      this.#buf.set(piece, this.#pos);
      this.#pos += piece.length;
      this.#commit(label);
    }
  }

  /** Queues `link(existing, path)` (a hard link; the operations before it, such as creating `existing`, run first). */
  link(existing: string, path: string, label: string): void {
    this.#room(2 + 8 + (existing.length + path.length) * 3);
    this.#buf[this.#pos++] = OP_LINK;
    this.#buf[this.#pos++] = 0;
    this.#putString(existing);
    this.#putString(path);
    this.#commit(label);
  }

  /** Queues the end of the open file: its times (when given to `open`), then close. */
  close(label: string): void {
    this.#room(2);
    this.#buf[this.#pos++] = OP_CLOSE;
    this.#buf[this.#pos++] = 0;
    this.#commit(label);
  }

  /** Waits until every queued operation is done; throws the first failure. */
  drain(): void {
    this.#check();
    this.#publish();
    this.#waitDone(this.#head);
  }

  /** Stops the worker (after `drain()`, or to abandon the queue on an error). Safe more than once. */
  async stop(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    process.removeListener('SIGINT', this.#onSignal);
    process.removeListener('SIGTERM', this.#onSignal);
    Atomics.store(this.#c, C_STOP, 1);
    Atomics.notify(this.#c, C_HEAD);
    // A reader still running must not wait for writes that will never be done.
    if (this.#input !== undefined) this.#input.release = () => undefined;
    await this.#worker.terminate();
  }

  /** Synchronous stop for a signal: ask the worker to stop and wait (≤ 2 s) until it is between operations. */
  #stopNow(): void {
    Atomics.store(this.#c, C_STOP, 1);
    Atomics.notify(this.#c, C_HEAD);
    const until = Date.now() + 2000;
    while (Atomics.load(this.#c, C_BUSY) === 1 && Date.now() < until) Atomics.wait(this.#c, C_BUSY, 1, 50);
  }

  /** Waits until nothing queued names input buffer `i` (the reader is about to fill it again). */
  #release(i: number): void {
    const batch = this.#lastUse[i]!;
    if (batch < 0) return;
    if (batch === this.#head) this.#publish(); // named by the batch being filled
    this.#waitDone(batch + 1);
    this.#lastUse[i] = -1;
  }

  #check(): void {
    if (this.#failure === undefined && Atomics.load(this.#c, C_FAILED) === 1) this.#failure = this.#readFailure();
    if (this.#failure !== undefined) throw this.#failure;
  }

  /** The worker's failure as an `IO` error naming the entry of the failed operation. */
  #readFailure(): WinlayerError {
    const c = this.#c;
    const json = Buffer.from(this.#failureArea, 0, Atomics.load(c, C_FAIL_LEN)).toString('utf8');
    const f = JSON.parse(json) as { message: string; code?: string; syscall?: string };
    const entry = this.#batchLabels.get(Atomics.load(c, C_FAIL_BATCH))?.[Atomics.load(c, C_FAIL_INDEX)];
    return entryWriteError(entry, Object.assign(new Error(f.message), { code: f.code, syscall: f.syscall }));
  }

  /** Makes room for `n` bytes (at most a batch): publishes the current batch when they do not fit. */
  #room(n: number): void {
    this.#check();
    if (this.#pos + n <= BATCH) return;
    if (n > BATCH) throw new WinlayerError('INTERNAL', `a writer operation of ${n} bytes exceeds a batch`);
    this.#publish();
  }

  #putString(s: string): void {
    const n = this.#buf.write(s, this.#pos + 4, 'utf8');
    this.#buf.writeUInt32LE(n, this.#pos);
    this.#pos += 4 + n;
  }

  #putTimes(times: readonly [UnixNanos, UnixNanos] | undefined): void {
    this.#buf.writeDoubleLE(times === undefined ? 0 : Number(utimeSeconds(times[0])), this.#pos);
    this.#buf.writeDoubleLE(times === undefined ? 0 : Number(utimeSeconds(times[1])), this.#pos + 8);
    this.#pos += 16;
  }

  /** Names `data` (in the shared input) by offset and size, and remembers that this batch uses its buffer. */
  #putRef(data: Uint8Array): void {
    this.#buf.writeUInt32LE(data.byteOffset, this.#pos);
    this.#buf.writeUInt32LE(data.length, this.#pos + 4);
    this.#pos += 8;
    this.#refBytes += data.length;
    const size = this.#input!.size;
    // A view never spans two buffers (the reader hands out views of one buffer), but name both ends to be sure.
    this.#lastUse[Math.floor(data.byteOffset / size)] = this.#head;
    if (data.length > 0) this.#lastUse[Math.floor((data.byteOffset + data.length - 1) / size)] = this.#head;
  }

  /** Records the operation's entry name; publishes the batch once it is worth waking the worker for. */
  #commit(label: string): void {
    this.#labels.push(label);
    if (this.#labels.length >= PUBLISH_OPS || this.#pos >= PUBLISH_BYTES || this.#refBytes >= PUBLISH_REF_BYTES)
      this.#publish();
  }

  /** Hands the batch being filled to the worker and takes the next slot (waiting while the ring is full). */
  #publish(): void {
    if (this.#labels.length === 0) return;
    const c = this.#c;
    const batch = this.#head;
    c[C_LEN + (batch % SLOTS)] = this.#pos;
    this.#batchLabels.set(batch, this.#labels);
    this.#head = batch + 1;
    Atomics.store(c, C_HEAD, this.#head);
    // Sequentially consistent: either we see the worker's sleeping bit, or its wait sees the new HEAD.
    if ((Atomics.load(c, C_SLEEP) & 1) !== 0) Atomics.notify(c, C_HEAD);
    this.#labels = [];
    this.#pos = 0;
    this.#refBytes = 0;
    // The next slot is free once the batch that used it last (SLOTS ago) is done.
    this.#waitDone(this.#head - SLOTS + 1);
    this.#buf = this.#slots[this.#head % SLOTS]!;
  }

  /** Waits until the worker has finished `batches` batches; throws its failure, or after {@link STALL_MS} of silence. */
  #waitDone(batches: number): void {
    const c = this.#c;
    let tail = Atomics.load(c, C_TAIL);
    let deadline = 0;
    while (tail < batches) {
      this.#check();
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
}

// ── the worker side ────────────────────────────────────────────────────────────────────────────────────────────────

/**
 * The worker's code, as plain JavaScript run with `eval` (a worker does not inherit the TypeScript loader of tests and
 * `tsx`). Batch layout, per operation: op (u8), flags (u8), then by op — MKDIR: path; FILE: path, times, u32 size,
 * data; FILE_REF: path, times, u32 offset and u32 size in the shared input; OPEN: path, times; WRITE: u32 size, data;
 * WRITE_REF: u32 offset, u32 size; CLOSE: nothing; LINK: the existing path, then the new one. A path is u32 length +
 * UTF-8; times are two f64 seconds (atime, mtime) as `utimeSeconds` gives them, a negative value standing for the
 * numeric string.
 */
const WORKER_SOURCE = `
'use strict';
const { closeSync, fchmodSync, futimesSync, linkSync, mkdirSync, openSync, writeSync } = require('node:fs');
const { workerData } = require('node:worker_threads');
const c = new Int32Array(workerData.control);
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
      const existing = str();
      linkSync(existing, str());
    } else {
      throw new Error('unknown writer operation ' + op);
    }
  }
  return true;
}
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
  if ((Atomics.load(c, ${C_SLEEP}) & 2) !== 0) Atomics.notify(c, ${C_TAIL});
}
`;
