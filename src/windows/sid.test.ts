import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { isWinlayerError } from '../errors.js';
import {
  DOMAIN_RELATIVE_SID_ALIASES,
  decodeSid,
  encodeSid,
  formatSid,
  parseSid,
  SID_ALIASES,
  type Sid,
  sidByteLength,
  sidEquals,
  sidToString,
} from './sid.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const code = (c: string) => (e: unknown) => isWinlayerError(e, c as never);

/** Any encodable SID (fast-check records have a null prototype: copy into plain objects for deepEqual). */
const arbSid: fc.Arbitrary<Sid> = fc
  .tuple(
    fc.oneof(fc.bigInt({ min: 0n, max: 20n }), fc.bigInt({ min: 0n, max: (1n << 48n) - 1n })),
    fc.array(fc.nat({ max: 0xffffffff }), { maxLength: 15 }),
  )
  .map(([authority, subAuthorities]) => ({ revision: 1, authority, subAuthorities }));

describe('parseSid / sidToString / formatSid', () => {
  test('string SIDs parse to their parts', () => {
    assert.deepEqual(parseSid('S-1-5-32-544'), { revision: 1, authority: 5n, subAuthorities: [32, 544] });
    assert.deepEqual(parseSid('S-1-1-0'), { revision: 1, authority: 1n, subAuthorities: [0] });
    assert.deepEqual(parseSid('S-1-5'), { revision: 1, authority: 5n, subAuthorities: [] });
    assert.deepEqual(parseSid('s-1-5-18'), { revision: 1, authority: 5n, subAuthorities: [18] });
    assert.deepEqual(parseSid('S-1-0x123456789ABC-1'), {
      revision: 1,
      authority: 0x123456789abcn,
      subAuthorities: [1],
    });
    assert.deepEqual(parseSid('S-1-5-21-4294967295-1-2-500'), {
      revision: 1,
      authority: 5n,
      subAuthorities: [21, 4294967295, 1, 2, 500],
    });
  });

  test('aliases parse to their SIDs, and SIDs with an alias format as the alias', () => {
    const expected: Record<string, string> = {
      BA: 'S-1-5-32-544',
      SY: 'S-1-5-18',
      BU: 'S-1-5-32-545',
      WD: 'S-1-1-0',
      CO: 'S-1-3-0',
      CG: 'S-1-3-1',
      AU: 'S-1-5-11',
      IU: 'S-1-5-4',
      NS: 'S-1-5-20',
      LS: 'S-1-5-19',
      AN: 'S-1-5-7',
      RC: 'S-1-5-12',
      BG: 'S-1-5-32-546',
      PU: 'S-1-5-32-547',
      NU: 'S-1-5-2',
      SU: 'S-1-5-6',
      OW: 'S-1-3-4',
      AC: 'S-1-15-2-1',
      HI: 'S-1-16-12288',
      UD: 'S-1-5-84-0-0-0-0-0',
    };
    for (const [alias, sid] of Object.entries(expected)) {
      assert.equal(sidToString(parseSid(alias)), sid, alias);
      assert.equal(formatSid(parseSid(sid)), alias, sid);
    }
  });

  test('every alias in the table round-trips and is unique', () => {
    const sids = new Set<string>();
    for (const [alias, text] of Object.entries(SID_ALIASES)) {
      assert.match(alias, /^[A-Z]{2}$/);
      assert.equal(sids.has(text), false, `${text} has two aliases`);
      sids.add(text);
      assert.equal(formatSid(parseSid(alias)), alias);
      assert.equal(sidToString(parseSid(alias)), text);
    }
  });

  test('alias SIDs are shared and frozen', () => {
    const ba = parseSid('BA');
    assert.ok(Object.isFrozen(ba) && Object.isFrozen(ba.subAuthorities));
    assert.throws(() => {
      (ba as { authority: bigint }).authority = 1n;
    }, TypeError);
  });

  test('a SID without an alias formats as S-…', () => {
    assert.equal(formatSid(parseSid('S-1-5-21-1-2-3-500')), 'S-1-5-21-1-2-3-500');
  });

  test('authorities of 2^32 and more print in hex as Windows does', () => {
    assert.equal(sidToString({ revision: 1, authority: 0x1_0000_0000n, subAuthorities: [7] }), 'S-1-0x000100000000-7');
    assert.equal(sidToString({ revision: 1, authority: 0xffffffffn, subAuthorities: [] }), 'S-1-4294967295');
  });

  test('domain-relative aliases are refused with a hint', () => {
    for (const alias of DOMAIN_RELATIVE_SID_ALIASES) {
      assert.throws(
        () => parseSid(alias),
        (e: unknown) => isWinlayerError(e, 'SID_INVALID') && /domain/.test(e.message) && e.hint !== undefined,
        alias,
      );
      assert.equal(alias in SID_ALIASES, false);
    }
  });

  test('malformed SIDs are SID_INVALID', () => {
    for (const bad of [
      '',
      'S-1',
      'S-1-',
      'S-1-5-',
      'S-1-5--1',
      'S-2-5-18',
      'S-1-5-4294967296',
      'S-1-0x1000000000000',
      'S-1-281474976710656',
      'S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16',
      'S-1-5-18 ',
      'ba',
      'XX',
      'S-1-5-x',
    ]) {
      assert.throws(() => parseSid(bad), code('SID_INVALID'), JSON.stringify(bad));
    }
  });

  test('fifteen sub-authorities are allowed', () => {
    const text = `S-1-5${'-1'.repeat(15)}`;
    assert.equal(sidToString(parseSid(text)), text);
  });
});

