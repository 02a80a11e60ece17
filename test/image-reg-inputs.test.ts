/**
 * Issue 19 §1: one way to name a `.reg` input. `--reg FILE` (repeatable, applied in order) on `hive new` and
 * `hive merge` as on `hive delta` and `image append|create`; `hive new --from` and `hive merge`'s positional
 * `.reg` stay as aliases for one release and give the same bytes.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { asDword, asString, findKey, openHive, value } from '../src/hive/index.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tools.js';

const HEAD = 'Windows Registry Editor Version 5.00\n\n';

function regs(dir: string): [string, string] {
  const a = join(dir, 'a.reg');
  const b = join(dir, 'b.reg');
  writeFileSync(a, `${HEAD}[HKEY_LOCAL_MACHINE\\SOFTWARE\\App]\n"Mode"="slow"\n"Keep"=dword:00000001\n`);
  writeFileSync(b, `${HEAD}[HKEY_LOCAL_MACHINE\\SOFTWARE\\App]\n"Mode"="fast"\n`);
  return [a, b];
}

test('hive new --reg, repeated: the files applied in order; --from is an alias giving the same bytes', async (t) => {
  const dir = tempDir(t);
  const [a, b] = regs(dir);
  const both = join(dir, 'both.hive');
  const r = await runCli(['hive', 'new', both, '--reg', a, '--reg', b]);
  assert.equal(r.code, 0, r.stderr);
  const app = findKey(openHive(readFileSync(both)), 'App')!;
  assert.equal(asString(value(app, 'Mode')!), 'fast', 'the later file wins');
  assert.equal(asDword(value(app, 'Keep')!), 1);
  await runCli(['hive', 'new', join(dir, 'reg.hive'), '--reg', a]);
  await runCli(['hive', 'new', join(dir, 'from.hive'), '--from', a]);
  assert.deepEqual(readFileSync(join(dir, 'reg.hive')), readFileSync(join(dir, 'from.hive')));
  const help = await runCli(['hive', 'new', '--help']);
  assert.match(help.stdout, /alias, kept for one release/);
});

test('hive merge --reg, repeated: all applied in one rewrite; the positional form is an alias', async (t) => {
  const dir = tempDir(t);
  const [a, b] = regs(dir);
  for (const name of ['x.hive', 'y.hive']) assert.equal((await runCli(['hive', 'new', join(dir, name)])).code, 0);
  const r = await runCli(['hive', 'merge', join(dir, 'x.hive'), '--reg', a, '--reg', b]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /merged .*a\.reg, .*b\.reg into/);
  const app = findKey(openHive(readFileSync(join(dir, 'x.hive'))), 'App')!;
  assert.equal(asString(value(app, 'Mode')!), 'fast');
  assert.equal(asDword(value(app, 'Keep')!), 1);
  // positional alias, twice, gives the same hive
  assert.equal((await runCli(['hive', 'merge', join(dir, 'y.hive'), a])).code, 0);
  assert.equal((await runCli(['hive', 'merge', join(dir, 'y.hive'), b])).code, 0);
  assert.deepEqual(readFileSync(join(dir, 'x.hive')), readFileSync(join(dir, 'y.hive')));
  // a bad second file leaves the hive as it was: all or nothing
  const before = readFileSync(join(dir, 'x.hive'));
  const bad = join(dir, 'bad.reg');
  writeFileSync(bad, `${HEAD}[HKEY_LOCAL_MACHINE\\SOFTWARE\\App\n`);
  const failed = await runCli(['hive', 'merge', join(dir, 'x.hive'), '--reg', a, '--reg', bad]);
  assert.notEqual(failed.code, 0);
  assert.deepEqual(readFileSync(join(dir, 'x.hive')), before);
  const usage = await runCli(['hive', 'merge', join(dir, 'x.hive')]);
  assert.equal(usage.code, 2);
  const help = await runCli(['hive', 'merge', '--help']);
  assert.match(help.stdout, /alias, kept for one release/);
});
