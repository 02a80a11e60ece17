/**
 * Issue 19 §2–§4 from the command line: `winlayer hive delta` writes a differencing hive from `.reg` files; reglookup
 * (a reader we did not write) reads it and prints every key and value of the change set; `hive check` passes it; and
 * `delta → hive dump --reg → delta` gives the same hive, byte for byte, with a base and without.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildHive, createHiveBuilder } from '../src/hive/index.js';
import { runCli } from './helpers/cli.js';
import { decodeHive } from './helpers/regf-decoder.js';
import { requireTool, run, tempDir } from './helpers/tools.js';

const HEAD = 'Windows Registry Editor Version 5.00\r\n\r\n';
const CCS = 'HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet';

/** Changes of every kind: values of several types set and deleted, keys updated, deleted, replaced and new. */
const CHANGES =
  `${HEAD}[${CCS}\\Services\\Foo]\r\n"Start"=dword:00000003\r\n"Gone"=-\r\n"s"="hello"\r\n"b"=hex:01,02\r\n` +
  '"m"=hex(7):61,00,00,00,62,00,00,00,00,00\r\n"q"=hex(b):01,00,00,00,00,00,00,00\r\n@="d"\r\n\r\n' +
  `[-${CCS}\\Old]\r\n\r\n[-${CCS}\\Re]\r\n\r\n[${CCS}\\Re\\Sub]\r\n"x"=dword:00000001\r\n`;

/** A SYSTEM hive selecting ControlSet002 that holds some of the keys the changes name. */
function baseSystem(): Uint8Array {
  const b = createHiveBuilder();
  b.key('Select').setDword('Current', 2);
  const s = b.key('ControlSet002\\Services').setSecurity('O:BAG:SYD:(A;CI;KA;;;SY)(A;CI;KR;;;BU)');
  s.subkey('Foo').setSecurity('O:SYG:SYD:(A;;KA;;;SY)').setDword('Gone', 1);
  b.key('ControlSet002\\Old').setDword('v', 1);
  return buildHive(b);
}

/** The keys of a hive with their layered-key byte, access bits, descriptor and values, from our test's decoder. */
function layout(bytes: Uint8Array): unknown[] {
  return [...decodeHive(bytes).values()].map((k) => [
    k.path,
    k.flags,
    k.access,
    k.sd,
    k.values.map((v) => [v.name, v.type, v.flags, v.data]),
  ]);
}

