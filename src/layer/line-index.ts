/**
 * `LineIndex`: finds the lines of a large text file (the sidecar's `entries.ndjson`) by a key without holding the
 * keys: a hash table of (hash of the key, line number) and each line's byte offset, 4 bytes a line plus 8–16 a slot.
 * Past 2^20 slots the table moves to a spill file in a private temporary folder (made only then, so the file's
 * folder may be read-only). A line is read back with one positioned read to answer a lookup and to confirm a hash.
 * The index owns its file descriptor and its spill folder, and `close()` releases both.
 */
import { closeSync, mkdtempSync, openSync, readSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeTree } from '../atomic.js';
import { WinlayerError } from '../errors.js';
import { HashSlots } from './hash-slots.js';

/** Internal limits of a {@link LineIndex} (tests make them small to take the bounded paths). */
export interface LineIndexLimits {
  /** Slots of the hash table kept in memory before it moves to a temporary file (see `HashSlots`). */
  readonly memorySlots?: number;
  /** Bits of a line offset held in its 32-bit word (default 32); the rest is counted in wrap points. */
  readonly offsetBits?: number;
}

/** The lines of one file, indexed by the hash of a key each line holds. */
export class LineIndex {
  readonly #file: string;
  readonly #spill = new SpillDir();
  readonly #slots: HashSlots;
  readonly #starts: LineStarts;
  #fd = -1;
  #buf = Buffer.allocUnsafe(4096);

