/**
 * Where `writeLayerDir` writes file data: a {@link FileSink} takes one file at a time (`create`, the body through
 * `copyBody`, `close`). Two kinds, one copy path each: {@link LocalSink} makes the calls on the calling thread;
 * {@link ThreadSink} queues them to the writer threads (`writer-threads.ts`). The body contract (`read`, `view`,
 * `copyBody`, the size check) is `entry.ts`'s.
 */
import { closeSync, fchmodSync, fstatSync, futimesSync, openSync, unlinkSync } from 'node:fs';
import { type BodySink, copyBody, type EntryBody } from '../entry.js';
import { WinlayerError } from '../errors.js';
import { writeAll } from '../internal/write-all.js';
import type { UnixNanos } from '../windows/index.js';
import { microsFloor, utimeSeconds } from './times.js';
import { type BatchTimes, CREATE_FLAGS, FILE_MODE } from './writer-protocol.js';
import { WHOLE_FILE_MAX, type WriterThreads } from './writer-threads.js';

/** Bytes a sink buffers between writes of a body that is read (not viewed). */
const COPY_BUFFER = 1 << 20;

/** One file at a time: `create`, then `copyBody(body, size, entry, sink)`, then `close`. */
export interface FileSink extends BodySink {
  /** Creates `disk` (O_EXCL, the file mode) for `size` bytes; `times` (atime, mtime) are set by `close`. */
  create(disk: string, size: number, times: BatchTimes, label: string): void;
  /** Ends the file: its times, then close. Returns the mtime the disk shows (undefined without times). */
  close(): UnixNanos | undefined;
  /** Ends the file after a failure (nothing more is written; the import is abandoned). */
  abort(): void;
}

/**
 * Writes `body` to a new file through `sink`: synchronous unless the body must be iterated. Returns the disk mtime
 * (see {@link FileSink.close}).
 */
export function writeFile(
  sink: FileSink,
  disk: string,
  entry: string,
  body: EntryBody,
  size: number,
  times: BatchTimes,
  label: string,
): UnixNanos | undefined | Promise<UnixNanos | undefined> {
  sink.create(disk, size, times, label);
  let copying: Promise<void> | undefined;
  try {
    copying = copyBody(body, size, entry, sink);
  } catch (e) {
    sink.abort();
    throw e;
  }
  if (copying === undefined) return sink.close();
  return copying.then(
    () => sink.close(),
    (e: unknown) => {
      sink.abort();
      throw e;
    },
  );
}

/** `LAYER_INVALID`: a body held another number of bytes than its entry declared. */
function sizeMismatch(entry: string, size: number, got: number | 'more'): Error {
  return new WinlayerError('LAYER_INVALID', `the entry declares ${size} bytes but holds ${got}`, { entry });
}

/**
 * What the disk shows for the times `utimes` sets: exactly the microsecond on most filesystems (then no `fstat` per
 * file), else whatever it rounds to (read back).
 */
export class DiskClock {
  /** undefined until known: whether the disk keeps the microseconds `utimes` sets. */
  exact: boolean | undefined;

  /** Finds out with one probe file in the folder `root`, removed at once. */
  probe(root: string): boolean {
    const probe = `${root}/.winlayer-time-probe`;
    const set = 1_600_000_000_123_456_789n;
    const fd = openSync(probe, CREATE_FLAGS, FILE_MODE);
    try {
      futimesSync(fd, utimeSeconds(set), utimeSeconds(set));
      this.exact = fstatSync(fd, { bigint: true }).mtimeNs === microsFloor(set);
    } finally {
      closeSync(fd);
      unlinkSync(probe);
    }
    return this.exact;
  }

  /** The mtime the open file `fd` shows after `set`: computed while the disk keeps microseconds, else read back. */
  diskMtime(fd: number, set: UnixNanos): UnixNanos {
    const expected = microsFloor(set);
    if (this.exact === true) return expected;
    const actual = fstatSync(fd, { bigint: true }).mtimeNs;
    if (this.exact === undefined) this.exact = actual === expected;
    return actual;
  }
}

/** What both sinks share: the entry's size check and the byte count for progress. */
abstract class SinkBase implements BodySink {
  abstract buf: Uint8Array;
  pos = 0;
  /** Called with every piece's byte count (progress inside a large file). */
  readonly #onBytes: (n: number) => void;

  constructor(onBytes: (n: number) => void) {
    this.#onBytes = onBytes;
  }

  abstract flush(): Promise<void> | undefined;

  mismatch(entry: string, size: number, got: number | 'more'): Error {
    return sizeMismatch(entry, size, got);
  }

  protected counted(n: number): void {
    this.#onBytes(n);
  }
}

/** Writes on the calling thread: synchronous calls on one descriptor, times set on it before close. */
export class LocalSink extends SinkBase implements FileSink {
  buf: Uint8Array = Buffer.allocUnsafe(COPY_BUFFER);
  readonly #clock: DiskClock;
  readonly #chmod: boolean;
  #fd = -1;
  #times: BatchTimes;

