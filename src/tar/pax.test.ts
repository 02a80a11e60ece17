import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compareKeys, decodePax, encodePax, encodePaxRecord, paxRecordLength } from './pax.js';

const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');

describe('PAX records', () => {
  it('counts the length prefix in the length, across digit boundaries', () => {
    assert.equal(text(encodePaxRecord('a', 'b')), '6 a=b\n');
    assert.equal(text(encodePaxRecord('k', 'v'.repeat(93))), `99 k=${'v'.repeat(93)}\n`);
    assert.equal(text(encodePaxRecord('k', 'v'.repeat(94))), `101 k=${'v'.repeat(94)}\n`);
    assert.equal(text(encodePaxRecord('path', 'é')), '11 path=é\n');
  });

  it('paxRecordLength is the one fixed point of "digits of the length + key, value and 3 bytes"', () => {
    for (let kv = 1; kv < 12_000; kv++) {
      const len = paxRecordLength(kv);
      assert.equal(String(len).length + kv + 3, len, `kv ${kv}`);
    }
    // Across the 997 → 1001 and 9996 → 10001 jumps, written out.
    assert.equal(encodePaxRecord('k', 'v'.repeat(993)).length, 1001);
    assert.equal(text(encodePaxRecord('k', 'v'.repeat(9992))).slice(0, 6), '10001 ');
  });

  it('refuses keys that cannot be PAX keys', () => {
    for (const key of ['', 'a=b', 'a\nb', 'a\0b']) assert.throws(() => encodePaxRecord(key, 'v'), /TAR_ENTRY/);
  });

  it('round-trips any records (values may hold newlines and "=")', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            key: fc.string({ minLength: 1, maxLength: 20 }).filter((k) => !/[=\n\0]/.test(k)),
            value: fc.string({ maxLength: 300 }),
          }),
          { maxLength: 10 },
        ),
        (records) => {
          assert.deepEqual(
            decodePax(encodePax(records)),
            records.map((r) => ({ key: r.key, value: r.value })),
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it('rejects malformed records, naming the offset', () => {
    for (const bad of [
      '5 a=b\n',
      '7 a=b\n',
      'a=b\n',
      ' 6 a=b\n',
      '6 ab\n\n',
      '6 =ab\n',
      '06 a=b',
      '6 a=b\nx',
      '-6 a=b\n',
    ]) {
      assert.throws(() => decodePax(Buffer.from(bad), { entry: 'e', offset: 100 }), /TAR_PAX/, JSON.stringify(bad));
    }
    assert.throws(() => decodePax(Buffer.from([0x38, 0x20, 0x61, 0x3d, 0xff, 0xfe, 0xfd, 0x0a])), /UTF-8/);
    // NUL padding after the last record is accepted
    assert.deepEqual(decodePax(Buffer.from('6 a=b\n\0\0\0')), [{ key: 'a', value: 'b' }]);
  });

  it('orders keys by UTF-8 bytes (Go sort.Strings)', () => {
    const keys = [
      'path',
      'MSWINDOWS.rawsd',
      'atime',
      'LIBARCHIVE.creationtime',
      'MSWINDOWS.fileattr',
      'mtime',
      'ctime',
    ];
    assert.deepEqual(keys.sort(compareKeys), [
      'LIBARCHIVE.creationtime',
      'MSWINDOWS.fileattr',
      'MSWINDOWS.rawsd',
      'atime',
      'ctime',
      'mtime',
      'path',
    ]);
  });
});
