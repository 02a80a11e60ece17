import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeBase64Strict, decodeWindowsPax, encodeWindowsPax } from './windows-pax.js';

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
    const one = decodeWindowsPax([{ key: 'MSWINDOWS.rawsd', value: sd }]).win.securityDescriptor;
    const two = decodeWindowsPax([{ key: 'MSWINDOWS.rawsd', value: sd }]).win.securityDescriptor;
    assert.ok(one !== undefined && one === two, 'the same array');
    assert.equal(Buffer.from(one).toString('base64'), sd);
    const sloppy = 'AQAEgA=='.replace('A==', 'B=='); // non-zero bits after the last byte: not canonical
    assert.ok(decodeWindowsPax([{ key: 'MSWINDOWS.rawsd', value: sloppy }], { lenient: true }).win.securityDescriptor);
    assert.throws(() => decodeWindowsPax([{ key: 'MSWINDOWS.rawsd', value: sloppy }]), /base64/);
  });
});
