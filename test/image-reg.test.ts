/**
 * Issue 19 §2 end to end: `image append --reg` writes the five differencing hives into the new layer (against
 * `--reg-base` when given), `image squash` merges them into the base hives, `image create --reg` writes the changes
 * straight into the base layer's hives; the same inputs and SOURCE_DATE_EPOCH give the same bytes.
 */
import assert from 'node:assert/strict';
import { createReadStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { LayerEntry } from '../src/entry.js';
import {
  asDword,
  asString,
  buildHive,
  checkHive,
  createHiveBuilder,
  findKey,
  isDifferencingHive,
  keyLayer,
  keySecurity,
  openHive,
  root,
  value,
} from '../src/hive/index.js';
import { readTar } from '../src/tar/index.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tools.js';

const EPOCH = { SOURCE_DATE_EPOCH: '1700000000' };
const EPOCH_NS = 1_700_000_000n * 1_000_000_000n;
const DELTAS = ['DefaultUser_Delta', 'Sam_Delta', 'Security_Delta', 'Software_Delta', 'System_Delta'];

const REG = `Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\\SOFTWARE\\Winlayer\\Settings]
"Mode"="fast"
"Level"=dword:00000007

[HKLM\\SYSTEM\\CurrentControlSet\\Control\\FileSystem]
"LongPathsEnabled"=dword:00000001
`;

interface LayerFile {
  readonly entry: LayerEntry;
  readonly bytes: Buffer;
}

/** The layers of the one image of an OCI layout, each as its entries in order, with file bytes. */
async function layers(dir: string): Promise<Map<string, LayerFile>[]> {
  const idx = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
  const blob = (d: string): string => join(dir, 'blobs/sha256', d.slice(7));
  const m = JSON.parse(readFileSync(blob(idx.manifests[0]!.digest), 'utf8')) as { layers: Array<{ digest: string }> };
  const out: Map<string, LayerFile>[] = [];
  for (const l of m.layers) {
    const files = new Map<string, LayerFile>();
    for await (const e of readTar(createReadStream(blob(l.digest)))) {
      const chunks: Uint8Array[] = [];
      if (e.kind === 'file') for await (const c of e.body) chunks.push(c);
      files.set(e.path, { entry: e, bytes: Buffer.concat(chunks) });
    }
    out.push(files);
  }
  return out;
}

/** A base image (a rootfs with one file), and a `.reg` file; returns their paths. */
async function fixture(dir: string): Promise<{ base: string; reg: string }> {
  const rootfs = join(dir, 'rootfs');
  mkdirSync(join(rootfs, 'app'), { recursive: true });
  writeFileSync(join(rootfs, 'app/a.txt'), 'a');
  const base = join(dir, 'base');
  const r = await runCli(['image', 'create', rootfs, '-o', base], { env: EPOCH });
  assert.equal(r.code, 0, r.stderr);
  const reg = join(dir, 'settings.reg');
  writeFileSync(reg, REG);
  return { base, reg };
}

test('image append --reg without a layer source: Files, Hives and the five deltas, timed as System_Delta', async (t) => {
  const dir = tempDir(t);
  const { base, reg } = await fixture(dir);
  const out = join(dir, 'out');
  const r = await runCli(['image', 'append', base, '--reg', reg, '-o', out], { env: EPOCH });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /note: HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet is written to ControlSet001/);
  const all = await layers(out);
  assert.equal(all.length, 2);
  const layer = all[1]!;
  assert.deepEqual([...layer.keys()], ['Files', 'Hives', ...DELTAS.map((d) => `Hives/${d}`)]);
  const system = layer.get('Hives/System_Delta')!.entry;
  assert.equal(system.win.lastWriteTime, EPOCH_NS);
  for (const p of ['Files', 'Hives']) {
    const w = layer.get(p)!.entry.win;
    assert.equal(layer.get(p)!.entry.kind, 'directory');
    for (const k of ['creationTime', 'lastWriteTime', 'lastAccessTime', 'changeTime'] as const) {
      assert.equal(w[k], system.win[k], `${p} ${k}`);
    }
  }
  assert.ok(all[0]!.get('Files/Windows/System32/config/SOFTWARE')!.entry.win.securityDescriptor !== undefined);
  for (const d of DELTAS) {
    const bytes = layer.get(`Hives/${d}`)!.bytes;
    assert.ok(isDifferencingHive(bytes), d);
    assert.equal(checkHive(bytes).errors.length, 0, d);
    assert.deepEqual(
      layer.get(`Hives/${d}`)!.entry.win.securityDescriptor,
      all[0]!.get('Files/Windows/System32/config/SOFTWARE')!.entry.win.securityDescriptor,
      'the file descriptor of the policy, as the base hives',
    );
  }
  const software = openHive(layer.get('Hives/Software_Delta')!.bytes);
  const settings = findKey(software, 'Winlayer\\Settings')!;
  assert.equal(asString(value(settings, 'Mode')!), 'fast');
  assert.equal(keyLayer(findKey(software, 'Winlayer')!)?.semantics, 'merge');
  const systemHive = openHive(layer.get('Hives/System_Delta')!.bytes);
  assert.equal(asDword(value(findKey(systemHive, 'ControlSet001\\Control\\FileSystem')!, 'LongPathsEnabled')!), 1);
  // an unchanged hive is an empty differencing hive: the root only
  assert.equal(findKey(openHive(layer.get('Hives/Sam_Delta')!.bytes), 'Winlayer'), undefined);
});

