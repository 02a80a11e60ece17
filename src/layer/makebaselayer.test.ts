import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { garbageHive, rootOnlyHive, truncatedHive } from '../../test/helpers/hives.js';
import { FIXTURES, tempDir } from '../../test/helpers/tools.js';
import { isWinlayerError } from '../errors.js';
import { checkHive } from '../hive/index.js';
import { BASE_LAYER_HIVES, HIVE_CONFIG_DIR } from './base-hives.js';
import { MISSING_BCD_MESSAGE, makeBaseLayer, UVM_BCD_PATH } from './makebaselayer.js';
import { SidecarWriter } from './sidecar.js';

const config = (dir: string) => join(dir, ...HIVE_CONFIG_DIR.split('/'));

test('creates the config folder and five clean hives; a second run keeps them', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'Files'));
  const r = await makeBaseLayer(dir);
  assert.deepEqual(r, {
    layerDir: dir,
    createdDirs: ['Files/Windows', 'Files/Windows/System32', 'Files/Windows/System32/config'],
    hives: BASE_LAYER_HIVES.map((name) => ({ name, path: `${HIVE_CONFIG_DIR}/${name}`, action: 'created' })),
    utilityVm: { present: false },
  });
  for (const name of BASE_LAYER_HIVES) {
    const bytes = readFileSync(join(config(dir), name));
    const check = checkHive(bytes);
    assert.deepEqual([check.errors, check.dirty], [[], false], name);
  }
  const again = await makeBaseLayer(dir);
  assert.deepEqual(
    again.hives.map((h) => h.action),
    BASE_LAYER_HIVES.map(() => 'kept'),
  );
  assert.deepEqual(again.createdDirs, []);
});

test('a zero-byte hive is replaced and says why; a clean foreign hive (any case) is kept', async (t) => {
  const dir = tempDir(t);
  mkdirSync(config(dir), { recursive: true });
  writeFileSync(join(config(dir), 'SAM'), '');
  copyFileSync(join(FIXTURES, 'hives/valid/hostprocess-empty'), join(config(dir), 'Software'));
  const r = await makeBaseLayer(dir);
  const by = new Map(r.hives.map((h) => [h.name, h]));
  assert.equal(by.get('SAM')!.action, 'replaced');
  assert.match(by.get('SAM')!.reason!, /zero-byte/);
  assert.deepEqual(by.get('Software'), { name: 'Software', path: `${HIVE_CONFIG_DIR}/Software`, action: 'kept' });
  assert.ok(statSync(join(config(dir), 'SAM')).size > 0);
  assert.equal(existsSync(join(config(dir), 'SOFTWARE')), false, 'no second SOFTWARE next to Software');
});

test('a corrupt or dirty hive is an error naming the file and the first defect, unless replaceHives', async (t) => {
  for (const [label, hive, word] of [
    ['a bad checksum', garbageHive(), 'corrupt'],
    ['dirty/regipy-SECURITY', readFileSync(join(FIXTURES, 'hives/dirty/regipy-SECURITY')), 'dirty'],
  ] as const) {
    const dir = tempDir(t);
    mkdirSync(config(dir), { recursive: true });
    writeFileSync(join(config(dir), 'SECURITY'), hive);
    await assert.rejects(
      makeBaseLayer(dir),
      (e: unknown) =>
        isWinlayerError(e, 'LAYER_HIVE') &&
        e.path === join(config(dir), 'SECURITY') &&
        e.message.startsWith(`${join(config(dir), 'SECURITY')}: the hive is ${word}: `) &&
        e.message.split('config/SECURITY').length === 2 && // the file named once
        /--replace-hives/.test(e.hint!),
      label,
    );
    assert.equal(existsSync(join(config(dir), 'DEFAULT')), false, 'nothing written when a check fails');
    const r = await makeBaseLayer(dir, { replaceHives: true });
    const sec = r.hives.find((h) => h.name === 'SECURITY')!;
    assert.equal(sec.action, 'replaced');
    assert.ok(sec.reason !== undefined && sec.reason.length > 0);
    assert.deepEqual(checkHive(readFileSync(join(config(dir), 'SECURITY'))).errors, []);
  }
});

