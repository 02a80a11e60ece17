/**
 * Benchmark: `winlayer import` against GNU tar's extraction of the same tar, on the export benchmark's trees
 * (`bench/export.ts`: nanoserver-like ~7,000 files / 300 MB with UtilityVM hard links, servercore-like ~100,000 files /
 * 2.2 GB). Each tree is exported once by winlayer (the canonical layer tar), then, in the same run:
 *
 * - `tar -xf layer.tar` into an empty folder, and the same followed by `sync -f` (GNU tar never syncs);
 * - `winlayer import` as users run it (the built CLI: the bundle, two writer threads on a 2-core host, one
 *   filesystem sync at the end);
 * - the library in a child with `sync: false` (the same work as `tar -xf`): without a writer thread, with one, with two;
 * - floors: `bench/floors/extract.mjs`, the least a Node program does to extract the tar (no checks, no sidecar), with
 *   and without one `sync -f`, and `extract-threads.mjs` with two writer threads and one sync, without and with an
 *   early write-back at our cadence (a background `sync -f` after every 128 MiB; the floor does not wait for the last
 *   one to end, ours does): the last is the floor our CLI compares with.
 *
 * Our import runs in a child process that reports its own time and peak RSS (VmHWM of /proc/self/status: getrusage's maxRSS survives exec and would report the parent's peak); the
 * wall time measured by the parent includes Node's start-up. It runs the compiled library (`dist/`, run `npm run build`
 * first) when there is one, else the sources through tsx (slower start-up). Targets: within 1.0× of `tar -xf`, peak
 * RSS < 150 MB.
 *
 * Fairness on ext4: every row extracts into a folder of its own and nothing is deleted until all rows of a tree have
 * run. On an ext4 without a journal (this VM's disk), the inode allocator skips every free inode freed in the last 60 s
 * — 360 s while its inode-table block is dirty (`recently_deleted()` in `fs/ext4/ialloc.c`) — reading inode tables to
 * find out, so a row that runs within minutes of an `rm -rf` of many files spends most of its time in the kernel
 * (measured: the same `tar -xf` of 30,000 files took 3.9 s in a fresh place and 22.6 s right after a removal; perf:
 * `find_get_block_common`, `recently_deleted`, `ext4_get_group_desc`, `find_inode_bit`). That, not the tools, decided
 * earlier runs, where each row removed the previous row's output. Start the disk rows at least 6 minutes after any
 * large removal on that filesystem, or in a `BENCH_DIR` where nothing was removed lately (measured in one such place:
 * `tar -xf; sync -f` 1.3–1.8 s, our import with its sync 1.5–1.6 s for the 30,000-file tree; in the folder of a run
 * removed 6 minutes before, 10.7 s and 20.4 s).
 *
 * Each row starts with the filesystem synced (no row pays for an earlier row's write-back) and the same page cache (see
 * `samePageCache`).
 *
 * Environment: `BENCH_SCALE` (default 1; 0.01 to check that it runs), `BENCH_DIR` (where trees and tars are built;
 * default `$TMPDIR/winlayer-bench`), `BENCH_ONLY` (`nanoserver` or `servercore`), `BENCH_REPEAT` (N rounds, the rows
 * taking turns; each row's best), `BENCH_KEEP` (leave the imported folders, `<tree>-<scale>-import-<pid>-<n>`, for
 * the user to remove when no benchmark runs), `BENCH_TMPFS` (a folder on tmpfs, e.g. `/dev/shm/winlayer-bench`: adds
 * `tar -xf` and our import there, which takes the disk's write-back out of the picture and leaves the CPU cost of
 * each tool). Run: `node --import tsx bench/import.ts`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EVERY } from '../src/layer/write-back.js';
import {
  type BenchExportOptions,
  type BenchRow,
  benchOptionsFromEnv,
  buildTree,
  formatRows,
  runBuiltCli,
  SHAPES,
} from './export.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The cadence of our early write-back (`src/layer/write-back.ts`), given to the floor that imitates it. */
const EARLY_SYNC_EVERY_MB = EVERY / 2 ** 20;
const ROOT = join(HERE, '..');

