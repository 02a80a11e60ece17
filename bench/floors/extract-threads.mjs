// The floor under `winlayer import` with the filesystem work spread over threads: the same minimal job as extract.mjs
// (ustar headers + PAX paths, mkdir, open/write/futimes/close, link; nothing winlayer adds), but the kernel's share —
// copying file bytes into the page cache and creating inodes — runs on worker threads, so it can use both cores while
// the main thread reads and parses the tar. Plain JavaScript, no imports of ours.
//
// Usage: node bench/floors/extract-threads.mjs LAYER.tar TARGET [N] [options]   (TARGET must not exist)
//   N               worker threads (default 2; 0 = the main thread does everything, like extract.mjs)
//   --sync          one filesystem sync at the end (spawns `sync -f TARGET`: Node has no syncfs(2))
//   --sync-every=MB also start `sync -f TARGET` in the background after every MB of file data, so write-back
//                   overlaps extraction and the final sync has less left to do
//   --main          the main thread takes file jobs too (as if it were one more worker)
//   --split=MB      files larger than MB are cut into MB pieces written with positioned writes by several workers
//   --read=KB       tar read size (default 1024)
//   --ring=MB       shared data ring size (default 16)
//   --cpu           print each thread's user/sys CPU seconds (from /proc/self/task) to stderr at the end
//
// Design (why it is shaped like this):
// - The tar is read with readSync into one SharedArrayBuffer ring (RING bytes). A stream position P lives at P % RING.
//   RING is a multiple of 512, so a header never wraps; file data may wrap and is then written in two pieces.
// - The main thread parses headers and creates folders itself (synchronously, in tar order, so every folder exists
//   before any job for a file inside it is published). Files and links become jobs.
// - Each worker has its own single-producer/single-consumer job ring (Float64Array slots + Int32 posted/done counters
//   in shared memory): no postMessage per file. A sleeping worker is woken with Atomics.notify only if it said it
//   sleeps, so a busy pipeline costs no futex calls.
// - Jobs go to the worker with the fewest outstanding jobs (adapts to big files). A hard link goes to the worker that
//   wrote its target: that worker runs its jobs in FIFO order, so the target is complete when the link is made.
// - Ring space is recycled only when no worker still needs it: a worker's jobs are in stream order, so everything it
//   still references lies at or after the end of the last job it finished; the main thread reads into the ring only
//   below min(that, its own parse position) + RING.
// - Paths travel in a per-worker byte ring (written by the main thread, freed as the worker's done counter advances).
import { spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  futimesSync,
  linkSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  writeSync,
} from 'node:fs';
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { paxRecords, ustarHeader } from './ustar.mjs';

const args = process.argv.slice(2);
const opts = Object.fromEntries(
  args.filter((a) => a.startsWith('--')).map((a) => [a.slice(2).split('=')[0], a.split('=')[1] ?? true]),
);
const [tarArg, targetArg, nArg] = args.filter((a) => !a.startsWith('--'));
const tarPath = resolve(tarArg);
const target = resolve(targetArg);
const N = nArg === undefined ? 2 : Number(nArg);
const READ = Number(opts.read ?? 1024) * 1024;
const SPLIT = opts.split ? Number(opts.split) * 1048576 : Infinity;
const SYNC_EVERY = opts['sync-every'] ? Number(opts['sync-every']) * 1048576 : Infinity;
const MAIN_WRITES = N === 0 || opts.main === true;

const RING = Number(opts.ring ?? 16) << 20; // data ring (MiB): a 1 MiB read rarely waits for a worker; small, so
// its first-touch page faults stay cheap
const JOBS = 1024; // job slots per worker
const F = 8; // Float64 fields per job slot
const PATHS = 1 << 20; // path byte ring per worker
// job fields: 0 kind (1 file, 2 link, 3 file piece, 4 stop), 1 data position, 2 size, 3 mtime, 4 end position
// (stream position after this job's data), 5 path offset, 6 path length, 7 link path offset | piece file offset
// (a link's target path follows its own path in the path ring)

const ringSab = new SharedArrayBuffer(RING);
const ring = Buffer.from(ringSab);
// global control: 0 progress counter (bumped by workers after each job), 1 main waiting flag
const global = new Int32Array(new SharedArrayBuffer(8));

