/**
 * Benchmark part `hive`: write and read back a hive of 100,000 keys (at most 1,000 subkeys under any key) and 300,000
 * values, built from a `.reg` file; then the same `.reg` merged by hivex (`hivexregedit --merge`, Debian
 * libwin-hivex-perl) into an empty hive. Reports both times, the ratio and each side's peak memory (max RSS of a
 * child process, so the two are measured alike). BENCH_SCALE scales the key and value counts. Our side streams the
 * `.reg` file (`applyRegFile`: read, decode and apply a megabyte at a time), so its peak is the builder, the output
 * hive and, for the read-back, the hive file again — plus ~75 MB of Node + tsx before any work.
 *
 * Run alone: `BENCH_SCALE=0.01 node --import tsx bench/run.ts` with 'hive' in PARTS, or
 * `node --import tsx bench/hive.ts --worker <reg> <hive>` (what the part spawns for our side).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  applyRegFile,
  checkHive,
  createEmptyHive,
  createHiveBuilder,
  openHive,
  valueData,
  values,
  walkKeys,
  writeHive,
} from '../src/hive/index.js';
import type { BenchContext, BenchResult } from './run.js';

const PREFIX = 'HKEY_LOCAL_MACHINE\\SOFTWARE';

/** The `.reg` text: `top` keys under the root, each with up to 1,000 subkeys; 3 values per key. */
function makeReg(keys: number): { text: string; keys: number; values: number } {
  const perTop = Math.min(1000, Math.max(1, keys));
  const tops = Math.max(1, Math.ceil(keys / (perTop + 1)));
  const lines = ['Windows Registry Editor Version 5.00', ''];
  let k = 0;
  let v = 0;
  const addValues = (i: number) => {
    lines.push(`"Name"="value number ${i}"`, `"Count"=dword:${(i >>> 0).toString(16).padStart(8, '0')}`);
    lines.push(
      `"Blob"=hex:${Array.from({ length: 16 }, (_, j) => ((i + j) & 0xff).toString(16).padStart(2, '0')).join(',')}`,
      '',
    );
    v += 3;
  };
  for (let t = 0; t < tops && k < keys; t++) {
    lines.push(`[${PREFIX}\\Top${t}]`);
    addValues(k++);
    for (let s = 0; s < perTop && k < keys; s++) {
      lines.push(`[${PREFIX}\\Top${t}\\Key${s}]`);
      addValues(k++);
    }
  }
  return { text: `${lines.join('\r\n')}\r\n`, keys: k, values: v };
}

/** Runs a command under /usr/bin/time; returns seconds and max RSS (bytes). */
function timed(cmd: string, args: string[]): { seconds: number; maxRss: number; stdout: string } {
  const start = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', 'MAXRSS %M', cmd, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const m = /MAXRSS (\d+)/.exec(r.stderr);
  return { seconds, maxRss: Number(m?.[1] ?? 0) * 1024, stdout: r.stdout };
}

/** Our side, in a child process: .reg → hive file, then read every key and value back. Prints JSON timings. */
function worker(regPath: string, hivePath: string): void {
  const t0 = performance.now();
  // streaming: the file is read and decoded a megabyte at a time and each change applied as it is read; the builder
  // is garbage once the hive is written
  writeHive(hivePath, applyRegFile(createHiveBuilder(), regPath, { prefix: PREFIX }));
  const t1 = performance.now();
  const h = openHive(readFileSync(hivePath));
  let keys = 0;
  let vals = 0;
  for (const k of walkKeys(h)) {
    keys++;
    for (const v of values(k)) {
      valueData(v);
      vals++;
    }
  }
  const t2 = performance.now();
  process.stdout.write(`${JSON.stringify({ write: (t1 - t0) / 1000, read: (t2 - t1) / 1000, keys, values: vals })}\n`);
}

