/**
 * Issue 17 §3: differencing hives (regf 1.6, layered keys) read as what they are. The reader knows each key's layer
 * and tombstone values, `hive dump` shows them (text, `--json`, `--reg` as the `.reg` that makes the same change),
 * `hive check` applies the layer rules, and a rewrite keeps version 1.6 and the layered-keys flag (§2's gap). Every
 * hive is made by our writer (a `layered` builder), then damaged where a rule needs it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { runCli } from '../../test/helpers/cli.js';
import { DELTA_SERVICES, deltaHive } from '../../test/helpers/delta-hives.js';
import { decodeHive, fixChecksum } from '../../test/helpers/regf-decoder.js';
import { requireTool, run } from '../../test/helpers/tools.js';
import { isWinlayerError } from '../errors.js';
import {
  asDword,
  buildHive,
  checkHive,
  createHiveBuilder,
  findKey,
  type HiveVersion,
  isTombstoneValue,
  keyLayer,
  keyPath,
  mergeReg,
  openHive,
  toRegText,
  value,
  valueName,
  values,
  walkKeys,
} from './index.js';

const SERVICES = DELTA_SERVICES;

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'winlayer-delta-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);
const codes = (fs: ReadonlyArray<{ code: string }>): string[] => fs.map((f) => f.code);
/** File offset of a key's layered-key byte (cell size field, then the nk: access bits at 12, layer byte at 13). */
const layerByteAt = (cell: number): number => cell + 4 + 13;

describe('a differencing hive as written', () => {
  it('is version 1.6 with the layered-keys flag, each key its layer byte, each deleted value a tombstone', () => {
    const bytes = deltaHive();
    const v = view(bytes);
    assert.equal(v.getUint32(24, true), 6);
    assert.equal(v.getUint32(144, true), 0x2);
    const keys = decodeHive(bytes);
    const layer = (p: string): number => bytes[layerByteAt(keys.get(p)!.cell)]!;
    assert.equal(layer(SERVICES), 0x80);
    assert.equal(keys.get('')!.access, 0x2);
    assert.equal(layer(`${SERVICES}\\Old`), 0x01);
    assert.equal(layer(`${SERVICES}\\Local`), 0x02);
    assert.equal(layer(`${SERVICES}\\New`), 0x03);
    const gone = keys.get(SERVICES)!.values.find((x) => x.name === 'Gone')!;
    assert.deepEqual([gone.type, gone.flags, gone.data], [0, 0x3, '']);
    // size 0, data offset nil: what Windows writes (not the inline form of an empty value)
    assert.equal(v.getUint32(gone.cell + 4 + 4, true), 0);
    assert.equal(v.getUint32(gone.cell + 4 + 8, true), 0xffffffff);
    assert.deepEqual(checkHive(bytes), { errors: [], warnings: [], dirty: false });
  });
});

describe('the reader knows each key layer and tombstone value', () => {
  it('keyLayer and isTombstoneValue', () => {
    const h = openHive(deltaHive());
    assert.equal(h.layered, true);
    const layerOf = (p: string) => keyLayer(findKey(h, p)!);
    assert.deepEqual(layerOf(''), { semantics: 'merge', inheritClass: false });
    assert.deepEqual(layerOf(SERVICES), { semantics: 'merge', inheritClass: true });
    assert.deepEqual(layerOf(`${SERVICES}\\Old`), { semantics: 'tombstone', inheritClass: false });
    assert.deepEqual(layerOf(`${SERVICES}\\Local`), { semantics: 'supersede-local', inheritClass: false });
    assert.deepEqual(layerOf(`${SERVICES}\\New\\Parameters`), { semantics: 'supersede-tree', inheritClass: false });
    const services = findKey(h, SERVICES)!;
    assert.deepEqual(
      values(services).map((x) => [valueName(x), isTombstoneValue(x)]),
      [
        ['Gone', true],
        ['Changed', false],
      ],
    );
  });

  it('an ordinary hive has no layers and no tombstones', () => {
    const b = createHiveBuilder();
    b.key('A').setValue('none', 0, new Uint8Array(0));
    const h = openHive(buildHive(b));
    assert.equal(h.layered, false);
    assert.equal(keyLayer(findKey(h, 'A')!), undefined);
    assert.equal(isTombstoneValue(value(findKey(h, 'A')!, 'none')!), false);
  });
});

