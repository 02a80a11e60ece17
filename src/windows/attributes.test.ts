import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { requireTool, run } from '../../test/helpers/tools.js';
import { isWinlayerError } from '../errors.js';
import { attributeNames, defaultAttributes, FILE_ATTRIBUTE, formatAttributes, parseAttributes } from './attributes.js';

const attrInvalid = (e: unknown) => isWinlayerError(e, 'ATTR_INVALID');

/** The name written for a bit: winnt.h gives 0x40000 two names, and the one written is RECALL_ON_OPEN. */
const writtenName = (name: string): string => (name === 'EA' ? 'RECALL_ON_OPEN' : name);

const isSingleBit = (v: number): boolean => Number.isInteger(v) && v > 0 && v <= 0x80000000 && (v & (v - 1)) === 0;

describe('FILE_ATTRIBUTE', () => {
  test('every value is one bit, and no two names share one but EA and RECALL_ON_OPEN (winnt.h gives both 0x40000)', () => {
    const byBit = new Map<number, string[]>();
    for (const [name, bit] of Object.entries(FILE_ATTRIBUTE)) {
      assert.ok(isSingleBit(bit), `${name} = ${bit} is not a single bit`);
      byBit.set(bit, [...(byBit.get(bit) ?? []), name]);
    }
    const shared = [...byBit.values()].filter((names) => names.length > 1);
    assert.deepEqual(shared, [['EA', 'RECALL_ON_OPEN']]);
  });

  test('spot values from the File Attribute Constants page (learn.microsoft.com, fileio), in its decimal column', () => {
    // https://learn.microsoft.com/windows/win32/fileio/file-attribute-constants lists each constant as "value (hex)";
    // these are the ones a layer uses, copied from that page's decimal column, not from winnt.h or our table.
    assert.equal(FILE_ATTRIBUTE.READONLY, 1);
    assert.equal(FILE_ATTRIBUTE.HIDDEN, 2);
    assert.equal(FILE_ATTRIBUTE.SYSTEM, 4);
    assert.equal(FILE_ATTRIBUTE.DIRECTORY, 16);
    assert.equal(FILE_ATTRIBUTE.ARCHIVE, 32);
    assert.equal(FILE_ATTRIBUTE.NORMAL, 128);
    assert.equal(FILE_ATTRIBUTE.REPARSE_POINT, 1024);
    assert.equal(FILE_ATTRIBUTE.STRICTLY_SEQUENTIAL, 536870912);
  });

  test('every name parses to its bit (with the FILE_ATTRIBUTE_ prefix, and bare in any case) and is named back', () => {
    for (const [name, bit] of Object.entries(FILE_ATTRIBUTE)) {
      assert.equal(parseAttributes(`FILE_ATTRIBUTE_${name}`), bit, name);
      assert.equal(parseAttributes(name.toLowerCase()), bit, name);
      assert.deepEqual(attributeNames(bit), [writtenName(name)], name);
      assert.equal(parseAttributes(formatAttributes(bit)), bit, name);
    }
  });

  test("agrees with Python's stat.FILE_ATTRIBUTE_* (an independent list)", (t) => {
    if (!requireTool(t, 'python3')) return;
    const python = run('python3', [
      '-c',
      'import json, stat; print(json.dumps({k: getattr(stat, k) for k in dir(stat) if k.startswith("FILE_ATTRIBUTE_")}))',
    ]);
    const theirs = Object.entries(JSON.parse(python.toString('utf8')) as Record<string, number>);
    assert.ok(theirs.length >= 17, `Python lists ${theirs.length} attributes`);
    for (const [name, bit] of theirs) {
      assert.equal(parseAttributes(name), bit, name);
      assert.deepEqual(attributeNames(bit), [name.slice('FILE_ATTRIBUTE_'.length)], name);
    }
  });
});

