// The floor under `winlayer import`: the least a Node program must do to extract a layer tar into a folder — read it in
// 1 MiB chunks, parse ustar headers and PAX paths, create folders, files (open/write/futimes/close) and hard links.
// No checks, no sidecar, no metadata: nothing winlayer adds. Plain JavaScript, no imports of ours but `ustar.mjs`, so
// it starts as fast as Node can. Usage: node bench/floors/extract.mjs LAYER.tar TARGET (TARGET must not exist).
import { closeSync, futimesSync, linkSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { paxRecords, ustarHeader } from './ustar.mjs';

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

mkdirSync(target);
let pax;
for (;;) {
  if (!fill(512)) break;
  const h = buf.subarray(at, at + 512);
  if (h[0] === 0) break;
  const { size, type, name, link, mtime } = ustarHeader(h, pax);
  at += 512;
  pax = undefined;
  const padded = Math.ceil(size / 512) * 512;
  if (type === 120 /* x */) {
    fill(padded);
    pax = paxRecords(buf.toString('utf8', at, at + size));
    at += padded;
    continue;
  }
  const path = `${target}/${name.replace(/\/$/, '')}`;
  if (type === 53 /* 5 */) {
    mkdirSync(path, { recursive: true });
  } else if (type === 49 /* 1 */) {
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