  /** `chmod`: the umask would narrow the file mode. */
  constructor(clock: DiskClock, chmod: boolean, onBytes: (n: number) => void) {
    super(onBytes);
    this.#clock = clock;
    this.#chmod = chmod;
  }

  create(disk: string, _size: number, times: BatchTimes): void {
    const fd = openSync(disk, CREATE_FLAGS, FILE_MODE);
    if (this.#chmod) {
      try {
        fchmodSync(fd, FILE_MODE);
      } catch (e) {
        closeSync(fd);
        throw e;
      }
    }
    this.#fd = fd;
    this.#times = times;
    this.pos = 0;
  }

  flush(): undefined {
    writeAll(this.#fd, this.buf, 0, this.pos);
    this.counted(this.pos);
    this.pos = 0;
    return undefined;
  }

  /** A view of the body (the tar reader's input, or an iterated chunk), written from where it lies. */
  readonly take = (piece: Uint8Array): undefined => {
    writeAll(this.#fd, piece);
    this.counted(piece.length);
    return undefined;
  };

  close(): UnixNanos | undefined {
    const fd = this.#fd;
    this.#fd = -1;
    try {
      if (this.pos > 0) this.flush();
      const times = this.#times;
      if (times === undefined) return undefined;
      const [at, mt] = times;
      const mtime = utimeSeconds(mt);
      futimesSync(fd, at === mt ? mtime : utimeSeconds(at), mtime);
      return this.#clock.diskMtime(fd, mt);
    } finally {
      closeSync(fd);
    }
  }

  abort(): void {
    if (this.#fd < 0) return;
    closeSync(this.#fd);
    this.#fd = -1;
  }
}

/**
 * Queues to the writer threads. A file whose body comes whole in one piece is one operation: named in the shared
 * input when it lies there (no copy), else copied into the batch (up to {@link WHOLE_FILE_MAX} bytes). Any other file
 * is opened, written piece by piece (pieces in the shared input are named), and closed. Used only where the disk keeps
 * microseconds, so the disk mtime is computed.
 */
export class ThreadSink extends SinkBase implements FileSink {
  buf: Uint8Array = Buffer.allocUnsafe(COPY_BUFFER);
  readonly #threads: WriterThreads;
  readonly #chmod: boolean;
  #disk = '';
  #size = 0;
  #times: BatchTimes;
  #label = '';
  /** Whether the file is queued yet: not at all, opened (pieces follow), or whole (one operation). */
  #state: 'new' | 'open' | 'whole' = 'new';

  constructor(threads: WriterThreads, chmod: boolean, onBytes: (n: number) => void) {
    super(onBytes);
    this.#threads = threads;
    this.#chmod = chmod;
  }

  create(disk: string, size: number, times: BatchTimes, label: string): void {
    this.#disk = disk;
    this.#size = size;
    this.#times = times;
    this.#label = label;
    this.#state = 'new';
    this.pos = 0;
  }

  flush(): undefined {
    this.#open();
    this.#threads.write(this.buf.subarray(0, this.pos), this.#label);
    this.counted(this.pos);
    this.pos = 0;
    return undefined;
  }

  readonly take = (piece: Uint8Array): undefined => {
    const threads = this.#threads;
    if (this.#state === 'new' && piece.length === this.#size) {
      // The whole body in one piece (a larger body would fail its size check before a second piece is taken).
      this.#state = 'whole';
      if (threads.inInput(piece)) threads.fileFromInput(this.#disk, piece, this.#times, this.#chmod, this.#label);
      else if (piece.length <= WHOLE_FILE_MAX) this.#queueWhole(piece);
      else this.#state = 'new';
    }
    if (this.#state !== 'whole') {
      this.#open();
      threads.write(piece, this.#label);
    }
    this.counted(piece.length);
    return undefined;
  };

  close(): UnixNanos | undefined {
    if (this.#state === 'new' && this.pos <= WHOLE_FILE_MAX) {
      this.#queueWhole(this.buf.subarray(0, this.pos));
      this.counted(this.pos);
    } else if (this.#state !== 'whole') {
      if (this.pos > 0) this.flush();
      this.#open();
      this.#threads.close(this.#label);
    }
    this.pos = 0;
    const times = this.#times;
    return times === undefined ? undefined : microsFloor(times[1]);
  }

  abort(): void {
    if (this.#state === 'open') this.#threads.close(this.#label);
    this.#state = 'whole';
  }

  #queueWhole(data: Uint8Array): void {
    this.#state = 'whole';
    this.#threads.file(this.#disk, data.length, (into) => into.set(data), this.#times, this.#chmod, this.#label);
  }

  #open(): void {
    if (this.#state !== 'new') return;
    this.#state = 'open';
    this.#threads.open(this.#disk, this.#times, this.#chmod, this.#label);
  }
}
