/**
 * sha256 of a byte stream, computed off the main thread once the stream is large: hashing a layer costs about as
 * much CPU as producing it, and on a 2-core machine a worker thread lets both run at once. Small streams (whose
 * first chunk is under {@link WORKER_THRESHOLD}) are hashed inline, so tests and small tars start no thread.
 * Backpressure: at most {@link MAX_IN_FLIGHT} bytes wait in the worker; `update` returns a promise when more do.
 */
import { createHash, type Hash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { WinlayerError } from '../errors.js';

/** A first chunk at least this large (the writer flushes ~1 MiB chunks) moves hashing to a worker. */
export const WORKER_THRESHOLD = 256 * 1024;
const MAX_IN_FLIGHT = 16 * 1024 * 1024;

const WORKER_CODE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const hash = createHash('sha256');
parentPort.on('message', (m) => {
  if (m === null) { parentPort.postMessage({ digest: hash.digest('hex') }); return; }
  hash.update(m);
  parentPort.postMessage({ done: m.byteLength });
});
`;

/** Incremental sha256 + byte count; `digest()` resolves `sha256:<hex>`. */
export class StreamHash {
  #inline: Hash | undefined;
  #worker: Worker | undefined;
  #inFlight = 0;
  #waiters: (() => void)[] = [];
  #digest: ((hex: string) => void) | undefined;
  #error: unknown;
  #started = false;
  bytes = 0;

  /**
   * Adds a chunk. When it goes to the worker it is copied (the caller may reuse it at once), unless `give` says the
   * caller gives up the chunk's whole ArrayBuffer: then it is transferred without a copy and must not be touched again.
   */
  update(chunk: Uint8Array, give = false): Promise<void> | undefined {
    if (this.#error !== undefined) throw this.#fail();
    this.bytes += chunk.length;
    if (!this.#started) {
      this.#started = true;
      if (chunk.length >= WORKER_THRESHOLD) this.#startWorker();
      else this.#inline = createHash('sha256');
    }
    if (this.#inline !== undefined) {
      this.#inline.update(chunk);
      return undefined;
    }
    this.#inFlight += chunk.length;
    if (give && chunk.byteOffset === 0 && chunk.buffer instanceof ArrayBuffer) {
      this.#worker!.postMessage(chunk, [chunk.buffer]);
    } else {
      this.#worker!.postMessage(chunk); // structured clone: a copy, made now
    }
    if (this.#inFlight <= MAX_IN_FLIGHT) return undefined;
    return new Promise<void>((resolve) => this.#waiters.push(resolve)).then(() => {
      if (this.#error !== undefined) throw this.#fail();
    });
  }

  /** The digest of everything added; ends the worker. */
  async digest(): Promise<string> {
    if (this.#inline !== undefined || !this.#started) {
      return `sha256:${(this.#inline ?? createHash('sha256')).digest('hex')}`;
    }
    const hex = await new Promise<string>((resolve, reject) => {
      if (this.#error !== undefined) return reject(this.#fail());
      this.#digest = resolve;
      this.#rejectDigest = reject;
      this.#worker!.postMessage(null);
    });
    await this.close();
    return `sha256:${hex}`;
  }

  #rejectDigest: ((e: unknown) => void) | undefined;

  /** Stops the worker (safe to call more than once, and after an error). */
  async close(): Promise<void> {
    const w = this.#worker;
    this.#worker = undefined;
    if (w !== undefined) await w.terminate();
  }

  #startWorker(): void {
    const w = new Worker(WORKER_CODE, { eval: true });
    w.on('message', (m: { done?: number; digest?: string }) => {
      if (m.done !== undefined) {
        this.#inFlight -= m.done;
        if (this.#inFlight <= MAX_IN_FLIGHT) for (const wake of this.#waiters.splice(0)) wake();
      } else if (m.digest !== undefined) {
        this.#digest?.(m.digest);
      }
    });
    w.on('error', (e) => {
      this.#error ??= e;
      for (const wake of this.#waiters.splice(0)) wake();
      this.#rejectDigest?.(this.#fail());
    });
    this.#worker = w;
  }

  #fail(): WinlayerError {
    return new WinlayerError('INTERNAL', `the hashing thread failed: ${(this.#error as Error)?.message}`, {
      cause: this.#error,
    });
  }
}
