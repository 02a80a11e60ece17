/**
 * UTF-8 byte order of strings: the sibling order of everything winlayer writes (what Go's `filepath.Walk` gives
 * hcsshim's exporter), without encoding either string.
 *
 * UTF-8 byte order equals Unicode code point order. JavaScript's `<` compares UTF-16 code units, which agrees
 * everywhere except between a surrogate (an astral character, U+10000 and above, encoded as 0xD800–0xDFFF) and a unit
 * in U+E000–U+FFFF: `<` puts the astral character first, UTF-8 puts it last.
 */

/**
 * Compares two strings in UTF-8 byte order: negative when `a` sorts first, 0 when equal, positive otherwise. Runs in
 * one pass over the common prefix and allocates nothing. A lone surrogate (not valid UTF-16) is ordered by its unit
 * value among the astral characters, not as the U+FFFD an encoder would substitute.
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Move surrogates above U+E000–U+FFFF: surrogates +0x2000, the units above them −0x800.
    if (x >= 0xd800) x += x >= 0xe000 ? -0x800 : 0x2000;
    if (y >= 0xd800) y += y >= 0xe000 ? -0x800 : 0x2000;
    return x - y;
  }
  return a.length - b.length;
}
