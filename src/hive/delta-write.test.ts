/**
 * Issue 19 §2 and §4: `writeDeltaHive` lays a differencing hive out as Windows lays one out (delta-hives.md §1–§3),
 * checked field by field with the test's own decoder (`test/helpers/regf-decoder.ts`, no code of `src/hive/`) and the
 * raw bytes; with a base, new keys, dropped deletions, descriptors and the control set follow the base; without one,
 * each hive's default descriptor. Every delta passes our strict `hive check`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type DecodedKey, decodeHive } from '../../test/helpers/regf-decoder.js';
import { isWinlayerError } from '../errors.js';
import { bytesToSddl, sddlToBytes } from '../windows/index.js';
import { buildHive, createHiveBuilder } from './build.js';
import { changeSetFromRegText, DEFAULT_DELTA_SDDL, HIVE_NAMES, type HiveName } from './changes.js';
import { checkHive } from './check.js';
import { deltaFileName, writeDeltaHive } from './delta-write.js';
import { openHive } from './read.js';
import { applyRegText, toRegText } from './reg.js';

const HEAD = 'Windows Registry Editor Version 5.00\r\n\r\n';
const BASE = 4096;
const S = 'HKLM\\SYSTEM\\CurrentControlSet\\Services';

const CHANGES = `${HEAD}[${S}\\Keep]\r\n"a"=-\r\n"zz"=-\r\n"n"=dword:00000007\r\n\r\n[-${S}\\Old]\r\n\r\n[-${S}\\NotThere]\r\n\r\n[${S}\\New\\Sub]\r\n"s"="text"\r\n\r\n[-${S}\\Re]\r\n[${S}\\Re]\r\n"r"=dword:1\r\n\r\n[-${S}\\Absent]\r\n[${S}\\Absent]\r\n\r\n[${S}\\Same]\r\n`;

const SD = {
  services: 'O:BAG:SYD:(A;CI;KA;;;SY)(A;CI;KA;;;BA)(A;CI;KR;;;BU)',
  old: 'O:SYG:SYD:(A;;KA;;;SY)',
  keep: 'O:BAG:SYD:(A;;KA;;;SY)(A;;KR;;;BA)',
  re: 'O:BAG:BAD:(A;;KA;;;BA)',
};

/** A SYSTEM hive that selects ControlSet002, with keys of distinct descriptors under its Services. */
function baseSystem(): Uint8Array {
  const b = createHiveBuilder({ rootName: 'CMI-CreateHive{2A7FB991-7BBE-4F9D-B91E-7CB51D4737F5}' });
  b.key('Select').setDword('Current', 2).setDword('Default', 2);
  b.key('ControlSet001\\Services\\Keep').setDword('a', 1);
  const s = b.key('ControlSet002\\Services').setSecurity(SD.services);
  s.subkey('Old').setSecurity(SD.old).setDword('x', 1);
  s.subkey('Keep').setSecurity(SD.keep).setDword('a', 1).setDword('b', 2);
  s.subkey('Re').setSecurity(SD.re).setDword('gone', 1).subkey('Child');
  s.subkey('Same').setDword('q', 1);
  return buildHive(b, { timestamp: 133_000_000_000_000_000n });
}

function u32(bytes: Uint8Array, at: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset).getUint32(at, true);
}

/** The layered-key byte (nk+13) and access byte (nk+12) of a decoded key. */
const layerOf = (k: DecodedKey): number => (k.access >>> 8) & 0xff;

