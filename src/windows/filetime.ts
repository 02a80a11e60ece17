/**
 * Time codecs. One representation inside winlayer: `UnixNanos`, a bigint count of nanoseconds since 1970-01-01 UTC
 * (negative before). Windows keeps 100 ns (a FILETIME tick); PAX strings carry up to nanoseconds.
 */
import { WinlayerError } from '../errors.js';

/** Nanoseconds since the Unix epoch. */
export type UnixNanos = bigint;

/** FILETIME ticks (100 ns) between 1601-01-01 and 1970-01-01. */
export const FILETIME_UNIX_EPOCH = 116_444_736_000_000_000n;
const TICK = 100n;
const NS_PER_SEC = 1_000_000_000n;

/** FILETIME (100 ns ticks since 1601) → Unix nanoseconds. Exact. */
export function filetimeToUnixNanos(filetime: bigint): UnixNanos {
  return (filetime - FILETIME_UNIX_EPOCH) * TICK;
}

/** Unix nanoseconds → FILETIME; digits below 100 ns are dropped (toward earlier time). */
export function unixNanosToFiletime(ns: UnixNanos): bigint {
  return floorDiv(ns, TICK) + FILETIME_UNIX_EPOCH;
}

/** Drops the digits Windows cannot keep (below 100 ns), rounding toward earlier time. */
export function truncateTo100ns(ns: UnixNanos): UnixNanos {
  return floorDiv(ns, TICK) * TICK;
}

/** Whole seconds of a time, rounded toward earlier time (what the ustar `mtime` field holds). */
export function unixSeconds(ns: UnixNanos): bigint {
  return floorDiv(ns, NS_PER_SEC);
}

export function secondsToUnixNanos(seconds: number | bigint): UnixNanos {
  return BigInt(seconds) * NS_PER_SEC;
}

/** Milliseconds (a JS `Date` or `stat.mtimeMs`) → Unix nanoseconds. */
export function dateToUnixNanos(d: Date): UnixNanos {
  return BigInt(d.getTime()) * 1_000_000n;
}

/**
 * PAX time string: `secs` or `secs.fraction`, the fraction zero-padded to nine digits then trimmed of trailing zeros
 * (`1677606423.1234567`); negative times carry a leading `-` on the whole value, as Go's archive/tar writes them.
 */
export function formatPaxTime(ns: UnixNanos): string {
  if (ns >= NS_PER_SEC) {
    // At least one whole second: the decimal digits of `ns`, the point before the last nine (no division).
    const s = ns.toString();
    const cut = s.length - 9;
    let end = s.length;
    while (end > cut && s.charCodeAt(end - 1) === 0x30) end--;
    return end === cut ? s.slice(0, cut) : `${s.slice(0, cut)}.${s.slice(cut, end)}`;
  }
  const sign = ns < 0n ? '-' : '';
  const abs = ns < 0n ? -ns : ns;
  const secs = abs / NS_PER_SEC;
  const frac = abs % NS_PER_SEC;
  if (frac === 0n) return `${sign}${secs}`;
  return `${sign}${secs}.${frac.toString().padStart(9, '0').replace(/0+$/, '')}`;
}

const PAX_TIME = /^(-?)(\d{1,19})(?:\.(\d+))?$/;

/**
 * Parses a PAX time string. Digits beyond nanoseconds are truncated (as Go does); anything that is not
 * `[-]digits[.digits]` is an error.
 */
export function parsePaxTime(text: string): UnixNanos {
  const m = PAX_TIME.exec(text);
  if (m === null) {
    throw new WinlayerError('TIME_INVALID', `"${text}" is not a PAX time (expected seconds[.fraction])`);
  }
  const secs = BigInt(m[2]!);
  const frac = BigInt(((m[3] ?? '') + '000000000').slice(0, 9));
  const abs = secs * NS_PER_SEC + frac;
  return m[1] === '-' ? -abs : abs;
}

/** ISO 8601 UTC with exactly seven fraction digits (100 ns), e.g. `2023-02-28T17:47:03.1234567Z`. */
export function formatIso7(ns: UnixNanos): string {
  const secs = floorDiv(ns, NS_PER_SEC);
  const ticks = floorMod(ns, NS_PER_SEC) / TICK;
  const date = new Date(Number(secs) * 1000);
  if (Number.isNaN(date.getTime())) {
    throw new WinlayerError('TIME_INVALID', `time ${formatPaxTime(ns)} s is outside the range a date can show`);
  }
  // toISOString gives `±YYYYYY-…` beyond year 9999: cut the milliseconds, not a fixed width.
  const base = date.toISOString().replace(/\.\d{3}Z$/, '');
  return `${base}.${ticks.toString().padStart(7, '0')}Z`;
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

function floorMod(a: bigint, b: bigint): bigint {
  return a - floorDiv(a, b) * b;
}
