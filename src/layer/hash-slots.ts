/**
 * An open-addressing hash table of (32-bit hash, 32-bit locator) pairs, for indexes whose keys live elsewhere — a
 * file, a record log — so that memory holds 8 bytes a slot (kept at most 3/4 full, doubled when fuller) instead of
 * the keys (hash them with `upcaseHash`, Windows' case rule, or any 32-bit hash). A hash is never trusted: the caller
 * checks every candidate against its real key, so a collision costs one look at the key, never a wrong answer.
 *
 * Memory is bounded when a spill file is given: the table lives in a `Uint32Array` up to `memorySlots` slots (default
 * 2^20 = 8 MiB, 786,000 pairs), and past that in the spill file, read and written through a small cache of 4 KiB
 * pages (`SpilledSlots`: 4 MiB, 2-way set-associative). Both forms run the same probe and the same doubling, so they
 * give the same answers in the same order; the spilled one costs a `pread` (and a `pwrite` of the evicted page) for
 * most probes, since hashes scatter. Without a spill file the table stays in memory whatever its size.
 */
import { closeSync, ftruncateSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { WinlayerError } from '../errors.js';

const FIRST_CAPACITY = 1 << 12;
/**
 * The default in-memory limit, 2^20 slots (8 MiB, 786,000 pairs): real Windows layers (servercore has ~100,000
 * entries) stay in memory at full speed, and the table's share of the peak is 12 MiB (4 + 8 while the last in-memory
 * doubling runs; then 8 + the 4 MiB cache while it moves to its file). A larger limit would push a very large
 * import's peak past its memory target (the numbers: docs/benchmarks.md, "Moved from code comments").
 */
const DEFAULT_MEMORY_SLOTS = 1 << 20;
/** 4 MiB of 4 KiB pages: the cache of a spilled table. */
const DEFAULT_CACHE_PAGES = 1024;
const PAGE_BYTES = 4096;
const PAGE_WORDS = PAGE_BYTES / 4;
/** Slots per page is 2^PAGE_SHIFT (two words a slot). */
const PAGE_SHIFT = 9;
const PAGE_SLOT_MASK = (1 << PAGE_SHIFT) - 1;
/** Bytes of the old table read at once while a spilled table doubles (it is streamed, never loaded whole). */
const GROW_CHUNK = 1 << 18;

export interface HashSlotsOptions {
  /**
   * Where the table goes once it outgrows `memorySlots`: created exclusively (it must not exist) and unlinked at once
   * where the platform allows, else by `close()`. Each doubling writes a new file, named alternately this path and
   * this path with `~` appended. Without it the table stays in memory. A function is called once, when the table
   * first spills (a caller that needs a folder for the file makes it only then).
   */
  readonly spillFile?: string | (() => string);
  /** The largest table kept in memory, in slots (a power of two, at least 4096). Default 2^20 (8 MiB). */
  readonly memorySlots?: number;
  /** Pages (4 KiB) of the spilled table's cache (a power of two, at least 2). Default 1024 (4 MiB). */
  readonly cachePages?: number;
}

/** See the module comment. Locators are any integers from 0 to 2^32 − 2. */
export class HashSlots {
  /** Per slot: [hash, locator + 1]; 0 in the locator word marks an empty slot. Unused once spilled. */
  #slots = new Uint32Array(2 * FIRST_CAPACITY);
  #mask = FIRST_CAPACITY - 1;
  #size = 0;
  /** The table once it lives in its spill file. */
  #spilled: SpilledSlots | undefined;
  #spillFile: string | (() => string) | undefined;
  readonly #memorySlots: number;
  readonly #cachePages: number;

  constructor(opts: HashSlotsOptions = {}) {
    this.#spillFile = opts.spillFile;
    this.#memorySlots = powerOfTwo('memorySlots', opts.memorySlots ?? DEFAULT_MEMORY_SLOTS, FIRST_CAPACITY);
    this.#cachePages = powerOfTwo('cachePages', opts.cachePages ?? DEFAULT_CACHE_PAGES, 2);
  }

  /** The number of pairs. */
  get size(): number {
    return this.#size;
  }

  /** True once the table lives in its spill file. */
  get spilled(): boolean {
    return this.#spilled !== undefined;
  }

  /** The first locator stored with `hash` for which `matches` is true, or -1. Probes in insertion order. */
  find(hash: number, matches: (locator: number) => boolean): number {
    for (let slot = this.scan(hash, -1); slot >= 0; slot = this.scan(hash, slot)) {
      const loc = this.locatorAt(slot);
      if (matches(loc)) return loc;
    }
    return -1;
  }

  /**
   * The probe itself, without a callback (the hot path's form of {@link find}): the next slot after `slot` (pass -1
   * to start) that holds `hash`, or -1 once an empty slot is reached; read each candidate's locator with
   * {@link locatorAt}.
   */
  scan(hash: number, slot: number): number {
    const h = hash >>> 0;
    if (this.#spilled !== undefined) return this.#spilled.scan(h, slot);
    const slots = this.#slots;
    const mask = this.#mask;
    for (let i = slot < 0 ? h & mask : (slot + 1) & mask; ; i = (i + 1) & mask) {
      const loc = slots[2 * i + 1]!;
      if (loc === 0) return -1;
      if (slots[2 * i] === h) return i;
    }
  }

  /** The locator held by a slot {@link scan} returned. */
  locatorAt(slot: number): number {
    if (this.#spilled !== undefined) return this.#spilled.word(slot, 1) - 1;
    return this.#slots[2 * slot + 1]! - 1;
  }

  /** Adds a pair. It does not look for an equal key: call {@link find} first when keys must be unique. */
  add(hash: number, locator: number): void {
    if (!Number.isInteger(locator) || locator < 0 || locator >= 0xffff_ffff) {
      throw new RangeError(`locator ${locator} is out of range`);
    }
    const h = hash >>> 0;
    if (this.#spilled !== undefined) {
      this.#spilled.put(h, locator + 1);
    } else {
      const slots = this.#slots;
      let i = h & this.#mask;
      while (slots[2 * i + 1] !== 0) i = (i + 1) & this.#mask;
      slots[2 * i] = h;
      slots[2 * i + 1] = locator + 1;
    }
    this.#size++;
    if (this.#size * 4 > (this.#mask + 1) * 3) this.#grow();
  }

  /** Releases the spill file (the table must not be used afterwards). Safe more than once. */
  close(): void {
    this.#spilled?.close();
  }

  /** Doubles the table; the stored hashes place every pair again without looking at a key. */
  #grow(): void {
    const capacity = 2 * (this.#mask + 1);
    // Past 2^31 slots the probe's `&` (a signed 32-bit operation) would go wrong; 1.6 billion pairs is far beyond use.
    if (capacity > 2 ** 31) {
      throw new WinlayerError('INTERNAL', `the hash table is full (${this.#size} pairs)`, {
        path: typeof this.#spillFile === 'string' ? this.#spillFile : undefined,
      });
    }
    if (this.#spilled !== undefined) {
      this.#spilled = this.#spilled.doubled();
    } else if (capacity > this.#memorySlots && this.#spillFile !== undefined) {
      if (typeof this.#spillFile === 'function') this.#spillFile = this.#spillFile();
      this.#spilled = SpilledSlots.fromMemory(this.#slots, capacity, this.#spillFile, this.#cachePages);
      this.#slots = new Uint32Array(0);
    } else {
      this.#slots = regrow(this.#slots, capacity);
    }
    this.#mask = capacity - 1;
  }
}

/** `old`'s pairs placed in a new in-memory table of `capacity` slots (old slot order, as `SpilledSlots` does). */
function regrow(old: Uint32Array, capacity: number): Uint32Array<ArrayBuffer> {
  const slots = new Uint32Array(2 * capacity);
  const mask = capacity - 1;
  for (let j = 0; j < old.length; j += 2) {
    const loc = old[j + 1]!;
    if (loc === 0) continue;
    const h = old[j]!;
    let i = h & mask;
    while (slots[2 * i + 1] !== 0) i = (i + 1) & mask;
    slots[2 * i] = h;
    slots[2 * i + 1] = loc;
  }
  return slots;
}

function powerOfTwo(name: string, n: number, least: number): number {
  if (!Number.isInteger(n) || n < least || (n & (n - 1)) !== 0 || n > 2 ** 30) {
    throw new RangeError(`${name} ${n} must be a power of two from ${least} to 2^30`);
  }
  return n;
}

/**
 * A table of 2^k slots in a file (the same [hash, locator + 1] words as in memory, in host byte order: the file is
 * private and short-lived), seen through a 2-way set-associative cache of 4 KiB pages, write-back. Page p goes to set
 * p mod sets: neighbouring pages (a probe crossing a page boundary) never compete, and while the table doubles, the
 * two pages written at once for old slot i — around i and i + old capacity, the same set — sit in its two ways.
 */
class SpilledSlots {
  readonly #fd: number;
  readonly #path: string;
  /** The other name, for the next doubling (the file at this name may still be named: see `#named`). */
  readonly #nextPath: string;
  /** True while the file still has a name (it could not be unlinked while open: Windows). */
  readonly #named: boolean;
  readonly #mask: number;
  readonly #cache: PageCache;
  #closed = false;

  private constructor(path: string, nextPath: string, capacity: number, cache: PageCache) {
    this.#path = path;
    this.#nextPath = nextPath;
    this.#mask = capacity - 1;
    this.#cache = cache;
    const opened = createSpill(path, capacity * 8);
    this.#fd = opened.fd;
    this.#named = opened.named;
    cache.attach(opened.fd, path);
  }

  /** A spilled table of `capacity` slots holding the pairs of the in-memory table `slots`. */
  static fromMemory(slots: Uint32Array, capacity: number, path: string, cachePages: number): SpilledSlots {
    const table = new SpilledSlots(path, `${path}~`, capacity, new PageCache(cachePages));
    table.#putAll(slots, slots.length);
    return table;
  }

  /** This table doubled into the other spill file, read back in chunks; this one is closed. */
  doubled(): SpilledSlots {
    this.#cache.flush();
    const next = new SpilledSlots(this.#nextPath, this.#path, 2 * (this.#mask + 1), this.#cache.detached());
    try {
      const chunk = new Uint32Array(GROW_CHUNK / 4);
      const bytes = Buffer.from(chunk.buffer);
      const total = (this.#mask + 1) * 8;
      for (let at = 0; at < total; at += GROW_CHUNK) {
        const n = Math.min(GROW_CHUNK, total - at);
        readFully(this.#fd, bytes, n, at, this.#path);
        next.#putAll(chunk, n / 4);
      }
    } catch (e) {
      next.close();
      this.#cache.detached().attach(this.#fd, this.#path); // this table stays whole (its pages were flushed)
      throw e;
    }
    this.#closeFile();
    return next;
  }

  scan(h: number, slot: number): number {
    const mask = this.#mask;
    const cache = this.#cache;
    const words = cache.words;
    let i = slot < 0 ? h & mask : (slot + 1) & mask;
    let base = cache.page(i >>> PAGE_SHIFT);
    for (;;) {
      const k = base + 2 * (i & PAGE_SLOT_MASK);
      if (words[k + 1] === 0) return -1;
      if (words[k] === h) return i;
      i = (i + 1) & mask;
      if ((i & PAGE_SLOT_MASK) === 0) base = cache.page(i >>> PAGE_SHIFT);
    }
  }

  /** Word `w` (0: hash, 1: locator + 1) of a slot. */
  word(slot: number, w: number): number {
    return this.#cache.words[this.#cache.page(slot >>> PAGE_SHIFT) + 2 * (slot & PAGE_SLOT_MASK) + w]!;
  }

  /** Stores a pair in the first empty slot of its probe. */
  put(h: number, locPlus1: number): void {
    const mask = this.#mask;
    const cache = this.#cache;
    const words = cache.words;
    let i = h & mask;
    let base = cache.page(i >>> PAGE_SHIFT);
    while (words[base + 2 * (i & PAGE_SLOT_MASK) + 1] !== 0) {
      i = (i + 1) & mask;
      if ((i & PAGE_SLOT_MASK) === 0) base = cache.page(i >>> PAGE_SHIFT);
    }
    const k = base + 2 * (i & PAGE_SLOT_MASK);
    words[k] = h;
    words[k + 1] = locPlus1;
    cache.touch(base);
  }

  close(): void {
    this.#closeFile();
    this.#cache.detached();
  }

  /** The pairs among the first `length` words of `slots`, in slot order. */
  #putAll(slots: Uint32Array, length: number): void {
    for (let j = 0; j < length; j += 2) {
      const loc = slots[j + 1]!;
      if (loc !== 0) this.put(slots[j]!, loc);
    }
  }

  #closeFile(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      closeSync(this.#fd);
    } catch (e) {
      throw spillError('cannot close the hash table spill file', this.#path, e);
    }
    if (!this.#named) return;
    try {
      unlinkSync(this.#path);
    } catch {
      // Gone already (or its folder was removed): nothing to clean.
    }
  }
}

/** The page cache of a `SpilledSlots`: `page(p)` brings page p in and returns the index of its first word. */
class PageCache {
  readonly words: Uint32Array;
  readonly #bytes: Buffer;
  /** Per way (way w of set s is 2s + w): the page it holds, or -1. */
  readonly #tags: Int32Array;
  readonly #dirty: Uint8Array;
  /** Per set: the way to evict next (the one used least recently). */
  readonly #victim: Uint8Array;
  readonly #setMask: number;
  #fd = -1;
  #path = '';

  constructor(pages: number) {
    this.words = new Uint32Array(pages * PAGE_WORDS);
    this.#bytes = Buffer.from(this.words.buffer);
    this.#tags = new Int32Array(pages).fill(-1);
    this.#dirty = new Uint8Array(pages);
    this.#victim = new Uint8Array(pages / 2);
    this.#setMask = pages / 2 - 1;
  }

  /** Serves the file `fd` from now on (every page of the previous one must be flushed or forgotten). */
  attach(fd: number, path: string): void {
    this.#fd = fd;
    this.#path = path;
  }

  /** Forgets every page (after `flush`, or when the file is dropped) and returns this cache for reuse. */
  detached(): PageCache {
    this.#tags.fill(-1);
    this.#dirty.fill(0);
    this.#fd = -1;
    return this;
  }

  page(p: number): number {
    const set = p & this.#setMask;
    const a = 2 * set;
    const tags = this.#tags;
    if (tags[a] === p) {
      this.#victim[set] = 1;
      return a * PAGE_WORDS;
    }
    if (tags[a + 1] === p) {
      this.#victim[set] = 0;
      return (a + 1) * PAGE_WORDS;
    }
    return this.#load(p, set);
  }

  /** Marks the page whose first word is `base` as changed. */
  touch(base: number): void {
    this.#dirty[base / PAGE_WORDS] = 1;
  }

  /** Writes every changed page back. */
  flush(): void {
    for (let way = 0; way < this.#tags.length; way++) if (this.#dirty[way] === 1) this.#writeBack(way);
  }

  #load(p: number, set: number): number {
    const way = 2 * set + this.#victim[set]!;
    this.#victim[set] = 1 - this.#victim[set]!;
    if (this.#dirty[way] === 1) this.#writeBack(way);
    this.#tags[way] = -1; // a failed read must not leave a page that looks loaded
    readFully(this.#fd, this.#bytes.subarray(way * PAGE_BYTES), PAGE_BYTES, p * PAGE_BYTES, this.#path);
    this.#tags[way] = p;
    return way * PAGE_WORDS;
  }

  #writeBack(way: number): void {
    const at = this.#tags[way]! * PAGE_BYTES;
    const page = this.#bytes.subarray(way * PAGE_BYTES, (way + 1) * PAGE_BYTES);
    try {
      for (let off = 0; off < PAGE_BYTES; ) off += writeSync(this.#fd, page, off, PAGE_BYTES - off, at + off);
    } catch (e) {
      throw spillError('cannot write the hash table spill file', this.#path, e);
    }
    this.#dirty[way] = 0;
  }
}

/** Creates a spill file of `size` zero bytes (sparse where the filesystem allows), unlinked at once if it can be. */
function createSpill(path: string, size: number): { fd: number; named: boolean } {
  let fd: number;
  try {
    fd = openSync(path, 'wx+', 0o600);
  } catch (e) {
    throw spillError('cannot create the hash table spill file', path, e);
  }
  try {
    ftruncateSync(fd, size);
  } catch (e) {
    closeSync(fd);
    unlinkQuietly(path);
    throw spillError(`cannot size the hash table spill file to ${size} bytes`, path, e);
  }
  try {
    // The data stays reachable through the descriptor; nothing is left behind even after a SIGKILL.
    unlinkSync(path);
    return { fd, named: false };
  } catch {
    return { fd, named: true };
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone: nothing to clean.
  }
}

/** Reads exactly `length` bytes at `position` into the start of `into`. */
function readFully(fd: number, into: Buffer, length: number, position: number, path: string): void {
  let got = 0;
  try {
    while (got < length) {
      const n = readSync(fd, into, got, length - got, position + got);
      if (n === 0) break;
      got += n;
    }
  } catch (e) {
    throw spillError('cannot read the hash table spill file', path, e);
  }
  if (got < length) throw spillError(`the hash table spill file is shorter than written (at ${position})`, path);
}

function spillError(rule: string, path: string, cause?: unknown): WinlayerError {
  const why = cause === undefined ? '' : `: ${(cause as Error).message}`;
  return new WinlayerError('IO', `${rule}${why}`, { path, cause });
}
