/**
 * Content digests (`sha256:<64 hex>`): parse, compute, and verify while streaming. Everything winlayer stores or pushes
 * passes through `verifyStream`, so no blob lands anywhere unless its bytes match its descriptor.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { WinlayerError } from '../errors.js';

/** A content digest such as `sha256:e3b0…`. Only sha256 is produced; only sha256 and sha512 are read. */
export type Digest = string;

const DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

/** True when `s` is a well-formed digest we can verify. */
export function isDigest(s: string): boolean {
  return DIGEST.test(s);
}

/** Returns `s` when it is a well-formed digest; throws `OCI_DIGEST` otherwise. */
function checkDigest(s: unknown, where = 'digest'): Digest {
  if (typeof s !== 'string' || !DIGEST.test(s)) {
    throw new WinlayerError('OCI_DIGEST', `${where} is not a sha256/sha512 digest: ${JSON.stringify(s)}`);
  }
  return s;
}

/** The algorithm and hex of a digest (`['sha256', 'e3b0…']`). */
export function splitDigest(d: Digest): [algorithm: string, hex: string] {
  const i = d.indexOf(':');
  return [d.slice(0, i), d.slice(i + 1)];
}

/** The sha256 digest of bytes in memory (manifests, configs, indexes). */
export function sha256Digest(bytes: Uint8Array | string): Digest {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** An incremental digest: feed chunks, read `digest` and `size` at the end. */
export class Digester {
  readonly #hash: Hash;
  readonly algorithm: string;
  size = 0;

  constructor(algorithm = 'sha256') {
    this.algorithm = algorithm;
    this.#hash = createHash(algorithm);
  }

  update(chunk: Uint8Array): void {
    this.#hash.update(chunk);
    this.size += chunk.length;
  }

  /** The final digest; call once. */
  digest(): Digest {
    return `${this.algorithm}:${this.#hash.digest('hex')}`;
  }
}

/** What a verified stream must hold. */
export interface Expected {
  readonly digest: Digest;
  readonly size: number;
}

/**
 * A pass-through stream that fails with `OCI_DIGEST` as soon as more than `expected.size` bytes go through, and at the
 * end when the size or digest differs. Downstream sinks must only commit after this stream ended without error.
 * Streams: holds nothing but the hash state.
 */
export function verifyStream(expected: Expected, what = expected.digest): Transform {
  checkDigest(expected.digest, what);
  const d = new Digester(splitDigest(expected.digest)[0]);
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      d.update(chunk);
      if (d.size > expected.size) {
        cb(new WinlayerError('OCI_DIGEST', `${what}: more than the ${expected.size} bytes its descriptor gives`));
        return;
      }
      cb(null, chunk);
    },
    flush(cb: TransformCallback) {
      if (d.size !== expected.size) {
        cb(new WinlayerError('OCI_DIGEST', `${what}: ${d.size} bytes, the descriptor gives ${expected.size}`));
        return;
      }
      const got = d.digest();
      if (got !== expected.digest) {
        cb(new WinlayerError('OCI_DIGEST', `${what}: content digest is ${got}`, { hint: 'the blob is corrupt' }));
        return;
      }
      cb();
    },
  });
}

/** Throws `OCI_DIGEST` unless `bytes` match `expected` (for small blobs read whole: manifests, configs). */
export function verifyBytes(bytes: Uint8Array, expected: Expected, what = expected.digest): void {
  checkDigest(expected.digest, what);
  if (bytes.length !== expected.size) {
    throw new WinlayerError('OCI_DIGEST', `${what}: ${bytes.length} bytes, the descriptor gives ${expected.size}`);
  }
  const [alg] = splitDigest(expected.digest);
  const got = `${alg}:${createHash(alg).update(bytes).digest('hex')}`;
  if (got !== expected.digest) throw new WinlayerError('OCI_DIGEST', `${what}: content digest is ${got}`);
}
