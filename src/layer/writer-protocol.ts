/**
 * The batch format of the writer threads, the one module both sides import: `writer-threads.ts` encodes operations
 * into ring slots ({@link BatchEncoder}), `writer.thread.ts` decodes and runs them ({@link BatchDecoder}).
 *
 * Per operation: op (u8), flags (u8), then by op —
 * - MKDIR: path
 * - FILE: path, times, u32 size, data
 * - FILE_REF: path, times, u32 offset and u32 size in the shared input
 * - OPEN: path, times (the data follows in WRITE / WRITE_REF operations, then CLOSE)
 * - WRITE: u32 size, data
 * - WRITE_REF: u32 offset, u32 size
 * - CLOSE: nothing
 * - LINK: u32 count and that many (u32 thread, u32 batches) that thread must have finished first, then the existing
 *   path and the new one.
 *
 * A path is u32 length + UTF-8; times are two f64 seconds (atime, mtime) as `utimeSeconds` gives them, a negative value
 * standing for the numeric string.
 */
import { constants } from 'node:fs';
import type { UnixNanos } from '../windows/index.js';
import { type UtimeSeconds, utimeSeconds } from './times.js';

/** File creation flags: create, never through an existing name or link (`wx`). */
export const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL;
/** The modes of everything a layer folder holds. */
export const FILE_MODE = 0o644;
export const DIR_MODE = 0o755;

export const OP_MKDIR = 1;
export const OP_FILE = 2;
export const OP_OPEN = 3;
export const OP_WRITE = 4;
export const OP_CLOSE = 5;
export const OP_LINK = 6;
/** A whole file whose data lies in the shared input (offset, size) instead of the batch. */
export const OP_FILE_REF = 7;
/** The open file's next data, in the shared input. */
export const OP_WRITE_REF = 8;
/** Flags: set the times given; chmod after create (the umask would narrow the mode). */
export const FLAG_TIMES = 1;
export const FLAG_CHMOD = 2;

/** Bytes per batch (one ring slot); larger data is split. */
export const BATCH = 256 * 1024;
/**
 * Batches in a thread's ring (4 MiB in all): the one being filled and those queued. Many small batches let the main
 * thread run far ahead of the threads (as far as the shared input's 8 MiB) while a thread always has a batch to start.
 */
export const SLOTS = 16;
/** The largest piece of data in one WRITE operation. */
export const PIECE = BATCH - 64;

/** Times as a batch holds them: atime, mtime. */
export type BatchTimes = readonly [UnixNanos, UnixNanos] | undefined;

/** The flags of a file operation. */
export function fileFlags(times: BatchTimes, chmod: boolean): number {
  return (times === undefined ? 0 : FLAG_TIMES) | (chmod ? FLAG_CHMOD : 0);
}

/** Writes operations into a batch (the main thread's side). */
export class BatchEncoder {
  buf: Buffer;
  pos = 0;

  constructor(buf: Buffer) {
    this.buf = buf;
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

  putTimes(times: BatchTimes): void {
    this.buf.writeDoubleLE(times === undefined ? 0 : Number(utimeSeconds(times[0])), this.pos);
    this.buf.writeDoubleLE(times === undefined ? 0 : Number(utimeSeconds(times[1])), this.pos + 8);
    this.pos += 16;
  }

  putBytes(data: Uint8Array): void {
    this.putU32(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
  }
}

/** Reads operations from a batch (the writer thread's side). */
export class BatchDecoder {
  buf: Buffer = Buffer.alloc(0);
  pos = 0;

  /** Starts on a new batch. */
  reset(buf: Buffer): void {
    this.buf = buf;
    this.pos = 0;
  }

  get more(): boolean {
    return this.pos < this.buf.length;
  }

  u8(): number {
    return this.buf[this.pos++]!;
  }

  u32(): number {
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  string(): string {
    const n = this.u32();
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  times(): [UtimeSeconds, UtimeSeconds] {
    const t: [UtimeSeconds, UtimeSeconds] = [
      seconds(this.buf.readDoubleLE(this.pos)),
      seconds(this.buf.readDoubleLE(this.pos + 8)),
    ];
    this.pos += 16;
    return t;
  }
}

/** A time as `utimeSeconds` gave it: before 1970 it was a numeric string. */
function seconds(v: number): UtimeSeconds {
  return v < 0 ? String(v) : v;
}
