import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../test/helpers/tools.js';
import { WinlayerError } from '../errors.js';
import { upcaseHash } from '../windows/case.js';
import { HashSlots, type HashSlotsOptions } from './hash-slots.js';

/** The smallest spilled table: 4096 slots in memory (8 pages once spilled), a cache of `cachePages` pages. */
function tiny(dir: string, cachePages = 2): HashSlotsOptions {
  return { spillFile: join(dir, 'slots'), memorySlots: 4096, cachePages };
}

/** Every locator `scan` yields for `hash`, in order. */
function candidates(slots: HashSlots, hash: number): number[] {
  const out: number[] = [];
  for (let s = slots.scan(hash, -1); s >= 0; s = slots.scan(hash, s)) out.push(slots.locatorAt(s));
  return out;
}

/** A small deterministic generator (xorshift32), so a failure can be replayed. */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

test('HashSlots: finds every locator through growth; a missing key is -1', () => {
  const keys = Array.from({ length: 20_000 }, (_, i) => `Files/Windows/System32/file${i}.dll`);
  const slots = new HashSlots();
  keys.forEach((k, i) => {
    slots.add(upcaseHash(k), i);
  });
  assert.equal(slots.size, keys.length);
  keys.forEach((k, i) => {
    assert.equal(
      slots.find(upcaseHash(k), (loc) => keys[loc] === k),
      i,
    );
  });
  assert.equal(
    slots.find(upcaseHash('Files/nope'), (loc) => keys[loc] === 'Files/nope'),
    -1,
  );
});

test('HashSlots: equal hashes are told apart by the caller, in insertion order; the matcher sees only candidates', () => {
  const slots = new HashSlots();
  for (let i = 0; i < 5_000; i++) slots.add(i % 7 === 0 ? 42 : i * 2654435761, i); // every 7th shares hash 42
  const seen: number[] = [];
  assert.equal(
    slots.find(42, (loc) => {
      seen.push(loc);
      return loc === 700;
    }),
    700,
  );
  assert.deepEqual(
    seen,
    Array.from({ length: 101 }, (_, k) => k * 7),
    'only the locators stored with hash 42, oldest first',
  );
  assert.equal(
    slots.find(42, () => false),
    -1,
  );
  assert.throws(() => slots.add(1, -1), RangeError);
  assert.throws(() => slots.add(1, 0xffff_ffff), RangeError);
});

test('upcaseHash: names equal on Windows hash equal; 100,000 layer-like paths give almost no collisions', () => {
  assert.equal(upcaseHash('Files/a'), upcaseHash('FILES/A'));
  const seen = new Set<number>();
  let collisions = 0;
  for (let i = 0; i < 100_000; i++) {
    const h = upcaseHash(`Files/Windows/WinSxS/amd64_x${i % 97}_${i}/f${i}.dll`);
    if (seen.has(h)) collisions++;
    seen.add(h);
  }
  assert.ok(collisions < 10, `${collisions} collisions`);
});

test('HashSlots.scan: the candidates of a hash, in the order find tries them, then -1', () => {
  const slots = new HashSlots();
  for (let i = 0; i < 5_000; i++) slots.add(i % 7 === 0 ? 42 : i * 2654435761, i);
  const seen: number[] = [];
  for (let s = slots.scan(42, -1); s >= 0; s = slots.scan(42, s)) seen.push(slots.locatorAt(s));
  assert.deepEqual(
    seen,
    Array.from({ length: 715 }, (_, k) => k * 7),
  );
  assert.equal(new HashSlots().scan(42, -1), -1);
});

