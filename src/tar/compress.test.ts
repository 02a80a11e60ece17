import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { compress as zstdCompress } from 'zstd-napi';
import { decompress, detectCompression } from './compress.js';
import { chunks, drain } from './testing.js';

describe('compression', () => {
  const data = new Uint8Array(Buffer.from('hello tar '.repeat(5000)));

  it('detects gzip and zstd from the first bytes', () => {
    assert.equal(detectCompression(gzipSync(data)), 'gzip');
    assert.equal(detectCompression(zstdCompress(data)), 'zstd');
    assert.equal(detectCompression(data), 'none');
    assert.equal(detectCompression(new Uint8Array([0x1f])), 'none');
  });

  for (const [kind, packed] of [
    ['gzip', gzipSync(data)],
    ['zstd', zstdCompress(data)],
  ] as const) {
    it(`decompresses ${kind} fed in any chunking, and rejects truncation and garbage`, async () => {
      for (const mode of ['whole', 'bytes', 'random'] as const) {
        assert.deepEqual(new Uint8Array(await drain(decompress(chunks(new Uint8Array(packed), mode), kind))), data);
      }
      await assert.rejects(
        drain(decompress(chunks(new Uint8Array(packed.subarray(0, 20)), 'whole'), kind)),
        /COMPRESSION/,
      );
      const junk = new Uint8Array(packed);
      junk.fill(0x41, 12, 40);
      await assert.rejects(drain(decompress(chunks(junk, 'random'), kind)), /COMPRESSION/);
    });
  }
});

describe('input errors', () => {
  it('a failing input is IO, a text input is USAGE, for plain and compressed reads', async () => {
    const { readTar } = await import('./read.js');
    async function* failing(first: Uint8Array) {
      yield first;
      throw new Error('disk on fire');
    }
    const plain = new Uint8Array(4096).fill(0x61);
    await assert.rejects(drain(decompress(failing(plain), 'none')), /disk on fire \(IO\)/);
    await assert.rejects(drain(decompress(failing(gzipSync(plain).subarray(0, 30)), 'gzip')), /IO/);
    await assert.rejects(
      (async () => {
        for await (const _ of readTar(failing(plain.subarray(0, 100)))) void _;
      })(),
      /IO/,
    );
    async function* text() {
      yield 'not bytes';
    }
    await assert.rejects(drain(decompress(text() as AsyncIterable<never>, 'none')), /USAGE/);
  });
});

describe('crc32', () => {
  it('matches the gzip CRC of known data, natively and incrementally', async () => {
    const { crc32, crc32Table } = await import('./compress.js');
    const data = Buffer.from('The quick brown fox jumps over the lazy dog');
    for (const f of [crc32, crc32Table]) {
      assert.equal(f(data), 0x414fa339);
      assert.equal(f(data.subarray(10), f(data.subarray(0, 10))), 0x414fa339);
    }
  });
});
