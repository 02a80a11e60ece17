/**
 * The one shared-memory ring of the project: a single producer (the main thread) hands slots of bytes to a single
 * consumer (a worker thread) without a message per slot, without a copy and without garbage. Used by the hashing
 * thread (`tar/hash.ts`) and the writer threads of an import (`layer/writer-threads.ts`); each of those owns only what
 * its slots mean.
 *
 * Protocol (both sides live in this module, so it is written once):
 * - The producer fills slot `head % slots`, stores its length in `LEN + slot`, then publishes `HEAD = head + 1`. The
 *   consumer works through slots in order and publishes `TAIL` (slots done). A slot is free again once `TAIL` passed
 *   it.
 * - Sleeping: a side that waits sets its bit in `SLEEP` before `Atomics.wait`, and the other side notifies only when
 *   that bit is set, so a busy ring costs no futex call. Every store is sequentially consistent: either the notifier
 *   sees the bit, or the waiter's wait sees the new value.
 * - `STATE`: the consumer sets `RUNNING` once it runs (a thread takes tens of milliseconds to start), then `DONE` or
 *   `FAILED`. A failure leaves its message (JSON) in the reply area and the slot and item it failed on; a result (a
 *   digest) also goes to the reply area. `STOP` asks the consumer to stop between items; `BUSY` is set while it works
 *   on a slot.
 * - Every wait is bounded: a consumer silent for {@link STALL_MS} is taken for dead (it never takes that long alive).
 *
 * The thread programs are real modules (`*.thread.ts`) found beside their owner's module, with the extension of the
 * running code: `.ts` under tsx (tests), `.js` in `dist/` and in the CLI bundle (`dist/bin/`, where `build:cli` emits
 * every `*.thread.ts` as an entry point of its own name). See {@link startThread}.
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { WinlayerError } from '../errors.js';

/** Control words (indexes into the ring's `Int32Array`). */
export const HEAD = 0; // slots published (producer)
const TAIL = 1; // slots done (consumer)
export const SLEEP = 2; // who waits: CONSUMER_WAITS | PRODUCER_WAITS | PEER_WAITS
const STATE = 3; // STARTING, RUNNING, DONE, FAILED
export const STOP = 4; // 1: the producer asks the consumer to stop
const BUSY = 5; // 1 while the consumer works on a slot
const FAIL_SLOT = 6; // the slot number (count from 0) the consumer failed on
const FAIL_ITEM = 7; // the item within that slot
const REPLY_LEN = 8; // bytes of the reply (failure JSON or result)
const LEN = 9; // LEN + i: bytes in slot i (a negative length is the owner's to define, e.g. end of stream)

/** SLEEP bits. A peer is the consumer of another ring that waits for this ring's TAIL. */
const CONSUMER_WAITS = 1;
const PRODUCER_WAITS = 2;
const PEER_WAITS = 4;

/** STATE values. */
const STARTING = 0;
const RUNNING = 1;
export const DONE = 2;
const FAILED = 3;

/** Bytes of the reply area: a failure's JSON (its message shortened to fit) or a result. */
const REPLY_BYTES = 4096;
/** Longest silence of a consumer before the producer gives up on it (it never takes this long when alive). */
const STALL_MS = 60_000;

/** What a ring's thread gets (`workerData.ring`). */
export interface RingMemory {
  readonly control: SharedArrayBuffer;
  readonly data: SharedArrayBuffer;
  readonly reply: SharedArrayBuffer;
  readonly slots: number;
  readonly slotSize: number;
}

/** What a failed consumer left: the error's fields and where it failed. */
export interface RingFailure {
  readonly message: string;
  readonly code?: string;
  readonly syscall?: string;
  readonly slot: number;
  readonly item: number;
}

