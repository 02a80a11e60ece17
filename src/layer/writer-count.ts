/**
 * How many writer threads an import uses (the `writerThreads` option of `writeLayerDir` and `importLayer`). Why these
 * defaults, measured: `docs/benchmarks.md`, "Moved from code comments".
 */
import { availableParallelism } from 'node:os';
import { WinlayerError } from '../errors.js';

/** The most writer threads an import starts: each holds 4 MiB of batches and a V8 isolate. */
const MAX_WRITER_THREADS = 8;

/**
 * The writer threads of an import when the option is absent: two where the host has a second core (the kernel's share
 * of an import then spreads over both cores; a third thread only competes with the reader), none on one core.
 */
function defaultWriterThreads(): number {
  return availableParallelism() > 1 ? 2 : 0;
}

/** The writer threads an import asks for: `asked` once checked, else {@link defaultWriterThreads}. */
export function writerThreadCount(asked: number | undefined): number {
  if (asked === undefined) return defaultWriterThreads();
  checkWriterThreads(asked);
  return asked;
}

/** Throws `USAGE` unless `n` is a writer-thread count an import can use (0 to {@link MAX_WRITER_THREADS}). */
export function checkWriterThreads(n: number): void {
  if (!Number.isInteger(n) || n < 0 || n > MAX_WRITER_THREADS) {
    throw new WinlayerError(
      'USAGE',
      `writer threads must be a whole number from 0 to ${MAX_WRITER_THREADS} (got ${n})`,
    );
  }
}
