// The header parsing both extract floors share: the few ustar fields and PAX records a minimal extractor needs.
// Plain JavaScript, no imports of ours beyond this file, so the floors start as fast as Node can.

/** An octal field (NUL or space ends it). */
export const octal = (b, off, n) => {
  let v = 0;
  for (let i = off; i < off + n; i++) {
    const c = b[i];
    if (c >= 48 && c <= 55) v = v * 8 + (c - 48);
    else if (v > 0 || c === 0) break;
  }
  return v;
};

/** A NUL-terminated string field. */
export const cstr = (b, off, n) => {
  let e = off;
  while (e < off + n && b[e] !== 0) e++;
  return b.toString('utf8', off, e);
};

/**
 * The fields of the 512-byte header `h`, with a PAX record's values (`pax`, from {@link paxRecords} of the header
 * before) taking precedence: size, type (char code, '0' for NUL), name, link name and mtime (seconds).
 */
export function ustarHeader(h, pax) {
  const prefix = cstr(h, 345, 155);
  return {
    size: octal(h, 124, 12),
    type: h[156] || 48,
    name: pax?.path ?? (prefix ? `${prefix}/${cstr(h, 0, 100)}` : cstr(h, 0, 100)),
    link: pax?.linkpath ?? cstr(h, 157, 100),
    mtime: pax?.mtime ?? octal(h, 136, 12),
  };
}

/** The path, linkpath and mtime records of a PAX extended header's text. */
export function paxRecords(text) {
  const pax = {};
  for (let i = 0; i < text.length; ) {
    const sp = text.indexOf(' ', i);
    const n = Number(text.slice(i, sp));
    const rec = text.slice(sp + 1, i + n - 1);
    const eq = rec.indexOf('=');
    const key = rec.slice(0, eq);
    if (key === 'path' || key === 'linkpath') pax[key] = rec.slice(eq + 1);
    else if (key === 'mtime') pax.mtime = Number(rec.slice(eq + 1));
    i += n;
  }
  return pax;
}
