// The floor under `winlayer import`: the least a Node program must do to extract a layer tar into a folder — read it in
// 1 MiB chunks, parse ustar headers and PAX paths, create folders, files (open/write/futimes/close) and hard links.
// No checks, no sidecar, no metadata: nothing winlayer adds. Plain JavaScript, no imports of ours, so it starts as
// fast as Node can. Usage: node bench/floors/extract.mjs LAYER.tar TARGET (TARGET must not exist).
import { closeSync, futimesSync, linkSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';

const [tarPath, target] = process.argv.slice(2);
const CHUNK = 1 << 20;
const buf = Buffer.allocUnsafe(CHUNK);
const fd = openSync(tarPath, 'r');
let len = 0; // bytes in buf
let at = 0; // read position in buf
let eof = false;

/** Makes at least `n` (≤ CHUNK) bytes available at `at`. */
function fill(n) {
  if (len - at >= n) return true;
  buf.copy(buf, 0, at, len);
  len -= at;
  at = 0;
  while (len < n && !eof) {
    const got = readSync(fd, buf, len, CHUNK - len, null);
    if (got === 0) eof = true;
    len += got;
  }
  return len >= n;
}

const octal = (b, off, n) => {
  let v = 0;
  for (let i = off; i < off + n; i++) {
    const c = b[i];
    if (c >= 48 && c <= 55) v = v * 8 + (c - 48);
    else if (v > 0 || c === 0) break;
  }
  return v;
};
const cstr = (b, off, n) => {
  let e = off;
  while (e < off + n && b[e] !== 0) e++;
  return b.toString('utf8', off, e);
};

mkdirSync(target);
let paxPath;
let paxLink;
for (;;) {
  if (!fill(512)) break;
  const h = buf.subarray(at, at + 512);
  if (h[0] === 0) break;
  const size = octal(h, 124, 12);
  const type = String.fromCharCode(h[156] || 48);
  const prefix = cstr(h, 345, 155);
  const name = paxPath ?? (prefix ? `${prefix}/${cstr(h, 0, 100)}` : cstr(h, 0, 100));
  const link = paxLink ?? cstr(h, 157, 100);
  const mtime = octal(h, 136, 12);
  at += 512;
  paxPath = paxLink = undefined;
  const padded = Math.ceil(size / 512) * 512;
  if (type === 'x') {
    fill(padded);
    const text = buf.toString('utf8', at, at + size);
    for (let i = 0; i < text.length; ) {
      const sp = text.indexOf(' ', i);
      const n = Number(text.slice(i, sp));
      const rec = text.slice(sp + 1, i + n - 1);
      const eq = rec.indexOf('=');
      if (rec.slice(0, eq) === 'path') paxPath = rec.slice(eq + 1);
      if (rec.slice(0, eq) === 'linkpath') paxLink = rec.slice(eq + 1);
      i += n;
    }
    at += padded;
    continue;
  }
  const path = `${target}/${name.replace(/\/$/, '')}`;
  if (type === '5') {
    mkdirSync(path, { recursive: true });
  } else if (type === '1') {
    linkSync(`${target}/${link}`, path);
  } else {
    const out = openSync(path, 'w', 0o644);
    let left = size;
    while (left > 0) {
      if (len - at === 0) fill(1);
      const n = Math.min(left, len - at);
      writeSync(out, buf, at, n);
      at += n;
      left -= n;
    }
    futimesSync(out, mtime, mtime);
    closeSync(out);
    fill(padded - size);
    at += padded - size;
  }
}
closeSync(fd);
