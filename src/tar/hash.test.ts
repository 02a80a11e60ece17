import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { SLOT_SIZE, SLOTS, StreamHash, WORKER_THRESHOLD } from './hash.js';

/** How long a closed hashing thread may take to end (it takes milliseconds): a bound, so a leak fails, not hangs. */
const CLOSE_BOUND_MS = 10_000;

/**
 * The thread that `start` starts. The process's 'worker' event can come late, after that of a thread started earlier
 * (by an earlier test), so the thread is told apart by its id: ids grow, and ours is the first above a probe's.
 */
async function threadStartedBy(start: () => void): Promise<Worker> {
  const probe = new Worker('', { eval: true });
  const floor = probe.threadId;
  await probe.terminate();
  return new Promise((resolve) => {
    const seen = (w: Worker) => {
      if (w.threadId <= floor) return;
      process.off('worker', seen);
      resolve(w);
    };
    process.on('worker', seen);
    start();
  });
}

/** Whether `worker` ends within `ms`. */
function exitsWithin(worker: Worker, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    worker.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

const sha = (parts: readonly Uint8Array[]): string => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return `sha256:${h.digest('hex')}`;
};

/** Deterministic bytes, different for every `seed`. */
function bytes(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let s = seed * 2654435761;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    b[i] = s >>> 24;
  }
  return b;
}

describe('StreamHash', () => {
  it('hashes small streams inline (no buffer to fill, no thread) and an empty stream', () => {
    const h = new StreamHash();
    const parts = [bytes(1000, 1), bytes(0, 2), bytes(70_000, 3)];
    for (const p of parts) h.update(p);
    assert.equal(h.buffer(), undefined);
    assert.equal(h.digest(), sha(parts));
    assert.equal(h.digest(), sha(parts), 'digest is stable');
    assert.equal(h.bytes, 71_000);
    assert.equal(new StreamHash().digest(), sha([]));
    assert.throws(() => h.update(bytes(1, 4)), /INTERNAL/);
  });

  it('hands filled ring slots to the thread without a copy, round the ring several times', () => {
    const h = new StreamHash();
    const parts: Uint8Array[] = [bytes(WORKER_THRESHOLD, 5)];
    h.update(parts[0]!); // starts the thread (copied into the ring)
    for (let i = 0; i < SLOTS * 3 + 1; i++) {
      const slot = h.buffer();
      assert.ok(slot !== undefined && slot.length === SLOT_SIZE);
      const n = i % 2 === 0 ? SLOT_SIZE : 1 + ((i * 7919) % SLOT_SIZE);
      bytes(n, 100 + i).copy(slot);
      parts.push(Buffer.from(slot.subarray(0, n))); // what the slot held when handed over
      h.update(slot.subarray(0, n));
    }
    const want = sha(parts);
    assert.equal(h.digest(), want);
    assert.equal(
      h.bytes,
      parts.reduce((a, p) => a + p.length, 0),
    );
    h.close();
  });

  it('copies chunks of any size (larger than a slot, or not from the ring) into the ring', () => {
    const h = new StreamHash();
    const parts = [bytes(SLOT_SIZE * 2 + 17, 7), bytes(3, 8), bytes(SLOT_SIZE * 9 + 1, 9), bytes(0, 10)];
    for (const p of parts) h.update(p);
    // The caller may reuse its chunk at once: overwrite one after handing it over.
    parts[1] = Buffer.from(parts[1]!);
    assert.equal(h.digest(), sha(parts));
  });

  it('threaded: starts the thread before any byte, hashes small and empty streams the same', () => {
    const small = new StreamHash({ threaded: true });
    const slot = small.buffer();
    assert.ok(slot !== undefined && slot.length === SLOT_SIZE, 'a ring slot at once');
    bytes(10, 12).copy(slot);
    small.update(slot.subarray(0, 10));
    small.update(bytes(5, 13));
    assert.equal(small.digest(), sha([bytes(10, 12), bytes(5, 13)]));
    const empty = new StreamHash({ threaded: true });
    assert.equal(empty.digest(), sha([]));
  });

  it('close() stops the thread before the digest, and is safe to repeat', async () => {
    const h = new StreamHash();
    // the first large chunk starts the thread, which then waits for the next slot for ever: only close() ends it
    const worker = await threadStartedBy(() => h.update(bytes(SLOT_SIZE, 11)));
    const exited = exitsWithin(worker, CLOSE_BOUND_MS);
    h.close();
    h.close();
    assert.ok(await exited, `the hashing thread still runs ${CLOSE_BOUND_MS} ms after close()`);
  });
});
