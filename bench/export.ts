/**
 * Benchmark: `winlayer export` against GNU tar on synthetic trees shaped like Microsoft's base layers.
 *
 * - nanoserver-like: about 7,000 files and 300 MB; a third of the `UtilityVM/Files` files are hard links into `Files`.
 * - servercore-like: about 100,000 files and at least 2 GB, mostly small files and some large ones.
 *
 * Rows: uncompressed export (including the sha256 diff_id) beside `tar --format=pax -cf - … | cat >/dev/null` (and
 * `| sha256sum`, the same work as ours); `--gzip` beside `tar | gzip -6`; `--zstd` beside `tar | zstd -3`; and two floor
 * rows (a Node process that does nothing; one sha256 stream over the tar's bytes). Ours is the built CLI
 * (`bin/winlayer.js`; run `npm run build` first) in a child process that reports its peak RSS (VmHWM of
 * /proc/self/status: getrusage's maxRSS survives exec and would report the parent's peak); the wall time measured by
 * the parent includes Node's start-up, as a user's does.
 *
 * Environment: `BENCH_SCALE` (default 1; 0.01 to check that it runs), `BENCH_DIR` (where trees are built and kept
 * between runs; default `$TMPDIR/winlayer-bench`), `BENCH_ONLY` (`nanoserver` or `servercore`), `BENCH_REPEAT`
 * (default 1: the best of N runs is kept). Run: `node --import tsx bench/export.ts`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, linkSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One benchmark tree. */
export interface TreeShape {
  readonly name: 'nanoserver' | 'servercore';
  readonly files: number;
  readonly bytes: number;
  /** Share of files under `UtilityVM/Files`. */
  readonly uvmShare: number;
  /** Share of the UtilityVM files that are hard links into `Files`. */
  readonly linkedShare: number;
}

/** Full-size shapes; `BENCH_SCALE` multiplies files and bytes. */
export const SHAPES: readonly TreeShape[] = [
  { name: 'nanoserver', files: 7_000, bytes: 300e6, uvmShare: 0.33, linkedShare: 1 / 3 },
  { name: 'servercore', files: 100_000, bytes: 2.2e9, uvmShare: 0.2, linkedShare: 1 / 3 },
];

/** One measured row. */
export interface BenchRow {
  readonly tree: string;
  readonly files: number;
  readonly mb: number;
  readonly what: string;
  /** Wall seconds as seen by the parent (includes process start-up). */
  readonly wall: number;
  /** Seconds inside the export call (ours only). */
  readonly inner?: number;
  /** Peak RSS in MB (ours only). */
  readonly rssMb?: number;
  /** Ratio of our wall time to the tar row it is compared with. */
  readonly ratio?: number;
  /** Ratio of our in-process time (without Node's start-up) to the same tar row. */
  readonly innerRatio?: number;
}

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..');

/** A small deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Builds (or reuses) a tree: folders ~40 entries wide, file sizes log-normal-ish (most under 64 KiB, a few tens of
 * MB) scaled to the byte target, contents half random and half repetitive (DLL-like compressibility).
 */