describe('binary SIDs', () => {
  test('BUILTIN\\Administrators encodes as Windows stores it', () => {
    assert.equal(hex(encodeSid(parseSid('BA'))), '01020000000000052000000020020000');
    assert.equal(hex(encodeSid(parseSid('WD'))), '010100000000000100000000');
    assert.equal(sidByteLength(parseSid('BA')), 16);
  });

  test('decodeSid reads at an offset', () => {
    const buf = Buffer.from('ffff01010000000000051200000000', 'hex');
    assert.deepEqual(decodeSid(buf, 2), { revision: 1, authority: 5n, subAuthorities: [18] });
  });

  test('decodeSid works on a view into a larger buffer', () => {
    const big = new Uint8Array(64);
    big.set(encodeSid(parseSid('BU')), 40);
    assert.deepEqual(decodeSid(big.subarray(32), 8), parseSid('BU'));
  });

  test('decodeSid rejects bad revisions, counts and truncation', () => {
    assert.throws(() => decodeSid(Buffer.from('02010000000000051200000000', 'hex'), 0), code('SID_INVALID'));
    assert.throws(() => decodeSid(Buffer.from('0110000000000005', 'hex'), 0), code('SID_INVALID'));
    assert.throws(() => decodeSid(Buffer.from('010100000000000512', 'hex'), 0), code('SID_INVALID'));
    assert.throws(() => decodeSid(Buffer.from('0101000000', 'hex'), 0), code('SID_INVALID'));
    assert.throws(() => decodeSid(new Uint8Array(8), -1), code('SID_INVALID'));
  });

  test('encodeSid refuses SIDs that cannot be stored', () => {
    assert.throws(() => encodeSid({ revision: 2, authority: 5n, subAuthorities: [] }), code('SID_INVALID'));
    assert.throws(() => encodeSid({ revision: 1, authority: 1n << 48n, subAuthorities: [] }), code('SID_INVALID'));
    assert.throws(() => encodeSid({ revision: 1, authority: 5n, subAuthorities: [-1] }), code('SID_INVALID'));
    assert.throws(() => encodeSid({ revision: 1, authority: 5n, subAuthorities: [2 ** 32] }), code('SID_INVALID'));
    assert.throws(
      () => encodeSid({ revision: 1, authority: 5n, subAuthorities: new Array(16).fill(1) }),
      code('SID_INVALID'),
    );
  });

  test('property: binary and text forms round-trip', () => {
    fc.assert(
      fc.property(arbSid, (sid) => {
        const bytes = encodeSid(sid);
        assert.equal(bytes.length, sidByteLength(sid));
        assert.deepEqual(decodeSid(bytes, 0), sid);
        assert.deepEqual(parseSid(sidToString(sid)), sid);
        assert.deepEqual(parseSid(formatSid(sid)), sid);
        assert.ok(sidEquals(parseSid(sidToString(sid)), sid));
      }),
    );
  });

  test('sidEquals compares every part', () => {
    assert.ok(sidEquals(parseSid('BA'), parseSid('S-1-5-32-544')));
    assert.ok(!sidEquals(parseSid('BA'), parseSid('BU')));
    assert.ok(!sidEquals(parseSid('S-1-5'), parseSid('S-1-5-0')));
    assert.ok(!sidEquals(parseSid('S-1-5-18'), parseSid('S-1-1-18')));
  });
});
