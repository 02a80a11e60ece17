import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bufferBody } from './entry.js';
import { isWinlayerError } from './errors.js';

async function drain(body: AsyncIterable<Uint8Array>): Promise<string> {
  const parts: Uint8Array[] = [];
  for await (const c of body) parts.push(c);
  return Buffer.concat(parts).toString('utf8');
}

test('bufferBody: iterated once gives the bytes; a second read is BODY_STALE', async () => {
  const body = bufferBody(Buffer.from('hello'));
  assert.equal(await drain(body), 'hello');
  await assert.rejects(drain(body), (e) => isWinlayerError(e, 'BODY_STALE'));
  assert.throws(
    () => body.readSync!(new Uint8Array(8)),
    (e) => isWinlayerError(e, 'BODY_STALE'),
  );
});

test('bufferBody: readSync fills the buffer in pieces, then 0; iterating after it is BODY_STALE', async () => {
  const body = bufferBody(Buffer.from('abcdefg'));
  const buf = new Uint8Array(3);
  const got: string[] = [];
  for (let n = body.readSync!(buf); n > 0; n = body.readSync!(buf))
    got.push(Buffer.from(buf.subarray(0, n)).toString());
  assert.deepEqual(got, ['abc', 'def', 'g']);
  assert.equal(body.readSync!(buf), 0);
  await assert.rejects(drain(body), (e) => isWinlayerError(e, 'BODY_STALE'));
});

test('bufferBody: an empty body reads as nothing, by either way', async () => {
  assert.equal(await drain(bufferBody(new Uint8Array(0))), '');
  const empty = bufferBody(new Uint8Array(0));
  assert.equal(empty.readSync!(new Uint8Array(4)), 0);
  assert.equal(empty.readSync!(new Uint8Array(4)), 0);
});