export function buildTree(root: string, shape: TreeShape, scale: number): { files: number; bytes: number } {
  const files = Math.max(60, Math.round(shape.files * scale));
  const target = Math.max(1e6, shape.bytes * scale);
  // Beside the tree, not in it: export refuses anything in a layer folder that is not part of a layer.
  const marker = `${root}.bench-tree.json`;
  const infoFile = `${root}.bench-info.json`;
  const want = JSON.stringify({ shape, scale, v: 1 });
  if (existsSync(marker) && readFileSync(marker, 'utf8') === want) {
    const info = JSON.parse(readFileSync(infoFile, 'utf8')) as { files: number; bytes: number };
    return info;
  }
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  const rand = rng(shape.files);
  // Sizes: exp of a normal-ish variable; the heavy tail gives "some large files".
  const raw: number[] = [];
  for (let i = 0; i < files; i++) {
    const g = rand() + rand() + rand() + rand() - 2; // ~N(0, 0.58)
    raw.push(Math.exp(9 + 3.2 * g));
  }
  const sum = raw.reduce((a, b) => a + b, 0);
  const sizes = raw.map((s) => Math.floor((s * target) / sum));
  const pool = Buffer.alloc(8 << 20);
  for (let i = 0; i < pool.length / 2; i++) pool[i] = (rand() * 256) | 0;
  const text = Buffer.from('This program cannot be run in DOS mode.\0\0\0\0PE\0\0L\u0001\u0006\0');
  for (let i = pool.length / 2; i < pool.length; i++) pool[i] = text[i % text.length]!;

  const uvmFiles = Math.round(files * shape.uvmShare);
  const filesTree = files - uvmFiles;
  const paths: string[] = [];
  const dirOf = (tree: string, i: number): string => {
    const a = i % 37;
    const b = Math.floor(i / 37) % 23;
    return `${tree}/Windows/${a < 5 ? 'System32' : `Dir${a}`}/${b === 0 ? 'en-US' : `Sub${b}`}`;
  };
  let bytes = 0;
  const write = (path: string, size: number): void => {
    const host = join(root, path);
    mkdirSync(dirname(host), { recursive: true });
    const fd = openSync(host, 'w');
    let left = size;
    let off = Math.floor(rand() * (pool.length / 2));
    while (left > 0) {
      const n = Math.min(left, pool.length - off);
      writeFileSyncFd(fd, pool.subarray(off, off + n));
      left -= n;
      off = 0;
    }
    closeSync(fd);
    bytes += size;
  };
  for (let i = 0; i < filesTree; i++) {
    const p = `${dirOf('Files', i)}/file${i}.dll`;
    write(p, sizes[i]!);
    paths.push(p);
  }
  const linked = Math.round(uvmFiles * shape.linkedShare);
  for (let j = 0; j < uvmFiles; j++) {
    const p = `${dirOf('UtilityVM/Files', j)}/uvm${j}.dll`;
    if (j < linked && paths.length > 0) {
      const src = paths[(j * 7919) % paths.length]!;
      mkdirSync(dirname(join(root, p)), { recursive: true });
      linkSync(join(root, src), join(root, p));
    } else {
      write(p, sizes[filesTree + j]!);
    }
  }
  mkdirSync(join(root, 'UtilityVM/Files/EFI/Microsoft/Boot'), { recursive: true });
  writeFileSync(infoFile, JSON.stringify({ files, bytes }));
  writeFileSync(marker, want);
  return { files, bytes };
}

function writeFileSyncFd(fd: number, data: Uint8Array): void {
  writeFileSync(fd, data);
}

function seconds(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function sh(script: string, cwd: string): void {
  execFileSync('sh', ['-c', script], { cwd, stdio: ['ignore', 'ignore', 'inherit'] });
}

/**
 * The child: the CLI exactly as users run it (`bin/winlayer.js`, the bundle `npm run build` writes), with an exit hook
 * that reports the process's peak RSS on stderr. Its wall time, measured by the parent, includes Node's start-up.
 */
const CHILD_JS = `
import { readFileSync, writeSync } from 'node:fs';
const [bin, ...args] = process.argv.slice(1);
process.on('exit', () => {
  const kb = Number(/VmHWM:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
  writeSync(2, '\\nBENCH-RSS-KB ' + kb + '\\n');
});
process.argv = [process.argv[0], bin, ...args];
await import(bin);
`;

const BIN = join(ROOT, 'bin/winlayer.js');

/**
 * Runs the built CLI (`bin/winlayer.js ARGS`) in a child process as a user does; returns its wall time (Node's start-up
 * included) and peak RSS (reported by the child's exit hook, {@link CHILD_JS}).
 */
export function runBuiltCli(args: readonly string[]): { wall: number; rssMb: number } {
  if (!existsSync(join(ROOT, 'dist/bin/main.js')))
    throw new Error('run `npm run build` first: the benchmark runs the built CLI');
  let err = '';
  const wall = seconds(() => {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', CHILD_JS, BIN, ...args], {
      cwd: ROOT,
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    });
    if (r.status !== 0) throw new Error(`winlayer ${args[0]} failed: ${r.stderr}`);
    err = r.stderr;
  });
  const kb = /BENCH-RSS-KB (\d+)/.exec(err)?.[1];
  if (kb === undefined) throw new Error(`the ${args[0]} child reported no peak RSS: ${err}`);
  return { wall, rssMb: Number(kb) / 1024 };
}