/** Runs jobs from one job ring: the worker body (also used inline by the main thread with --main). */
const workerSource = `
const { closeSync, futimesSync, linkSync, openSync, writeSync } = require('node:fs');
const { workerData: w } = require('node:worker_threads');
${runJob.toString()}
const ring = Buffer.from(w.ring);
const paths = Buffer.from(w.paths);
const jobs = new Float64Array(w.jobs);
const ctl = new Int32Array(w.ctl); // 0 posted, 1 done, 2 sleeping
const doneEnd = new Float64Array(w.doneEnd);
const global = new Int32Array(w.global);
const RING = ring.length;
for (let done = 0; ; done++) {
  if (Atomics.load(ctl, 0) === done) {
    Atomics.store(ctl, 2, 1);
    while (Atomics.load(ctl, 0) === done) Atomics.wait(ctl, 0, done);
    Atomics.store(ctl, 2, 0);
  }
  const j = (done % ${JOBS}) * ${F};
  if (jobs[j] === 4) break;
  runJob(ring, RING, paths, jobs, j);
  doneEnd[0] = jobs[j + 4];
  Atomics.store(ctl, 1, done + 1);
  Atomics.add(global, 0, 1);
  if (Atomics.load(global, 1) === 1) Atomics.notify(global, 0);
}
`;

/** Does one job: the same syscalls as extract.mjs per file (open, write, futimes, close) or per link. */
function runJob(ring, RING, paths, jobs, j) {
  const kind = jobs[j];
  const path = paths.toString('utf8', jobs[j + 5], jobs[j + 5] + jobs[j + 6]);
  if (kind === 2) {
    const lo = jobs[j + 7];
    linkSync(paths.toString('utf8', lo, lo + jobs[j + 2]), path);
    return;
  }
  let pos = jobs[j + 1] % RING;
  let left = jobs[j + 2];
  // kind 3: one piece of a split file; the file exists (created by the main thread) and gets positioned writes
  const out = kind === 3 ? openSync(path, 'r+') : openSync(path, 'w', 0o644);
  let at = kind === 3 ? jobs[j + 7] : null;
  while (left > 0) {
    const n = writeSync(out, ring, pos, Math.min(left, RING - pos), at);
    left -= n;
    pos = (pos + n) % RING;
    if (at !== null) at += n;
  }
  if (kind === 1) futimesSync(out, jobs[j + 3], jobs[j + 3]);
  closeSync(out);
}

mkdirSync(target);
const workers = [];
for (let i = 0; i < N; i++) {
  const w = {
    paths: new SharedArrayBuffer(PATHS),
    jobs: new SharedArrayBuffer(JOBS * F * 8),
    ctl: new SharedArrayBuffer(12),
    doneEnd: new SharedArrayBuffer(8),
    ring: ringSab,
    global: global.buffer,
  };
  w.thread = new Worker(workerSource, {
    eval: true,
    workerData: { paths: w.paths, jobs: w.jobs, ctl: w.ctl, doneEnd: w.doneEnd, ring: ringSab, global: global.buffer },
  });
  w.pathBuf = Buffer.from(w.paths);
  w.jobArr = new Float64Array(w.jobs);
  w.ctlArr = new Int32Array(w.ctl);
  w.doneEndArr = new Float64Array(w.doneEnd);
  w.posted = 0;
  w.pathHead = 0; // next free byte in the path ring (monotonic)
  w.pathEnds = new Float64Array(JOBS); // pathHead after each slot's job: frees path bytes as jobs finish
  workers.push(w);
}
// The main thread's own "ring" for --main: one slot, run at once.
const mainPaths = Buffer.alloc(PATHS);
const mainJob = new Float64Array(F + 1);

/** Blocks until some worker finishes a job after the caller read `seen` (the caller reads it before checking its
 * condition, so a job finished in between is not missed; the timeout is only a safety net). */
function waitProgress(seen) {
  Atomics.store(global, 1, 1);
  Atomics.wait(global, 0, seen, 50);
  Atomics.store(global, 1, 0);
}

const outstanding = (w) => w.posted - Atomics.load(w.ctlArr, 1);