/** How to start a ring's thread. */
export interface ThreadSpec {
  /** `import.meta.url` of the module that owns the thread program; the program lies beside it. */
  readonly owner: string;
  /** The program's base name: `hash` for `hash.thread.ts` (`.js` once built). */
  readonly program: string;
  /** Named in errors: "the hashing thread". */
  readonly what: string;
  readonly slots: number;
  readonly slotSize: number;
  /** The control words, when made beforehand (other threads must know them: {@link controlMemory}). */
  readonly control?: SharedArrayBuffer;
  /** More for `workerData` (shared memory of the owner's own). */
  readonly data?: Record<string, unknown>;
  /** Whether the thread keeps the process alive (the default) or not (a thread whose owner may abandon it). */
  readonly unref?: boolean;
  readonly resourceLimits?: { readonly maxOldGenerationSizeMb: number; readonly maxYoungGenerationSizeMb: number };
}

/**
 * The URL of a thread program beside `owner`: `<program>.thread.ts` under tsx, `<program>.thread.js` once compiled
 * (`dist/<folder>/` keeps the source layout; the CLI bundle puts chunks and thread entry points together in
 * `dist/bin/`).
 */
function threadUrl(owner: string, program: string): URL {
  return new URL(`./${program}.thread${owner.endsWith('.ts') ? '.ts' : '.js'}`, owner);
}

/**
 * Starts a thread program. Compiled code starts the module with no flags of the parent's (the thread needs none).
 * Under tsx (tests, `npm run winlayer`), Node 20 does not carry the TypeScript loader into a worker, and loading tsx
 * in each thread would cost far more than the thread's start: the program is bundled once per process with esbuild
 * (the bundler of `build:cli`) and run from memory.
 */
function startThread(spec: ThreadSpec, workerData: Record<string, unknown>): Worker {
  const url = threadUrl(spec.owner, spec.program);
  const options = {
    workerData,
    execArgv: [],
    stdout: false,
    stderr: false,
    ...(spec.resourceLimits === undefined ? {} : { resourceLimits: spec.resourceLimits }),
  };
  if (!url.pathname.endsWith('.ts')) return new Worker(url, options);
  return new Worker(bundled(url), { ...options, eval: true });
}

/** Thread programs bundled from their sources (under tsx only), by URL. */
const BUNDLED = new Map<string, string>();

/**
 * The thread program at `url` (a `.ts` file) as one CommonJS script, bundled by the esbuild command of the dev
 * dependency (a process, not esbuild's JavaScript API, which would start a worker thread of its own).
 */
