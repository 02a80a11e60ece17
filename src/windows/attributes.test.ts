import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
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

describe('FILE_ATTRIBUTE', () => {
  test('has the winnt.h values', () => {
    assert.deepEqual(FILE_ATTRIBUTE, {
      READONLY: 0x1,
      HIDDEN: 0x2,
      SYSTEM: 0x4,
      DIRECTORY: 0x10,
      ARCHIVE: 0x20,
      DEVICE: 0x40,
      NORMAL: 0x80,
      TEMPORARY: 0x100,
      SPARSE_FILE: 0x200,
      REPARSE_POINT: 0x400,
      COMPRESSED: 0x800,
      OFFLINE: 0x1000,
      NOT_CONTENT_INDEXED: 0x2000,
      ENCRYPTED: 0x4000,
      INTEGRITY_STREAM: 0x8000,
      VIRTUAL: 0x10000,
      NO_SCRUB_DATA: 0x20000,
      EA: 0x40000,
      RECALL_ON_OPEN: 0x40000,
      PINNED: 0x80000,
      UNPINNED: 0x100000,
      RECALL_ON_DATA_ACCESS: 0x400000,
      STRICTLY_SEQUENTIAL: 0x20000000,
    });
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
