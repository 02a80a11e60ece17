/**
 * Tests of the streaming `.reg` path (`applyRegText`, `applyRegFile`) and the compact builder: the same hive bytes as
 * `applyRegChanges(parseRegText(…))` for every encoding and line end, across the 1 MiB decoding chunks, and the
 * builder's case-insensitive lists past the size where they get an index.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '../../test/helpers/tools.js';
import { isWinlayerError } from '../errors.js';
import {
  applyRegChanges,
  applyRegFile,
  applyRegText,
  buildHive,
  createHiveBuilder,
  findKey,
  openHive,
  parseRegText,
  REG,
  toRegFile,
  value,
  valueData,
  valueName,
  values,
} from './index.js';

const HEADER = 'Windows Registry Editor Version 5.00';

/** The hive built the array way (parse everything, then apply). */
function viaArray(input: Uint8Array | string, prefix?: string): Uint8Array {
  const opts = prefix === undefined ? {} : { prefix };
  return buildHive(applyRegChanges(createHiveBuilder(), parseRegText(input), opts));
}

function encodings(text: string): Array<[string, Uint8Array]> {
  const u16 = Buffer.from(text, 'utf16le');
  return [
    ['UTF-8', Buffer.from(text, 'utf8')],
    ['UTF-8 + BOM', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')])],
    ['UTF-16LE + BOM', Buffer.concat([Buffer.from([0xff, 0xfe]), u16])],
    ['UTF-16LE', u16],
  ];
}

describe('streaming .reg (applyRegText, applyRegFile)', () => {
  it('builds the same bytes as parseRegText + applyRegChanges, for every encoding and line end', () => {
    for (const eol of ['\r\n', '\n', '\r']) {
      const text = [
        HEADER,
        '',
        '; comment',
        '[R\\Ünï\\€]',
        '"v"=hex:01,02,\\',
        '  03,04,\\',
        '',
        '@="x"',
        '"s"="é€𝄞 \\"q\\""',
        '[R\\a]',
        '"d"=dword:0000ffff',
        '"m"=hex(7):41,00,00,00,00,00',
        '"d"=-',
        '[-R\\Ünï]',
        '[R\\Ünï\\b]',
        '"z"=hex:',
        '',
      ].join(eol);
      for (const [name, bytes] of encodings(text)) {
        const want = viaArray(bytes);
        assert.deepEqual(buildHive(applyRegText(createHiveBuilder(), bytes)), want, `${name} ${JSON.stringify(eol)}`);
      }
      assert.deepEqual(buildHive(applyRegText(createHiveBuilder(), text)), viaArray(text));
    }
  });

  it('reads across the 1 MiB decoding chunks: CRLF, multi-byte UTF-8 and UTF-16 split at the boundary', (t) => {
    const dir = tempDir(t);
    const M = 1 << 20;
    for (let pad = M - 6; pad <= M + 1; pad++) {
      const text = `${HEADER}\r\n;${'x'.repeat(pad - HEADER.length - 3)}\r\n[R\\é€𝄞]\r\n"v"="é€𝄞"\r\n"w"=hex:01,\\\r\n  02\r\n`;
      for (const [name, bytes] of encodings(text)) {
        const want = viaArray(bytes);
        assert.deepEqual(buildHive(applyRegText(createHiveBuilder(), bytes)), want, `${name} pad ${pad}`);
        if (pad === M - 3) {
          const file = join(dir, 'x.reg');
          writeFileSync(file, bytes);
          assert.deepEqual(buildHive(applyRegFile(createHiveBuilder(), file)), want, `file ${name}`);
        }
      }
    }
  });

  it('round-trips a big wrapped value (40,000 continuation lines) and rejects what parseRegText rejects', () => {
    const b = createHiveBuilder();
    const big = Uint8Array.from({ length: 1_000_000 }, (_, i) => (i * 31) & 0xff);
    b.key('a').setValue('big', REG.BINARY, big);
    const file = toRegFile(openHive(buildHive(b)));
    const h = openHive(buildHive(applyRegText(createHiveBuilder(), file)));
    assert.deepEqual(valueData(value(findKey(h, 'a')!, 'big')!), big);
    for (const bad of ['hello', `${HEADER}\r\n"x"="y"\r\n`, `${HEADER}\r\n[R\\a]\r\n"v"=hex:01,,02\r\n`]) {
      assert.throws(
        () => applyRegText(createHiveBuilder(), bad),
        (e) => isWinlayerError(e, 'REG_SYNTAX'),
      );
    }
    assert.throws(
      () => applyRegText(createHiveBuilder(), `${HEADER}\r\n[A]\r\n[B\\c]\r\n`),
      (e) => isWinlayerError(e, 'REG_SYNTAX'),
    );
  });

  it('applyRegFile: a missing file is NOT_FOUND', (t) => {
    assert.throws(
      () => applyRegFile(createHiveBuilder(), join(tempDir(t), 'none.reg')),
      (e) => isWinlayerError(e, 'NOT_FOUND'),
    );
  });

  it('a key deleted and added again in the same file gets fresh values', () => {
    const text = [HEADER, '[R\\a\\b]', '"x"="1"', '[-R\\a]', '[R\\a\\b]', '"y"="2"', ''].join('\r\n');
    const h = openHive(buildHive(applyRegText(createHiveBuilder(), text)));
    assert.deepEqual(values(findKey(h, 'a\\b')!).map(valueName), ['y']);
    assert.deepEqual(buildHive(applyRegText(createHiveBuilder(), text)), viaArray(text));
  });
});

describe('compact builder lists', () => {
  it('past 8 entries: case-insensitive lookup, replace in place keeping the name, delete', () => {
    const b = createHiveBuilder();
    const k = b.key('k');
    for (let i = 0; i < 40; i++) {
      k.subkey(`Sub${i}`);
      k.setDword(`Val${i}`, i);
    }
    assert.equal(k.subkey('SUB7'), k.getSubkey('sub7'));
    assert.equal(k.subkeys().length, 40);
    k.setDword('VAL3', 99);
    assert.equal(k.values()[3]!.name, 'Val3');
    assert.deepEqual([...k.getValue('val3')!.data], [99, 0, 0, 0]);
    assert.ok(k.deleteValue('vAl5'));
    assert.ok(!k.deleteValue('val5'));
    assert.equal(k.getValue('Val5'), undefined);
    assert.ok(k.deleteSubkey('sub9'));
    assert.equal(k.getSubkey('Sub9'), undefined);
    k.subkey('SUB9');
    assert.equal(k.getSubkey('sub9')!.name, 'SUB9');
    assert.equal(k.values().length, 39);
    // names with equal lh hashes share an index slot
    k.setDword('a\u0001', 1);
    k.setDword('@&', 2);
    assert.deepEqual([...k.getValue('A\u0001')!.data], [1, 0, 0, 0]);
    assert.deepEqual([...k.getValue('@&')!.data], [2, 0, 0, 0]);
    assert.ok(k.deleteValue('@&'));
    assert.deepEqual([...k.getValue('a\u0001')!.data], [1, 0, 0, 0]);
    k.setDword('@&', 2);
    assert.equal(k.values().length, 41);
    const h = openHive(buildHive(b));
    const hk = findKey(h, 'k')!;
    assert.equal(values(hk).length, 41);
    assert.deepEqual([...valueData(value(hk, 'VAL3')!)], [99, 0, 0, 0]);
  });
});
