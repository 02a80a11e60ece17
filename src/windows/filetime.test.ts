import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { isWinlayerError } from '../errors.js';
import {
  dateToUnixNanos,
  FILETIME_UNIX_EPOCH,
  filetimeToUnixNanos,
  formatIso7,
  formatPaxTime,
  parsePaxTime,
  secondsToUnixNanos,
  truncateTo100ns,
  unixNanosToFiletime,
  unixSeconds,
} from './filetime.js';

/** 2023-02-28T17:47:03.1234567Z, the example of the issue. */
const SAMPLE_NS = 1_677_606_423_123_456_700n;

describe('FILETIME ↔ Unix nanoseconds', () => {
  test('the epochs line up', () => {
    assert.equal(filetimeToUnixNanos(FILETIME_UNIX_EPOCH), 0n);
    assert.equal(unixNanosToFiletime(0n), FILETIME_UNIX_EPOCH);
    assert.equal(filetimeToUnixNanos(0n), -11_644_473_600n * 1_000_000_000n);
    assert.equal(formatIso7(filetimeToUnixNanos(0n)), '1601-01-01T00:00:00.0000000Z');
  });

  test('one tick is 100 ns', () => {
    assert.equal(filetimeToUnixNanos(FILETIME_UNIX_EPOCH + 1n), 100n);
    assert.equal(unixNanosToFiletime(100n), FILETIME_UNIX_EPOCH + 1n);
  });

  test('digits below 100 ns are dropped toward earlier time, also before 1970', () => {
    assert.equal(unixNanosToFiletime(199n), FILETIME_UNIX_EPOCH + 1n);
    assert.equal(unixNanosToFiletime(-1n), FILETIME_UNIX_EPOCH - 1n);
    assert.equal(truncateTo100ns(SAMPLE_NS + 99n), SAMPLE_NS);
    assert.equal(truncateTo100ns(-1n), -100n);
    assert.equal(truncateTo100ns(-100n), -100n);
  });

  test('property: FILETIME → Unix → FILETIME is exact', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 63n) - 1n }), (ft) => {
        assert.equal(unixNanosToFiletime(filetimeToUnixNanos(ft)), ft);
      }),
    );
  });

  test('property: Unix → FILETIME → Unix equals truncation to 100 ns', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 19n), max: 10n ** 19n }), (ns) => {
        assert.equal(filetimeToUnixNanos(unixNanosToFiletime(ns)), truncateTo100ns(ns));
      }),
    );
  });
});

describe('seconds and dates', () => {
  test('unixSeconds floors', () => {
    assert.equal(unixSeconds(SAMPLE_NS), 1_677_606_423n);
    assert.equal(unixSeconds(-1n), -1n);
    assert.equal(unixSeconds(-1_000_000_000n), -1n);
    assert.equal(unixSeconds(-1_000_000_001n), -2n);
  });

  test('secondsToUnixNanos and dateToUnixNanos', () => {
    assert.equal(secondsToUnixNanos(2), 2_000_000_000n);
    assert.equal(secondsToUnixNanos(-3n), -3_000_000_000n);
    assert.equal(dateToUnixNanos(new Date('2023-02-28T17:47:03.123Z')), 1_677_606_423_123_000_000n);
  });
});