/** Runs `winlayer export` in a child process; returns its wall time and peak RSS. */
function ours(dir: string, compression: string): { wall: number; rssMb: number } {
  const flags = compression === 'gzip' ? ['--gzip'] : compression === 'zstd' ? ['--zstd'] : [];
  // The generated trees have no registry hives: --non-base (a base layer without them is refused); the same work.
  return runBuiltCli(['export', dir, '--non-base', '-o', '/dev/null', '--quiet', ...flags]);
}

/** Wall time of a Node process that does nothing. */
function nodeStartup(): { wall: number } {
  return { wall: seconds(() => execFileSync(process.execPath, ['-e', '0'])) };
}

/**
 * Wall time of `bench/floors/export.mjs` on `dir`: the least a Node program does to write the tar and its sha256 (walk,
 * read, headers, a hashing thread; no PAX records, no checks), start-up included.
 */
function minimalExport(dir: string): { wall: number } {
  const script = join(HERE, 'floors', 'export.mjs');
  return { wall: seconds(() => execFileSync(process.execPath, [script, dir, '/dev/null'], { stdio: 'ignore' })) };
}

/** Wall time of one sha256 over `bytes` bytes fed in 1 MiB chunks, in this process (no start-up, no I/O). */
function sha256Floor(bytes: number): { wall: number } {
  const chunk = Buffer.alloc(1 << 20, 0x5a);
  return {
    wall: seconds(() => {
      const h = createHash('sha256');
      for (let left = bytes; left > 0; left -= chunk.length)
        h.update(left >= chunk.length ? chunk : chunk.subarray(0, left));
      h.digest();
    }),
  };
}

function best<T extends { wall: number }>(n: number, fn: () => T): T {
  let b: T | undefined;
  for (let i = 0; i < n; i++) {
    const r = fn();
    if (b === undefined || r.wall < b.wall) b = r;
  }
  return b!;
}

/** Options of {@link benchExport} (the environment variables of the module comment). */
export interface BenchExportOptions {
  readonly scale: number;
  readonly repeat?: number;
  /** Where trees are built (and kept, keyed by shape and scale). */
  readonly dir: string;
  readonly only?: string;
  readonly log?: (message: string) => void;
}

/** Reads the options from the environment. */
export function benchOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): BenchExportOptions {
  return {
    scale: Number(env.BENCH_SCALE ?? '1'),
    repeat: Math.max(1, Number(env.BENCH_REPEAT ?? '1')),
    dir: env.BENCH_DIR ?? join(tmpdir(), 'winlayer-bench'),
    ...(env.BENCH_ONLY === undefined ? {} : { only: env.BENCH_ONLY }),
  };
}

/** Runs the export benchmark and returns its rows. */
export function benchExport(opts: BenchExportOptions = benchOptionsFromEnv()): BenchRow[] {
  const { scale, dir: base } = opts;
  const repeat = opts.repeat ?? 1;
  const rows: BenchRow[] = [];
  for (const shape of SHAPES) {
    if (opts.only !== undefined && opts.only !== shape.name) continue;
    opts.log?.(`building the ${shape.name}-like tree (scale ${scale})`);
    const dir = join(base, `${shape.name}-${scale}`);
    const info = buildTree(dir, shape, scale);
    const common = { tree: shape.name, files: info.files, mb: Math.round(info.bytes / 1e6) };
    opts.log?.(`measuring ${shape.name}: ${info.files} files, ${Math.round(info.bytes / 1e6)} MB`);
    const tar = 'tar --format=pax -cf - Files UtilityVM';
    sh(`${tar} > /dev/null`, dir); // warm the page cache
    const plain = best(repeat, () => ({ wall: seconds(() => sh(`${tar} | cat > /dev/null`, dir)) }));
    const hashed = best(repeat, () => ({ wall: seconds(() => sh(`${tar} | sha256sum > /dev/null`, dir)) }));
    const u = best(repeat, () => ours(dir, 'none'));
    rows.push({ ...common, what: 'tar --format=pax | cat', ...plain });
    rows.push({ ...common, what: 'tar --format=pax | sha256sum', ...hashed });
    // The floor under our uncompressed row: a Node process that does nothing, and one sha256 stream over as many bytes
    // as the tar holds (a digest cannot be split across cores).
    rows.push({ ...common, what: 'floor: Node start-up (node -e 0)', ...best(repeat, nodeStartup) });
    rows.push({
      ...common,
      what: 'floor: sha256 of the tar bytes (Node, one stream)',
      ...best(repeat, () => sha256Floor(info.bytes)),
    });
    rows.push({
      ...common,
      what: 'floor: minimal Node export (walk, read, sha256 thread; no PAX, no checks)',
      ...best(repeat, () => minimalExport(dir)),
    });
    rows.push({
      ...common,
      what: 'winlayer export (with sha256)',
      ...u,
      ratio: u.wall / plain.wall,
    });
    // gzip rows take tens of seconds: one run each (a long run averages out the machine's noise).
    const gz = { wall: seconds(() => sh(`${tar} | gzip -6 > /dev/null`, dir)) };
    const ug = ours(dir, 'gzip');
    rows.push({ ...common, what: 'tar | gzip -6', ...gz });
    rows.push({
      ...common,
      what: 'winlayer export --gzip',
      ...ug,
      ratio: ug.wall / gz.wall,
    });
    const zs = best(repeat, () => ({ wall: seconds(() => sh(`${tar} | zstd -3 -q -c > /dev/null`, dir)) }));
    const uz = best(repeat, () => ours(dir, 'zstd'));
    rows.push({ ...common, what: 'tar | zstd -3', ...zs });
    rows.push({
      ...common,
      what: 'winlayer export --zstd',
      ...uz,
      ratio: uz.wall / zs.wall,
    });
  }
  return rows;
}

