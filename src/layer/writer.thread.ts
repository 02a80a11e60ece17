/**
 * A writer thread of `writer-threads.ts`: runs the batches of its ring in order (the format: `writer-protocol.ts`).
 * It only creates names inside the temporary folder the main thread checked, with O_EXCL, never through a link. The
 * first failing operation stops the thread: the ring keeps its batch, index and error for the main thread.
 */
import { closeSync, fchmodSync, futimesSync, linkSync, mkdirSync, openSync } from 'node:fs';
import { workerData } from 'node:worker_threads';
import { awaitPeer, RingConsumer, type RingMemory } from '../internal/ring.js';
import { writeAll } from '../internal/write-all.js';
import type { UtimeSeconds } from './times.js';
import {
  BatchDecoder,
  CREATE_FLAGS,
  DIR_MODE,
  FILE_MODE,
  FLAG_CHMOD,
  FLAG_TIMES,
  OP_CLOSE,
  OP_FILE,
  OP_FILE_REF,
  OP_LINK,
  OP_MKDIR,
  OP_OPEN,
  OP_WRITE,
  OP_WRITE_REF,
} from './writer-protocol.js';

/** What `WriterThread` passes: its ring, every thread's control words (a link waits for the others), the input. */
interface WriterData {
  readonly ring: RingMemory;
  readonly peers: readonly SharedArrayBuffer[];
  readonly input: SharedArrayBuffer | null;
}

const data = workerData as WriterData;
const ring = new RingConsumer(data.ring);
const peers = data.peers.map((m) => new Int32Array(m));
const input = data.input === null ? Buffer.alloc(0) : Buffer.from(data.input);
const batch = new BatchDecoder();
/** The file between OPEN and CLOSE, and the times to set on it. */
let fd = -1;
let openTimes: [UtimeSeconds, UtimeSeconds] | undefined;

function create(path: string, flags: number): number {
  const f = openSync(path, CREATE_FLAGS, FILE_MODE);
  if ((flags & FLAG_CHMOD) !== 0) {
    try {
      fchmodSync(f, FILE_MODE);
    } catch (e) {
      closeSync(f);
      throw e;
    }
  }
  return f;
}

function finish(f: number, t: [UtimeSeconds, UtimeSeconds] | undefined): void {
  try {
    if (t !== undefined) futimesSync(f, t[0], t[1]);
  } finally {
    closeSync(f);
  }
}

/** Runs the current batch; counts operations in `index.i` (named on failure). False when asked to stop. */
function runBatch(index: { i: number }): boolean {
  for (; batch.more; index.i++) {
    if (ring.stopping()) return false;
    const op = batch.u8();
    const flags = batch.u8();
    if (op === OP_FILE || op === OP_FILE_REF) {
      const path = batch.string();
      const t = batch.times();
      const f = create(path, flags);
      try {
        if (op === OP_FILE) {
          const size = batch.u32();
          writeAll(f, batch.buf, batch.pos, size);
          batch.pos += size;
        } else {
          const offset = batch.u32();
          writeAll(f, input, offset, batch.u32());
        }
      } catch (e) {
        closeSync(f);
        throw e;
      }
      finish(f, (flags & FLAG_TIMES) !== 0 ? t : undefined);
    } else if (op === OP_MKDIR) {
      const path = batch.string();
      mkdirSync(path, { mode: DIR_MODE });
      if ((flags & FLAG_CHMOD) !== 0) {
        const d = openSync(path, 'r');
        try {
          fchmodSync(d, DIR_MODE);
        } finally {
          closeSync(d);
        }
      }
    } else if (op === OP_OPEN) {
      const path = batch.string();
      const t = batch.times();
      fd = create(path, flags);
      openTimes = (flags & FLAG_TIMES) !== 0 ? t : undefined;
    } else if (op === OP_WRITE) {
      const size = batch.u32();
      writeAll(fd, batch.buf, batch.pos, size);
      batch.pos += size;
    } else if (op === OP_WRITE_REF) {
      const offset = batch.u32();
      writeAll(fd, input, offset, batch.u32());
    } else if (op === OP_CLOSE) {
      const f = fd;
      fd = -1;
      finish(f, openTimes);
    } else if (op === OP_LINK) {
      const deps = batch.u32();
      for (let d = 0; d < deps; d++) {
        const peer = peers[batch.u32()]!;
        if (!awaitPeer(ring, peer, batch.u32())) return false;
      }
      const existing = batch.string();
      linkSync(existing, batch.string());
    } else {
      throw new Error(`unknown writer operation ${op}`);
    }
  }
  return true;
}

for (let len = ring.next(); len !== undefined; len = ring.next()) {
  batch.reset(ring.slot(len));
  const index = { i: 0 };
  ring.busy(true);
  let ok: boolean;
  try {
    ok = runBatch(index);
  } catch (e) {
    if (fd >= 0) {
      try {
        closeSync(fd);
      } catch {}
    }
    ring.fail(e, index.i);
    ok = false;
  } finally {
    ring.busy(false);
  }
  if (!ok) break;
  ring.done();
}