describe('writeDeltaHive: the layout of spec §1–§3, field by field (our decoder)', () => {
  const set = changeSetFromRegText([CHANGES]);
  const bytes = writeDeltaHive(set, { hive: 'system', timestamp: 132_000_000_000_000_000n });
  const keys = decodeHive(bytes);
  const at = (p: string): DecodedKey => {
    const k = keys.get(p);
    assert.ok(k !== undefined, p);
    return k;
  };
  const sv = 'ControlSet001\\Services';

  it('base block: regf 1.6, sequence numbers equal, layered flag, OfRg marker, embedded name, checksum', () => {
    assert.equal(Buffer.from(bytes.subarray(0, 4)).toString('latin1'), 'regf');
    assert.equal(u32(bytes, 4), u32(bytes, 8));
    assert.deepEqual([u32(bytes, 20), u32(bytes, 24)], [1, 6]);
    assert.deepEqual([u32(bytes, 28), u32(bytes, 32), u32(bytes, 44)], [0, 1, 1]);
    assert.equal(new DataView(bytes.buffer).getBigUint64(12, true), 0n, 'header timestamp 0, as Windows wrote it');
    assert.equal(u32(bytes, 144), 0x2);
    assert.equal(Buffer.from(bytes.subarray(176, 180)).toString('latin1'), 'OfRg');
    assert.equal(u32(bytes, 180), 1);
    const name = Buffer.from(bytes.subarray(48, 112)).toString('utf16le').replace(/\0+$/, '');
    assert.equal(name, 'SandboxState\\Hives\\system_Delta');
    let x = 0;
    for (let i = 0; i < 508; i += 4) x ^= u32(bytes, i);
    assert.equal(u32(bytes, 508), x >>> 0);
    assert.equal(u32(bytes, 40) + BASE, bytes.length);
    assert.deepEqual(checkHive(bytes), { errors: [], warnings: [], dirty: false });
  });

  it('the root: ROOT, flags 0x2C, a merge node without InheritClass, access bits 0x2', () => {
    const r = at('');
    assert.equal(r.name, 'ROOT');
    assert.equal(r.flags, 0x2c);
    assert.equal(r.access, 0x0002);
  });

  it('every key: access bits 0x2, flags 0x20 (compressed name), a security cell, lh subkey lists', () => {
    for (const k of keys.values()) {
      assert.equal(k.access & 0xff, 0x2, k.path);
      if (k.path !== '') assert.equal(k.flags, 0x20, k.path);
      assert.equal(Buffer.from(bytes.subarray(k.skCell + 4, k.skCell + 6)).toString('latin1'), 'sk', k.path);
      const nk = k.cell + 4;
      if (u32(bytes, nk + 20) > 0) {
        const list = BASE + u32(bytes, nk + 28) + 4;
        assert.equal(Buffer.from(bytes.subarray(list, list + 2)).toString('latin1'), 'lh', k.path);
      }
    }
  });

  it('ancestors and updated keys are merge nodes with InheritClass (0x80) and no class', () => {
    for (const p of ['ControlSet001', sv, `${sv}\\Keep`, `${sv}\\New`, `${sv}\\Same`]) {
      assert.equal(layerOf(at(p)), 0x80, p);
      assert.equal(at(p).className, undefined);
    }
    assert.deepEqual(
      at(`${sv}\\Keep`).values.map((v) => [v.name, v.type, v.flags, v.data]),
      [
        ['a', 0, 0x3, ''],
        ['zz', 0, 0x3, ''],
        ['n', 4, 0x1, '07000000'],
      ],
    );
  });

  it('a deleted key is a tombstone (1): no values, no subkeys, class offset 0xFFFFFFFF, its own security cell', () => {
    for (const p of [`${sv}\\Old`, `${sv}\\NotThere`]) {
      const k = at(p);
      assert.equal(layerOf(k), 0x01, p);
      assert.deepEqual(k.values, []);
      const nk = k.cell + 4;
      assert.equal(u32(bytes, nk + 20), 0, 'subkey count');
      assert.equal(u32(bytes, nk + 36), 0, 'value count');
      assert.equal(u32(bytes, nk + 48), 0xffffffff, 'class offset');
      assert.equal(u32(bytes, nk + 40), 0xffffffff, 'value list offset');
    }
  });

  it('a deleted value is a tombstone value: flags 0x3, REG_NONE, size 0, data offset 0xFFFFFFFF', () => {
    const v = at(`${sv}\\Keep`).values[0]!;
    const vk = v.cell + 4;
    assert.equal(u32(bytes, vk + 4), 0, 'data size');
    assert.equal(u32(bytes, vk + 8), 0xffffffff, 'data offset');
    assert.equal(u32(bytes, vk + 12), 0, 'type');
    assert.equal(new DataView(bytes.buffer).getUint16(vk + 16, true), 0x3, 'flags');
  });

  it('a key deleted and created again is supersede-tree with InheritClass (0x83); what is made below it 0x03', () => {
    assert.equal(layerOf(at(`${sv}\\Re`)), 0x83);
    assert.equal(layerOf(at(`${sv}\\Absent`)), 0x83);
    assert.equal(layerOf(at(`${sv}\\New\\Sub`)), 0x80, 'without a base, [KEY] cannot know the key is new');
  });

  it('key times are the timestamp; the same inputs give the same bytes', () => {
    for (const k of keys.values()) assert.equal(k.timestamp, 132_000_000_000_000_000n, k.path);
    const again = writeDeltaHive(changeSetFromRegText([CHANGES]), {
      hive: 'system',
      timestamp: 132_000_000_000_000_000n,
    });
    assert.deepEqual(again, bytes);
  });
});