test('image append --reg: the same inputs and SOURCE_DATE_EPOCH give the same bytes', async (t) => {
  const dir = tempDir(t);
  const { base, reg } = await fixture(dir);
  const src = join(dir, 'publish');
  mkdirSync(src);
  writeFileSync(join(src, 'app.dll'), 'code');
  const digests: string[] = [];
  for (const n of [1, 2]) {
    const out = join(dir, `out${n}`);
    const r = await runCli(['image', 'append', base, src, '--reg', reg, '-o', out], { env: EPOCH });
    assert.equal(r.code, 0, r.stderr);
    digests.push(readFileSync(join(out, 'index.json'), 'utf8'));
  }
  assert.equal(digests[0], digests[1]);
  const layer = (await layers(join(dir, 'out1')))[1]!;
  assert.deepEqual(
    [...layer.keys()],
    ['Files', 'Files/app.dll', 'Hives', ...DELTAS.map((d) => `Hives/${d}`)],
    'the source’s files, then the deltas after Hives',
  );
  assert.equal(layer.get('Files')!.entry.win.lastWriteTime, EPOCH_NS);
});

test('image squash merges the appended registry changes into the base hives', async (t) => {
  const dir = tempDir(t);
  const { base, reg } = await fixture(dir);
  const out = join(dir, 'out');
  assert.equal((await runCli(['image', 'append', base, '--reg', reg, '-o', out], { env: EPOCH })).code, 0);
  const sq = await runCli(['image', 'squash', out, '-o', join(dir, 'sq')], { env: EPOCH });
  assert.equal(sq.code, 0, sq.stderr);
  const [only] = await layers(join(dir, 'sq'));
  const softwareBytes = only!.get('Files/Windows/System32/config/SOFTWARE')!.bytes;
  assert.equal(isDifferencingHive(softwareBytes), false);
  assert.equal(checkHive(softwareBytes).errors.length, 0);
  const software = openHive(softwareBytes);
  const settings = findKey(software, 'Winlayer\\Settings')!;
  assert.equal(asString(value(settings, 'Mode')!), 'fast');
  assert.equal(asDword(value(settings, 'Level')!), 7);
  const system = openHive(only!.get('Files/Windows/System32/config/SYSTEM')!.bytes);
  assert.equal(asDword(value(findKey(system, 'ControlSet001\\Control\\FileSystem')!, 'LongPathsEnabled')!), 1);
});

