import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { isWinlayerError } from '../errors.js';
import { decodeReparsePoint, encodeReparsePoint, ntSubstituteName, REPARSE_TAG } from './reparse.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const utf16 = (s: string): string => Buffer.from(s, 'utf16le').toString('hex');
const reparseInvalid = (pattern: RegExp) => (e: unknown) =>
  isWinlayerError(e, 'REPARSE_INVALID') && pattern.test(e.message);

describe('ntSubstituteName', () => {
  test('the four target forms', () => {
    assert.deepEqual(ntSubstituteName('C:\\Windows'), { name: '\\??\\C:\\Windows', relative: false });
    assert.deepEqual(ntSubstituteName('\\\\?\\Volume{x}\\dir'), { name: '\\??\\Volume{x}\\dir', relative: false });
    assert.deepEqual(ntSubstituteName('\\\\server\\share\\x'), {
      name: '\\??\\UNC\\server\\share\\x',
      relative: false,
    });
    assert.deepEqual(ntSubstituteName('..\\lib\\x.dll'), { name: '..\\lib\\x.dll', relative: true });
    assert.deepEqual(ntSubstituteName('\\rooted'), { name: '\\rooted', relative: true });
  });
});

describe('encodeReparsePoint', () => {
  test('an absolute symlink, byte by byte', () => {
    const b = encodeReparsePoint('C:\\x');
    const subst = utf16('\\??\\C:\\x');
    const print = utf16('C:\\x');
    assert.equal(
      hex(b),
      '0c0000a0' + // tag
        '2800' + // data length: 12 fixed + 16 + 2 (substitute, NUL) + 8 + 2 (print, NUL) = 40
        '0000' + // reserved
        '0000' + // substitute offset
        '1000' + // substitute length: 8 units
        '1200' + // print offset: 16 + 2
        '0800' + // print length: 4 units
        '00000000' + // flags: absolute
        `${subst}0000${print}0000`,
    );
  });

  test('a relative symlink sets SYMLINK_FLAG_RELATIVE and keeps the path', () => {
    const rp = decodeReparsePoint(encodeReparsePoint('..\\a'));
    assert.deepEqual(rp, { kind: 'symlink', target: '..\\a', substituteName: '..\\a', relative: true });
  });

  test('a junction has no flags field and the mount point tag', () => {
    const b = encodeReparsePoint('C:\\data', { mountPoint: true });
    assert.equal(new DataView(b.buffer).getUint32(0, true), REPARSE_TAG.MOUNT_POINT);
    assert.deepEqual(decodeReparsePoint(b), {
      kind: 'mountPoint',
      target: 'C:\\data',
      substituteName: '\\??\\C:\\data',
      relative: false,
    });
    assert.equal(b.length, 8 + 8 + (11 + 1 + 7 + 1) * 2);
  });

  test('refuses what cannot be a reparse point', () => {
    assert.throws(() => encodeReparsePoint(''), reparseInvalid(/empty/));
    assert.throws(() => encodeReparsePoint('a\u0000b'), reparseInvalid(/NUL/));
    assert.throws(() => encodeReparsePoint('rel', { mountPoint: true }), reparseInvalid(/absolute target/));
    assert.throws(() => encodeReparsePoint(`C:\\${'x'.repeat(5000)}`), reparseInvalid(/over 16 KiB/));
  });

  test('property: decode(encode(target)) gives the target back', () => {
    const target = fc.oneof(
      fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }).filter((s) => !s.includes('\u0000')),
      fc.constantFrom('C:\\Windows\\System32', '\\\\srv\\share', '\\\\?\\C:\\x', '..\\..\\y', 'π\\\u{1F600}'),
    );
    fc.assert(
      fc.property(target, fc.boolean(), (t, mountPoint) => {
        const { name, relative } = ntSubstituteName(t);
        if (mountPoint && relative) return;
        const rp = decodeReparsePoint(encodeReparsePoint(t, { mountPoint }));
        assert.deepEqual(rp, {
          kind: mountPoint ? 'mountPoint' : 'symlink',
          target: t,
          substituteName: name,
          relative: !mountPoint && relative,
        });
      }),
    );
  });
});

describe('decodeReparsePoint', () => {
  test('other tags are unsupported, as go-winio says', () => {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setUint32(0, REPARSE_TAG.LX_SYMLINK, true);
    assert.throws(() => decodeReparsePoint(b), reparseInvalid(/unsupported reparse point 0xa000001d/));
  });

  test('structural errors', () => {
    const good = encodeReparsePoint('C:\\x');
    const with_ = (f: (v: DataView) => void, bytes = good.slice()): Uint8Array => {
      f(new DataView(bytes.buffer));
      return bytes;
    };
    assert.throws(() => decodeReparsePoint(good.subarray(0, 6)), reparseInvalid(/shorter than its 8-byte header/));
    assert.throws(() => decodeReparsePoint(good.subarray(0, good.length - 2)), reparseInvalid(/does not match/));
    assert.throws(
      () => decodeReparsePoint(with_((v) => v.setUint16(4, 4, true), good.slice(0, 12))),
      reparseInvalid(/no room/),
    );
    assert.throws(() => decodeReparsePoint(with_((v) => v.setUint16(14, 99, true))), reparseInvalid(/odd/));
    assert.throws(() => decodeReparsePoint(with_((v) => v.setUint16(14, 200, true))), reparseInvalid(/past the end/));
    assert.throws(() => decodeReparsePoint(with_((v) => v.setUint16(10, 202, true))), reparseInvalid(/past the end/));
  });

  test('property: arbitrary bytes give REPARSE_INVALID or a reparse point, nothing else', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 64 }),
        fc.constantFrom(REPARSE_TAG.SYMLINK, REPARSE_TAG.MOUNT_POINT, 0),
        (b, tag) => {
          if (tag !== 0 && b.length >= 8) {
            const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
            v.setUint32(0, tag, true);
            v.setUint16(4, b.length - 8, true);
          }
          try {
            decodeReparsePoint(b);
          } catch (e) {
            assert.ok(isWinlayerError(e, 'REPARSE_INVALID'), String(e));
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