/** Lowest stream position any worker may still read. */
function workersFloor() {
  let floor = Infinity;
  for (const w of workers) if (outstanding(w) > 0 && w.doneEndArr[0] < floor) floor = w.doneEndArr[0];
  return floor;
}

/** Publishes a job to worker w (or runs it here if w is null). Paths are strings; `link` only for links. */
function post(w, kind, dataPos, size, mtime, end, path, link, fileOff) {
  if (w === null) {
    const lenP = mainPaths.write(path, 0);
    mainJob[0] = kind;
    mainJob[1] = dataPos;
    mainJob[2] = kind === 2 ? mainPaths.write(link, lenP) : size;
    mainJob[3] = mtime;
    mainJob[5] = 0;
    mainJob[6] = lenP;
    mainJob[7] = kind === 2 ? lenP : fileOff;
    runJob(ring, RING, mainPaths, mainJob, 0);
    return;
  }
  const need = (path.length + (link ? link.length : 0)) * 3;
  for (;;) {
    const seen = Atomics.load(global, 0);
    const done = Atomics.load(w.ctlArr, 1);
    const pathTail = done === 0 ? 0 : w.pathEnds[(done - 1) % JOBS];
    const start = PATHS - (w.pathHead % PATHS) < need ? w.pathHead + (PATHS - (w.pathHead % PATHS)) : w.pathHead;
    if (w.posted - done < JOBS && start + need - pathTail <= PATHS) {
      w.pathHead = start;
      break;
    }
    waitProgress(seen);
  }
  const slot = w.posted % JOBS;
  const j = slot * F;
  const off = w.pathHead % PATHS;
  const lenP = w.pathBuf.write(path, off);
  const a = w.jobArr;
  a[j] = kind;
  a[j + 1] = dataPos;
  a[j + 2] = kind === 2 ? w.pathBuf.write(link, off + lenP) : size;
  a[j + 3] = mtime;
  a[j + 4] = end;
  a[j + 5] = off;
  a[j + 6] = lenP;
  a[j + 7] = kind === 2 ? off + lenP : fileOff;
  w.pathHead += need;
  w.pathEnds[slot] = w.pathHead;
  w.posted++;
  Atomics.store(w.ctlArr, 0, w.posted);
  if (Atomics.load(w.ctlArr, 2) === 1) Atomics.notify(w.ctlArr, 0);
}

/** Picks the worker with the fewest outstanding jobs (null = the main thread, with --main and nothing queued). */
let rr = 0;
function pick() {
  if (N === 0) return null;
  let best = workers[rr];
  let bestOut = outstanding(best);
  for (let i = 1; i < N && bestOut > 0; i++) {
    const w = workers[(rr + i) % N];
    const o = outstanding(w);
    if (o < bestOut) {
      best = w;
      bestOut = o;
    }
  }
  rr = (rr + 1) % N;
  // With --main, the main thread takes the file itself when every worker already has a backlog.
  if (MAIN_WRITES && bestOut > 2) return null;
  return best;
}

/** "name user sys" per thread with any CPU time (clock ticks are 1/100 s on Linux). */
function cpuByThread() {
  const out = [];
  for (const tid of readdirSync('/proc/self/task')) {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const user = Number(f[11]) / 100;
    const sys = Number(f[12]) / 100;
    if (user + sys > 0) out.push(`${comm}:${tid} user ${user.toFixed(2)} sys ${sys.toFixed(2)}`);
  }
  return out.join('\n');
}

const fd = openSync(tarPath, 'r');
let readPos = 0; // stream bytes read into the ring so far
let eof = false;

/** Makes stream bytes [p, p + n) available in the ring (n ≤ RING / 2). */
function fill(p, n) {
  while (readPos < p + n && !eof) {
    const seen = Atomics.load(global, 0);
    const floor = Math.min(p, workersFloor());
    const room = floor + RING - readPos;
    const off = readPos % RING;
    const len = Math.min(READ, RING - off, room);
    if (len < Math.min(READ, RING - off)) {
      waitProgress(seen);
      continue;
    }
    const got = readSync(fd, ring, off, len, null);
    if (got === 0) eof = true;
    readPos += got;
  }
  return readPos >= p + n;
}

