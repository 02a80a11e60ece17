import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type BodySink, bufferBody, copyBody, type EntryBody } from './entry.js';
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
    () => body.read!(new Uint8Array(8), 0, 8),
    (e) => isWinlayerError(e, 'BODY_STALE'),
  );
});

test('bufferBody: read fills the buffer at an offset in pieces, then 0; iterating after it is BODY_STALE', async () => {
  const body = bufferBody(Buffer.from('abcdefg'));
  const buf = new Uint8Array(5);
  const got: string[] = [];
  for (let n = body.read!(buf, 2, 3); n > 0; n = body.read!(buf, 2, 3)) {
    assert.deepEqual([buf[0], buf[1]], [0, 0], 'nothing before the offset is written');
    got.push(Buffer.from(buf.subarray(2, 2 + n)).toString());
  }
  assert.deepEqual(got, ['abc', 'def', 'g']);
  assert.equal(body.read!(buf, 0, 5), 0);
  await assert.rejects(drain(body), (e) => isWinlayerError(e, 'BODY_STALE'));
});

test('bufferBody: view and read share one position', () => {
  const body = bufferBody(Buffer.from('abcdef'));
  assert.equal(Buffer.from(body.view!(2)).toString(), 'ab');
  const buf = new Uint8Array(2);
  assert.equal(body.read!(buf, 0, 2), 2);
  assert.equal(Buffer.from(buf).toString(), 'cd');
  assert.equal(Buffer.from(body.view!(10)).toString(), 'ef');
  assert.equal(body.view!(10).length, 0);
});

test('bufferBody: an empty body reads as nothing, by either way', async () => {
  assert.equal(await drain(bufferBody(new Uint8Array(0))), '');
  const empty = bufferBody(new Uint8Array(0));
  assert.equal(empty.read!(new Uint8Array(4), 0, 4), 0);
  assert.equal(empty.read!(new Uint8Array(4), 0, 4), 0);
});

/** A sink over a small buffer that collects what it flushes; `take` only when asked for. */
function collector(size: number, opts: { take?: boolean; asyncFlush?: boolean } = {}) {
  const out: number[] = [];
  let flushes = 0;
  const sink: BodySink & { out: number[]; flushes: () => number } = {
    buf: new Uint8Array(size),
    pos: 0,
    out,
    flushes: () => flushes,
    flush() {
      out.push(...sink.buf.subarray(0, sink.pos));
      sink.pos = 0;
      flushes++;
      return opts.asyncFlush === true ? Promise.resolve() : undefined;
    },
    take:
      opts.take === true
        ? (piece) => {
            out.push(...piece);
            return undefined;
          }
        : undefined,
    mismatch: (entry, size, got) => new Error(`${entry}: ${got} of ${size}`),
  };
  return sink;
}

/** A body over `bytes` offering only iteration (like a body spanning a tar reader's chunks). */
function iterOnly(bytes: Uint8Array, chunk: number): EntryBody {
  return {
    async *[Symbol.asyncIterator]() {
      for (let i = 0; i < bytes.length; i += chunk) yield bytes.subarray(i, i + chunk);
    },
  };
}

async function copied(body: EntryBody, size: number, sink: ReturnType<typeof collector>): Promise<string> {
  await copyBody(body, size, 'Files/a', sink);
  sink.flush();
  return Buffer.from(sink.out).toString();
}

test('copyBody: the same bytes through read (sync), view + take, iteration, with sync or async flushes', async () => {
  const text = 'the quick brown fox jumps';
  const bytes = Buffer.from(text);
  for (const asyncFlush of [false, true]) {
    const viaRead = collector(4, { asyncFlush });
    const r = copyBody(bufferBody(bytes), bytes.length, 'Files/a', viaRead);
    assert.equal(r === undefined, !asyncFlush, 'sync unless a flush had to wait');
    await r;
    viaRead.flush();
    assert.equal(Buffer.from(viaRead.out).toString(), text);
    assert.ok(viaRead.flushes() > 5, 'the small buffer was flushed on the way');
    assert.equal(await copied(bufferBody(bytes), bytes.length, collector(4, { take: true, asyncFlush })), text);
    assert.equal(await copied(iterOnly(bytes, 3), bytes.length, collector(4, { asyncFlush })), text);
    assert.equal(await copied(iterOnly(bytes, 7), bytes.length, collector(4, { take: true, asyncFlush })), text);
  }
  assert.equal(await copied(bufferBody(new Uint8Array(0)), 0, collector(4)), '');
});

test("copyBody: a body shorter or longer than its size is the sink's mismatch error, by every way", async () => {
  const bytes = Buffer.from('0123456789');
  for (const make of [(b: Uint8Array) => bufferBody(b), (b: Uint8Array) => iterOnly(b, 3)]) {
    for (const take of [false, true]) {
      await assert.rejects(async () => copyBody(make(bytes), 12, 'Files/a', collector(4, { take })), {
        message: 'Files/a: 10 of 12',
      });
      await assert.rejects(async () => copyBody(make(bytes), 9, 'Files/a', collector(4, { take })), {
        message: 'Files/a: more of 9',
      });
      await assert.rejects(async () => copyBody(make(bytes), 0, 'Files/a', collector(4, { take })), {
        message: 'Files/a: more of 0',
      });
    }
  }
  // Exactly filling the buffer leaves no room for the probe byte: one more read finds the extra byte.
  assert.throws(() => copyBody(bufferBody(Buffer.from('abcde')), 4, 'Files/a', collector(4)), {
    message: 'Files/a: more of 4',
  });
});
