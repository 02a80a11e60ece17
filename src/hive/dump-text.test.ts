/** `hive dump`'s text: type names from `REG`, value data by type (bytes when the data does not fit its type). */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { regTypeName } from './dump-text.js';
import {
  buildHive,
  createHiveBuilder,
  dumpKeyLine,
  dumpKeyRecord,
  dumpValueLine,
  mergeRegFile,
  openHive,
} from './index.js';
import { child, root, values } from './read.js';
import { REG } from './types.js';

describe('dump text', () => {
  it('names every REG type and shows unknown ones in hex', () => {
    assert.equal(regTypeName(REG.SZ), 'REG_SZ');
    assert.equal(regTypeName(REG.DWORD_BIG_ENDIAN), 'REG_DWORD_BIG_ENDIAN');
    assert.equal(regTypeName(REG.QWORD), 'REG_QWORD');
    assert.equal(regTypeName(0x1234), '0x1234');
  });

  it('decodes each value by its type, and shows data that does not fit its type as bytes', () => {
    const b = createHiveBuilder();
    const k = b.key('K');
    k.setString('s', 'a\0b');
    k.setMultiString('m', ['x', '', 'y']);
    k.setDword('d', 0x12);
    k.setValue('be', REG.DWORD_BIG_ENDIAN, Uint8Array.of(0, 0, 0, 0x12));
    k.setQword('q', 0x1_0000_0002n);
    k.setValue('odd', REG.SZ, Uint8Array.of(0x41, 0, 0x42));
    k.setValue('short', REG.DWORD, Uint8Array.of(1, 2));
    k.setValue('', REG.BINARY, Uint8Array.of(0xde, 0xad));
    const hive = openHive(buildHive(b));
    const key = child(root(hive), 'K')!;
    assert.deepEqual(values(key).map(dumpValueLine), [
      '  "s" REG_SZ "a\\u0000b"',
      '  "m" REG_MULTI_SZ ["x","","y"]',
      '  "d" REG_DWORD 0x00000012',
      '  "be" REG_DWORD_BIG_ENDIAN 0x00000012',
      '  "q" REG_QWORD 0x0000000100000002',
      '  "odd" REG_SZ hex:410042',
      '  "short" REG_DWORD hex:0102',
      '  @ REG_BINARY hex:dead',
    ]);
    assert.equal(dumpKeyLine(key, '\\K'), '[\\K]');
    const record = dumpKeyRecord(key, '\\K');
    assert.deepEqual(
      { ...record, security: undefined, timestamp: undefined, values: record.values.length },
      { path: '\\K', name: 'K', security: undefined, sddl: record.sddl, subkeys: 0, timestamp: undefined, values: 8 },
    );
    assert.equal(typeof record.sddl, 'string');
  });
});

describe('mergeRegFile', () => {
  it('merges, keeps the permission bits, and returns the new size', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'winlayer-merge-file-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'SAM');
    writeFileSync(file, buildHive(createHiveBuilder()));
    chmodSync(file, 0o600);
    const reg = join(dir, 'c.reg');
    writeFileSync(reg, 'Windows Registry Editor Version 5.00\r\n\r\n[ROOT\\Foo]\r\n"Bar"=dword:00000002\r\n');
    const r = mergeRegFile(file, reg);
    assert.deepEqual(r, { path: file, size: readFileSync(file).length });
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const foo = child(root(openHive(readFileSync(file))), 'Foo')!;
    assert.deepEqual(values(foo).map(dumpValueLine), ['  "Bar" REG_DWORD 0x00000002']);
  });

  it('names a missing input file (NOT_FOUND) and writes nothing', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'winlayer-merge-file-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    assert.throws(() => mergeRegFile(join(dir, 'nope'), join(dir, 'c.reg')), /nope.*\(NOT_FOUND\)/);
  });
});