function seconds(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** One measurement: wall seconds, and for our rows the in-process seconds and peak RSS. */
type Measured = { readonly wall: number; readonly inner?: number; readonly rssMb?: number };

/**
 * Runs every case once per round, the cases taking turns, and keeps each case's best wall time. On a shared virtual
 * disk a row that writes much slows the next one (write-back, the host's caches): taking turns spreads that over all
 * cases instead of charging it to whichever runs second.
 */
function bestInTurns<C extends readonly (() => Measured)[]>(rounds: number, cases: C): { [K in keyof C]: Measured } {
  const bests: Measured[] = [];
  for (let round = 0; round < rounds; round++) {
    cases.forEach((measure, i) => {
      const m = measure();
      const b = bests[i];
      if (b === undefined || m.wall < b.wall) bests[i] = m;
    });
  }
  return bests as { [K in keyof C]: Measured };
}

/**
 * The compiled library (`npm run build`), when present: the child then starts as the shipped CLI does, without the
 * TypeScript loader's start-up (about 0.3 s) in its wall time. Else the child runs the sources through tsx.
 */
const COMPILED = existsSync(join(ROOT, 'dist/layer/index.js')) ? join(ROOT, 'dist/layer/index.js') : undefined;

/** The child's script for the compiled library: the same as `child()` below. */
function compiledChild(lib: string): string {
  return `
    const { readFileSync } = await import('node:fs');
    const peakRssKb = () => Number(/VmHWM:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
    const { importLayer } = await import(${JSON.stringify(lib)});
    const [tar, target, sync, threads] = process.argv.slice(-4);
    const t0 = process.hrtime.bigint();
    const r = await importLayer(tar, target, {
      sync: sync === 'true',
      writerThreads: Number(threads),
    });
    const inner = Number(process.hrtime.bigint() - t0) / 1e9;
    process.stdout.write(JSON.stringify({ inner, rss: peakRssKb(), entries: r.entries }) + '\\n');
  `;
}

/**
 * Fresh targets for one tree's rows: `next()` names a folder never used in this run; `removeAll()` deletes them once
 * the tree's rows are measured (see the module comment: a removal right before a row would slow that row on ext4).
 */
class Targets {
  readonly #base: string;
  readonly #tar: string;
  readonly #made: string[] = [];

  constructor(base: string, tar: string) {
    this.#base = base;
    this.#tar = tar;
  }

  /**
   * A new target; first the filesystem is synced, so that no row pays for the write-back of an earlier row's
   * output (the rows without a sync leave theirs dirty), and the page cache is reset ({@link samePageCache}).
   */
  next(): string {
    // Named by process: a target of an earlier run is never removed right before a row (see the module comment).
    const path = `${this.#base}-${process.pid}-${this.#made.length}`;
    this.#made.push(path);
    execFileSync('sync', ['-f', dirname(path)]);
    samePageCache(this.#tar);
    return path;
  }

  /** Removes the targets, unless `BENCH_KEEP` is set (then a later run on the same disk is not slowed by it). */
  removeAll(): void {
    const made = this.#made.splice(0);
    if (process.env.BENCH_KEEP !== undefined && process.env.BENCH_KEEP !== '') return;
    for (const path of made) rmSync(path, { recursive: true, force: true });
    // Synced, the freed inodes wait 60 s before reuse instead of 360 s (their inode-table blocks are clean).
    if (made.length > 0) execFileSync('sync', ['-f', dirname(made[0]!)]);
  }
}

/**
 * Every row starts with the same page cache: the clean pages of earlier rows' output dropped (when the benchmark may:
 * root on Linux) and the tar read back in. Otherwise each row writes 2 GB into a cache that earlier rows filled and
 * may pay for reclaiming it, so that the order of the rows can decide the ranking (the CLI, third in each round, took
 * 1.12x of `tar -xf` in a run without this and 1.01x in the next run with it; not a controlled comparison).
 */
function samePageCache(tar: string): void {
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '1');
  } catch {
    // Not root, or not Linux: the rows share the cache as it is, and later rows may pay for earlier ones.
  }
  execFileSync('cat', [tar], { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** Runs our import in a child process with `threads` writer threads (0: none); returns wall and inner time, peak RSS. */
function ours(tar: string, target: string, sync: boolean, threads = 0): { wall: number; inner: number; rssMb: number } {
  let out = '';
  const wall = seconds(() => {
    const args = [tar, target, String(sync), String(threads)];
    const r = spawnSync(
      process.execPath,
      COMPILED === undefined
        ? ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', ...args]
        : ['--input-type=module', '-e', compiledChild(COMPILED), '--', ...args],
      { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 20 },
    );
    if (r.status !== 0) throw new Error(`import child failed: ${r.stderr}`);
    out = r.stdout;
  });
  const j = JSON.parse(out) as { inner: number; rss: number };
  return { wall, inner: j.inner, rssMb: j.rss / 1024 };
}

/**
 * `winlayer import` exactly as users run it (the built CLI, `bin/winlayer.js`: the bundle, its one final sync), in a
 * child that reports its peak RSS; the wall time includes Node's start-up.
 */
function oursCli(tar: string, target: string): { wall: number; rssMb: number } {
  return runBuiltCli(['import', target, '-i', tar, '--quiet']);
}

/** GNU tar extracting into a new empty folder (optionally followed by one `sync -f`). */
function gnu(tar: string, target: string, sync: boolean): { wall: number } {
  mkdirSync(target);
  const wall = seconds(() => {
    execFileSync('tar', ['--warning=no-unknown-keyword', '-xf', tar, '-C', target], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    if (sync) execFileSync('sync', ['-f', target]);
  });
  // Not removed here: a removal of many files slows every row that follows it (see the module comment).
  return { wall };
}

/**
 * `bench/floors/extract.mjs` into a new folder (optionally followed by one `sync -f`): the least a Node program does to
 * extract the tar (headers, folders, files, hard links, mtimes; no checks, no sidecar), start-up included. With
 * `threads`, `extract-threads.mjs`: the same job with the file writes on that many worker threads; with `syncEveryMb`
 * as well, it starts a background `sync -f` after every that many MB of file data, as our early write-back does.
 */
function minimal(tar: string, target: string, sync: boolean, threads = 0, syncEveryMb?: number): { wall: number } {
  const script = join(HERE, 'floors', threads === 0 ? 'extract.mjs' : 'extract-threads.mjs');
  const args = threads === 0 ? [script, tar, target] : [script, tar, target, String(threads)];
  if (syncEveryMb !== undefined) args.push(`--sync-every=${syncEveryMb}`);
  const wall = seconds(() => {
    execFileSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    if (sync) execFileSync('sync', ['-f', target]);
  });
  return { wall };
}

/** Runs the import benchmark and returns its rows (options as the export benchmark's; trees are shared with it). */
export async function benchImport(
  opts: BenchExportOptions & { readonly tmpfs?: string } = importOptionsFromEnv(),
): Promise<BenchRow[]> {
  const { exportLayer } = await import('../src/layer/index.js');
  const { scale, dir: base } = opts;
  const repeat = opts.repeat ?? 1;
  const rows: BenchRow[] = [];
  for (const shape of SHAPES) {
    if (opts.only !== undefined && opts.only !== shape.name) continue;
    opts.log?.(`building the ${shape.name}-like tree and its tar (scale ${scale})`);
    const dir = join(base, `${shape.name}-${scale}`);
    const info = buildTree(dir, shape, scale);
    const tar = join(base, `${shape.name}-${scale}.tar`);
    // No registry hives in the generated tree: exported as a layer with parents (the same bytes as a base layer).
    if (!existsSync(tar)) await exportLayer(dir, { output: tar, kind: 'non-base' });
    const target = join(base, `${shape.name}-${scale}-import`);
    const common = { tree: shape.name, files: info.files, mb: Math.round(info.bytes / 1e6) };
    opts.log?.(
      `measuring ${shape.name}: ${info.files} files, ${common.mb} MB (winlayer: ${COMPILED ?? 'sources via tsx'})`,
    );
    const targets = new Targets(target, tar);
    const [plain, synced, cli, mineNoSync, mineThread, mineThreads, floor, floorSynced, floor2Synced, floor2Early] =
      bestInTurns(repeat, [
        () => gnu(tar, targets.next(), false),
        () => gnu(tar, targets.next(), true),
        () => oursCli(tar, targets.next()),
        () => ours(tar, targets.next(), false),
        () => ours(tar, targets.next(), false, 1),
        () => ours(tar, targets.next(), false, 2),
        () => minimal(tar, targets.next(), false),
        () => minimal(tar, targets.next(), true),
        () => minimal(tar, targets.next(), true, 2),
        () => minimal(tar, targets.next(), true, 2, EARLY_SYNC_EVERY_MB),
      ] as const);
    targets.removeAll();
    /** A row, with its ratio to `peer` when it has one. */
    const row = (what: string, m: Measured, peer?: Measured): BenchRow => ({
      ...common,
      what,
      ...m,
      ...(peer === undefined ? {} : { ratio: m.wall / peer.wall }),
    });
    rows.push(
      row('tar -xf', plain),
      row('tar -xf; sync -f', synced),
      row('winlayer import, the CLI as shipped (one sync), vs tar -xf', cli, plain),
      row('winlayer import, the CLI as shipped (one sync), vs tar -xf; sync -f', cli, synced),
      row('winlayer import (library, no sync, no writer thread)', mineNoSync, plain),
      row('winlayer import (library, no sync, one writer thread)', mineThread, plain),
      row('winlayer import (library, no sync, two writer threads)', mineThreads, plain),
      row('floor: minimal Node extract (no checks, no sidecar)', floor, plain),
      row('floor: minimal Node extract; sync -f, vs tar -xf', floorSynced, plain),
      row('floor: minimal Node extract, two writer threads; sync -f, vs tar -xf', floor2Synced, plain),
      row(
        `floor: minimal Node extract, two writer threads, early write-back every ${EARLY_SYNC_EVERY_MB} MiB; sync -f, vs tar -xf`,
        floor2Early,
        plain,
      ),
    );
    if (opts.tmpfs !== undefined) {
      // tmpfs frees inodes at once: each row may remove its output, so the RAM holds one extracted tree at a time.
      mkdirSync(opts.tmpfs, { recursive: true });
      const memTarget = join(opts.tmpfs, `${shape.name}-${scale}-import`);
      const inMemory = <T>(fn: (t: string) => T): T => {
        samePageCache(tar);
        try {
          return fn(memTarget);
        } finally {
          rmSync(memTarget, { recursive: true, force: true });
        }
      };
      const [memTar, memCli, memOurs, memThread, memFloor, memFloor2] = bestInTurns(repeat, [
        () => inMemory((t) => gnu(tar, t, false)),
        () => inMemory((t) => oursCli(tar, t)),
        () => inMemory((t) => ours(tar, t, false)),
        () => inMemory((t) => ours(tar, t, false, 2)),
        () => inMemory((t) => minimal(tar, t, false)),
        () => inMemory((t) => minimal(tar, t, false, 2)),
      ] as const);
      rows.push(
        row('tar -xf (tmpfs)', memTar),
        row('winlayer import, the CLI (tmpfs)', memCli, memTar),
        row('winlayer import (tmpfs, library, no writer thread)', memOurs, memTar),
        row('winlayer import (tmpfs, library, two writer threads)', memThread, memTar),
        row('floor: minimal Node extract (tmpfs)', memFloor, memTar),
        row('floor: minimal Node extract, two writer threads (tmpfs)', memFloor2, memTar),
      );
    }
  }
  return rows;
}

/** The export benchmark's options plus `BENCH_TMPFS`. */
function importOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): BenchExportOptions & { readonly tmpfs?: string } {
  return { ...benchOptionsFromEnv(env), ...(env.BENCH_TMPFS ? { tmpfs: env.BENCH_TMPFS } : {}) };
}

/** The `bench/run.ts` part: the rows above as `BenchResult`s. */
export async function run(ctx: {
  readonly scale: number;
  readonly tmp: string;
  log(message: string): void;
}): Promise<{ case: string; tool: string; seconds: number; entries?: number; bytes?: number; note?: string }[]> {
  const tmpfs = importOptionsFromEnv().tmpfs;
  const rows = await benchImport({
    scale: ctx.scale,
    dir: ctx.tmp,
    log: (m) => ctx.log(m),
    ...(tmpfs ? { tmpfs } : {}),
  });
  return rows.map((r) => ({
    case: `import ${r.tree}-like`,
    tool: r.what.startsWith('winlayer') ? 'winlayer' : r.what.startsWith('floor') ? 'Node' : 'GNU tar',
    seconds: r.wall,
    entries: r.files,
    bytes: r.mb * 1e6,
    note: [
      r.what,
      ...(r.inner === undefined ? [] : [`in-process ${r.inner.toFixed(2)} s (wall includes Node start-up)`]),
      ...(r.rssMb === undefined ? [] : [`peak RSS ${r.rssMb.toFixed(0)} MB`]),
      ...(r.ratio === undefined ? [] : [`${r.ratio.toFixed(2)}x tar`]),
    ].join('; '),
  }));
}

async function child(tar: string, target: string, sync: boolean, threads: number): Promise<void> {
  const { importLayer } = await import('../src/layer/index.js');
  const t0 = process.hrtime.bigint();
  const r = await importLayer(tar, target, {
    sync,
    writerThreads: threads,
  });
  const inner = Number(process.hrtime.bigint() - t0) / 1e9;
  process.stdout.write(`${JSON.stringify({ inner, rss: peakRssKb(), entries: r.entries })}\n`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv[2] === '--child') {
    await child(process.argv[3]!, process.argv[4]!, process.argv[5] === 'true', Number(process.argv[6]));
  } else {
    const rows = await benchImport({ ...importOptionsFromEnv(), log: (m) => process.stderr.write(`[import] ${m}\n`) });
    process.stdout.write(`${formatRows(rows)}\n`);
    mkdirSync(join(ROOT, 'bench/out'), { recursive: true });
    writeFileSync(join(ROOT, 'bench/out/import.json'), `${JSON.stringify(rows, null, 2)}\n`);
  }
}

/**
 * This process's peak resident set (KiB) from /proc: `process.resourceUsage().maxRSS` survives exec on Linux, so a
 * child would report its parent's peak.
 */
function peakRssKb(): number {
  return Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0);
}