/** The rows as a Markdown table (what `docs/benchmarks.md` records). */
export function formatRows(rows: readonly BenchRow[]): string {
  const head =
    '| tree | files | MB | command | wall s | in-process s | peak RSS MB | vs tar | in-process vs tar |\n' +
    '|---|---:|---:|---|---:|---:|---:|---:|---:|';
  const f = (n: number | undefined, d: number) => (n === undefined ? '' : n.toFixed(d));
  const x = (n: number | undefined) => (n === undefined ? '' : `${n.toFixed(2)}x`);
  return [
    head,
    ...rows.map(
      (r) =>
        `| ${r.tree} | ${r.files} | ${r.mb} | ${r.what} | ${f(r.wall, 2)} | ${f(r.inner, 2)} | ${f(r.rssMb, 0)} | ${x(r.ratio)} | ${x(r.innerRatio)} |`,
    ),
  ].join('\n');
}

/** The `npm run bench` part (`bench/run.ts`): the same rows as `BenchResult`s. */
export async function run(ctx: {
  readonly scale: number;
  readonly tmp: string;
  log(message: string): void;
}): Promise<{ case: string; tool: string; seconds: number; entries?: number; bytes?: number; note?: string }[]> {
  // Best of 3 by default: this kind of shared VM has runs that take twice as long for no reason of ours.
  const repeat = Math.max(1, Number(process.env.BENCH_REPEAT ?? '3'));
  const rows = benchExport({ scale: ctx.scale, dir: ctx.tmp, repeat, log: (m) => ctx.log(m) });
  return rows.map((r) => {
    const mode = r.what.startsWith('floor')
      ? 'floor'
      : r.what.includes('gzip')
        ? 'gzip'
        : r.what.includes('zstd')
          ? 'zstd'
          : 'uncompressed';
    const notes = [
      r.what,
      ...(r.inner === undefined ? [] : [`in-process ${r.inner.toFixed(2)} s (wall includes Node start-up)`]),
      ...(r.rssMb === undefined ? [] : [`peak RSS ${r.rssMb.toFixed(0)} MB`]),
      ...(r.ratio === undefined ? [] : [`${r.ratio.toFixed(2)}x tar`]),
      ...(r.innerRatio === undefined ? [] : [`${r.innerRatio.toFixed(2)}x tar in-process`]),
    ];
    return {
      case: `export ${r.tree}-like ${mode}`,
      tool: r.what.startsWith('winlayer') ? 'winlayer' : r.what.startsWith('floor') ? 'Node' : 'GNU tar',
      seconds: r.wall,
      entries: r.files,
      bytes: r.mb * 1e6,
      note: notes.join('; '),
    };
  });
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const rows = benchExport({ ...benchOptionsFromEnv(), log: (m) => process.stderr.write(`[export] ${m}\n`) });
  process.stdout.write(`${formatRows(rows)}\n`);
  mkdirSync(join(ROOT, 'bench/out'), { recursive: true });
  writeFileSync(join(ROOT, 'bench/out/export.json'), `${JSON.stringify(rows, null, 2)}\n`);
}
