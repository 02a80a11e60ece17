/**
 * Issue 19 §1: `.reg` as the change language. What regedit does when it imports a file, as a change set per hive:
 * `[KEY]` a merge node (ancestors merge nodes with InheritClass), `[-KEY]` a tombstone, `[-KEY]` then `[KEY]` a
 * replacement (supersede-tree), `"name"=-` a tombstone value; the roots of the image's hives, long and short, mapped;
 * `CurrentControlSet` mapped to a control set; views refused; every value form regedit writes, in both formats.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '../../test/helpers/tools.js';
import { isWinlayerError } from '../errors.js';
import type { HiveName } from './changes.js';
import { changeSetFromRegFiles, changeSetFromRegText, type RegChangeSet } from './changes.js';
import { describeLayer } from './delta.js';
import { writeDeltaHive } from './delta-write.js';
import {
  isTombstoneValue,
  keyLayer,
  keyPath,
  openHive,
  valueData,
  valueName,
  values,
  valueType,
  walkKeys,
} from './read.js';
import { parseRegText } from './reg.js';
import { REG } from './types.js';

const HEAD = 'Windows Registry Editor Version 5.00\r\n\r\n';

/** Each key of one hive's changes: `path: layer; name=type:hex, name=-`. */
function shape(set: RegChangeSet, hive: HiveName): string[] {
  const h = openHive(writeDeltaHive(set, { hive }));
  return [...walkKeys(h)].map((k) => {
    const vs = values(k).map((v) =>
      isTombstoneValue(v)
        ? `${valueName(v)}=-`
        : `${valueName(v)}=${valueType(v)}:${Buffer.from(valueData(v)).toString('hex')}`,
    );
    return `${keyPath(k)}: ${describeLayer(keyLayer(k)!)}${vs.length === 0 ? '' : `; ${vs.join(', ')}`}`;
  });
}

function refused(text: string, pattern: RegExp): void {
  assert.throws(
    () => changeSetFromRegText([HEAD + text]),
    (e: unknown) => isWinlayerError(e) && e.code === 'REG_SYNTAX' && pattern.test(e.message),
  );
}