describe('hive dump of a differencing hive', () => {
  it('text shows each layer and tombstone value', async (t) => {
    const file = join(tempDir(t), 'System_Delta');
    writeFileSync(file, deltaHive());
    const out = await runCli(['hive', 'dump', file]);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(
      out.stdout,
      [
        '[\\] (merge)',
        '[\\ControlSet001] (merge, inherits class)',
        '[\\ControlSet001\\Services] (merge, inherits class)',
        '  "Gone" tombstone',
        '  "Changed" REG_DWORD 0x00000002',
        '[\\ControlSet001\\Services\\Local] (supersede-local)',
        '  "Only" REG_DWORD 0x00000001',
        '[\\ControlSet001\\Services\\New] (supersede-tree)',
        '  "Start" REG_DWORD 0x00000003',
        '[\\ControlSet001\\Services\\New\\Parameters] (supersede-tree)',
        '  "p" REG_DWORD 0x00000001',
        '[\\ControlSet001\\Services\\Old] (tombstone)',
        '',
      ].join('\n'),
    );
  });

  it('--json gives each key its layer and marks tombstone values', async (t) => {
    const file = join(tempDir(t), 'System_Delta');
    writeFileSync(file, deltaHive());
    const out = await runCli(['hive', 'dump', file, '--json']);
    assert.equal(out.code, 0, out.stderr);
    const lines = out.stdout
      .trim()
      .split('\n')
      .map(
        (l) => JSON.parse(l) as { path: string; layer?: unknown; values: Array<{ name: string; tombstone?: true }> },
      );
    const byPath = new Map(lines.map((l) => [l.path, l]));
    assert.deepEqual(byPath.get('\\ControlSet001\\Services\\Old')!.layer, {
      semantics: 'tombstone',
      inheritClass: false,
    });
    assert.deepEqual(byPath.get('\\ControlSet001')!.layer, { semantics: 'merge', inheritClass: true });
    assert.deepEqual(
      byPath.get('\\ControlSet001\\Services')!.values.map((x) => [x.name, x.tombstone === true]),
      [
        ['Gone', true],
        ['Changed', false],
      ],
    );
  });

  it('--reg writes the .reg that makes the same change', () => {
    const text = toRegText(openHive(deltaHive()), { prefix: 'HKEY_LOCAL_MACHINE\\SYSTEM' });
    const S = 'HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services';
    assert.equal(
      text,
      [
        'Windows Registry Editor Version 5.00',
        // the root's access bits 0x2 are what every delta key has (writeDeltaHive writes them again): no note
        '; winlayer: not carried by .reg: last-write times (7 keys)',
        '',
        '[HKEY_LOCAL_MACHINE\\SYSTEM]',
        '',
        '[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001]',
        '',
        `[${S}]`,
        '"Gone"=-',
        '"Changed"=dword:00000002',
        '',
        `; winlayer: supersede-local (its values and class replace those of the key below): ${S}\\Local`,
        `[${S}\\Local]`,
        '"Only"=dword:00000001',
        '',
        `[-${S}\\New]`,
        '',
        `[${S}\\New]`,
        '"Start"=dword:00000003',
        '',
        `[${S}\\New\\Parameters]`,
        '"p"=dword:00000001',
        '',
        `[-${S}\\Old]`,
        '',
        '',
      ].join('\r\n'),
    );
  });

  it('the .reg applied to a base hive gives what merging the delta gives (delta-hives.md §4)', () => {
    const base = createHiveBuilder({ rootName: 'SYSTEM' });
    const s = base.key(SERVICES);
    s.setDword('Gone', 1).setDword('Changed', 1).setDword('Kept', 1);
    base.key(`${SERVICES}\\Old\\Deep`).setDword('x', 1);
    base.key(`${SERVICES}\\New\\Stale`).setDword('x', 1);
    base.key(`${SERVICES}\\New`).setDword('Start', 1).setDword('Stale', 1);
    base.key(`${SERVICES}\\Local`).setDword('Only', 0);
    const merged = openHive(mergeReg(buildHive(base), toRegText(openHive(deltaHive()), { prefix: 'SYSTEM' })));
    const paths = [...walkKeys(merged)].map(keyPath);
    assert.deepEqual(paths, [
      '',
      'ControlSet001',
      SERVICES,
      `${SERVICES}\\Local`,
      `${SERVICES}\\New`,
      `${SERVICES}\\New\\Parameters`,
    ]);
    const names = (p: string) => values(findKey(merged, p)!).map(valueName);
    assert.deepEqual(names(SERVICES), ['Changed', 'Kept']);
    assert.equal(asDword(value(findKey(merged, SERVICES)!, 'Changed')!), 2);
    assert.deepEqual(names(`${SERVICES}\\New`), ['Start']);
    assert.equal(asDword(value(findKey(merged, `${SERVICES}\\New`)!, 'Start')!), 3);
  });
});

