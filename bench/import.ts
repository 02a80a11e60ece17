/**
 * Benchmark: `winlayer import` against GNU tar's extraction of the same tar, on the export benchmark's trees
 * (`bench/export.ts`: nanoserver-like ~7,000 files / 300 MB with UtilityVM hard links, servercore-like ~100,000 files /
 * 2.2 GB). Each tree is exported once by winlayer (the canonical layer tar), then, in the same run:
 *
 * - `tar -xf layer.tar` into an empty folder, and the same followed by `sync -f` (GNU tar never syncs);
 * - `winlayer import` (one filesystem sync at the end, as shipped) and with `sync: false` (the same work as `tar -xf`);
 * - `winlayer import` with `background: true` (filesystem calls on a worker thread; pays off only with an idle core).
 *
 * Our import runs in a child process that reports its own time and peak RSS (VmHWM of /proc/self/status: getrusage's maxRSS survives exec and would report the parent's peak); the
 * wall time measured by the parent includes Node's start-up. It runs the compiled library (`dist/`, run `npm run build`
 * first) when there is one, else the sources through tsx (slower start-up). Targets: within 1.0× of `tar -xf`, peak
 * RSS < 150 MB.
 *
 * Environment: `BENCH_SCALE` (default 1; 0.01 to check that it runs), `BENCH_DIR` (where trees and tars are built;
 * default `$TMPDIR/winlayer-bench`), `BENCH_ONLY` (`nanoserver` or `servercore`), `BENCH_REPEAT` (best of N).
 * Run: `node --import tsx bench/import.ts`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type BenchExportOptions,
  type BenchRow,
  benchOptionsFromEnv,
  buildTree,
  formatRows,
  SHAPES,
} from './export.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..');

function seconds(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function best<T extends { wall: number }>(n: number, fn: () => T): T {
  let b: T | undefined;
  for (let i = 0; i < n; i++) {
    const r = fn();
    if (b === undefined || r.wall < b.wall) b = r;
  }
  return b!;
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
    const [tar, target, sync, background] = process.argv.slice(-4);
    const t0 = process.hrtime.bigint();
    const r = await importLayer(tar, target, { sync: sync === 'true', background: background === 'true' });
    const inner = Number(process.hrtime.bigint() - t0) / 1e9;
    process.stdout.write(JSON.stringify({ inner, rss: peakRssKb(), entries: r.entries }) + '\\n');
  `;
}

/** Runs our import in a child process; returns its wall time, inner time and peak RSS. */
function ours(
  tar: string,
  target: string,
  sync: boolean,
  background = false,
): { wall: number; inner: number; rssMb: number } {
  rmSync(target, { recursive: true, force: true });
  let out = '';
  const wall = seconds(() => {
    const args = [tar, target, String(sync), String(background)];
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
  rmSync(target, { recursive: true, force: true });
  const j = JSON.parse(out) as { inner: number; rss: number };
  return { wall, inner: j.inner, rssMb: j.rss / 1024 };
}

/** GNU tar extracting into an empty folder (optionally followed by one `sync -f`). */
function gnu(tar: string, target: string, sync: boolean): { wall: number } {
  rmSync(target, { recursive: true, force: true });
  mkdirSync(target);
  const wall = seconds(() => {
    execFileSync('tar', ['--warning=no-unknown-keyword', '-xf', tar, '-C', target], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    if (sync) execFileSync('sync', ['-f', target]);
  });
  rmSync(target, { recursive: true, force: true });
  return { wall };
}

/** Runs the import benchmark and returns its rows (options as the export benchmark's; trees are shared with it). */
export async function benchImport(opts: BenchExportOptions = benchOptionsFromEnv()): Promise<BenchRow[]> {
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
    if (!existsSync(tar)) await exportLayer(dir, { output: tar });
    const target = join(base, `${shape.name}-${scale}-import`);
    const common = { tree: shape.name, files: info.files, mb: Math.round(info.bytes / 1e6) };
    opts.log?.(
      `measuring ${shape.name}: ${info.files} files, ${common.mb} MB (winlayer: ${COMPILED ?? 'sources via tsx'})`,
    );
    execFileSync('sh', ['-c', `cat '${tar}' > /dev/null`]); // warm the page cache
    const plain = best(repeat, () => gnu(tar, target, false));
    const synced = best(repeat, () => gnu(tar, target, true));
    const mine = best(repeat, () => ours(tar, target, true));
    const mineNoSync = best(repeat, () => ours(tar, target, false));
    const mineThread = best(repeat, () => ours(tar, target, false, true));
    rows.push({ ...common, what: 'tar -xf', ...plain });
    rows.push({ ...common, what: 'tar -xf; sync -f', ...synced });
    rows.push({ ...common, what: 'winlayer import (one sync)', ...mine, ratio: mine.wall / synced.wall });
    rows.push({ ...common, what: 'winlayer import (no sync)', ...mineNoSync, ratio: mineNoSync.wall / plain.wall });
    rows.push({
      ...common,
      what: 'winlayer import (no sync, background writer)',
      ...mineThread,
      ratio: mineThread.wall / plain.wall,
    });
  }
  return rows;
}

/** The `bench/run.ts` part: the rows above as `BenchResult`s. */
export async function run(ctx: {
  readonly scale: number;
  readonly tmp: string;
  log(message: string): void;
}): Promise<{ case: string; tool: string; seconds: number; entries?: number; bytes?: number; note?: string }[]> {
  const rows = await benchImport({ scale: ctx.scale, dir: ctx.tmp, log: (m) => ctx.log(m) });
  return rows.map((r) => ({
    case: `import ${r.tree}-like`,
    tool: r.what.startsWith('winlayer') ? 'winlayer' : 'GNU tar',
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

async function child(tar: string, target: string, sync: boolean, background: boolean): Promise<void> {
  const { importLayer } = await import('../src/layer/index.js');
  const t0 = process.hrtime.bigint();
  const r = await importLayer(tar, target, { sync, background });
  const inner = Number(process.hrtime.bigint() - t0) / 1e9;
  process.stdout.write(`${JSON.stringify({ inner, rss: peakRssKb(), entries: r.entries })}\n`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv[2] === '--child') {
    await child(process.argv[3]!, process.argv[4]!, process.argv[5] === 'true', process.argv[6] === 'true');
  } else {
    const rows = await benchImport({ ...benchOptionsFromEnv(), log: (m) => process.stderr.write(`[import] ${m}\n`) });
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