function bundled(url: URL): string {
  let code = BUNDLED.get(url.href);
  if (code === undefined) {
    const esbuild = createRequire(import.meta.url).resolve('esbuild/bin/esbuild');
    const args = [
      fileURLToPath(url),
      '--bundle',
      '--format=cjs',
      '--platform=node',
      '--target=node20',
      '--log-level=error',
    ];
    code = execFileSync(esbuild, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
    BUNDLED.set(url.href, code);
  }
  return code;
}

/** The control words of a ring of `slots` slots. */
export function controlMemory(slots: number): SharedArrayBuffer {
  return new SharedArrayBuffer((LEN + slots) * 4);
}

/** The producer's side: the shared memory, the thread, publishing and bounded waits. */
export class Ring {
  readonly memory: RingMemory;
  /** The control words. */
  readonly c: Int32Array;
  /** The slots, as views of the shared data. */
  readonly slots: readonly Buffer[];
  /** Slots published so far (the producer's copy of HEAD); the slot being filled is number `head`. */
  head = 0;
  readonly #worker: Worker;
  readonly #what: string;
  /** An uncaught error of the thread (it then runs no more). */
  #threadError: string | undefined;

  constructor(spec: ThreadSpec) {
    const control = spec.control ?? controlMemory(spec.slots);
    const data = new SharedArrayBuffer(spec.slots * spec.slotSize);
    this.memory = {
      control,
      data,
      reply: new SharedArrayBuffer(REPLY_BYTES),
      slots: spec.slots,
      slotSize: spec.slotSize,
    };
    this.c = new Int32Array(control);
    this.slots = Array.from({ length: spec.slots }, (_, i) => Buffer.from(data, i * spec.slotSize, spec.slotSize));
    this.#what = spec.what;
    this.#worker = startThread(spec, { ...spec.data, ring: this.memory });
    if (spec.unref === true) this.#worker.unref();
    // Reported through STATE; the event only keeps an uncaught error from ending the process.
    this.#worker.on('error', (e) => {
      this.#threadError = e.message;
      Atomics.store(this.c, STATE, FAILED);
      Atomics.notify(this.c, STATE);
    });
  }

  /** Whether the thread runs (it takes tens of milliseconds to start). */
  started(): boolean {
    return Atomics.load(this.c, STATE) !== STARTING;
  }

  /** Slots published and not yet done. */
  queued(): number {
    return this.head - Atomics.load(this.c, TAIL);
  }

  /**
   * Publishes the slot being filled with `len` (a length, or the owner's negative code). The sleeping thread is woken
   * once `wakeAt` slots wait, or for a negative `len`: it then works through them in one go.
   */
  publish(len: number, wakeAt = 1): void {
    const c = this.c;
    c[LEN + (this.head % this.memory.slots)] = len;
    this.head++;
    Atomics.store(c, HEAD, this.head);
    if ((Atomics.load(c, SLEEP) & CONSUMER_WAITS) !== 0 && (len < 0 || this.head - Atomics.load(c, TAIL) >= wakeAt)) {
      Atomics.notify(c, HEAD);
    }
  }

  /**
   * Waits until the thread has done `slots` slots. `check` runs before every wait and throws the failure the owner
   * reports (of this ring, or of a ring this thread waits for); after {@link STALL_MS} of silence, `INTERNAL`.
   */
  waitDone(slots: number, check: () => void): number {
    const c = this.c;
    let tail = Atomics.load(c, TAIL);
    let deadline = 0;
    while (tail < slots) {
      check();
      if (deadline === 0) deadline = Date.now() + STALL_MS;
      else if (Date.now() > deadline) throw this.stalled();
      Atomics.or(c, SLEEP, PRODUCER_WAITS);
      Atomics.wait(c, TAIL, tail, 1000);
      Atomics.and(c, SLEEP, ~PRODUCER_WAITS);
      tail = Atomics.load(c, TAIL);
    }
    return tail;
  }

  /** Waits (bounded) for the thread to reach `DONE` after the last slot; `check` as for {@link waitDone}. */
  waitFinished(check: () => void): void {
    const deadline = Date.now() + STALL_MS;
    for (;;) {
      const state = Atomics.load(this.c, STATE);
      if (state === DONE) return;
      check();
      if (Date.now() > deadline) throw this.stalled();
      Atomics.wait(this.c, STATE, state, 1000);
    }
  }

  /** The reply area's first `REPLY_LEN` bytes (a result, once `DONE`). */
  reply(): Buffer {
    return Buffer.from(this.memory.reply, 0, Atomics.load(this.c, REPLY_LEN));
  }

  /** What the thread failed on, once `FAILED`; else undefined. */
  failure(): RingFailure | undefined {
    if (Atomics.load(this.c, STATE) !== FAILED) return undefined;
    if (this.#threadError !== undefined) return { message: this.#threadError, slot: -1, item: -1 };
    const f = JSON.parse(this.reply().toString('utf8')) as { message: string; code?: string; syscall?: string };
    return { ...f, slot: Atomics.load(this.c, FAIL_SLOT), item: Atomics.load(this.c, FAIL_ITEM) };
  }

  /** `INTERNAL`: the thread stopped answering. */
  stalled(): WinlayerError {
    return new WinlayerError('INTERNAL', `${this.#what} failed or stopped answering`, {
      hint: 'this is a bug in winlayer (or the machine ran out of memory); please report it',
    });
  }

  /** Asks the thread to stop between items (and wakes it). */
  askStop(): void {
    Atomics.store(this.c, STOP, 1);
    Atomics.notify(this.c, HEAD);
  }

  /** Waits (until the time `until`) for the thread to be between slots. */
  waitIdle(until: number): void {
    while (Atomics.load(this.c, BUSY) === 1 && Date.now() < until) Atomics.wait(this.c, BUSY, 1, 50);
  }

  /** Ends the thread. */
  terminate(): Promise<number> {
    return this.#worker.terminate();
  }
}

