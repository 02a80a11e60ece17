/**
 * The body of a file on the host, as the folder walkers hand it to a sink: opened on the first read, exactly `size`
 * bytes (the size the walk saw), and stale once the walk moves on. A file that changes size while it is read fails
 * the read instead of giving the sink other bytes than the header announced.
 */
import { closeSync, constants, openSync, readSync } from 'node:fs';
import type { EntryBody } from '../entry.js';
import { WinlayerError } from '../errors.js';

/** Largest read per step of the async iterator. */
const CHUNK = 1 << 20;

/**
 * See the module comment. `entry` is the layer path, for error messages; a read error names it beside the host path
 * only when it is another object (`entryIsHost: false`: a stream whose data lies in the sidecar), so a path is named
 * once.
 */
export class HostFileBody implements EntryBody {
  readonly #host: string;
  readonly #entry: string;
  /** The entry to name beside the host path in a read error, or undefined when the host path names it already. */
  readonly #otherEntry: string | undefined;
  readonly #size: number;
  #fd = -1;
  #pos = 0;
  /** How the body is being read: once one way, never the other. */
  #mode: 'fresh' | 'sync' | 'async' = 'fresh';
  /** The end of the file was seen (or a read failed): later reads give 0 bytes. */
  #ended = false;
  /** The walk moved on: any read is a bug in the sink. */
  #isStale = false;

  constructor(host: string, entry: string, size: number, opts: { readonly entryIsHost?: boolean } = {}) {
    this.#host = host;
    this.#entry = entry;
    this.#otherEntry = opts.entryIsHost === false ? entry : undefined;
    this.#size = size;
  }

  /** See {@link EntryBody.read}: reads at the body's position into `buffer[offset, offset + length)`. */
  read(buffer: Uint8Array, offset: number, length: number): number {
    if (this.#isStale || this.#mode === 'async') return this.#stale();
    this.#mode = 'sync';
    return this.#read(buffer, offset, length);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    if (this.#isStale || this.#mode !== 'fresh') this.#stale();
    this.#mode = 'async';
    const chunk = Math.max(1, Math.min(CHUNK, this.#size + 1));
    for (;;) {
      const buf = Buffer.allocUnsafe(chunk);
      const n = this.#read(buf, 0, buf.length);
      if (n === 0) return;
      yield n === buf.length ? buf : buf.subarray(0, n);
    }
  }

  /**
   * Reads at `pos`, asking for one byte past the expected end when the buffer has room: a file that grew shows in the
   * same system call, at no extra cost. A read that ends exactly at `size` with room to spare has seen the end of the
   * file, and closes it.
   */
  #read(buffer: Uint8Array, offset: number, length: number): number {
    if (this.#ended || length === 0) return 0;
    const left = this.#size - this.#pos;
    const want = Math.min(length, left + 1);
    let n: number;
    try {
      if (this.#fd < 0) this.#fd = openSync(this.#host, constants.O_RDONLY);
      n = readSync(this.#fd, buffer, offset, want, this.#pos);
    } catch (e) {
      this.#end();
      throw new WinlayerError('IO', `cannot read: ${(e as Error).message}`, {
        path: this.#host,
        entry: this.#otherEntry,
        cause: e,
      });
    }
    if (n > left) this.#changed(`grew past the ${this.#size} bytes it had when the walk listed it`);
    if (n === 0 && left > 0) this.#changed(`shrank to ${this.#pos} of ${this.#size} bytes`);
    this.#pos += n;
    if (this.#pos === this.#size && n < want) this.#end();
    return n;
  }

  #changed(what: string): never {
    this.#end();
    throw new WinlayerError('IO', `the file ${what} while it was read`, {
      path: this.#host,
      entry: this.#otherEntry,
      hint: 'do not change the folder while it is being written into a layer',
    });
  }

  #stale(): never {
    throw new WinlayerError('BODY_STALE', 'the body was read after the walk moved on, or read twice', {
      entry: this.#entry,
    });
  }

  /** The walk moved on: releases the file; any later read is an error (`BODY_STALE`). */
  close(): void {
    this.#end();
    this.#isStale = true;
  }

  #end(): void {
    this.#ended = true;
    if (this.#fd >= 0) {
      closeSync(this.#fd);
      this.#fd = -1;
    }
  }
}
