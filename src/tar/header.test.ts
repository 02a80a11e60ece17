import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WinlayerError } from '../errors.js';
import { BLOCK_SIZE, decodeHeader, encodeHeader, headerChecksum, parseNumeric, USTAR } from './header.js';

describe('USTAR table', () => {
  it('covers the 512-byte block exactly, fields in order and without overlap', () => {
    let at = 0;
    for (const [name, f] of Object.entries(USTAR)) {
      assert.equal(f.at, at, name);
      at += f.len;
    }
    assert.equal(at, BLOCK_SIZE);
  });
});

describe('header block', () => {
  it('encodes and decodes a header (octal with NUL, checksum "%06o\\0 ")', () => {
    const b = new Uint8Array(512);
    encodeHeader(b, { name: 'Files/a', mode: 0o644, size: 12345, mtime: 1677606423, typeflag: '0', linkname: 'x' });
    const txt = (f: keyof typeof USTAR) =>
      Buffer.from(b.subarray(USTAR[f].at, USTAR[f].at + USTAR[f].len)).toString('latin1');
    assert.equal(txt('mode'), '0000644\0');
    assert.equal(txt('size'), '00000030071\0');
    assert.equal(txt('magic') + txt('version'), 'ustar\u000000');
    assert.equal(txt('chksum'), `${headerChecksum(b).unsigned.toString(8).padStart(6, '0')}\0 `);
    assert.deepEqual(decodeHeader(b, 0), {
      name: 'Files/a',
      mode: 0o644,
      uid: 0,
      gid: 0,
      size: 12345,
      mtime: 1677606423,
      typeflag: '0',
      linkname: 'x',
      uname: '',
      gname: '',
      devmajor: 0,
      devminor: 0,
      format: 'ustar',
    });
  });

  it('joins the ustar prefix, and writes out-of-range times as 0', () => {
    const b = new Uint8Array(512);
    encodeHeader(b, { name: 'name', mode: 0, size: 0, mtime: -5, typeflag: '0' });
    b.set(Buffer.from('pre/fix'), USTAR.prefix.at);
    b.fill(0x20, USTAR.chksum.at, USTAR.chksum.at + 8);
    b.set(Buffer.from(`${headerChecksum(b).unsigned.toString(8)}\0`), USTAR.chksum.at);
    const h = decodeHeader(b, 0);
    assert.deepEqual([h.name, h.mtime], ['pre/fix/name', 0]);
  });

  it('parses octal with leading spaces and blank fields, base-256 both signs; rejects junk', () => {
    const b = new Uint8Array(512);
    const set = (s: string | number[]) => {
      b.fill(0, USTAR.size.at, USTAR.size.at + 12);
      b.set(typeof s === 'string' ? Buffer.from(s, 'latin1') : s, USTAR.size.at);
    };
    set('   17 \0');
    assert.equal(parseNumeric(b, 'size'), 15);
    set('');
    assert.equal(parseNumeric(b, 'size'), 0);
    set([0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
    assert.equal(parseNumeric(b, 'size'), 256);
    set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]);
    assert.equal(parseNumeric(b, 'size'), -2);
    set('12 3');
    assert.equal(parseNumeric(b, 'size'), undefined);
    set('9');
    assert.equal(parseNumeric(b, 'size'), undefined);
  });

  it('rejects a bad checksum and names the offset', () => {
    const b = new Uint8Array(512);
    encodeHeader(b, { name: 'a', mode: 0, size: 0, mtime: 0, typeflag: '0' });
    b[0] = 0x62;
    assert.throws(
      () => decodeHeader(b, 4096),
      (e: unknown) => e instanceof WinlayerError && e.code === 'TAR_CHECKSUM' && e.offset === 4096,
    );
  });

  it('rejects names that are not UTF-8 unless lenient', () => {
    const b = new Uint8Array(512);
    encodeHeader(b, { name: 'a', mode: 0, size: 0, mtime: 0, typeflag: '0' });
    b[1] = 0xff;
    b.fill(0x20, USTAR.chksum.at, USTAR.chksum.at + 8);
    b.set(Buffer.from(`${headerChecksum(b).unsigned.toString(8)}\0`), USTAR.chksum.at);
    assert.throws(() => decodeHeader(b, 0), /UTF-8/);
    assert.equal(decodeHeader(b, 0, true).name, 'a\ufffd');
  });
});