/** The consumer's side, in the thread program: takes published slots in order, reports progress and failures. */
export class RingConsumer {
  readonly c: Int32Array;
  readonly memory: RingMemory;
  /** Slots done (the consumer's copy of TAIL); the next slot is number `tail`. */
  tail = 0;

  constructor(memory: RingMemory) {
    this.memory = memory;
    this.c = new Int32Array(memory.control);
    Atomics.store(this.c, STATE, RUNNING);
  }

  /** Whether the producer asked to stop. */
  stopping(): boolean {
    return Atomics.load(this.c, STOP) === 1;
  }

  /** Waits for the next slot and returns its published length; undefined when asked to stop. */
  next(): number | undefined {
    const c = this.c;
    let head = Atomics.load(c, HEAD);
    while (head === this.tail) {
      if (this.stopping()) return undefined;
      Atomics.or(c, SLEEP, CONSUMER_WAITS);
      Atomics.wait(c, HEAD, head);
      Atomics.and(c, SLEEP, ~CONSUMER_WAITS);
      head = Atomics.load(c, HEAD);
    }
    if (this.stopping()) return undefined;
    return c[LEN + (this.tail % this.memory.slots)]!;
  }

  /** The next slot's bytes (`len` from {@link next}). */
  slot(len: number): Buffer {
    return Buffer.from(this.memory.data, (this.tail % this.memory.slots) * this.memory.slotSize, len);
  }

  /** Marks the current slot done and wakes whoever waits for it (the producer, or another ring's consumer). */
  done(): void {
    const c = this.c;
    this.tail++;
    Atomics.store(c, TAIL, this.tail);
    if ((Atomics.load(c, SLEEP) & (PRODUCER_WAITS | PEER_WAITS)) !== 0) {
      // A peer sets its bit again before each wait.
      Atomics.and(c, SLEEP, ~PEER_WAITS);
      Atomics.notify(c, TAIL);
    }
  }

  /** Ends with a result in the reply area. */
  finish(result: Uint8Array): void {
    new Uint8Array(this.memory.reply).set(result);
    Atomics.store(this.c, REPLY_LEN, result.length);
    Atomics.store(this.c, STATE, DONE);
    this.#wakeAll();
  }

  /** Ends with a failure on item `item` of the current slot (a long message is shortened to fit the reply area). */
  fail(e: unknown, item: number): void {
    const err = e as Partial<NodeJS.ErrnoException> | undefined;
    let message = String(err?.message ?? e);
    let json: Buffer;
    for (;;) {
      json = Buffer.from(JSON.stringify({ message, code: err?.code, syscall: err?.syscall }));
      if (json.length <= REPLY_BYTES) break;
      message = `${message.slice(0, Math.floor(message.length / 2))}…`;
    }
    new Uint8Array(this.memory.reply).set(json);
    const c = this.c;
    Atomics.store(c, REPLY_LEN, json.length);
    Atomics.store(c, FAIL_SLOT, this.tail);
    Atomics.store(c, FAIL_ITEM, item);
    Atomics.store(c, STATE, FAILED);
    this.#wakeAll();
  }

  /** Marks the consumer busy (between `next` and `done`) or idle; a stop by signal waits for idle. */
  busy(on: boolean): void {
    Atomics.store(this.c, BUSY, on ? 1 : 0);
    if (!on) Atomics.notify(this.c, BUSY);
  }

  #wakeAll(): void {
    Atomics.notify(this.c, STATE);
    Atomics.notify(this.c, TAIL);
  }
}

/**
 * Waits, in a consumer, until another ring (a peer's control words) has done `slots` slots; false when this consumer
 * is asked to stop or the peer failed (the producer reports that failure).
 */
export function awaitPeer(self: RingConsumer, peer: Int32Array, slots: number): boolean {
  for (;;) {
    const tail = Atomics.load(peer, TAIL);
    if (tail >= slots) return true;
    if (self.stopping() || Atomics.load(peer, STATE) === FAILED) return false;
    Atomics.or(peer, SLEEP, PEER_WAITS);
    Atomics.wait(peer, TAIL, tail, 50);
  }
}