describe('PAX time strings', () => {
  test('the fraction is zero-padded to 9 digits, then trailing zeros trimmed', () => {
    assert.equal(formatPaxTime(SAMPLE_NS), '1677606423.1234567');
    assert.equal(formatPaxTime(1_677_606_423_005_000_000n), '1677606423.005', 'not BuildKit\'s unpadded ".5000000"');
    assert.equal(formatPaxTime(1_000_000_001n), '1.000000001');
    assert.equal(formatPaxTime(1_677_606_423_000_000_000n), '1677606423');
    assert.equal(formatPaxTime(0n), '0');
  });

  test('negative times carry the sign on the whole value', () => {
    assert.equal(formatPaxTime(-1_500_000_000n), '-1.5');
    assert.equal(formatPaxTime(-500_000_000n), '-0.5');
    assert.equal(parsePaxTime('-1.5'), -1_500_000_000n);
    assert.equal(parsePaxTime('-0.5'), -500_000_000n);
  });

  test('parsing: seconds, fractions of any length (beyond ns truncated)', () => {
    assert.equal(parsePaxTime('1677606423.1234567'), SAMPLE_NS);
    assert.equal(parsePaxTime('1677606423'), 1_677_606_423_000_000_000n);
    assert.equal(parsePaxTime('1.5'), 1_500_000_000n);
    assert.equal(parsePaxTime('1.0000000019'), 1_000_000_001n);
    assert.equal(parsePaxTime('0012'), 12_000_000_000n);
  });

  test('BuildKit\'s unpadded nanoseconds read as written (".5000000" is half a second)', () => {
    assert.equal(parsePaxTime('1677606423.5000000'), 1_677_606_423_500_000_000n);
  });

  test('malformed strings are TIME_INVALID', () => {
    for (const bad of ['', ' 1', '1 ', '1.', '.5', '+1', '1e9', '1,5', '--1', '0x10', '12345678901234567890', 'abc']) {
      assert.throws(
        () => parsePaxTime(bad),
        (e: unknown) => isWinlayerError(e, 'TIME_INVALID'),
        JSON.stringify(bad),
      );
    }
  });

  test('property: format → parse is the identity on nanoseconds', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 18n) * 9n, max: 10n ** 18n * 9n }), (ns) => {
        const text = formatPaxTime(ns);
        assert.match(text, /^-?\d+(\.\d*[1-9])?$/);
        assert.equal(parsePaxTime(text), ns);
      }),
    );
  });
});

describe('formatIso7', () => {
  test('seven fraction digits, UTC', () => {
    assert.equal(formatIso7(SAMPLE_NS), '2023-02-28T17:47:03.1234567Z');
    assert.equal(formatIso7(0n), '1970-01-01T00:00:00.0000000Z');
    assert.equal(formatIso7(SAMPLE_NS + 99n), '2023-02-28T17:47:03.1234567Z');
  });

  test('times before 1970 floor to the earlier tick', () => {
    assert.equal(formatIso7(-100n), '1969-12-31T23:59:59.9999999Z');
    assert.equal(formatIso7(-1n), '1969-12-31T23:59:59.9999999Z');
  });

  test('the last FILETIME of year 9999 formats', () => {
    const ft = unixNanosToFiletime(253_402_300_799_999_999_900n);
    assert.equal(formatIso7(filetimeToUnixNanos(ft)), '9999-12-31T23:59:59.9999999Z');
  });
});

describe('formatIso7 at the edges', () => {
  test('the largest FILETIME shows a six-digit year, not a mangled string', () => {
    assert.equal(formatIso7(filetimeToUnixNanos(0x7fffffffffffffffn)), '+030828-09-14T02:48:05.4775807Z');
  });
  test('a time beyond what a date can show is TIME_INVALID', () => {
    assert.throws(
      () => formatIso7(10n ** 30n),
      (e) => isWinlayerError(e, 'TIME_INVALID'),
    );
  });
});

describe('formatPaxTime without division', () => {
  /** The formula by division: `secs[.fraction]`, the fraction without trailing zeros, a leading `-` when negative. */
  function byDivision(ns: bigint): string {
    const abs = ns < 0n ? -ns : ns;
    const frac = abs % 1_000_000_000n;
    const text =
      frac === 0n
        ? `${abs / 1_000_000_000n}`
        : `${abs / 1_000_000_000n}.${frac.toString().padStart(9, '0').replace(/0+$/, '')}`;
    return ns < 0n ? `-${text}` : text;
  }

  test('gives the text of the division formula for every time, around whole seconds too', () => {
    for (const ns of [
      0n,
      1n,
      999_999_999n,
      1_000_000_000n,
      1_000_000_001n,
      1_100_000_000n,
      10n ** 20n,
      -1n,
      -(10n ** 9n),
    ]) {
      assert.equal(formatPaxTime(ns), byDivision(ns), String(ns));
    }
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 21n), max: 10n ** 21n }), (ns) => formatPaxTime(ns) === byDivision(ns)),
    );
  });
});
