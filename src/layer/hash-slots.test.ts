import assert from 'node:assert/strict';
import { test } from 'node:test';
import { upcaseHash } from '../windows/index.js';
import { HashSlots } from './hash-slots.js';

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
