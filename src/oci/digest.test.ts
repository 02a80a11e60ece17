import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import { isWinlayerError } from '../errors.js';
import { sha256Digest, verifyBytes, verifyStream } from './digest.js';

async function drain(bytes: Buffer, chunk: number, expected: { digest: string; size: number }): Promise<void> {
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunk) parts.push(bytes.subarray(i, i + chunk));
  await pipeline(Readable.from(parts), verifyStream(expected), async (src) => {
    for await (const _ of src) {
      /* consume */
    }
  });
}

test('verifyStream passes exact content in any chunking, fails on digest, short and long content', async () => {
  const data = Buffer.from('hello winlayer '.repeat(100));
  const good = { digest: sha256Digest(data), size: data.length };
  for (const chunk of [1, 7, 1000, data.length]) await drain(data, chunk, good);
  const isDigest = (e: unknown) => isWinlayerError(e, 'OCI_DIGEST');
  await assert.rejects(drain(Buffer.from(data).fill(0x41, 0, 1), 64, good), isDigest);
  await assert.rejects(drain(data.subarray(1), 64, good), isDigest);
  await assert.rejects(drain(Buffer.concat([data, Buffer.from('x')]), 64, good), isDigest);
  assert.throws(() => verifyBytes(data, { digest: 'md5:abc', size: 1 }), isDigest);
  verifyBytes(data, good);
});
