/**
 * The hashing thread of `hash.ts`: sha256 of the slots of its ring, in order, until a slot of length {@link END};
 * then the digest goes to the ring's reply area.
 */
import { createHash } from 'node:crypto';
import { workerData } from 'node:worker_threads';
import { RingConsumer, type RingMemory } from '../internal/ring.js';
import { END } from './hash-ring.js';

const ring = new RingConsumer((workerData as { ring: RingMemory }).ring);
try {
  const hash = createHash('sha256');
  let len = ring.next();
  for (; len !== undefined && len !== END; len = ring.next()) {
    hash.update(ring.slot(len));
    ring.done();
  }
  // undefined: asked to stop (the stream was abandoned).
  if (len === END) ring.finish(hash.digest());
} catch (e) {
  ring.fail(e, 0);
}