test('UtilityVM: a valid BCD store passes; a missing, corrupt or non-BCD hive fails with the documented messages', async (t) => {
  const withBcd = (hive: Uint8Array | undefined): string => {
    const dir = tempDir(t);
    mkdirSync(join(dir, 'Files'));
    mkdirSync(join(dir, 'UtilityVM/Files/EFI/Microsoft/Boot'), { recursive: true });
    if (hive !== undefined) writeFileSync(join(dir, ...UVM_BCD_PATH.split('/')), hive);
    return dir;
  };
  for (const ok of ['valid/regipy-BCD', 'valid/imgutil-minimal-BCD']) {
    const r = await makeBaseLayer(withBcd(readFileSync(join(FIXTURES, 'hives', ok))));
    assert.equal(r.utilityVm.present, true, ok);
    assert.equal(r.utilityVm.present && r.utilityVm.bcd, UVM_BCD_PATH);
  }
  const cases: [Uint8Array | undefined, RegExp][] = [
    [undefined, new RegExp(`^.*: ${MISSING_BCD_MESSAGE} \\(LAYER_BCD\\)`)],
    [truncatedHive(), /^[^:]*: UtilityVM must contain \S+ as a valid BCD store: the registry hive is corrupt: /],
    [rootOnlyHive(), /^[^:]*: UtilityVM must contain \S+ as a valid BCD store: the hive has no Description key/],
  ];
  for (const [hive, message] of cases) {
    const dir = withBcd(hive);
    await assert.rejects(
      makeBaseLayer(dir),
      (e: unknown) =>
        isWinlayerError(e, 'LAYER_BCD') &&
        message.test(e.message) &&
        // The message names the store once (the host path), not again as a layer path.
        e.message.split('Files/EFI/Microsoft/Boot/BCD').length === 2,
    );
    assert.equal(existsSync(config(dir)), false, 'nothing written when a check fails');
  }
});

test('refuses a folder whose sidecar says non-base, holds whiteouts or Hives/', async (t) => {
  const cases: [string, (w: SidecarWriter) => void, 'base' | 'non-base', RegExp][] = [
    ['non-base', () => {}, 'non-base', /manifest says "non-base"/],
    ['whiteout', (w) => w.add({ path: 'Files/.wh.x', kind: 'whiteout', target: 'Files/x' }), 'base', /whiteouts/],
    ['hives', (w) => w.add({ path: 'Hives', kind: 'directory' }), 'base', /Hives/],
  ];
  for (const [name, fill, kind, message] of cases) {
    const dir = tempDir(t);
    mkdirSync(join(dir, 'Files'));
    const w = new SidecarWriter(dir, { kind });
    fill(w);
    w.finish();
    await assert.rejects(
      makeBaseLayer(dir),
      (e: unknown) =>
        isWinlayerError(e, 'LAYER_INVALID') && /not a base layer/.test(e.message) && message.test(e.message),
      name,
    );
  }
  await assert.rejects(makeBaseLayer(join(tempDir(t), 'nope')), (e: unknown) => isWinlayerError(e, 'NOT_FOUND'));
});

test('a folder with content but no Files/ is refused, naming what to do; an empty folder becomes a layer', async (t) => {
  const rootfs = tempDir(t);
  writeFileSync(join(rootfs, 'app.exe'), 'MZ');
  mkdirSync(join(rootfs, 'bin'));
  await assert.rejects(
    makeBaseLayer(rootfs),
    (e: unknown) =>
      isWinlayerError(e, 'LAYER_INVALID') &&
      /has no Files\/ folder/.test(e.message) &&
      /image create/.test(e.hint!) &&
      /move its content \(2 entries, e\.g\. app\.exe\) into/.test(e.hint!),
  );
  assert.equal(existsSync(join(rootfs, 'Files')), false, 'nothing written');
  const empty = tempDir(t);
  const r = await makeBaseLayer(empty);
  assert.deepEqual(r.createdDirs, [
    'Files',
    'Files/Windows',
    'Files/Windows/System32',
    'Files/Windows/System32/config',
  ]);
});

test('a file or a missing path given as the layer folder says which', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'a.tar'), 'not a folder');
  await assert.rejects(
    makeBaseLayer(join(dir, 'a.tar')),
    (e: unknown) => isWinlayerError(e, 'SOURCE_UNREADABLE') && /is a file, not a layer folder/.test(e.message),
  );
  await assert.rejects(makeBaseLayer(join(dir, 'nope')), (e: unknown) => isWinlayerError(e, 'NOT_FOUND'));
});
