/**
 * `npm run bench:compare -- OTHER_CHECKOUT`: the "same speed" check of a refactor. Runs the export and import rows of
 * the benchmark with two builds of the CLI — this checkout's and another's (e.g. a clone at the commit before the
 * change, built with `npm run build`) — taking turns, five times each, and prints each row's median wall time and
 * median user+system CPU time (the child's own, threads included) side by side with their ratios.
 *
 * CPU time is the stable number on a shared machine: wall time moves with everything else the host does, the work a
 * process asks of the CPU much less. Trees are the benchmark's (`bench/export.ts` `SHAPES`, scaled by `BENCH_SCALE`,
 * default 0.2), kept in `BENCH_DIR` between runs; `BENCH_ONLY` (`nanoserver` or `servercore`) measures one tree.
 * `BENCH_REPEAT` sets the runs per row (default 5).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildTree, SHAPES } from './export.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));

/** One run of a built CLI: wall seconds and user+system CPU seconds, from /usr/bin/time. */
interface Run {
  readonly wall: number;
  readonly cpu: number;
}

function runCli(checkout: string, args: readonly string[]): Run {
  const bin = join(checkout, 'bin/winlayer.js');
  const r = spawnSync('/usr/bin/time', ['-f', 'BENCH-TIME %e %U %S', process.execPath, bin, ...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')} failed: ${r.stderr}`);
  const m = /BENCH-TIME (\S+) (\S+) (\S+)/.exec(r.stderr);
  if (m === null) throw new Error(`/usr/bin/time printed no times: ${r.stderr}`);
  return { wall: Number(m[1]), cpu: Number(m[2]) + Number(m[3]) };
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
};

interface Case {
  readonly name: string;
  /** Runs the case once with the CLI of `checkout`. */
  run(checkout: string): Run;
}

function cases(trees: readonly { name: string; dir: string; tar: string }[], scratch: string): Case[] {
  const out: Case[] = [];
  let n = 0;
  for (const t of trees) {
    for (const [label, file] of [
      ['export', '/dev/null'],
      ['export --gzip', 'out.tar.gz'],
    ] as const) {
      out.push({
        name: `${t.name}: ${label}`,
        run: (checkout) => {
          const target = file === '/dev/null' ? file : join(scratch, `x-${n++}-${file}`);
          const r = runCli(checkout, ['export', t.dir, '--non-base', '-o', target, '--quiet']);
          if (target !== '/dev/null') rmSync(target, { force: true });
          return r;
        },
      });
    }
    out.push({
      name: `${t.name}: import (one sync)`,
      run: (checkout) => {
        const target = join(scratch, `import-${n++}`);
        const r = runCli(checkout, ['import', target, '-i', t.tar, '--quiet']);
        rmSync(target, { recursive: true, force: true });
        execFileSync('sync');
        return r;
      },
    });
  }
  return out;
}

function main(): void {
  const other = process.argv[2];
  if (other === undefined) throw new Error('usage: npm run bench:compare -- OTHER_CHECKOUT (a built clone)');
  const builds = { this: resolve(HERE, '..'), other: resolve(other) };
  for (const b of Object.values(builds)) {
    if (!existsSync(join(b, 'dist/bin/main.js'))) throw new Error(`${b}: run \`npm run build\` there first`);
  }
  const scale = Number(process.env.BENCH_SCALE ?? '0.2');
  const repeat = Math.max(1, Number(process.env.BENCH_REPEAT ?? '5'));
  const base = process.env.BENCH_DIR ?? join(tmpdir(), 'winlayer-bench');
  const scratch = mkdtempSync(join(tmpdir(), 'winlayer-bench-compare-'));
  try {
    const only = process.env.BENCH_ONLY;
    const trees = SHAPES.filter((shape) => only === undefined || shape.name === only).map((shape) => {
      const dir = join(base, `${shape.name}-${scale}`);
      process.stderr.write(`building the ${shape.name}-like tree (scale ${scale})\n`);
      buildTree(dir, shape, scale);
      const tar = join(scratch, `${shape.name}.tar`);
      runCli(builds.this, ['export', dir, '--non-base', '-o', tar, '--quiet']);
      return { name: shape.name, dir, tar };
    });
    const lines = [
      `| case | wall this (s) | wall other (s) | wall ratio | CPU this (s) | CPU other (s) | CPU ratio |`,
      '|---|---:|---:|---:|---:|---:|---:|',
    ];
    for (const c of cases(trees, scratch)) {
      const runs: Record<'this' | 'other', Run[]> = { this: [], other: [] };
      c.run(builds.this); // warm the page cache and the trees
      for (let i = 0; i < repeat; i++) {
        // Taking turns spreads the host's drift over both builds.
        for (const key of i % 2 === 0 ? (['this', 'other'] as const) : (['other', 'this'] as const)) {
          runs[key].push(c.run(builds[key]));
        }
      }
      const w = { this: median(runs.this.map((r) => r.wall)), other: median(runs.other.map((r) => r.wall)) };
      const u = { this: median(runs.this.map((r) => r.cpu)), other: median(runs.other.map((r) => r.cpu)) };
      const f = (x: number): string => x.toFixed(3);
      lines.push(
        `| ${c.name} | ${f(w.this)} | ${f(w.other)} | ${(w.this / w.other).toFixed(3)} | ${f(u.this)} | ${f(u.other)} | ${(u.this / u.other).toFixed(3)} |`,
      );
      process.stderr.write(`${lines.at(-1)}\n`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

main();
