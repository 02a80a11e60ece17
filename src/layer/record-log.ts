/**
 * An append-only log of small records (a tag and one or two strings), kept either in memory or in a spill file, so an
 * importer can remember something about every entry without holding it in the heap: `append` returns a locator,
 * `read` brings the record back, `forEach` replays them in order. With a file, memory holds one write buffer; the rest
 * is on disk (in practice in the page cache: the log is small beside the layer's data).
 *
 * Layout of one record, 8-byte aligned (the locator is its offset / 8, so a 32-bit locator reaches 32 GiB): tag (u8),
 * flags (u8: 1 = has a second string), two unused bytes, the byte lengths of both strings (u32 each), then the two
 * strings in UTF-8.
 */
import { closeSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { WinlayerError } from '../errors.js';

/** One record of a `RecordLog`. */
export interface LogRecord {
  /** A small number (0..255) the owner gives meaning to. */
  readonly tag: number;
  readonly first: string;
  /** The second string, when one was appended. */
  readonly second: string | undefined;
}

const HEADER = 12;
const ALIGN = 8;
const HAS_SECOND = 1;
/** Bytes buffered before a write to the spill file (and the size of the memory log's first buffer). */
const BUFFER = 1 << 20;
/** Bytes read back at once: most records fit, a longer one takes a second read. */
const READ_AHEAD = 512;
/** The largest locator a slot of a `Uint32Array` holds (the caller stores locator + 1). */
const MAX_LOCATOR = 0xffff_fffe;

/** An append-only record log; see the module comment. */
export class RecordLog {
  readonly #fd: number | undefined;
  readonly #path: string | undefined;
  /** True while the spill file still has a name (it could not be unlinked while open: Windows). */
  #named = false;
  #buf: Buffer;
  /** Bytes in `#buf` not yet in the file. */
  #used = 0;
  /** Bytes already in the file (the offset of `#buf[0]`). */
  #flushed = 0;
  #scratch = Buffer.allocUnsafe(READ_AHEAD);
  #closed = false;

  /**
   * A log in memory, or, with `spillFile`, in that file (created exclusively; unlinked at once where the platform
   * allows, else by `close()`). Throws the `open` error when the file cannot be created.
   */
  constructor(spillFile?: string) {
    this.#buf = Buffer.allocUnsafe(spillFile === undefined ? 64 * 1024 : BUFFER);
    if (spillFile === undefined) return;
    this.#fd = openSync(spillFile, 'wx+', 0o600);
    this.#path = spillFile;
    try {
      // The data stays reachable through the descriptor; nothing is left behind even after a SIGKILL.
      unlinkSync(spillFile);
    } catch {
      this.#named = true;
    }
  }

  /** Bytes appended so far (memory and file). */
  get size(): number {
    return this.#flushed + this.#used;
  }

  /** Appends a record; returns its locator. */
  append(tag: number, first: string, second?: string): number {
    if (this.#closed) throw new WinlayerError('INTERNAL', 'the record log is closed');
    // A UTF-16 unit is at most 3 UTF-8 bytes.
    const most = HEADER + 3 * (first.length + (second?.length ?? 0)) + ALIGN;
    if (this.#used + most > this.#buf.length) this.#makeRoom(most);
    const at = this.#used;
    const buf = this.#buf;
    const n1 = buf.write(first, at + HEADER, 'utf8');
    const n2 = second === undefined ? 0 : buf.write(second, at + HEADER + n1, 'utf8');
    buf[at] = tag;
    buf[at + 1] = second === undefined ? 0 : HAS_SECOND;
    buf[at + 2] = 0;
    buf[at + 3] = 0;
    // The two lengths, little-endian (what `writeUInt32LE` stores, without its checks: `at + 12` is in the buffer).
    buf[at + 4] = n1;
    buf[at + 5] = n1 >>> 8;
    buf[at + 6] = n1 >>> 16;
    buf[at + 7] = n1 >>> 24;
    buf[at + 8] = n2;
    buf[at + 9] = n2 >>> 8;
    buf[at + 10] = n2 >>> 16;
    buf[at + 11] = n2 >>> 24;
    const end = at + HEADER + n1 + n2;
    this.#used = end + ((ALIGN - (end % ALIGN)) % ALIGN);
    const locator = (this.#flushed + at) / ALIGN;
    if (locator > MAX_LOCATOR) throw new WinlayerError('INTERNAL', 'the record log is larger than 32 GiB');
    return locator;
  }

  /** The record at `locator` (as `append` returned it). */
  read(locator: number): LogRecord {
    const offset = locator * ALIGN;
    if (offset >= this.#flushed) return decode(this.#buf, offset - this.#flushed);
    let got = this.#pread(this.#scratch, 0, READ_AHEAD, offset);
    const need = HEADER + this.#scratch.readUInt32LE(4) + this.#scratch.readUInt32LE(8);
    if (need > got) {
      if (this.#scratch.length < need) {
        const bigger = Buffer.allocUnsafe(need);
        this.#scratch.copy(bigger, 0, 0, got);
        this.#scratch = bigger;
      }
      got += this.#pread(this.#scratch, got, need - got, offset + got);
    }
    if (need > got) throw new WinlayerError('INTERNAL', 'the record log spill file is shorter than written');
    return decode(this.#scratch, 0);
  }

  /** Calls `fn` with every record, in the order appended (`fn` may read records; it must not append). */
  forEach(fn: (record: LogRecord, locator: number) => void): void {
    let offset = 0;
    while (offset < this.#flushed) {
      const rec = this.read(offset / ALIGN);
      const size = recordBytes(this.#scratch, 0); // before `fn`, which may read records too
      fn(rec, offset / ALIGN);
      offset += size;
    }
    for (let at = 0; at < this.#used; ) {
      const size = recordBytes(this.#buf, at);
      fn(decode(this.#buf, at), (this.#flushed + at) / ALIGN);
      at += size;
    }
  }

  /** Closes (and removes) the spill file. Safe more than once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#fd === undefined) return;
    closeSync(this.#fd);
    if (this.#named && this.#path !== undefined) {
      try {
        unlinkSync(this.#path);
      } catch {
        // Gone already (or its folder was removed): nothing to clean.
      }
    }
  }

  /** Memory: a bigger buffer. File: the buffer goes to the file. */
  #makeRoom(most: number): void {
    if (this.#fd === undefined) {
      const bigger = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#used + most));
      this.#buf.copy(bigger, 0, 0, this.#used);
      this.#buf = bigger;
      return;
    }
    let off = 0;
    while (off < this.#used) off += writeSync(this.#fd, this.#buf, off, this.#used - off, this.#flushed + off);
    this.#flushed += this.#used;
    this.#used = 0;
    if (most > this.#buf.length) this.#buf = Buffer.allocUnsafe(most);
  }

  #pread(into: Buffer, at: number, length: number, position: number): number {
    let got = 0;
    while (got < length) {
      const n = readSync(this.#fd!, into, at + got, length - got, position + got);
      if (n === 0) break;
      got += n;
    }
    return got;
  }
}

function decode(buf: Buffer, at: number): LogRecord {
  const n1 = buf.readUInt32LE(at + 4);
  const n2 = buf.readUInt32LE(at + 8);
  const start = at + HEADER;
  return {
    tag: buf[at]!,
    first: buf.toString('utf8', start, start + n1),
    second: (buf[at + 1]! & HAS_SECOND) === 0 ? undefined : buf.toString('utf8', start + n1, start + n1 + n2),
  };
}

/** The aligned size of the record at `at`. */
function recordBytes(buf: Buffer, at: number): number {
  const end = HEADER + buf.readUInt32LE(at + 4) + buf.readUInt32LE(at + 8);
  return end + ((ALIGN - (end % ALIGN)) % ALIGN);
}
