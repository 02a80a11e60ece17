import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeBase64Strict, decodeWindowsPax, encodeWindowsPax, PaxDecodeMemo, PaxEncodeMemo } from './windows-pax.js';

describe('Windows PAX records', () => {
  it('encodes in sorted key order with defaults, and decodes back to the same metadata', () => {
    const win = {
      lastWriteTime: 1677606423123456700n,
      securityDescriptor: new Uint8Array([1, 0, 4, 0x80]),
      extendedAttributes: [
        { name: 'b', value: new Uint8Array([2]) },
        { name: 'a', value: new Uint8Array([1]) },
      ],
      mountPoint: true,
    };
    const recs = encodeWindowsPax({
      kind: 'symlink',
      path: 'p',
      win,
      extraPax: [{ key: 'SCHILY.x', value: 'y' }],
      longLinkpath: 'L',
    });
    assert.deepEqual(recs, [
      { key: 'LIBARCHIVE.creationtime', value: '1677606423.1234567' },
      { key: 'MSWINDOWS.fileattr', value: '1040' },
      { key: 'MSWINDOWS.mountpoint', value: '1' },
      { key: 'MSWINDOWS.rawsd', value: 'AQAEgA==' },
      { key: 'MSWINDOWS.xattr.a', value: 'AQ==' },
      { key: 'MSWINDOWS.xattr.b', value: 'Ag==' },
      { key: 'SCHILY.x', value: 'y' },
      { key: 'atime', value: '1677606423.1234567' },
      { key: 'ctime', value: '1677606423.1234567' },
      { key: 'linkpath', value: 'L' },
      { key: 'mtime', value: '1677606423.1234567' },
    ]);
    const d = decodeWindowsPax(recs);
    assert.deepEqual(d.win, {
      creationTime: win.lastWriteTime,
      attributes: 1040,
      mountPoint: true,
      securityDescriptor: win.securityDescriptor,
      lastAccessTime: win.lastWriteTime,
      changeTime: win.lastWriteTime,
      lastWriteTime: win.lastWriteTime,
      extendedAttributes: [
        { name: 'a', value: new Uint8Array([1]) },
        { name: 'b', value: new Uint8Array([2]) },
      ],
    });
    assert.deepEqual(d.extra, [{ key: 'SCHILY.x', value: 'y' }]);
    assert.equal(d.linkpath, 'L');
  });

  it('always sets DIRECTORY on folders; streams carry only times', () => {
    const dir = encodeWindowsPax({ kind: 'directory', path: 'd', win: { lastWriteTime: 0n, attributes: 0x2 } });
    assert.deepEqual(
      dir.find((r) => r.key === 'MSWINDOWS.fileattr'),
      { key: 'MSWINDOWS.fileattr', value: '18' },
    );
    const s = encodeWindowsPax({ kind: 'stream', path: 'f:s', win: { lastWriteTime: 0n, attributes: 0x20 } });
    assert.deepEqual(
      s.map((r) => r.key),
      ['LIBARCHIVE.creationtime', 'atime', 'ctime', 'mtime'],
    );
  });

  it('reads BuildKit-style unpadded creation times as POSIX says (digits after the point are a fraction)', () => {
    // BuildKit writes "%d.%d" with nanoseconds: 5 ms → ".5000000", which is 0.5 s by the PAX rule.
    const d = decodeWindowsPax([{ key: 'LIBARCHIVE.creationtime', value: '1600000000.5000000' }]);
    assert.equal(d.win.creationTime, 1600000000500000000n);
  });

  it('validates padded standard base64 strictly', () => {
    assert.deepEqual(decodeBase64Strict('AQAE'), new Uint8Array([1, 0, 4]));
    assert.deepEqual(decodeBase64Strict(''), new Uint8Array([]));
    for (const bad of ['AQA', 'AQ=', 'AQ==A', 'A-_=', 'AQ==\n', 'AR==', ' AQ==']) {
      assert.equal(decodeBase64Strict(bad), undefined, bad);
    }
    assert.deepEqual(decodeBase64Strict('AR==', true), new Uint8Array([1]));
  });

  it('shares one decoded SD between entries with the same rawsd; a lenient read never lets a strict one pass', () => {
    const sd = 'AQAEgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAhAgAAAQIAAAAAAAUgAAAAIQIAAA==';
    const memo = new PaxDecodeMemo();
    const one = decodeWindowsPax([{ key: 'MSWINDOWS.rawsd', value: sd }], {}, memo).win.securityDescriptor;
    const two = decodeWindowsPax([{ key: 'MSWINDOWS.rawsd', value: sd }], {}, memo).win.securityDescriptor;
    assert.ok(one !== undefined && one === two, 'the same array');
    assert.equal(Buffer.from(one).toString('base64'), sd);
    // Without a memo nothing is kept between calls: equal bytes, new arrays.
    const three = decodeWindowsPax([{ key: 'MSWINDOWS.rawsd', value: sd }]).win.securityDescriptor;
    assert.ok(three !== undefined && three !== one);
    assert.deepEqual(three, one);
    const sloppy = 'AQAEgA=='.replace('A==', 'B=='); // non-zero bits after the last byte: not canonical
    const lenient = { lenient: true };
    assert.ok(decodeWindowsPax([{ key: 'MSWINDOWS.rawsd', value: sloppy }], lenient, memo).win.securityDescriptor);
    assert.throws(() => decodeWindowsPax([{ key: 'MSWINDOWS.rawsd', value: sloppy }], {}, memo), /base64/);
  });

  it('reads MSWINDOWS.fileattr as a plain decimal uint32 (leading zeros allowed, as Go) and refuses anything else', () => {
    const attrs = (value: string) => decodeWindowsPax([{ key: 'MSWINDOWS.fileattr', value }]).win.attributes;
    assert.equal(attrs('16'), 16);
    assert.equal(attrs('0'), 0);
    assert.equal(attrs('4294967295'), 0xffffffff);
    assert.equal(attrs('0016'), 16);
    assert.equal(attrs('00000000000000000032'), 32);
    for (const bad of [
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
      assert.throws(() => attrs(bad), /not a decimal uint32/, JSON.stringify(bad));
    }
  });

  it('gives the same records with a memo kept across entries as without one', () => {
    const memo = new PaxEncodeMemo();
    const sd = new Uint8Array([1, 0, 4, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const entries = [
      { kind: 'file', path: 'a', win: { lastWriteTime: 5n, securityDescriptor: sd, attributes: 0x20 } },
      { kind: 'file', path: 'b', win: { lastWriteTime: 5n, securityDescriptor: sd, attributes: 0x21 } },
      { kind: 'directory', path: 'c', win: { lastWriteTime: 7_500_000_000n, creationTime: 1n, attributes: 0x20 } },
    ] as const;
    for (const e of entries) assert.deepEqual(encodeWindowsPax(e, memo), encodeWindowsPax(e));
  });
});