describe('defaultAttributes', () => {
  test('folders DIRECTORY; file symlinks REPARSE_POINT|ARCHIVE; folder links REPARSE_POINT|DIRECTORY; else ARCHIVE', () => {
    assert.equal(formatAttributes(defaultAttributes('directory')), 'DIRECTORY');
    assert.equal(formatAttributes(defaultAttributes('symlink')), 'ARCHIVE|REPARSE_POINT');
    assert.equal(formatAttributes(defaultAttributes('symlink', { toDirectory: false })), 'ARCHIVE|REPARSE_POINT');
    assert.equal(formatAttributes(defaultAttributes('symlink', { toDirectory: true })), 'DIRECTORY|REPARSE_POINT');
    assert.equal(formatAttributes(defaultAttributes('symlink', { mountPoint: true })), 'DIRECTORY|REPARSE_POINT');
    for (const kind of ['file', 'hardlink', 'stream', 'special']) {
      assert.equal(formatAttributes(defaultAttributes(kind)), 'ARCHIVE', kind);
    }
    // What an NTFS file symlink and folder symlink made by Windows read as (0x420, 0x410).
    assert.deepEqual(
      [defaultAttributes('symlink'), defaultAttributes('symlink', { toDirectory: true })],
      [0x420, 0x410],
    );
  });
});

describe('names', () => {
  test('bits become names in bit order', () => {
    assert.deepEqual(attributeNames(0x30), ['DIRECTORY', 'ARCHIVE']);
    assert.deepEqual(attributeNames(0x2026), ['HIDDEN', 'SYSTEM', 'ARCHIVE', 'NOT_CONTENT_INDEXED']);
    assert.deepEqual(attributeNames(0), []);
    assert.deepEqual(attributeNames(0x40000), ['RECALL_ON_OPEN']);
  });

  test('bits without a name are kept as one hex value', () => {
    assert.deepEqual(attributeNames((0x10 | 0x8 | 0x80000000) >>> 0), ['DIRECTORY', '0x80000008']);
    assert.equal(formatAttributes(0x8), '0x8');
  });

  test('formatAttributes joins with | and writes - for none', () => {
    assert.equal(formatAttributes(0x30), 'DIRECTORY|ARCHIVE');
    assert.equal(formatAttributes(0x80), 'NORMAL');
    assert.equal(formatAttributes(0), '-');
  });

  test('values outside uint32 are ATTR_INVALID', () => {
    for (const v of [-1, 2 ** 32, 1.5, Number.NaN]) assert.throws(() => attributeNames(v), attrInvalid, String(v));
  });
});

describe('parseAttributes', () => {
  test('names, any case, with or without prefix, several separators', () => {
    assert.equal(parseAttributes('DIRECTORY|ARCHIVE'), 0x30);
    assert.equal(parseAttributes('directory, archive'), 0x30);
    assert.equal(parseAttributes('FILE_ATTRIBUTE_HIDDEN+system'), 0x6);
    assert.equal(parseAttributes(' READONLY '), 0x1);
    assert.equal(parseAttributes('EA'), 0x40000);
  });

  test('numbers, decimal and hex, mixed with names', () => {
    assert.equal(parseAttributes('16'), 0x10);
    assert.equal(parseAttributes('0x20|DIRECTORY'), 0x30);
    assert.equal(parseAttributes('0xFFFFFFFF'), 0xffffffff);
    assert.equal(parseAttributes('-'), 0);
    assert.equal(parseAttributes('0'), 0);
  });

  test('unknown names and bad numbers are ATTR_INVALID naming the token', () => {
    assert.throws(
      () => parseAttributes('DIRECTORY|SHINY'),
      (e: unknown) => attrInvalid(e) && /"SHINY"/.test(String(e)),
    );
    for (const bad of ['', '0x100000000', '4294967296', '0xZZ', '|']) {
      assert.throws(() => parseAttributes(bad), attrInvalid, JSON.stringify(bad));
    }
  });

  test('property: formatAttributes round-trips through parseAttributes', () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), (bits) => {
        assert.equal(parseAttributes(formatAttributes(bits)), bits);
      }),
    );
  });
});