describe('writeDeltaHive without a base: the default descriptor of each hive', () => {
  const aces = (sddl: string): string[][] => [...sddl.matchAll(/\(([^)]*)\)/g)].map((m) => m[1]!.split(';'));

  for (const hive of HIVE_NAMES) {
    it(`${hive}: every key carries ${hive}'s default descriptor; Everyone cannot write`, () => {
      const set = changeSetFromRegText([`${HEAD}[${deltaRoot(hive)}\\A\\B]\r\n"v"=dword:1\r\n`]);
      const keys = decodeHive(writeDeltaHive(set, { hive }));
      const sd = Buffer.from(sddlToBytes(DEFAULT_DELTA_SDDL[hive])).toString('hex');
      for (const k of keys.values()) assert.equal(k.sd, sd, k.path);
      const list = aces(bytesToSddl(sddlToBytes(DEFAULT_DELTA_SDDL[hive])));
      assert.ok(list.length > 0);
      for (const [, , rights, , , sid] of list) {
        assert.notEqual(sid, 'WD', 'no ACE for Everyone');
        if (sid !== 'SY' && sid !== 'BA' && sid !== 'CO') assert.equal(rights, 'KR', `${sid} may only read`);
      }
      if (hive === 'sam' || hive === 'security') {
        assert.deepEqual(list.map((a) => a[5]).sort(), ['BA', 'SY'], 'only SYSTEM and Administrators');
      }
      assert.deepEqual(checkHive(writeDeltaHive(set, { hive })).errors, []);
    });
  }

  it('an unchanged hive is an empty differencing hive: the root only, named after its delta', () => {
    for (const hive of HIVE_NAMES) {
      const bytes = writeDeltaHive(undefined, { hive });
      assert.deepEqual([...decodeHive(bytes).keys()], ['']);
      assert.equal(u32(bytes, 144), 0x2);
      const name = Buffer.from(bytes.subarray(48, 112)).toString('utf16le').replace(/\0+$/, '');
      assert.equal(name, deltaFileName(hive));
      assert.ok(name.length <= 31 && /State\\Hives\\[a-z]+[A-Za-z]*_Delta$/.test(name), name);
      assert.deepEqual(checkHive(bytes), { errors: [], warnings: [], dirty: false });
    }
    assert.equal(deltaFileName('default'), 'oxState\\Hives\\defaultUser_Delta');
  });
});

describe('writeDeltaHive with a base', () => {
  const base = baseSystem();
  const set = changeSetFromRegText([CHANGES], { controlSet: 2 });
  const bytes = writeDeltaHive(set, { hive: 'system', base });
  const keys = decodeHive(bytes);
  const sv = 'ControlSet002\\Services';
  const sdHex = (sddl: string): string => Buffer.from(sddlToBytes(sddl)).toString('hex');
  const baseKeys = decodeHive(base);

  it('CurrentControlSet is the control set the base selects', () => {
    assert.ok(keys.has(sv));
    assert.ok(!keys.has('ControlSet001'));
  });

  it('keys the base lacks are new (supersede-tree, InheritClass clear), with their parent’s descriptor', () => {
    for (const p of [`${sv}\\New`, `${sv}\\New\\Sub`, `${sv}\\Absent`]) {
      assert.equal(layerOf(keys.get(p)!), 0x03, p);
      assert.equal(keys.get(p)!.sd, sdHex(SD.services), p);
    }
  });

  it('deletions of what the base lacks are dropped; a merge node changing nothing is dropped', () => {
    assert.ok(!keys.has(`${sv}\\NotThere`));
    assert.ok(!keys.has(`${sv}\\Same`));
    assert.deepEqual(
      keys.get(`${sv}\\Keep`)!.values.map((v) => [v.name, v.flags]),
      [
        ['a', 0x3],
        ['n', 0x1],
      ],
    );
  });

  it('every key carries the descriptor of the same key in the base', () => {
    for (const [p, k] of keys) {
      const same = baseKeys.get(p === '' ? '' : p);
      if (same !== undefined) assert.equal(k.sd, same.sd, p);
    }
    assert.equal(keys.get(`${sv}\\Old`)!.sd, sdHex(SD.old));
    assert.equal(layerOf(keys.get(`${sv}\\Old`)!), 0x01);
    assert.equal(keys.get(`${sv}\\Re`)!.sd, sdHex(SD.re));
    assert.equal(layerOf(keys.get(`${sv}\\Re`)!), 0x83);
    assert.equal(keys.get(`${sv}\\Keep`)!.sd, sdHex(SD.keep));
    assert.deepEqual(checkHive(bytes), { errors: [], warnings: [], dirty: false });
  });

  it('refuses changes read for another control set, and a base that is itself a differencing hive', () => {
    assert.throws(
      () => writeDeltaHive(changeSetFromRegText([CHANGES]), { hive: 'system', base }),
      (e: unknown) => isWinlayerError(e) && e.code === 'HIVE_BUILD' && /ControlSet001.*ControlSet002/.test(e.message),
    );
    assert.throws(
      () => writeDeltaHive(set, { hive: 'system', base: writeDeltaHive(undefined, { hive: 'system' }) }),
      (e: unknown) => isWinlayerError(e) && e.code === 'HIVE_STRUCTURE' && /differencing hive/.test(e.message),
    );
  });
});

