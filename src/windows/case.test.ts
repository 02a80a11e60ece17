import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { compareUpcase, equalUpcase, upcase, upcaseUnit } from './case.js';

describe('upcaseUnit', () => {
  test('ASCII and Latin-1 letters', () => {
    assert.equal(upcaseUnit(0x61), 0x41);
    assert.equal(upcaseUnit(0x7a), 0x5a);
    assert.equal(upcaseUnit(0x41), 0x41);
    assert.equal(upcaseUnit(0x30), 0x30);
    assert.equal(upcaseUnit(0xe4), 0xc4, 'ä → Ä');
    assert.equal(upcaseUnit(0xff), 0x178, 'ÿ → Ÿ');
  });

  test('units without a single-unit upper case stay as they are', () => {
    assert.equal(upcaseUnit(0xdf), 0xdf, 'ß has no single-unit upper case (toUpperCase gives "SS")');
    assert.equal(upcaseUnit(0x149), 0x149, 'ŉ → "ʼN" expands, so it stays');
    assert.equal(upcaseUnit(0xfb00), 0xfb00, 'ﬀ ligature stays');
  });

  test('surrogates are never folded', () => {
    for (const u of [0xd801, 0xdc38, 0xd800, 0xdfff]) assert.equal(upcaseUnit(u), u);
  });

  test('Greek and Cyrillic fold per unit', () => {
    assert.equal(upcaseUnit(0x3c3), 0x3a3, 'σ → Σ');
    assert.equal(upcaseUnit(0x3c2), 0x3a3, 'final ς → Σ');
    assert.equal(upcaseUnit(0x430), 0x410, 'а → А');
  });

  test('only the low 16 bits are used', () => {
    assert.equal(upcaseUnit(0x10061), 0x41);
  });
});

describe('upcase / compareUpcase / equalUpcase', () => {
  test('upcase maps unit by unit and keeps length', () => {
    assert.equal(upcase('Files/Windows'), 'FILES/WINDOWS');
    assert.equal(upcase('straße'), 'STRAßE');
    assert.equal(upcase('\u{10438}'), '\u{10438}', 'Deseret small letter: a surrogate pair, not folded');
    const same = 'ALREADY UPPER';
    assert.equal(upcase(same), same);
  });

  test('upcase handles long strings', () => {
    const long = 'a'.repeat(10000);
    assert.equal(upcase(long), 'A'.repeat(10000));
  });

  test('compareUpcase orders by upper-cased unit, shorter prefix first', () => {
    assert.equal(compareUpcase('abc', 'ABC'), 0);
    assert.ok(compareUpcase('abc', 'ABD') < 0);
    assert.ok(compareUpcase('ab', 'ABC') < 0);
    assert.ok(compareUpcase('_', 'a') > 0, '"_" (0x5F) sorts after "A" (0x41) once upper-cased');
    assert.ok(compareUpcase('\uE000', '\u{10000}') > 0, 'per UTF-16 unit: surrogates (0xD800) sort before 0xE000');
  });

  test('equalUpcase', () => {
    assert.ok(equalUpcase('System32', 'SYSTEM32'));
    assert.ok(!equalUpcase('straße', 'STRASSE'));
    assert.ok(!equalUpcase('a', 'ab'));
  });

  test('property: the fold agrees with compareUpcase and is idempotent', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 8 }), fc.string({ unit: 'binary', maxLength: 8 }), (a, b) => {
        assert.equal(upcase(upcase(a)), upcase(a));
        assert.equal(upcase(a).length, a.length);
        assert.equal(compareUpcase(a, b) === 0, upcase(a) === upcase(b));
        assert.equal(equalUpcase(a, b), upcase(a) === upcase(b));
        assert.equal(Math.sign(compareUpcase(a, b)), -Math.sign(compareUpcase(b, a)) || 0);
      }),
    );
  });

  test('property: for ASCII it is toUpperCase', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) }), (s) => {
        assert.equal(upcase(s), s.toUpperCase());
      }),
    );
  });
});
