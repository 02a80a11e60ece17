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
      await assert.rejects(drain(decompress(chunks(new Uint8Array(packed.subarray(0, 20)), 'whole'), kind)), /COMPRESSION/);
      const junk = new Uint8Array(packed);
      junk.fill(0x41, 12, 40);
      await assert.rejects(drain(decompress(chunks(junk, 'random'), kind)), /COMPRESSION/);
    });
  }
});
