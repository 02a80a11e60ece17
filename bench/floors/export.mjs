// The floor under `winlayer export`: the least a Node program must do to write a layer folder as a tar with its
// sha256 — walk the folder (readdir, lstat), sort names, write a 512-byte header per entry and each file's bytes
// (open, read in 1 MiB pieces, close; a hard link's bytes once), and hash every byte on a second thread (one sha256
// stream cannot be split; the hand-over is a shared ring, no copies). No PAX records, no checks, no metadata: nothing
// winlayer adds. Plain JavaScript, no imports of ours, so it starts as fast as Node can.
// Usage: node bench/floors/export.mjs LAYER_DIR OUTPUT   (prints the sha256 to stderr)
import { closeSync, lstatSync, openSync, readdirSync, readSync, writeSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

const [root, output] = process.argv.slice(2);
const SLOT = 1 << 20;
const SLOTS = 8;
const control = new Int32Array(new SharedArrayBuffer(4 * (2 + SLOTS)));
const data = new SharedArrayBuffer(SLOTS * SLOT + 32);
const slots = Array.from({ length: SLOTS }, (_, i) => Buffer.from(data, i * SLOT, SLOT));
const hasher = new Worker(
  `const { workerData: w } = require('node:worker_threads');
  const h = require('node:crypto').createHash('sha256');
  const c = new Int32Array(w.control);
  for (let tail = 0; ; tail++) {
    while (Atomics.load(c, 0) === tail) Atomics.wait(c, 0, tail);
    const len = c[2 + (tail % ${SLOTS})];
    if (len < 0) break;
    h.update(new Uint8Array(w.data, (tail % ${SLOTS}) * ${SLOT}, len));
    Atomics.store(c, 1, tail + 1);
    Atomics.notify(c, 1);
  }
  Buffer.from(w.data, ${SLOTS * SLOT}, 32).set(h.digest());
  Atomics.store(c, 1, -1);
  Atomics.notify(c, 1);`,
  { eval: true, workerData: { control: control.buffer, data } },
);
const out = openSync(output, 'w');
let head = 0;
let buf = slots[0];
let pos = 0;
function submit(len) {
  writeSync(out, buf, 0, len);
  control[2 + (head % SLOTS)] = len;
  head++;
  Atomics.store(control, 0, head);
  Atomics.notify(control, 0);
  for (let tail = Atomics.load(control, 1); head - tail >= SLOTS; tail = Atomics.load(control, 1)) {
    Atomics.wait(control, 1, tail);
  }
  buf = slots[head % SLOTS];
  pos = 0;
}
function header(name, size, type, link = '') {
  if (pos + 512 > SLOT) submit(pos);
  buf.fill(0, pos, pos + 512);
  buf.write(name.slice(-99), pos, 'utf8');
  buf.write(`${size.toString(8).padStart(11, '0')}\0`, pos + 124, 'ascii');
  buf[pos + 156] = type;
  if (link !== '') buf.write(link.slice(-99), pos + 157, 'utf8');
  buf.write('ustar\x0000', pos + 257, 'latin1');
  buf.write('000644 \0', pos + 100, 'ascii');
  let sum = 8 * 32;
  for (let i = pos; i < pos + 148; i++) sum += buf[i];
  for (let i = pos + 156; i < pos + 512; i++) sum += buf[i];
  buf.write(`${sum.toString(8).padStart(6, '0')}\0 `, pos + 148, 'ascii');
  pos += 512;
}
const seen = new Map();
function walk(rel) {
  for (const name of readdirSync(`${root}/${rel}`).sort()) {
    const path = `${rel}/${name}`;
    const st = lstatSync(`${root}/${path}`, { bigint: true });
    if (st.isDirectory()) {
      header(path, 0, 53);
      walk(path);
      continue;
    }
    const key = `${st.dev}:${st.ino}`;
    if (st.nlink > 1n && seen.has(key)) {
      header(path, 0, 49, seen.get(key));
      continue;
    }
    if (st.nlink > 1n) seen.set(key, path);
    const size = Number(st.size);
    header(path, size, 48);
    const fd = openSync(`${root}/${path}`, 'r');
    for (let left = size; left > 0; ) {
      if (pos === SLOT) submit(pos);
      const n = readSync(fd, buf, pos, Math.min(SLOT - pos, left), null);
      pos += n;
      left -= n;
    }
    closeSync(fd);
    const pad = (512 - (size % 512)) % 512;
    if (pos + pad > SLOT) submit(pos);
    buf.fill(0, pos, pos + pad);
    pos += pad;
  }
}
for (const top of ['Files', 'UtilityVM']) {
  header(top, 0, 53);
  walk(top);
}
if (pos + 1024 > SLOT) submit(pos);
buf.fill(0, pos, pos + 1024);
submit(pos + 1024);
buf = undefined;
control[2 + (head % SLOTS)] = -1;
Atomics.store(control, 0, ++head);
Atomics.notify(control, 0);
while (Atomics.load(control, 1) !== -1) Atomics.wait(control, 1, Atomics.load(control, 1));
closeSync(out);
process.stderr.write(`sha256:${Buffer.from(data, SLOTS * SLOT, 32).toString('hex')}\n`);
await hasher.terminate();
