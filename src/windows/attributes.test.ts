import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { requireTool, run } from '../../test/helpers/tools.js';
import { isWinlayerError } from '../errors.js';
import {
  attributeNames,
  FILE_ATTRIBUTE,
  formatAttributes,
  formatFileattr,
  parseAttributes,
  parseFileattr,
} from './attributes.js';

const attrInvalid = (e: unknown) => isWinlayerError(e, 'ATTR_INVALID');

/**
 * The `FILE_ATTRIBUTE_*` lines of winnt.h (Windows SDK 10.0.22621) as the header writes them. The table is tested
 * through what reads it (parsing and naming), against this text and against Python's `stat` module, which keeps its
 * own list: never against a copy of itself.
 */
const WINNT_H = `
#define FILE_ATTRIBUTE_READONLY             0x00000001
#define FILE_ATTRIBUTE_HIDDEN               0x00000002
#define FILE_ATTRIBUTE_SYSTEM               0x00000004
#define FILE_ATTRIBUTE_DIRECTORY            0x00000010
#define FILE_ATTRIBUTE_ARCHIVE              0x00000020
#define FILE_ATTRIBUTE_DEVICE               0x00000040
#define FILE_ATTRIBUTE_NORMAL               0x00000080
#define FILE_ATTRIBUTE_TEMPORARY            0x00000100
#define FILE_ATTRIBUTE_SPARSE_FILE          0x00000200
#define FILE_ATTRIBUTE_REPARSE_POINT        0x00000400
#define FILE_ATTRIBUTE_COMPRESSED           0x00000800
#define FILE_ATTRIBUTE_OFFLINE              0x00001000
#define FILE_ATTRIBUTE_NOT_CONTENT_INDEXED  0x00002000
#define FILE_ATTRIBUTE_ENCRYPTED            0x00004000
#define FILE_ATTRIBUTE_INTEGRITY_STREAM     0x00008000
#define FILE_ATTRIBUTE_VIRTUAL              0x00010000
#define FILE_ATTRIBUTE_NO_SCRUB_DATA        0x00020000
#define FILE_ATTRIBUTE_EA                   0x00040000
#define FILE_ATTRIBUTE_PINNED               0x00080000
#define FILE_ATTRIBUTE_UNPINNED             0x00100000
#define FILE_ATTRIBUTE_RECALL_ON_OPEN       0x00040000
#define FILE_ATTRIBUTE_RECALL_ON_DATA_ACCESS 0x00400000
#define FILE_ATTRIBUTE_STRICTLY_SEQUENTIAL  0x20000000
`;

/** Name (without the prefix) → value, from `#define FILE_ATTRIBUTE_X 0x…` lines. */
function documented(header: string): Map<string, number> {
  const defines = header.matchAll(/^#define FILE_ATTRIBUTE_(\w+)\s+(0x[0-9A-Fa-f]+)$/gm);
  return new Map([...defines].map((m) => [m[1]!, Number(m[2])]));
}

/** The name written for a bit: winnt.h gives 0x40000 two names, and the one written is RECALL_ON_OPEN. */
const writtenName = (name: string): string => (name === 'EA' ? 'RECALL_ON_OPEN' : name);

describe('FILE_ATTRIBUTE', () => {
  test('every winnt.h name parses to its value (as winnt.h spells it, and bare), and its bit is named back', () => {
    const defined = documented(WINNT_H);
    assert.equal(defined.size, 23);
    for (const [name, bit] of defined) {
      assert.equal(parseAttributes(`FILE_ATTRIBUTE_${name}`), bit, name);
      assert.equal(parseAttributes(name.toLowerCase()), bit, name);
      assert.deepEqual(attributeNames(bit), [writtenName(name)], name);
    }
  });

  test('the table names exactly the winnt.h attributes', () => {
    assert.deepEqual(Object.keys(FILE_ATTRIBUTE).sort(), [...documented(WINNT_H).keys()].sort());
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

describe('parseFileattr (PAX MSWINDOWS.fileattr)', () => {
  test('plain decimal uint32', () => {
    assert.equal(parseFileattr('16'), 16);
    assert.equal(parseFileattr('32'), 32);
    assert.equal(parseFileattr('0'), 0);
    assert.equal(parseFileattr('4294967295'), 0xffffffff);
    assert.equal(parseFileattr('0016'), 16);
    assert.equal(parseFileattr('00000000000000000032'), 32);
  });

  test('anything else is ATTR_INVALID', () => {
    for (const bad of [
      '',
      ' 16',
      '16 ',
      '+16',
      '-1',
      '0x10',
      '1e3',
      '16.0',
      '4294967296',
      '99999999999',
      '１６',
      'DIRECTORY',
    ]) {
      assert.throws(() => parseFileattr(bad), attrInvalid, JSON.stringify(bad));
    }
  });

  test('property: formatFileattr round-trips', () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), (bits) => {
        assert.equal(parseFileattr(formatFileattr(bits)), bits);
      }),
    );
  });
});
