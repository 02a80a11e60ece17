import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FIXTURES, tempDir } from '../../test/helpers/tools.js';
import { isWinlayerError } from '../errors.js';
import { checkHive } from '../hive/index.js';
import {
  BASE_LAYER_HIVES,
  HIVE_CONFIG_DIR,
  MISSING_BCD_MESSAGE,
  makeBaseLayer,
  UVM_BCD_PATH,
} from './makebaselayer.js';
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
  for (const [fixture, word] of [
    ['invalid/yarp-GarbageHive', 'corrupt'],
    ['dirty/regipy-SECURITY', 'dirty'],
  ] as const) {
    const dir = tempDir(t);
    mkdirSync(config(dir), { recursive: true });
    copyFileSync(join(FIXTURES, 'hives', fixture), join(config(dir), 'SECURITY'));
    await assert.rejects(
      makeBaseLayer(dir),
      (e: unknown) =>
        isWinlayerError(e, 'LAYER_HIVE') &&
        e.path === join(config(dir), 'SECURITY') &&
        e.message.includes(`the hive is ${word}: `) &&
        /--replace-hives/.test(e.hint!),
      fixture,
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
  const withBcd = (fixture: string | undefined): string => {
    const dir = tempDir(t);
    mkdirSync(join(dir, 'Files'));
    mkdirSync(join(dir, 'UtilityVM/Files/EFI/Microsoft/Boot'), { recursive: true });
    if (fixture !== undefined) copyFileSync(join(FIXTURES, 'hives', fixture), join(dir, ...UVM_BCD_PATH.split('/')));
    return dir;
  };
  for (const ok of ['valid/regipy-BCD', 'valid/imgutil-minimal-BCD']) {
    const r = await makeBaseLayer(withBcd(ok));
    assert.equal(r.utilityVm.present, true, ok);
    assert.equal(r.utilityVm.present && r.utilityVm.bcd, UVM_BCD_PATH);
  }
  const cases: [string | undefined, RegExp][] = [
    [undefined, new RegExp(`^.*: ${MISSING_BCD_MESSAGE} \\(LAYER_BCD\\)`)],
    ['invalid/yarp-TruncatedHive', /as a valid BCD store: the registry hive is corrupt: /],
    ['valid/hivex-minimal', /as a valid BCD store: the hive has no Description key/],
  ];
  for (const [fixture, message] of cases) {
    const dir = withBcd(fixture);
    await assert.rejects(
      makeBaseLayer(dir),
      (e: unknown) => isWinlayerError(e, 'LAYER_BCD') && message.test(e.message),
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
