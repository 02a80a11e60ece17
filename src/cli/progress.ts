/**
 * The progress line on stderr, the only one of the CLI: what the library reports (entries and bytes while a layer
 * streams, blobs while an image moves) with a rate and, where the total is known without extra work, a percentage.
 * The line is redrawn by a timer, so it moves even while the library is inside one large file; `progressText` is the
 * pure part (counts and time in, one line out). `cli/command.ts` decides when a line is wanted at all (stderr a
 * terminal, no `-q`).
 */
import type { TransferProgress } from '../oci/index.js';
import { counted } from './words.js';

/** What a layer stream reports: entries and content bytes so far, and input bytes read when the library counts them. */
export interface EntryProgress {
  readonly entries: number;
  readonly bytes: number;
  /** Bytes of the input consumed (import from a file); compared with the input's size for a percentage. */
  readonly inputBytes?: number;
}

/** The counts one progress line shows. */
export interface ProgressCounts {
  /** Entries written (layers), absent for transfers. */
  readonly entries?: number;
  /** Blobs finished and blobs seen (transfers). */
  readonly blobs?: { readonly finished: number; readonly count: number };
  /** Bytes done: what the rate is computed from. */
  readonly bytes: number;
  /** The total the percentage is taken against, when known; `done` is then the part of it reached. */
  readonly total?: { readonly done: number; readonly of: number };
}

/** How often the line is redrawn, whatever the library reports in between. */
export const REDRAW_MS = 250;

const mb = (n: number): string => (n / 1e6).toFixed(1);

/**
 * One progress line: `120 entries, 35.2 MB, 11.7 MB/s` (`1 entry`), or with a known total
 * `3/5 blobs, 35.2 MB of 120.0 MB (29%), 11.7 MB/s`. The rate is the mean since the start (`elapsedMs`), left out
 * before the first tenth of a second.
 */
export function progressText(c: ProgressCounts, elapsedMs: number): string {
  const parts: string[] = [];
  if (c.blobs !== undefined) parts.push(`${c.blobs.finished}/${c.blobs.count} blobs`);
  if (c.entries !== undefined) parts.push(counted(c.entries, 'entry', 'entries'));
  if (c.total !== undefined && c.total.of > 0) {
    const pct = Math.min(100, Math.floor((c.total.done / c.total.of) * 100));
    parts.push(`${mb(c.bytes)} MB of ${mb(c.total.of)} MB (${pct}%)`);
  } else {
    parts.push(`${mb(c.bytes)} MB`);
  }
  if (elapsedMs >= 100) parts.push(`${mb((c.bytes * 1000) / elapsedMs)} MB/s`);
  return parts.join(', ');
}

/** The counts of a layer stream; `inputSize` (the input file's size) gives a percentage when input bytes are reported. */
export function entryCounts(p: EntryProgress, inputSize?: number): ProgressCounts {
  return {
    entries: p.entries,
    bytes: p.bytes,
    ...(inputSize !== undefined && p.inputBytes !== undefined ? { total: { done: p.inputBytes, of: inputSize } } : {}),
  };
}

/** The counts of a transfer: the last report of each blob; a blob that exists or was mounted counts as moved. */
export function transferCounts(blobs: Iterable<TransferProgress>): ProgressCounts {
  let done = 0;
  let total = 0;
  let finished = 0;
  let count = 0;
  for (const s of blobs) {
    count++;
    const moved = s.phase === 'exists' || s.phase === 'mounted' ? s.total : s.done;
    done += moved;
    total += s.total;
    if (moved >= s.total) finished++;
  }
  return { blobs: { finished, count }, bytes: done, total: { done, of: total } };
}

/** A live progress line: `report` stores the latest counts, a timer draws them, `stop` clears the line. */
export interface ProgressLine {
  readonly report: (p: never) => void;
  stop(): void;
}

/**
 * A line drawn from `counts()` now and then: at the first report (so short work shows one too), then every
 * `REDRAW_MS` by a timer that does not keep the process alive.
 */
function liveLine<P>(
  out: NodeJS.WritableStream,
  take: (p: P) => void,
  counts: () => ProgressCounts,
  clock: () => number = Date.now,
): ProgressLine {
  const start = clock();
  let drawn = false;
  let pending = false;
  const draw = (): void => {
    if (!pending) return;
    out.write(`\r${progressText(counts(), clock() - start)}\x1b[K`);
    drawn = true;
  };
  const timer = setInterval(draw, REDRAW_MS);
  timer.unref();
  return {
    report: ((p: P) => {
      take(p);
      pending = true;
      if (!drawn) draw();
    }) as (p: never) => void,
    stop() {
      clearInterval(timer);
      if (drawn) out.write('\r\x1b[K');
    },
  };
}

/** The line of a layer stream (export, import). */
export function entryProgress(out: NodeJS.WritableStream, inputSize?: number): ProgressLine {
  let last: EntryProgress = { entries: 0, bytes: 0 };
  return liveLine<EntryProgress>(
    out,
    (p) => {
      last = p;
    },
    () => entryCounts(last, inputSize),
  );
}

/** The line of an image transfer (push, pull, image commands writing to or reading from a registry). */
export function transferProgress(out: NodeJS.WritableStream): ProgressLine {
  const blobs = new Map<string, TransferProgress>();
  return liveLine<TransferProgress>(
    out,
    (p) => {
      blobs.set(p.digest, p);
    },
    () => transferCounts(blobs.values()),
  );
}
