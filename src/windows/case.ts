/**
 * Case-insensitive comparison as Windows does it for file names and registry keys: per UTF-16 code unit, each unit
 * mapped alone through a simple upper-case table (`RtlUpcaseUnicodeChar`). No surrogate-pair folding and no
 * expansions: `ß` stays `ß`, U+10438 does not become U+10410. JavaScript's `toUpperCase()` on whole strings is not
 * this; we use it only per unit and only where it yields exactly one unit.
 */

let table: Uint16Array | undefined;

/** The 64 Ki-unit table, built (about 6 ms) only when a name holds a unit past ASCII. */
function upcaseTable(): Uint16Array {
  if (table !== undefined) return table;
  const t = new Uint16Array(0x10000);
  for (let u = 0; u < 0x10000; u++) {
    t[u] = u;
    if (u >= 0xd800 && u <= 0xdfff) continue; // surrogates are compared raw
    const up = String.fromCharCode(u).toUpperCase();
    if (up.length === 1) t[u] = up.charCodeAt(0);
  }
  table = t;
  return t;
}

/** The upper-case of one UTF-16 code unit, by Windows' simple per-unit rule. */
export function upcaseUnit(unit: number): number {
  const u = unit & 0xffff;
  if (u < 0x80) return u >= 0x61 && u <= 0x7a ? u - 0x20 : u;
  return upcaseTable()[u]!;
}

/** Upper-cases a string unit by unit (the key used for case-insensitive maps and collision checks). */
export function upcase(name: string): string {
  // Nearly every name in a layer is ASCII: there `toUpperCase` maps exactly a–z, as the per-unit rule does.
  let lower = false;
  for (let i = 0; i < name.length; i++) {
    const u = name.charCodeAt(i);
    if (u >= 0x80) return upcaseWide(name);
    if (u >= 0x61 && u <= 0x7a) lower = true;
  }
  return lower ? name.toUpperCase() : name;
}

function upcaseWide(name: string): string {
  const t = upcaseTable();
  let changed = false;
  const units = new Array<number>(name.length);
  for (let i = 0; i < name.length; i++) {
    const u = name.charCodeAt(i);
    const v = t[u]!;
    if (v !== u) changed = true;
    units[i] = v;
  }
  if (!changed) return name;
  let out = '';
  for (let i = 0; i < units.length; i += 4096) out += String.fromCharCode(...units.slice(i, i + 4096));
  return out;
}

/**
 * Compares two names case-insensitively: upper-cased UTF-16 units as unsigned 16-bit numbers, a shorter prefix first.
 * This is the order of registry subkey lists and the equality of Windows file names.
 */
export function compareUpcase(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = upcaseUnit(a.charCodeAt(i)) - upcaseUnit(b.charCodeAt(i));
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** True when Windows sees the two names as the same. */
export function equalUpcase(a: string, b: string): boolean {
  return a.length === b.length && (a === b || compareUpcase(a, b) === 0);
}

/**
 * A 32-bit hash of a name as Windows compares it: FNV-1a over the upper-cased UTF-16 units (the per-unit rule of
 * {@link upcaseUnit}), then murmur3's final mix, so that tables indexed by the low bits spread well. Names equal by
 * {@link equalUpcase} hash equal; the upper-cased string is never built.
 */
export function upcaseHash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    let u = name.charCodeAt(i);
    if (u >= 0x61) u = u <= 0x7a ? u - 0x20 : u < 0x80 ? u : upcaseUnit(u);
    h = Math.imul(h ^ u, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