test('HashSlots spilled: the same answers as in memory and as a Map, through several doublings (randomized)', (t) => {
  const dir = tempDir(t, 'winlayer-slots-');
  for (const seed of [1, 0x9e3779b9, 12345]) {
    const next = random(seed);
    const memory = new HashSlots();
    const spilled = new HashSlots(tiny(dir, seed === 1 ? 2 : 8));
    const map = new Map<number, number[]>();
    // Few distinct hashes among many pairs: long runs of equal hashes, clusters that cross pages and wrap around.
    const hashes = Array.from({ length: 9_000 }, () => next());
    for (let loc = 0; loc < 50_000; loc++) {
      const h = hashes[next() % hashes.length]!;
      memory.add(h, loc);
      spilled.add(h, loc);
      map.set(h, [...(map.get(h) ?? []), loc]);
      if (loc % 4_999 === 0) assert.deepEqual(candidates(spilled, h), candidates(memory, h), `after ${loc}`);
    }
    assert.equal(spilled.spilled, true);
    assert.equal(memory.spilled, false);
    assert.equal(spilled.size, memory.size);
    for (const h of hashes) {
      const want = candidates(memory, h);
      assert.deepEqual(candidates(spilled, h), want, `hash ${h}`);
      assert.deepEqual(
        [...want].sort((a, b) => a - b),
        map.get(h) ?? [],
      );
      const pick = want[want.length >> 1] ?? -1;
      assert.equal(
        spilled.find(h, (loc) => loc === pick),
        pick,
      );
    }
    for (let k = 0; k < 2_000; k++) {
      const h = next();
      if (!map.has(h)) assert.equal(spilled.scan(h, -1), -1);
    }
    spilled.close();
    assert.deepEqual(readdirSync(dir), []);
  }
});

test('HashSlots spilled: probes that cross a page boundary and wrap around the end of the table', (t) => {
  const dir = tempDir(t, 'winlayer-slots-');
  const slots = new HashSlots(tiny(dir));
  // 3073 pairs (> 3/4 of 4096): the table doubles into its file (8192 slots, 16 pages of 512 slots).
  for (let i = 0; i < 3_073; i++) slots.add(0x10_0000 + i * 8192, i); // every hash lands on slot 0 as well
  assert.equal(slots.spilled, true);
  const at511: number[] = [];
  const atEnd: number[] = [];
  for (let i = 0; i < 40; i++) {
    slots.add(511, 10_000 + i); // slot 511 ends page 0; the run goes on past page 1's first slots
    at511.push(10_000 + i);
    slots.add(8191, 20_000 + i); // the last slot: the run wraps around to slot 0 and on through page 0
    atEnd.push(20_000 + i);
  }
  assert.deepEqual(candidates(slots, 511), at511);
  assert.deepEqual(candidates(slots, 8191), atEnd);
  assert.equal(
    slots.find(8191, (loc) => loc === 20_039),
    20_039,
  );
  assert.equal(
    slots.find(0x10_0000, () => true),
    0,
  );
  slots.close();
});

test('HashSlots spilled: locators up to 2^32 − 2 are kept; close() leaves nothing behind; errors name the file', (t) => {
  const dir = tempDir(t, 'winlayer-slots-');
  const slots = new HashSlots(tiny(dir));
  const big = [0, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_fffd, 0xffff_fffe];
  for (let i = 0; i < 20_000; i++) slots.add(i * 2654435761, big[i % big.length]!);
  assert.equal(slots.spilled, true);
  assert.deepEqual(readdirSync(dir), [], 'the spill file is unlinked while open');
  for (let i = 0; i < 20_000; i += 7) assert.deepEqual(candidates(slots, i * 2654435761), [big[i % big.length]]);
  assert.throws(() => slots.add(1, 0xffff_ffff), RangeError);
  slots.close();
  slots.close();
  assert.deepEqual(readdirSync(dir), []);

  writeFileSync(join(dir, 'slots'), 'taken');
  const taken = new HashSlots(tiny(dir));
  assert.throws(
    () => {
      for (let i = 0; i < 4_000; i++) taken.add(i, i);
    },
    (e: unknown) =>
      e instanceof WinlayerError &&
      e.code === 'IO' &&
      e.path === join(dir, 'slots') &&
      /cannot create the hash table spill file/.test(e.message),
  );
  taken.close();
  const lost = new HashSlots({ ...tiny(dir), spillFile: join(dir, 'no', 'slots') });
  assert.throws(
    () => {
      for (let i = 0; i < 4_000; i++) lost.add(i, i);
    },
    { code: 'IO', path: join(dir, 'no', 'slots') },
  );
});

test('HashSlots: without a spill file the table stays in memory past memorySlots; bad options are refused', () => {
  const slots = new HashSlots({ memorySlots: 4096 });
  for (let i = 0; i < 10_000; i++) slots.add(i * 40503, i);
  assert.equal(slots.spilled, false);
  assert.equal(
    slots.find(9_999 * 40503, () => true),
    9_999,
  );
  assert.throws(() => new HashSlots({ memorySlots: 5000 }), RangeError);
  assert.throws(() => new HashSlots({ memorySlots: 1024 }), RangeError);
  assert.throws(() => new HashSlots({ cachePages: 1 }), RangeError);
});