function deltaRoot(hive: HiveName): string {
  return {
    system: 'HKLM\\SYSTEM',
    software: 'HKLM\\SOFTWARE',
    sam: 'HKLM\\SAM',
    security: 'HKLM\\SECURITY',
    default: 'HKU\\.DEFAULT',
  }[hive];
}

describe('property: delta → .reg (toRegText) → delta gives the same bytes, for random change sets', () => {
  /** A small deterministic generator (mulberry32). */
  function random(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  // name parts as written in a [key] line and in a quoted value name: plain, non-ASCII, a surrogate pair, a
  // control character (escaped), a quote and a backslash (value names only), a leading dash
  const KEY_PARTS = ['a', 'B', 'é', 'Ω', '中', '😀', ' ', '.', '\\\\x01', '-', 'ß'];
  const VALUE_PARTS = ['v', 'W', 'é', '中', '😀', ' ', '\\x0a', '\\"', '\\\\', '=', 'ß'];
  const VALUE_FORMS = [
    (r: () => number) => `dword:${Math.floor(r() * 0xffffffff).toString(16)}`,
    () => '"text \\"q\\" é"',
    () => 'hex:',
    (r: () => number) =>
      `hex:${Array.from({ length: Math.floor(r() * 40) }, (_, i) => ((i * 7) & 0xff).toString(16).padStart(2, '0')).join(',')}`,
    (r: () => number) => `hex(${Math.floor(r() * 12).toString(16)}):01,00,00,00`,
    () => 'hex(12345678):ff',
    () => 'hex(2):25,00,41,00,25,00,00,00',
    () => '-',
  ];

  function name(r: () => number, parts: readonly string[]): string {
    let out = '';
    const n = 1 + Math.floor(r() * 3);
    for (let i = 0; i < n; i++) out += parts[Math.floor(r() * parts.length)]!;
    return out;
  }

  function randomReg(r: () => number, prefix: string, withDeletions: boolean): string {
    const keyNames = Array.from({ length: 4 }, () => name(r, KEY_PARTS));
    const valueNames = Array.from({ length: 4 }, () => name(r, VALUE_PARTS));
    const lines = ['Windows Registry Editor Version 5.00', ''];
    for (let i = 0; i < 25; i++) {
      const depth = 1 + Math.floor(r() * 3);
      const path = Array.from({ length: depth }, () => keyNames[Math.floor(r() * keyNames.length)]!).join('\\');
      const op = r();
      if (withDeletions && op < 0.2) lines.push(`[-${prefix}\\${path}]`, '');
      else {
        if (withDeletions && op < 0.3) lines.push(`[-${prefix}\\${path}]`);
        lines.push(`[${prefix}\\${path}]`);
        for (let j = Math.floor(r() * 4); j > 0; j--) {
          const form = VALUE_FORMS[Math.floor(r() * VALUE_FORMS.length)]!(r);
          if (form === '-' && !withDeletions) continue;
          const n = r() < 0.1 ? '@' : `"${valueNames[Math.floor(r() * valueNames.length)]!}"`;
          lines.push(`${n}=${form}`);
        }
        lines.push('');
      }
    }
    return `${lines.join('\r\n')}\r\n`;
  }

  /** Every layered-key byte and value flags the deltas held, so the last test can say the seeds covered each kind. */
  const seen = new Set<string>();

  for (let seed = 1; seed <= 40; seed++) {
    it(`seed ${seed}`, () => {
      const r = random(seed);
      const P = 'HKEY_LOCAL_MACHINE\\SOFTWARE';
      const base = buildHive(applyRegText(createHiveBuilder(), randomReg(r, P, false), { prefix: P }));
      const set = changeSetFromRegText([randomReg(r, P, true)]);
      for (const opts of [{ hive: 'software' as const }, { hive: 'software' as const, base }]) {
        const first = writeDeltaHive(set, opts);
        assert.deepEqual(checkHive(first).errors, []);
        for (const k of decodeHive(first).values()) {
          seen.add(`key ${layerOf(k).toString(16)}`);
          for (const v of k.values) seen.add(`value flags ${v.flags}`);
        }
        const text = toRegText(openHive(first), { prefix: P });
        const second = writeDeltaHive(changeSetFromRegText([text]), opts);
        assert.ok(Buffer.from(second).equals(Buffer.from(first)), `${'base' in opts ? 'with' : 'without'} a base`);
      }
    });
  }

  it('the seeds covered merge nodes, tombstones, replaced and new keys, values and tombstone values', () => {
    for (const kind of [
      'key 0',
      'key 80',
      'key 1',
      'key 83',
      'key 3',
      'value flags 1',
      'value flags 3',
      'value flags 0',
    ]) {
      assert.ok(seen.has(kind), kind);
    }
  });
});
