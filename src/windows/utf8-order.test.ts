import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { compareUtf8 } from './utf8-order.js';

/** The reference: compare the encoded bytes. */
const byBytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
const sign = (n: number): number => Math.sign(n);

describe('compareUtf8', () => {
  test('ASCII and BMP strings compare as usual', () => {
    assert.ok(compareUtf8('Files', 'UtilityVM') < 0);
    assert.ok(compareUtf8('a', 'B') > 0, 'byte order, not case-insensitive');
    assert.ok(compareUtf8('abc', 'abcd') < 0);
    assert.equal(compareUtf8('é', 'é'), 0);
    assert.ok(compareUtf8('z', 'é') < 0);
  });

  test('astral characters sort after U+E000–U+FFFF, unlike JavaScript <', () => {
    const astral = '\u{1F600}'; // 😀, UTF-16 D83D DE00, UTF-8 F0 9F 98 80
    const privateUse = '\uE000'; // UTF-8 EE 80 80
    const replacement = '\uFFFD'; // UTF-8 EF BF BD
    assert.ok(astral < privateUse, 'JavaScript puts the astral character first');
    assert.ok(compareUtf8(astral, privateUse) > 0);
    assert.ok(compareUtf8(privateUse, astral) < 0);
    assert.ok(compareUtf8(astral, replacement) > 0);
    assert.ok(compareUtf8(`x${astral}`, `x${replacement}y`) > 0);
    assert.ok(compareUtf8('\uD7FF', astral) < 0, 'below the surrogates nothing changes');
    assert.ok(compareUtf8('\u{10000}', '\u{10FFFF}') < 0);
    assert.ok(compareUtf8('\u{1F600}', '\u{1F601}') < 0);
  });

  test('sorting a list gives the byte order', () => {
    const names = ['\uFFFF', '\u{1F600}', 'a', '\uE000', '\u{10000}', 'Z', '\uD7FF', 'ä', ''];
    const sorted = [...names].sort(compareUtf8);
    const reference = [...names].sort(byBytes);
    assert.deepEqual(sorted, reference);
    assert.deepEqual(sorted, ['', 'Z', 'a', 'ä', '\uD7FF', '\uE000', '\uFFFF', '\u{10000}', '\u{1F600}']);
  });

  test('property: agrees with comparing the UTF-8 bytes', () => {
    const unit = fc.oneof(
      fc.constantFrom(
        'a',
        'Z',
        '\u00e9',
        '\uD7FF',
        '\uE000',
        '\uFFFD',
        '\uFFFF',
        '\u{10000}',
        '\u{1F600}',
        '\u{10FFFF}',
      ),
      fc.string({ unit: 'grapheme', maxLength: 1 }),
    );
    const str = fc.array(unit, { maxLength: 6 }).map((u) => u.join(''));
    fc.assert(
      fc.property(str, str, (a, b) => {
        assert.equal(sign(compareUtf8(a, b)), sign(byBytes(a, b)), JSON.stringify([a, b]));
        assert.equal(sign(compareUtf8(a, b)), -sign(compareUtf8(b, a)) || 0);
      }),
      { numRuns: 2000 },
    );
  });
});