describe('.reg as a change set (issue 19 §1)', () => {
  it('[KEY] is a merge node whose ancestors merge with InheritClass; the root merges without it', () => {
    const set = changeSetFromRegText([`${HEAD}[HKEY_LOCAL_MACHINE\\SOFTWARE\\A\\B]\r\n"v"=dword:00000002\r\n`]);
    assert.deepEqual(set.hives(), ['software']);
    assert.deepEqual(shape(set, 'software'), [
      ': merge',
      'A: merge, inherits class',
      'A\\B: merge, inherits class; v=4:02000000',
    ]);
  });

  it('[-KEY] is a tombstone; [-KEY] then [KEY] replaces (supersede-tree, its new subkeys supersede-tree too)', () => {
    const set = changeSetFromRegText([
      `${HEAD}[-HKLM\\SOFTWARE\\Gone]\r\n\r\n[-HKLM\\SOFTWARE\\Re]\r\n\r\n[HKLM\\SOFTWARE\\Re\\Sub]\r\n"x"="y"\r\n`,
    ]);
    assert.deepEqual(shape(set, 'software'), [
      ': merge',
      'Gone: tombstone',
      'Re: supersede-tree, inherits class',
      'Re\\Sub: supersede-tree; x=1:79000000',
    ]);
  });

  it('"name"=- is a tombstone value; in a replaced key it undoes what the file set; later lines win', () => {
    const set = changeSetFromRegText([
      `${HEAD}[HKLM\\SYSTEM\\K]\r\n"a"=-\r\n"b"=dword:1\r\n"b"=-\r\n@=-\r\n` +
        '[-HKLM\\SYSTEM\\R]\r\n[HKLM\\SYSTEM\\R]\r\n"c"=dword:1\r\n"c"=-\r\n' +
        '[HKLM\\SYSTEM\\K]\r\n"a"=dword:5\r\n',
    ]);
    assert.deepEqual(shape(set, 'system'), [
      ': merge',
      // "a" deleted, then set again: a new value, after the others (as regedit makes it)
      'K: merge, inherits class; b=-, =-, a=4:05000000',
      'R: supersede-tree, inherits class',
    ]);
  });

  it('a deletion inside a replaced subtree removes what the file made; inside a deleted one it does nothing', () => {
    const set = changeSetFromRegText([
      `${HEAD}[-HKLM\\SYSTEM\\R]\r\n[HKLM\\SYSTEM\\R\\A]\r\n[HKLM\\SYSTEM\\R\\B]\r\n[-HKLM\\SYSTEM\\R\\A]\r\n` +
        '[-HKLM\\SYSTEM\\D]\r\n[-HKLM\\SYSTEM\\D\\X]\r\n[-HKLM\\SYSTEM\\R\\Missing\\Deep]\r\n',
    ]);
    assert.deepEqual(shape(set, 'system'), [
      ': merge',
      'D: tombstone',
      'R: supersede-tree, inherits class',
      'R\\B: supersede-tree',
    ]);
  });

  it('a key deleted after it was changed is a tombstone with nothing below', () => {
    const set = changeSetFromRegText([`${HEAD}[HKLM\\SYSTEM\\K\\Sub]\r\n"a"=dword:1\r\n[-HKLM\\SYSTEM\\K]\r\n`]);
    assert.deepEqual(shape(set, 'system'), [': merge', 'K: tombstone']);
  });

  it('maps the roots of the five hives, long and short, case-insensitively, and HKCR with a note', () => {
    const set = changeSetFromRegText([
      `${HEAD}[HKEY_LOCAL_MACHINE\\SYSTEM\\a]\r\n[hklm\\software\\b]\r\n[HKLM\\SAM\\c]\r\n` +
        '[HKEY_LOCAL_MACHINE\\SECURITY\\d]\r\n[HKEY_USERS\\.DEFAULT\\e]\r\n[HKU\\.default\\f]\r\n[HKCR\\.txt]\r\n' +
        '[HKEY_CLASSES_ROOT\\.log]\r\n',
    ]);
    assert.deepEqual(set.hives(), ['system', 'software', 'sam', 'security', 'default']);
    assert.deepEqual(shape(set, 'default').slice(1), ['e: merge, inherits class', 'f: merge, inherits class']);
    assert.deepEqual(shape(set, 'software').slice(1), [
      'b: merge, inherits class',
      'Classes: merge, inherits class',
      'Classes\\.log: merge, inherits class',
      'Classes\\.txt: merge, inherits class',
    ]);
    assert.ok(set.notes.some((n) => /HKEY_CLASSES_ROOT is written to HKEY_LOCAL_MACHINE\\SOFTWARE\\Classes/.test(n)));
  });

  it('maps CurrentControlSet to ControlSet001 without a base, to the given control set with one, and says so', () => {
    const text = `${HEAD}[HKLM\\SYSTEM\\CurrentControlSet\\Services\\X]\r\n[-HKLM\\SYSTEM\\currentcontrolset\\Y]\r\n`;
    const assumed = changeSetFromRegText([text]);
    assert.deepEqual(shape(assumed, 'system').slice(1), [
      'ControlSet001: merge, inherits class',
      'ControlSet001\\Services: merge, inherits class',
      'ControlSet001\\Services\\X: merge, inherits class',
      'ControlSet001\\Y: tombstone',
    ]);
    assert.deepEqual(assumed.notes, [
      'HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet is written to ControlSet001 (no base hive: ControlSet001 assumed)',
    ]);
    const given = changeSetFromRegText([text], { controlSet: 2 });
    assert.equal(shape(given, 'system')[1], 'ControlSet002: merge, inherits class');
    assert.match(given.notes[0]!, /to ControlSet002 \(the control set the base selects\)/);
  });

  it('refuses the views that are no hive file, other hives and the root of a hive, with the line', () => {
    refused('[HKEY_CURRENT_USER\\Software\\X]\r\n', /line 3: .*HKEY_CURRENT_USER is the signed-in user's profile/);
    refused('[HKCU\\Software\\X]\r\n', /HKEY_CURRENT_USER/);
    refused('[HKEY_CURRENT_CONFIG\\System]\r\n', /HKEY_CURRENT_CONFIG is a view/);
    refused('[HKCC\\System]\r\n', /HKEY_CURRENT_CONFIG/);
    refused('[HKLM\\HARDWARE\\DESCRIPTION]\r\n', /HARDWARE is made by the kernel/);
    refused('[HKLM\\BCD00000000\\X]\r\n', /not one of the hives a layer carries/);
    refused('[HKLM]\r\n', /HKEY_LOCAL_MACHINE itself is not a hive/);
    refused('[HKU\\S-1-5-21-1-2-3-1001\\X]\r\n', /only HKEY_USERS\\\.DEFAULT/);
    refused('[HKEY_PERFORMANCE_DATA\\X]\r\n', /is not a registry root/);
    refused('[-HKLM\\SOFTWARE]\r\n', /the root of a hive cannot be deleted/);
  });

  it('reads every value form regedit writes (5.00)', () => {
    const set = changeSetFromRegText([
      `${HEAD}[HKLM\\SOFTWARE\\V]\r\n@="def"\r\n"sz"="a\\"b\\\\c"\r\n"dw"=dword:0000ffff\r\n"bin"=hex:01,02\r\n` +
        '"none"=hex(0):\r\n"ex"=hex(2):25,00,00,00\r\n"be"=hex(5):00,00,00,01\r\n"link"=hex(6):41,00\r\n' +
        '"multi"=hex(7):61,00,00,00,00,00\r\n"res"=hex(8):01\r\n"full"=hex(9):02\r\n"req"=hex(a):03\r\n' +
        '"qw"=hex(b):01,00,00,00,00,00,00,00\r\n"odd"=hex(1234):ff\r\n"wrapped"=hex:01,02,\\\r\n  03,04\r\n',
    ]);
    const h = openHive(writeDeltaHive(set, { hive: 'software' }));
    const k = [...walkKeys(h)].find((x) => keyPath(x) === 'V')!;
    const got = Object.fromEntries(
      values(k).map((v) => [valueName(v), `${valueType(v)}:${Buffer.from(valueData(v)).toString('hex')}`]),
    );
    assert.deepEqual(got, {
      '': `1:${Buffer.from('def\0', 'utf16le').toString('hex')}`,
      sz: `1:${Buffer.from('a"b\\c\0', 'utf16le').toString('hex')}`,
      dw: '4:ffff0000',
      bin: '3:0102',
      none: '0:',
      ex: '2:25000000',
      be: '5:00000001',
      link: '6:4100',
      multi: '7:610000000000',
      res: '8:01',
      full: '9:02',
      req: '10:03',
      qw: '11:0100000000000000',
      odd: '4660:ff',
      wrapped: '3:01020304',
    });
  });

  it('reads UTF-16LE with a mark, UTF-8 with and without one, and REGEDIT4 as ANSI, to the same changes', () => {
    const body = '[HKLM\\SOFTWARE\\Caf\u00e9]\r\n"n"="\u00e9"\r\n';
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(HEAD + body, 'utf16le')]);
    const utf8 = Buffer.from(HEAD + body, 'utf8');
    const utf8Bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), utf8]);
    const ansi = Buffer.from(`REGEDIT4\r\n\r\n${body}`, 'latin1');
    const expected = shape(changeSetFromRegText([utf16]), 'software');
    assert.deepEqual(
      expected.at(-1),
      `Caf\u00e9: merge, inherits class; n=1:${Buffer.from('\u00e9\0', 'utf16le').toString('hex')}`,
    );
    for (const input of [utf8, utf8Bom, ansi])
      assert.deepEqual(shape(changeSetFromRegText([input]), 'software'), expected);
  });

  it('REGEDIT4: string data in hex form is ANSI, stored as UTF-16LE (REG_SZ, REG_EXPAND_SZ, REG_MULTI_SZ only)', () => {
    const text = Buffer.from(
      'REGEDIT4\r\n\r\n[HKLM\\SOFTWARE\\K]\r\n"ex"=hex(2):25,80,00\r\n"multi"=hex(7):61,00,62,00,00\r\n' +
        '"bin"=hex:61,00\r\n"dw"=dword:00000001\r\n',
      'latin1',
    );
    const changes = parseRegText(text);
    const data = (name: string): string => {
      const c = changes.find((x) => x.kind === 'value' && x.name === name);
      assert.ok(c !== undefined && c.kind === 'value');
      return `${c.type}:${Buffer.from(c.data).toString('hex')}`;
    };
    assert.equal(data('ex'), `${REG.EXPAND_SZ}:${Buffer.from('%\u20ac\0', 'utf16le').toString('hex')}`);
    assert.equal(data('multi'), `${REG.MULTI_SZ}:${Buffer.from('a\0b\0\0', 'utf16le').toString('hex')}`);
    assert.equal(data('bin'), `${REG.BINARY}:6100`);
    // the same bytes in a 5.00 file are taken as they are
    const v5 = parseRegText(`${HEAD}[HKLM\\SOFTWARE\\K]\r\n"ex"=hex(2):25,80,00\r\n`);
    assert.deepEqual(v5[1], {
      kind: 'value',
      path: 'HKLM\\SOFTWARE\\K',
      name: 'ex',
      type: 2,
      data: Uint8Array.of(0x25, 0x80, 0),
    });
  });

  it('applies several files in order, and names the file and line of an error', (t) => {
    const dir = tempDir(t);
    const a = join(dir, 'a.reg');
    const b = join(dir, 'b.reg');
    writeFileSync(a, `${HEAD}[HKLM\\SOFTWARE\\K]\r\n"v"=dword:1\r\n`);
    writeFileSync(b, `${HEAD}[-HKLM\\SOFTWARE\\K]\r\n[HKLM\\SOFTWARE\\K]\r\n"w"=dword:2\r\n`);
    assert.deepEqual(shape(changeSetFromRegFiles([a, b]), 'software'), [
      ': merge',
      'K: supersede-tree, inherits class; w=4:02000000',
    ]);
    assert.deepEqual(shape(changeSetFromRegFiles([b, a]), 'software'), [
      ': merge',
      'K: supersede-tree, inherits class; w=4:02000000, v=4:01000000',
    ]);
    const bad = join(dir, 'bad.reg');
    writeFileSync(bad, `${HEAD}[HKLM\\SOFTWARE\\K]\r\n"v"=what\r\n`);
    assert.throws(
      () => changeSetFromRegFiles([a, bad]),
      (e: unknown) => isWinlayerError(e) && e.code === 'REG_SYNTAX' && e.path === bad && /line 4/.test(e.message),
    );
    assert.throws(
      () => changeSetFromRegFiles([join(dir, 'missing.reg')]),
      (e: unknown) => isWinlayerError(e) && e.code === 'NOT_FOUND',
    );
  });
});
