/**
 * `npm run bench`: runs every benchmark part listed in PARTS (each `bench/<part>.ts` exports `run(ctx)`), then prints
 * one markdown table of all results (paste it into docs/benchmarks.md with the machine and date).
 *
 * Environment: BENCH_SCALE (default 1) scales every data size (0.05 for a quick check); BENCH_PARTS=a,b runs only
 * those parts. Scratch data goes to a temporary folder that is removed at the end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';

/** The benchmark parts, in order. Add yours here (a file `bench/<name>.ts` exporting `run`). */
const PARTS: readonly string[] = ['tar', 'hive', 'export', 'import'];

/** What a part gets. */
export interface BenchContext {
  /** Multiplies data sizes (1 = the full benchmark). */
  readonly scale: number;
  /** A scratch folder for this part (removed afterwards). */
  readonly tmp: string;
  /** Progress to stderr. */
  log(message: string): void;
}

/** One row of the results table. */
export interface BenchResult {
  /** What was measured, e.g. `pack 50,000 small files`. */
  readonly case: string;
  /** Who did it: `winlayer`, `GNU tar`, … */
  readonly tool: string;
  readonly seconds: number;
  readonly entries?: number;
  /** Bytes of content (uncompressed tar bytes for tar cases). */
  readonly bytes?: number;
  readonly note?: string;
}

export interface BenchPart {
  run(ctx: BenchContext): Promise<BenchResult[]>;
}

/** Times an async function (wall clock, seconds). */
export async function time<T>(fn: () => Promise<T> | T): Promise<{ seconds: number; value: T }> {
  const start = process.hrtime.bigint();
  const value = await fn();
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, value };
}

function fmt(n: number, digits = 1): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function table(rows: readonly (BenchResult & { part: string })[]): string {
  const lines = ['| part | case | tool | time (s) | entries/s | MB/s | note |', '|---|---|---|---:|---:|---:|---|'];
  for (const r of rows) {
    const eps = r.entries === undefined ? '' : fmt(r.entries / r.seconds, 0);
    const mbs = r.bytes === undefined ? '' : fmt(r.bytes / 1e6 / r.seconds);
    const cell = (t: string): string => t.replace(/\|/g, '\\|');
    lines.push(
      `| ${cell(r.part)} | ${cell(r.case)} | ${cell(r.tool)} | ${fmt(r.seconds, 3)} | ${eps} | ${mbs} | ${cell(r.note ?? '')} |`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const scale = Number(process.env.BENCH_SCALE ?? '1');
  if (!(scale > 0)) throw new Error(`BENCH_SCALE must be a positive number, got ${process.env.BENCH_SCALE}`);
  const only = process.env.BENCH_PARTS?.split(',').filter((s) => s !== '');
  const rows: (BenchResult & { part: string })[] = [];
  for (const part of PARTS) {
    if (only !== undefined && !only.includes(part)) continue;
    const mod = (await import(`./${part}.ts`)) as Partial<BenchPart>;
    if (typeof mod.run !== 'function') throw new Error(`bench/${part}.ts does not export run(ctx)`);
    const tmp = mkdtempSync(join(tmpdir(), `winlayer-bench-${part}-`));
    try {
      const results = await mod.run({ scale, tmp, log: (m) => process.stderr.write(`[${part}] ${m}\n`) });
      for (const r of results) rows.push({ ...r, part });
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  process.stdout.write(
    `Machine: ${cpu}, ${cpus().length} cores, ${fmt(totalmem() / 2 ** 30)} GiB RAM; Node ${process.version}; ` +
      `${new Date().toISOString().slice(0, 10)}; BENCH_SCALE=${scale}\n\n${table(rows)}\n`,
  );
}

if (import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main().catch((e: unknown) => {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  });
}