  /** An empty index of the lines of `file` (nothing is opened until a line is read back). */
  constructor(file: string, limits: LineIndexLimits = {}) {
    this.#file = file;
    // Hashes scatter, so a spilled table's cache hits little whatever its size: 1 MiB instead of the default 4.
    this.#slots = new HashSlots({
      spillFile: () => this.#spill.file('index.slots'),
      cachePages: 256,
      ...(limits.memorySlots === undefined ? {} : { memorySlots: limits.memorySlots }),
    });
    this.#starts = new LineStarts(limits.offsetBits);
  }

  /** The number of lines added. */
  get size(): number {
    return this.#starts.size;
  }

  /** True once the hash table moved to its spill file (then `close()` ends the index for good). */
  get spilled(): boolean {
    return this.#slots.spilled;
  }

  /**
   * Adds the next line: where it starts, how long its text is, and the hash of its key (`undefined`: a line that is
   * only read back by number, never found by key). Returns its line number (0-based).
   */
  push(start: number, length: number, hash: number | undefined): number {
    const i = this.#starts.size;
    this.#starts.push(start, start + length);
    if (hash !== undefined) this.#slots.add(hash, i);
    return i;
  }

  /** The line numbers whose key has `hash`, offered to `matches` until it returns true; that line, or -1. */
  find(hash: number, matches: (line: number) => boolean): number {
    return this.#slots.find(hash, matches);
  }

  /**
   * The text of line `i`: what lies before the first newline up to the next line's start (blank lines may sit
   * between). Throws `SIDECAR_INVALID` when the file changed so that the line cannot be read.
   */
  line(i: number): string {
    const start = this.#starts.start(i);
    const span = this.#starts.end(i) - start;
    if (this.#buf.length < span) this.#buf = Buffer.allocUnsafe(Math.max(span, this.#buf.length * 2));
    const buf = this.#buf;
    try {
      if (this.#fd < 0) this.#fd = openSync(this.#file, 'r');
      let got = 0;
      while (got < span) {
        const k = readSync(this.#fd, buf, got, span - got, start + got);
        if (k === 0) throw new Error('the file shrank');
        got += k;
      }
    } catch (e) {
      throw new WinlayerError('SIDECAR_INVALID', `cannot read back a record: ${(e as Error).message}`, {
        path: this.#file,
        cause: e,
        hint: 'the sidecar changed while it was in use',
      });
    }
    const nl = buf.indexOf(0x0a);
    return buf.toString('utf8', 0, nl < 0 || nl > span ? span : nl);
  }

  /** Closes the file lines are read from (the next `line` opens it again). */
  release(): void {
    if (this.#fd >= 0) closeSync(this.#fd);
    this.#fd = -1;
  }

  /**
   * Releases the file, and, when the table spilled, the table and its folder: the index must not be used after. An
   * index in memory stays usable. Safe more than once.
   */
  close(): void {
    this.release();
    if (!this.#slots.spilled) return;
    this.dispose();
  }

  /** Releases everything, spilled or not; the index must not be used after. */
  dispose(): void {
    this.release();
    this.#slots.close();
    this.#spill.remove();
  }
}

/** Lines per chunk of {@link LineStarts}: chunks are added, never copied, so growing has no peak. */
const STARTS_CHUNK_SHIFT = 14;
const STARTS_CHUNK = 1 << STARTS_CHUNK_SHIFT;

/**
 * The byte offset of each line, 4 bytes a line: the low bits in a 32-bit word, the high part as the line numbers where
 * it steps up (offsets only grow, and a sidecar under 4 GiB has none). A line ends before the next line's start.
 */
class LineStarts {
  readonly #span: number;
  readonly #chunks: Uint32Array[] = [];
  /** For each step of the high part, the first line that has it (a line may appear more than once). */
  readonly #wraps: number[] = [];
  #size = 0;
  #end = 0;

  constructor(bits = 32) {
    if (!Number.isInteger(bits) || bits < 1 || bits > 32) throw new RangeError(`offsetBits ${bits} is out of range`);
    this.#span = 2 ** bits;
  }

  get size(): number {
    return this.#size;
  }

  /** Adds the next line: where it starts and where its text ends. */
  push(start: number, end: number): void {
    const high = Math.floor(start / this.#span);
    while (this.#wraps.length < high) this.#wraps.push(this.#size);
    const c = this.#size >>> STARTS_CHUNK_SHIFT;
    if (c === this.#chunks.length) this.#chunks.push(new Uint32Array(STARTS_CHUNK));
    this.#chunks[c]![this.#size & (STARTS_CHUNK - 1)] = start - high * this.#span;
    this.#size++;
    this.#end = end;
  }

  start(i: number): number {
    const low = this.#chunks[i >>> STARTS_CHUNK_SHIFT]![i & (STARTS_CHUNK - 1)]!;
    return this.#wraps.length === 0 ? low : low + this.#span * this.#highOf(i);
  }

  /** Where line `i` ends at the latest: the next line's start, or the end of the last line's text. */
  end(i: number): number {
    return i + 1 < this.#size ? this.start(i + 1) : this.#end;
  }

  /** The number of wrap points at or before line `i`. */
  #highOf(i: number): number {
    const w = this.#wraps;
    let lo = 0;
    let hi = w.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (w[mid]! <= i) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/**
 * A private folder under the system's temporary folder for the index's spill files, made only when the index first
 * spills (the layer folder may be read-only) and removed with everything in it by `remove()`.
 */
class SpillDir {
  #path: string | undefined;

  file(name: string): string {
    if (this.#path === undefined) {
      try {
        this.#path = mkdtempSync(join(tmpdir(), 'winlayer-sidecar-'));
      } catch (e) {
        throw new WinlayerError('IO', `cannot make a folder for the sidecar index: ${(e as Error).message}`, {
          path: tmpdir(),
          cause: e,
        });
      }
    }
    return join(this.#path, name);
  }

  remove(): void {
    if (this.#path === undefined) return;
    removeTree(this.#path);
    this.#path = undefined;
  }
}

/** The non-blank lines of a file with their byte offsets, read in 1 MiB chunks (never the whole file at once). */
export function* fileLines(path: string): Generator<{ text: string; start: number; length: number }> {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new WinlayerError('IO', `cannot read: ${(e as Error).message}`, { path, cause: e });
  }
  try {
    let chunk = Buffer.allocUnsafe(1 << 20);
    let filled = 0; // bytes in chunk
    let base = 0; // file offset of chunk[0]
    for (;;) {
      if (filled === chunk.length) {
        const bigger = Buffer.allocUnsafe(chunk.length * 2); // one line longer than the chunk
        chunk.copy(bigger, 0, 0, filled);
        chunk = bigger;
      }
      const k = readSync(fd, chunk, filled, chunk.length - filled, base + filled);
      const eof = k === 0;
      filled += k;
      let from = 0;
      for (;;) {
        let nl = chunk.indexOf(0x0a, from);
        if (nl < 0 || nl >= filled) {
          if (!eof) break;
          if (from >= filled) break;
          nl = filled; // last line without a newline
        }
        const text = chunk.toString('utf8', from, nl);
        if (text.trim() !== '') yield { text, start: base + from, length: nl - from };
        from = nl + 1;
      }
      if (eof) return;
      chunk.copy(chunk, 0, from, filled);
      base += from;
      filled -= from;
    }
  } finally {
    closeSync(fd);
  }
}