/** Bytes [p, p + n) of the stream as one Buffer (copied only if they wrap around the ring). */
function bytes(p, n) {
  const off = p % RING;
  if (off + n <= RING) return ring.subarray(off, off + n);
  return Buffer.concat([ring.subarray(off), ring.subarray(0, off + n - RING)]);
}

const splitFiles = []; // [path, mtime] of files written in pieces
const owner = new Map(); // file or link path -> worker that made it (null = main thread)
let p = 0; // parse position
let pax;
let sinceSync = 0;
for (;;) {
  if (!fill(p, 512)) break;
  const h = ring.subarray(p % RING, (p % RING) + 512);
  if (h[0] === 0) break;
  // PAX mtime carries fractions of a second (tar -xf sets them); futimes takes seconds as a double
  const { size, type, name, link, mtime } = ustarHeader(h, pax);
  p += 512;
  pax = undefined;
  const padded = Math.ceil(size / 512) * 512;
  if (type === 120 /* x */) {
    fill(p, padded);
    pax = paxRecords(bytes(p, size).toString('utf8'));
    p += padded;
    continue;
  }
  const rel = name.endsWith('/') ? name.slice(0, -1) : name;
  const path = `${target}/${rel}`;
  if (type === 53 /* 5 */) {
    try {
      mkdirSync(path);
    } catch {
      mkdirSync(path, { recursive: true });
    }
  } else if (type === 49 /* 1 */) {
    const w = owner.get(link);
    owner.set(rel, w ?? null);
    if (w === undefined || w === null) linkSync(`${target}/${link}`, path);
    else post(w, 2, 0, 0, 0, p, path, `${target}/${link}`, 0);
  } else if (size > SPLIT && N > 0) {
    // Split: the main thread creates the file (so pieces can open it r+), workers write pieces; the main thread sets
    // the mtime after all workers finish (futimes before the last piece's write would be undone by that write).
    closeSync(openSync(path, 'w', 0o644));
    splitFiles.push([path, mtime]);
    for (let o = 0; o < size; o += SPLIT) {
      const n = Math.min(SPLIT, size - o);
      fill(p + o, n);
      post(pick() ?? workers[0], 3, p + o, n, mtime, p + o + n, path, null, o);
    }
    owner.set(rel, null);
    p += padded;
  } else {
    // File data may exceed what fits in the ring at once only if size > RING/2; fill in RING/4 steps then.
    if (size > RING / 2) {
      // Rare (no such files in layers we bench): write it here, piece by piece.
      const out = openSync(path, 'w', 0o644);
      for (let o = 0; o < size; o += RING / 4) {
        const n = Math.min(RING / 4, size - o);
        fill(p + o, n);
        const b = bytes(p + o, n);
        writeSync(out, b, 0, n);
      }
      futimesSync(out, mtime, mtime);
      closeSync(out);
      owner.set(rel, null);
    } else {
      fill(p, size);
      const w = pick();
      owner.set(rel, w);
      post(w, 1, p, size, mtime, p + padded, path, null, null);
    }
    p += padded;
    sinceSync += size;
    if (sinceSync >= SYNC_EVERY) {
      sinceSync = 0;
      spawn('sync', ['-f', target], { stdio: 'ignore' }).unref();
    }
  }
}
closeSync(fd);
for (const w of workers) {
  for (let seen = Atomics.load(global, 0); outstanding(w) >= JOBS; seen = Atomics.load(global, 0)) waitProgress(seen);
  w.jobArr[(w.posted % JOBS) * F] = 4;
  w.posted++;
  Atomics.store(w.ctlArr, 0, w.posted);
  Atomics.notify(w.ctlArr, 0);
}
// Workers drain their rings; read their CPU time just before they exit (the stop job is last in each ring).
if (opts.cpu) {
  for (let seen = Atomics.load(global, 0); workers.some((w) => outstanding(w) > 1); seen = Atomics.load(global, 0))
    waitProgress(seen);
  process.stderr.write(`${cpuByThread()}\n`);
}
await Promise.all(workers.map((w) => new Promise((ok) => w.thread.on('exit', ok))));
for (const [path, mtime] of splitFiles) {
  const out = openSync(path, 'r+');
  futimesSync(out, mtime, mtime);
  closeSync(out);
}
if (opts.sync) spawnSync('sync', ['-f', target], { stdio: 'inherit' });
