import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { isWinlayerError } from '../errors.js';
import { SD_PRESETS, sddlToBytes } from '../windows/index.js';
import {
  checkSourceDateEpoch,
  defaultMetadata,
  MAX_SOURCE_DATE_EPOCH,
  parseSourceDateEpoch,
  policyTime,
  resolvePolicy,
} from './policy.js';

const usage = (pattern: RegExp) => (e: unknown) => isWinlayerError(e, 'USAGE') && pattern.test(String(e));
const NS = 1_000_000_000n;

describe('parseSourceDateEpoch', () => {
  test('unset and empty mean no clamp', () => {
    assert.equal(parseSourceDateEpoch(undefined), undefined);
    assert.equal(parseSourceDateEpoch(''), undefined);
  });

  test('decimal digits, leading zeros allowed, up to 9999-12-31T23:59:59Z', () => {
    assert.equal(parseSourceDateEpoch('0'), 0);
    assert.equal(parseSourceDateEpoch('1700000000'), 1_700_000_000);
    assert.equal(parseSourceDateEpoch('0001700000000'), 1_700_000_000);
    assert.equal(parseSourceDateEpoch('253402300799'), MAX_SOURCE_DATE_EPOCH);
    assert.equal(new Date(MAX_SOURCE_DATE_EPOCH * 1000).toISOString(), '9999-12-31T23:59:59.000Z');
  });

  test('anything else is USAGE naming the variable (or the flag) and the rule', () => {
    for (const bad of [
      ' ',
      ' 1700000000',
      '1700000000 ',
      '+1',
      '-1',
      '1.5',
      '1e9',
      '0x10',
      'soon',
      '１２',
      '253402300800',
    ]) {
      assert.throws(
        () => parseSourceDateEpoch(bad),
        usage(/SOURCE_DATE_EPOCH .* decimal digits only.*253402300799/),
        JSON.stringify(bad),
      );
    }
    assert.throws(() => parseSourceDateEpoch('9'.repeat(400)), usage(/not a time/));
    assert.throws(() => parseSourceDateEpoch('x', '--source-date-epoch'), usage(/^.*--source-date-epoch "x"/));
  });

  test('property: every whole number in range round-trips through its decimal text', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_SOURCE_DATE_EPOCH }), (n) => {
        assert.equal(parseSourceDateEpoch(String(n)), n);
        assert.equal(checkSourceDateEpoch(n), n);
      }),
    );
  });
});

describe('checkSourceDateEpoch (the library option)', () => {
  test('refuses what is not a whole number of seconds in range', () => {
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, MAX_SOURCE_DATE_EPOCH + 1]) {
      assert.throws(() => checkSourceDateEpoch(bad), usage(/sourceDateEpoch/), String(bad));
    }
    assert.throws(() => checkSourceDateEpoch('1700000000' as unknown as number), usage(/sourceDateEpoch/));
  });
});

describe('resolvePolicy', () => {
  test('defaults: the users preset on folders and files, no clamp', () => {
    assert.deepEqual(resolvePolicy(), {
      dirSd: sddlToBytes(SD_PRESETS.users.dir),
      fileSd: sddlToBytes(SD_PRESETS.users.file),
      clamp: undefined,
    });
  });

  test('presets, SDDL overrides, none, and the clamp in nanoseconds', () => {
    assert.deepEqual(resolvePolicy({ sd: 'admins', fileSd: 'O:SYG:SY', sourceDateEpoch: 1_700_000_000 }), {
      dirSd: sddlToBytes(SD_PRESETS.admins.dir),
      fileSd: sddlToBytes('O:SYG:SY'),
      clamp: 1_700_000_000n * NS,
    });
    assert.deepEqual(resolvePolicy({ sd: 'none', sourceDateEpoch: 0 }), {
      dirSd: undefined,
      fileSd: undefined,
      clamp: 0n,
    });
  });

  test('refuses an unknown preset, a bad epoch (USAGE) and bad SDDL (SDDL_INVALID)', () => {
    assert.throws(() => resolvePolicy({ sd: 'everyone' as never }), usage(/preset "everyone"/));
    assert.throws(() => resolvePolicy({ sourceDateEpoch: -5 }), usage(/sourceDateEpoch -5/));
    assert.throws(
      () => resolvePolicy({ dirSd: 'O:nonsense' }),
      (e: unknown) => isWinlayerError(e, 'SDDL_INVALID'),
    );
  });
});

describe('defaultMetadata and policyTime', () => {
  const policy = resolvePolicy({ sourceDateEpoch: 1_000 });
  const dirSd = sddlToBytes(SD_PRESETS.users.dir);
  const fileSd = sddlToBytes(SD_PRESETS.users.file);

  test('times: truncated to 100 ns, then clamped; all four equal', () => {
    assert.equal(policyTime(policy, 999n * NS + 123_456_789n), 999n * NS + 123_456_700n);
    assert.equal(policyTime(policy, 5_000n * NS), 1_000n * NS);
    assert.equal(policyTime(resolvePolicy(), 5_000n * NS + 99n), 5_000n * NS);
    const t = 500n * NS + 42n;
    assert.deepEqual(defaultMetadata(policy, 'file', t), {
      attributes: 0x20,
      securityDescriptor: fileSd,
      creationTime: 500n * NS,
      lastWriteTime: 500n * NS,
      lastAccessTime: 500n * NS,
      changeTime: 500n * NS,
    });
  });

  test('attributes and descriptor by kind: folder links get the folder SD, file links the file SD', () => {
    const t = 100n * NS;
    const pick = (kind: Parameters<typeof defaultMetadata>[1]) => {
      const m = defaultMetadata(policy, kind, t);
      return [m.attributes, m.securityDescriptor];
    };
    assert.deepEqual(pick('directory'), [0x10, dirSd]);
    assert.deepEqual(pick('file'), [0x20, fileSd]);
    assert.deepEqual(pick({ symlinkToDirectory: true }), [0x410, dirSd]);
    assert.deepEqual(pick({ symlinkToDirectory: false }), [0x420, fileSd]);
  });

  test('--sd none: no securityDescriptor key at all', () => {
    const m = defaultMetadata(resolvePolicy({ sd: 'none' }), 'directory', 7n);
    assert.deepEqual(Object.keys(m).sort(), [
      'attributes',
      'changeTime',
      'creationTime',
      'lastAccessTime',
      'lastWriteTime',
    ]);
  });
});