describe('hive check knows regf 1.6', () => {
  /** The delta with one byte patched (checksum fixed when the base block changes). */
  function patched(patch: (bytes: Uint8Array, keys: ReturnType<typeof decodeHive>) => void): Uint8Array {
    const bytes = deltaHive();
    patch(bytes, decodeHive(bytes));
    fixChecksum(bytes);
    return bytes;
  }

  it('the layered-keys flag is no warning; other base block flags still are', () => {
    assert.deepEqual(codes(checkHive(deltaHive()).warnings), []);
    const r = checkHive(patched((b) => view(b).setUint32(144, 0x3, true)));
    assert.deepEqual(codes(r.warnings), ['HEADER_FLAGS']);
    assert.deepEqual(codes(r.errors), []);
  });

  it('a layered key or tombstone value in a hive without the flag is an error, at that key', () => {
    const bytes = patched((b) => view(b).setUint32(144, 0, true));
    const r = checkHive(bytes);
    assert.deepEqual(codes(r.errors), Array(7).fill('LAYERED_WITHOUT_FLAG'));
    assert.deepEqual(r.errors.map((f) => f.keyPath).sort(), [
      'ControlSet001',
      SERVICES,
      SERVICES,
      `${SERVICES}\\Local`,
      `${SERVICES}\\New`,
      `${SERVICES}\\New\\Parameters`,
      `${SERVICES}\\Old`,
    ]);
    assert.throws(
      () => openHive(bytes),
      (e) => isWinlayerError(e, 'HIVE_STRUCTURE'),
    );
  });

  it('the flag in a hive of version below 1.6 is a warning', () => {
    const r = checkHive(patched((b) => view(b).setUint32(24, 5, true)));
    assert.deepEqual([codes(r.errors), codes(r.warnings)], [[], ['HEADER_LAYERED_VERSION']]);
  });

  it('a tombstone key holding values, subkeys or a class is an error', () => {
    const r = checkHive(patched((b, keys) => (b[layerByteAt(keys.get(`${SERVICES}\\New`)!.cell)] = 0x01)));
    assert.deepEqual(codes(r.errors), ['KEY_TOMBSTONE']);
    assert.match(r.errors[0]!.message, /holds values and subkeys/);
    assert.equal(r.errors[0]!.keyPath, `${SERVICES}\\New`);
  });

  it('a merge node below a supersede-tree key is an error', () => {
    const r = checkHive(patched((b, keys) => (b[layerByteAt(keys.get(`${SERVICES}\\New\\Parameters`)!.cell)] = 0x00)));
    assert.deepEqual(codes(r.errors), ['KEY_SUPERSEDE_TREE']);
    assert.equal(r.errors[0]!.keyPath, `${SERVICES}\\New\\Parameters`);
  });

  it('reserved layered-key bits are an error', () => {
    const r = checkHive(patched((b, keys) => (b[layerByteAt(keys.get('ControlSet001')!.cell)] = 0x84)));
    assert.deepEqual(codes(r.errors), ['KEY_LAYER_RESERVED']);
  });

  it('a tombstone value with a type, a size or a data offset is an error', () => {
    for (const [field, n] of [
      [12, 4],
      [4, 0x80000000],
      [8, 0],
    ] as const) {
      const r = checkHive(
        patched((b, keys) => {
          const gone = keys.get(SERVICES)!.values.find((x) => x.name === 'Gone')!;
          view(b).setUint32(gone.cell + 4 + field, n, true);
        }),
      );
      assert.deepEqual(codes(r.errors), ['VALUE_TOMBSTONE'], `field ${field}`);
    }
  });
});