describe('winlayer hive delta (issue 19 §2–§4)', () => {
  it('writes the delta, says where CurrentControlSet went, and the delta passes hive check', async (t) => {
    const dir = tempDir(t);
    writeFileSync(join(dir, 'c.reg'), CHANGES);
    const out = join(dir, 'System_Delta');
    const r = await runCli(['hive', 'delta', '-o', out, '--reg', join(dir, 'c.reg')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^wrote .*System_Delta \(8192 bytes\): the changes to HKEY_LOCAL_MACHINE\\SYSTEM/);
    assert.match(r.stderr, /note: HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet is written to ControlSet001 \(no base/);
    const check = await runCli(['hive', 'check', out]);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /0 errors, 0 warnings/);
    const dump = await runCli(['hive', 'dump', out]);
    assert.match(dump.stdout, /\[\\ControlSet001\\Old\] \(tombstone\)/);
    assert.match(dump.stdout, /\[\\ControlSet001\\Re\] \(supersede-tree, inherits class\)/);
  });

  it('reglookup reads every key and value of the change set', async (t) => {
    if (!requireTool(t, 'reglookup')) return;
    const dir = tempDir(t);
    writeFileSync(join(dir, 'c.reg'), CHANGES);
    const out = join(dir, 'd');
    assert.equal((await runCli(['hive', 'delta', '-o', out, '--reg', join(dir, 'c.reg')])).code, 0);
    const lines = run('reglookup', [out]).toString('utf8').trim().split('\n').slice(1);
    const F = '/ControlSet001/Services/Foo';
    assert.deepEqual(
      lines.sort(),
      [
        '/,KEY,,1970-01-01 00:00:00',
        '/ControlSet001,KEY,,1970-01-01 00:00:00',
        '/ControlSet001/Old,KEY,,1970-01-01 00:00:00',
        '/ControlSet001/Re,KEY,,1970-01-01 00:00:00',
        '/ControlSet001/Re/Sub,KEY,,1970-01-01 00:00:00',
        '/ControlSet001/Re/Sub/x,DWORD,0x00000001,',
        '/ControlSet001/Services,KEY,,1970-01-01 00:00:00',
        `${F},KEY,,1970-01-01 00:00:00`,
        `${F}/,SZ,d,`,
        `${F}/Gone,NONE,(null),`, // a tombstone value: reglookup ignores the layer fields
        `${F}/Start,DWORD,0x00000003,`,
        `${F}/b,BINARY,%01%02,`,
        `${F}/m,MULTI_SZ,a|b,`,
        `${F}/q,QWORD,0x0000000000000001,`,
        `${F}/s,SZ,hello,`,
      ].sort(),
    );
  });

  for (const withBase of [false, true]) {
    it(`delta → hive dump --reg → delta gives the same bytes (${withBase ? 'with' : 'without'} a base)`, async (t) => {
      const dir = tempDir(t);
      writeFileSync(join(dir, 'c.reg'), CHANGES);
      const base = join(dir, 'SYSTEM');
      writeFileSync(base, baseSystem());
      const baseArgs = withBase ? ['--base', base] : [];
      const first = join(dir, 'first');
      const r1 = await runCli(['hive', 'delta', '-o', first, '--reg', join(dir, 'c.reg'), ...baseArgs]);
      assert.equal(r1.code, 0, r1.stderr);
      if (withBase) assert.match(r1.stderr, /ControlSet002 \(the control set the base selects\)/);
      const dump = await runCli(['hive', 'dump', first, '--reg', '--prefix', 'HKEY_LOCAL_MACHINE\\SYSTEM']);
      assert.equal(dump.code, 0, dump.stderr);
      writeFileSync(join(dir, 'dumped.reg'), dump.stdoutBytes);
      const second = join(dir, 'second');
      const r2 = await runCli(['hive', 'delta', '-o', second, '--reg', join(dir, 'dumped.reg'), ...baseArgs]);
      assert.equal(r2.code, 0, r2.stderr);
      assert.deepEqual(layout(readFileSync(second)), layout(readFileSync(first)));
      assert.ok(readFileSync(second).equals(readFileSync(first)));
      if (withBase) {
        const keys = decodeHive(readFileSync(first));
        assert.equal((keys.get('ControlSet002\\Re')!.access >>> 8) & 0xff, 0x03, 'new: the base has no Re');
        assert.equal(keys.get('ControlSet002\\Old')!.access >>> 8, 0x01, 'a tombstone: the base has Old');
        assert.ok(!keys.has('ControlSet001'), 'CurrentControlSet is the ControlSet002 the base selects');
      }
    });
  }

  it('refuses to replace an existing file unless --force, as hive new and hive apply do', async (t) => {
    const dir = tempDir(t);
    writeFileSync(join(dir, 'c.reg'), CHANGES);
    const out = join(dir, 'delta');
    writeFileSync(out, 'keep me');
    const refused = await runCli(['hive', 'delta', '-o', out, '--reg', join(dir, 'c.reg')]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /the file exists already[\s\S]*--force/);
    assert.equal(readFileSync(out, 'utf8'), 'keep me');
    const forced = await runCli(['hive', 'delta', '-o', out, '--reg', join(dir, 'c.reg'), '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal((await runCli(['hive', 'check', out])).code, 0);
  });

  it('picks the hive the changes change, refuses two without --hive, and leaves others out with a note', async (t) => {
    const dir = tempDir(t);
    const reg = join(dir, 'two.reg');
    writeFileSync(reg, `${HEAD}[HKLM\\SOFTWARE\\A]\r\n"v"=dword:1\r\n[HKCR\\.x]\r\n@="y"\r\n[HKU\\.DEFAULT\\B]\r\n`);
    const two = await runCli(['hive', 'delta', '-o', join(dir, 'd'), '--reg', reg]);
    assert.equal(two.code, 2);
    assert.match(two.stderr, /change 2 hives \(software, default\): a delta holds one/);
    const one = await runCli(['hive', 'delta', '-o', join(dir, 'd'), '--reg', reg, '--hive', 'software', '--json']);
    assert.equal(one.code, 0, one.stderr);
    const result = JSON.parse(one.stdout) as { hive: string; layerPath: string; notes: string[] };
    assert.equal(result.hive, 'software');
    assert.equal(result.layerPath, 'Hives/Software_Delta');
    assert.ok(
      result.notes.some((n) => /HKEY_CLASSES_ROOT is written to HKEY_LOCAL_MACHINE\\SOFTWARE\\Classes/.test(n)),
    );
    assert.ok(result.notes.some((n) => /HKEY_USERS\\\.DEFAULT are not in this delta \(.*--hive default\)/.test(n)));
    const keys = [...decodeHive(readFileSync(join(dir, 'd'))).keys()];
    assert.deepEqual(keys, ['', 'A', 'Classes', 'Classes\\.x']);
  });

  it('refuses a view that is no hive file, with the file and line; usage errors exit 2', async (t) => {
    const dir = tempDir(t);
    const reg = join(dir, 'hkcu.reg');
    writeFileSync(reg, `${HEAD}[HKLM\\SOFTWARE\\A]\r\n\r\n[HKEY_CURRENT_USER\\Software\\X]\r\n`);
    const r = await runCli(['hive', 'delta', '-o', join(dir, 'd'), '--reg', reg]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /hkcu\.reg.*line 5: .*HKEY_CURRENT_USER/s);
    assert.equal((await runCli(['hive', 'delta', '-o', join(dir, 'd')])).code, 2);
    assert.equal((await runCli(['hive', 'delta', '--reg', reg])).code, 2);
    assert.equal((await runCli(['hive', 'delta', '-o', join(dir, 'd'), '--reg', reg, '--hive', 'hardware'])).code, 2);
  });

  it('help names hive apply as the other direction', async () => {
    const r = await runCli(['hive', 'delta', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /winlayer hive apply/);
    assert.match(r.stdout, /--reg FILE\.reg/);
  });

  it('SOURCE_DATE_EPOCH sets every key time; the same inputs give the same bytes', async (t) => {
    const dir = tempDir(t);
    writeFileSync(join(dir, 'c.reg'), CHANGES);
    const env = { SOURCE_DATE_EPOCH: '1700000000' };
    for (const name of ['a', 'b']) {
      const r = await runCli(['hive', 'delta', '-o', join(dir, name), '--reg', join(dir, 'c.reg')], { env });
      assert.equal(r.code, 0, r.stderr);
    }
    assert.ok(readFileSync(join(dir, 'a')).equals(readFileSync(join(dir, 'b'))));
    for (const k of decodeHive(readFileSync(join(dir, 'a'))).values()) {
      assert.equal(k.timestamp, 1_700_000_000n * 10_000_000n + 116_444_736_000_000_000n, k.path);
    }
  });
});