test('image append --reg-base: CurrentControlSet is the set the base selects, keys carry the base descriptors', async (t) => {
  const dir = tempDir(t);
  const { base, reg } = await fixture(dir);
  // a base layer folder whose SYSTEM selects ControlSet002
  const config = join(dir, 'baselayer/Files/Windows/System32/config');
  mkdirSync(config, { recursive: true });
  for (const h of ['SOFTWARE', 'SAM', 'SECURITY', 'DEFAULT']) {
    writeFileSync(join(config, h), buildHive(createHiveBuilder()));
  }
  const sys = createHiveBuilder();
  sys.key('Select').setDword('Current', 2);
  sys.key('ControlSet002\\Control');
  writeFileSync(join(config, 'SYSTEM'), buildHive(sys));
  const out = join(dir, 'out');
  const r = await runCli(['image', 'append', base, '--reg', reg, '--reg-base', join(dir, 'baselayer'), '-o', out], {
    env: EPOCH,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /ControlSet002 \(the control set the base selects\)/);
  const layer = (await layers(out))[1]!;
  const system = openHive(layer.get('Hives/System_Delta')!.bytes);
  const fs = findKey(system, 'ControlSet002\\Control\\FileSystem')!;
  assert.equal(keyLayer(fs)?.semantics, 'supersede-tree', 'a key the base lacks is new');
  assert.equal(keyLayer(findKey(system, 'ControlSet002\\Control')!)?.semantics, 'merge');
  const baseSystem = openHive(readFileSync(join(config, 'SYSTEM')));
  assert.deepEqual(keySecurity(root(system)), keySecurity(root(baseSystem)));
  // the same with the hive files named directly
  const direct = await runCli(['image', 'append', base, '--reg', reg, '--reg-base', config, '-o', join(dir, 'o2')], {
    env: EPOCH,
  });
  assert.equal(direct.code, 0, direct.stderr);
  assert.equal(readFileSync(join(dir, 'o2/index.json'), 'utf8'), readFileSync(join(out, 'index.json'), 'utf8'));
});

test('image append: usage errors of --reg', async (t) => {
  const dir = tempDir(t);
  const { base, reg } = await fixture(dir);
  const none = await runCli(['image', 'append', base, '-o', join(dir, 'x')]);
  assert.equal(none.code, 2);
  const baseOnly = await runCli(['image', 'append', base, 'src', '--reg-base', dir, '-o', join(dir, 'x')]);
  assert.equal(baseOnly.code, 2);
  assert.match(baseOnly.stderr, /--reg-base needs --reg/);
  const missing = await runCli(['image', 'append', base, '--reg', reg, '--reg-base', dir, '-o', join(dir, 'x')]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /SYSTEM.*not in the folder|not in the folder/);
  const layer = join(dir, 'layer');
  mkdirSync(join(layer, 'Files'), { recursive: true });
  mkdirSync(join(layer, 'Hives'));
  writeFileSync(join(layer, 'Hives/System_Delta'), buildHive(createHiveBuilder({ layered: true })));
  const own = await runCli(['image', 'append', base, `dir:${layer}`, '--reg', reg, '-o', join(dir, 'x')]);
  assert.equal(own.code, 2, own.stderr);
  assert.match(own.stderr, /carries registry deltas of its own/);
  const bad = join(dir, 'bad.reg');
  writeFileSync(bad, 'Windows Registry Editor Version 5.00\n\n[HKEY_CURRENT_USER\\Software\\X]\n"a"="b"\n');
  const refused = await runCli(['image', 'append', base, '--reg', bad, '-o', join(dir, 'x')]);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /HKEY_CURRENT_USER/);
});

test('image create --reg writes the changes into the base layer’s hives (no deltas)', async (t) => {
  const dir = tempDir(t);
  const rootfs = join(dir, 'rootfs');
  mkdirSync(rootfs);
  writeFileSync(join(rootfs, 'a.txt'), 'a');
  const reg = join(dir, 'settings.reg');
  writeFileSync(reg, REG);
  const out = join(dir, 'out');
  const r = await runCli(['image', 'create', rootfs, '--reg', reg, '-o', out], { env: EPOCH });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /ControlSet001/);
  const [layer] = await layers(out);
  assert.deepEqual(
    [...layer!.keys()].filter((p) => p.startsWith('Hives')),
    [],
  );
  const softwareBytes = layer!.get('Files/Windows/System32/config/SOFTWARE')!.bytes;
  assert.equal(isDifferencingHive(softwareBytes), false);
  assert.equal(checkHive(softwareBytes).errors.length, 0);
  const software = openHive(softwareBytes);
  assert.equal(asString(value(findKey(software, 'Winlayer\\Settings')!, 'Mode')!), 'fast');
  assert.deepEqual(keySecurity(findKey(software, 'Winlayer')!), keySecurity(root(software)), 'the parent’s descriptor');
  const system = openHive(layer!.get('Files/Windows/System32/config/SYSTEM')!.bytes);
  assert.equal(asDword(value(findKey(system, 'ControlSet001\\Control\\FileSystem')!, 'LongPathsEnabled')!), 1);
  // without --reg the hives are the empty ones, unchanged
  const plain = join(dir, 'plain');
  assert.equal((await runCli(['image', 'create', rootfs, '-o', plain], { env: EPOCH })).code, 0);
  const [p] = await layers(plain);
  assert.equal(findKey(openHive(p!.get('Files/Windows/System32/config/SOFTWARE')!.bytes), 'Winlayer'), undefined);
});