describe('the writer', () => {
  it('refuses layered keys and tombstone values in a hive that is not layered', () => {
    const b = createHiveBuilder();
    b.key('A').setLayer('tombstone');
    assert.throws(
      () => buildHive(b),
      (e) => isWinlayerError(e, 'HIVE_BUILD') && /layered/.test(e.message),
    );
    const c = createHiveBuilder();
    c.key('A').setTombstoneValue('v');
    assert.throws(
      () => buildHive(c),
      (e) => isWinlayerError(e, 'HIVE_BUILD') && /tombstone value/.test(e.message),
    );
  });

  it('refuses a tombstone key that holds anything', () => {
    const b = createHiveBuilder({ layered: true });
    b.key('A').setLayer('tombstone').setDword('v', 1);
    assert.throws(
      () => buildHive(b),
      (e) => isWinlayerError(e, 'HIVE_BUILD') && /tombstone/.test(e.message),
    );
  });
});

describe('a rewrite keeps the version and the layered-keys flag', () => {
  const change = 'Windows Registry Editor Version 5.00\r\n\r\n[ROOT\\Added]\r\n"n"=dword:00000001\r\n';

  it('merging into a 1.6 differencing hive keeps 1.6, the flag, every layer and tombstone', () => {
    const before = deltaHive();
    const after = mergeReg(before, change);
    assert.equal(view(after).getUint32(24, true), 6);
    assert.equal(view(after).getUint32(144, true), 0x2);
    assert.deepEqual(checkHive(after).errors, []);
    const was = decodeHive(before);
    const now = decodeHive(after);
    for (const [path, k] of was) {
      assert.equal(now.get(path)!.access, k.access, path);
      assert.deepEqual(
        now.get(path)!.values.map((x) => [x.name, x.flags, x.type, x.data]),
        k.values.map((x) => [x.name, x.flags, x.type, x.data]),
        path,
      );
    }
    const gone = now.get(SERVICES)!.values.find((x) => x.name === 'Gone')!;
    assert.equal(view(after).getUint32(gone.cell + 4 + 8, true), 0xffffffff);
  });

  it('1.3, 1.4 and 1.5 hives keep their version, without the flag', () => {
    for (const version of ['1.3', '1.4', '1.5'] as HiveVersion[]) {
      const b = createHiveBuilder();
      b.key('A').setDword('v', 1);
      const after = mergeReg(buildHive(b, { version }), change);
      assert.equal(`1.${view(after).getUint32(24, true)}`, version);
      assert.equal(view(after).getUint32(144, true), 0);
    }
  });
});

describe('other readers of a differencing hive we write', () => {
  it('reglookup lists every key and value (it ignores the layer fields)', (t) => {
    if (!requireTool(t, 'reglookup')) return;
    const file = join(tempDir(t), 'System_Delta');
    writeFileSync(file, deltaHive());
    const out = run('reglookup', [file]).toString();
    assert.match(out, /\/ControlSet001\/Services\/Gone,NONE,/);
    assert.match(out, /\/ControlSet001\/Services\/Old,KEY,/);
  });

  it('hivexml reads a 1.6 hive with layered keys (it stops at tombstone values, delta-hives.md §6)', (t) => {
    if (!requireTool(t, 'hivexml')) return;
    const b = createHiveBuilder({ layered: true });
    b.key('New').setLayer('supersede-tree').setDword('x', 1);
    b.key('Old').setLayer('tombstone');
    const file = join(tempDir(t), 'Software_Delta');
    writeFileSync(file, buildHive(b));
    // hivexml writes through /dev/stdout, which a pipe may refuse (ENXIO): let the shell redirect into a file
    run('sh', ['-c', 'hivexml "$0" > "$1"', file, `${file}.xml`]);
    const xml = readFileSync(`${file}.xml`, 'utf8');
    assert.match(xml, /<node name="New">/);
    assert.match(xml, /<node name="Old">/);
  });
});