export async function run(ctx: BenchContext): Promise<BenchResult[]> {
  const want = Math.max(10, Math.round(100_000 * ctx.scale));
  const reg = makeReg(want);
  const regPath = join(ctx.tmp, 'content.reg');
  writeFileSync(regPath, reg.text); // UTF-8: what hivexregedit reads
  ctx.log(`${reg.keys} keys, ${reg.values} values, .reg ${(reg.text.length / 1e6).toFixed(1)} MB`);

  const oursHive = join(ctx.tmp, 'ours.hive');
  const self = fileURLToPath(import.meta.url);
  const o = timed(process.execPath, ['--import', 'tsx', self, '--worker', regPath, oursHive]);
  const parsed = JSON.parse(o.stdout.trim().split('\n').at(-1)!) as {
    write: number;
    read: number;
    keys: number;
    values: number;
  };
  if (parsed.keys !== reg.keys + 1 || parsed.values !== reg.values) {
    throw new Error(`read back ${parsed.keys} keys / ${parsed.values} values, wrote ${reg.keys + 1} / ${reg.values}`);
  }
  const check = checkHive(readFileSync(oursHive));
  if (check.errors.length > 0) throw new Error(`our hive does not check clean: ${check.errors[0]!.message}`);
  ctx.log(
    `winlayer: write ${parsed.write.toFixed(2)} s, read ${parsed.read.toFixed(2)} s, peak RSS ${(o.maxRss / 1e6).toFixed(0)} MB`,
  );

  const hivexHive = join(ctx.tmp, 'hivex.hive');
  writeFileSync(hivexHive, createEmptyHive());
  const x = timed('hivexregedit', ['--merge', '--prefix', PREFIX, hivexHive, regPath]);
  const xCheck = checkHive(readFileSync(hivexHive));
  const xKeys = xCheck.errors.length === 0 ? openHive(readFileSync(hivexHive)).keyCount : -1;
  ctx.log(`hivex: merge ${x.seconds.toFixed(2)} s, peak RSS ${(x.maxRss / 1e6).toFixed(0)} MB, ${xKeys} keys`);

  const deltaRows = registryChangeRows(ctx, regPath, reg);

  const entries = reg.keys + reg.values;
  const bytes = statSync(oursHive).size;
  const ratio = x.seconds / (parsed.write + parsed.read);
  return [
    {
      case: `.reg → hive (${reg.keys} keys, ${reg.values} values)`,
      tool: 'winlayer',
      seconds: parsed.write,
      entries,
      bytes,
      note: `peak RSS ${(o.maxRss / 1e6).toFixed(0)} MB (whole process, write + read)`,
    },
    { case: 'read back every key and value', tool: 'winlayer', seconds: parsed.read, entries, bytes },
    {
      case: `.reg merged into an empty hive (${reg.keys} keys, ${reg.values} values)`,
      tool: 'hivexregedit --merge',
      seconds: x.seconds,
      entries,
      bytes: statSync(hivexHive).size,
      note: `peak RSS ${(x.maxRss / 1e6).toFixed(0)} MB; hivex/winlayer time ratio ${ratio.toFixed(1)}×; result ${xCheck.errors.length === 0 ? 'checks clean' : `has ${xCheck.errors.length} check errors`}`,
    },
    ...deltaRows,
  ];
}

/**
 * Issue 19's rows: `hive delta` of the same `.reg` as a change set (no base), then `hive apply` of that delta onto a
 * base hive of 30 % as many keys (about 12 MB at full scale, partly the same key names: merges as well as new keys).
 * The built CLI (`npm run build`) when there is one, as users run it; else the sources through tsx (start-up
 * included either way).
 */
function registryChangeRows(ctx: BenchContext, regPath: string, reg: { keys: number; values: number }): BenchResult[] {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const built = join(root, 'bin/winlayer.js');
  const cli = existsSync(join(root, 'dist/bin/main.js'))
    ? (args: string[]) => timed(process.execPath, [built, ...args])
    : (args: string[]) => timed(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args]);
  const basePath = join(ctx.tmp, 'base.reg');
  const base = makeReg(Math.max(10, Math.round(reg.keys * 0.3)));
  writeFileSync(basePath, base.text);
  const baseHive = join(ctx.tmp, 'base.hive');
  cli(['hive', 'new', baseHive, '--reg', basePath]);
  const deltaHive = join(ctx.tmp, 'software.delta');
  const d = cli(['hive', 'delta', '-o', deltaHive, '--reg', regPath, '--hive', 'software']);
  const merged = join(ctx.tmp, 'merged.hive');
  const a = cli(['hive', 'apply', baseHive, deltaHive, '-o', merged]);
  if (checkHive(readFileSync(merged)).errors.length > 0) throw new Error('the merged hive does not check clean');
  const mb = (n: number): string => (n / 1e6).toFixed(0);
  ctx.log(`hive delta ${d.seconds.toFixed(2)} s, hive apply ${a.seconds.toFixed(2)} s`);
  return [
    {
      case: `hive delta: .reg → differencing hive (${reg.keys} keys, ${reg.values} values)`,
      tool: 'winlayer',
      seconds: d.seconds,
      entries: reg.keys + reg.values,
      bytes: statSync(deltaHive).size,
      note: `peak RSS ${mb(d.maxRss)} MB; issue 19 target < 2 s and 300 MB at full scale`,
    },
    {
      case: `hive apply: that delta onto a ${mb(statSync(baseHive).size)} MB base`,
      tool: 'winlayer',
      seconds: a.seconds,
      entries: reg.keys + reg.values,
      bytes: statSync(merged).size,
      note: `peak RSS ${mb(a.maxRss)} MB; issue 19 target < 2 s at full scale (12 MB base)`,
    },
  ];
}

if (process.argv[2] === '--worker') worker(process.argv[3]!, process.argv[4]!);
