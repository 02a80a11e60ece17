/**
 * File times on the host disk: what `utimes` is given for a `UnixNanos` time, and what the disk then shows. The one
 * place for microsecond truncation (Node and libuv keep microseconds): the writer sets times with {@link utimeSeconds},
 * predicts the disk's mtime with {@link microsFloor}, and the walker compares at {@link micros}.
 */
import type { UnixNanos } from '../windows/index.js';

/** What `utimes`/`futimes` take: seconds as a number, or for times before 1970 a numeric string. */
export type UtimeSeconds = number | string;

/** Whole microseconds of `ns`, rounded toward earlier time. */
export function micros(ns: bigint): bigint {
  return ns < 0n ? (ns - 999n) / 1000n : ns / 1000n;
}

/** `ns` truncated to whole microseconds (toward earlier time): what the disk shows after {@link utimeSeconds}. */
export function microsFloor(ns: UnixNanos): UnixNanos {
  return micros(ns) * 1000n;
}

/** The largest time (ns) whose microseconds are a safe integer: `utimeSeconds` then avoids most bigint work. */
const MAX_FAST_NS = BigInt(Number.MAX_SAFE_INTEGER) * 1000n;

/**
 * Seconds that libuv's `utimes` truncates to exactly the microsecond of `ns` (Node keeps µs). A number, or for times
 * before 1970 a numeric string (Node turns a negative number into "now", but passes numeric strings through).
 */
export function utimeSeconds(ns: UnixNanos): UtimeSeconds {
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
  const us = micros(ns);
  const sec = us >= 0n ? us / 1_000_000n : -((-us + 999_999n) / 1_000_000n);
  const frac = Number(us - sec * 1_000_000n); // 0..999999
  const value = Number(sec) + frac / 1e6;
  // Nudge half a microsecond away from the truncation direction so float error never drops a microsecond.
  return value >= 0 ? Number(sec) + (frac + 0.5) / 1e6 : String(Number(sec) + (frac - 0.5) / 1e6);
}
