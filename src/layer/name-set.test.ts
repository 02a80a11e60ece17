import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../test/helpers/tools.js';
import { upcaseHash } from '../windows/case.js';
import { upcase } from '../windows/index.js';
import { NameSet } from './name-set.js';
import { RecordLog } from './record-log.js';

/** Two different names (not equal by case) with the same 32-bit hash, found by a deterministic birthday search. */
function collidingPair(): [string, string] {
  const seen = new Map<number, string>();
  for (let i = 0; ; i++) {
    const name = `Files/n${i.toString(36)}`;
    const h = upcaseHash(name);
    const other = seen.get(h);
    if (other !== undefined) return [other, name];
    seen.set(h, name);
  }
}

test('upcaseHash folds case by the per-unit rule (ASCII and beyond), and only case', () => {
  assert.equal(upcaseHash('Files/Windows/System32'), upcaseHash('FILES/windows/system32'));
  assert.equal(upcaseHash('Files/éte'), upcaseHash('Files/ÉTE'));
  assert.equal(upcaseHash('Files/straße'), upcaseHash(upcase('Files/straße')));
  assert.notEqual(upcaseHash('Files/a'), upcaseHash('Files/b'));
  assert.notEqual(upcaseHash('Files/ß'), upcaseHash('Files/SS'), 'no expansions');
});

test('RecordLog: records read back from memory and from the spill file, in order, long ones included', (t) => {
  const dir = tempDir(t, 'winlayer-nameset-');
  for (const spill of [undefined, join(dir, 'log')]) {
    const log = new RecordLog(spill);
    if (spill !== undefined) assert.deepEqual(readdirSync(dir), [], 'the spill file is unlinked while open');
    const long = 'x'.repeat(70_000);
    const written: [number, number, string, string | undefined][] = [];
    for (let i = 0; i < 40_000; i++) {
      const first = i % 10_000 === 7 ? `${long}${i}` : `Files/dir${i % 97}/näme${i}`;
      const second = i % 3 === 0 ? undefined : `second ${i}\n€`;
      written.push([log.append(i % 256, first, second), i % 256, first, second]);
    }
    assert.ok(log.size > 1 << 20, 'more than one write buffer');
    for (const [loc, tag, first, second] of [written[0]!, written[7]!, written[20_007]!, written.at(-1)!]) {
      assert.deepEqual(log.read(loc), { tag, first, second });
    }
    let n = 0;
    log.forEach((rec, loc) => {
      const [wloc, tag, first, second] = written[n++]!;
      assert.equal(loc, wloc);
      assert.deepEqual(rec, { tag, first, second });
    });
    assert.equal(n, written.length);
    log.close();
    log.close();
    assert.throws(() => log.append(0, 'x'), { code: 'INTERNAL' });
  }
});

test('NameSet: a hash collision between different names is told apart; equal names by case are found', () => {
  const [a, b] = collidingPair();
  assert.equal(upcaseHash(a), upcaseHash(b));
  const set = new NameSet();
  assert.equal(set.claim(a, 2), undefined);
  assert.equal(set.get(b), undefined, 'same hash, other name: not in the set');
  assert.equal(set.claim(b, 3, 'Files/data'), undefined, 'same hash, other name: added');
  assert.deepEqual(set.get(a), { tag: 2, path: a, data: undefined });
  assert.deepEqual(set.get(b.toLowerCase()), { tag: 3, path: b, data: 'Files/data' });
  assert.deepEqual(set.claim(a.toUpperCase(), 5), { tag: 2, path: a, data: undefined }, 'a case variant is refused');
  assert.equal(set.size, 2);
  set.close();
});

test('NameSet: grows past its first table, keeps every name, with the names in a spill file', (t) => {
  const dir = tempDir(t, 'winlayer-nameset-');
  const set = new NameSet(join(dir, 'names'));
  const n = 60_000;
  for (let i = 0; i < n; i++) assert.equal(set.claim(`Files/d${i % 50}/File${i}.dll`, i % 7, undefined), undefined);
  assert.equal(set.size, n);
  for (let i = 0; i < n; i += 997) {
    assert.deepEqual(set.get(`FILES/D${i % 50}/file${i}.DLL`), {
      tag: i % 7,
      path: `Files/d${i % 50}/File${i}.dll`,
      data: undefined,
    });
  }
  assert.equal(set.get('Files/d0/File1.dll'), undefined, 'File1 is in d1, not d0');
  assert.notEqual(set.claim('files/d3/file3.dll', 1), undefined);
  assert.equal(set.size, n);
  set.close();
  assert.equal(existsSync(join(dir, 'names')), false);
});

test('NameSet: a table past its memory limit moves to a spill file and answers as the in-memory one does', (t) => {
  const dir = tempDir(t, 'winlayer-nameset-');
  const spilled = new NameSet(join(dir, 'names'), { memorySlots: 4096, cachePages: 4 });
  const memory = new NameSet();
  const n = 30_000;
  for (let i = 0; i < n; i++) {
    const path = `Files/d${i % 61}/Näme${i}.dll`;
    const data = i % 5 === 0 ? `Files/data${i}` : undefined;
    assert.equal(spilled.claim(path, i % 200, data), undefined);
    assert.equal(memory.claim(path, i % 200, data), undefined);
  }
  assert.equal(spilled.spilled, true);
  assert.deepEqual(readdirSync(dir), [], 'both spill files are unlinked while open');
  for (let i = 0; i < n; i += 13) {
    const variant = `FILES/D${i % 61}/nÄME${i}.DLL`;
    assert.deepEqual(spilled.get(variant), memory.get(variant));
    assert.deepEqual(spilled.claim(variant, 9), memory.get(variant), 'a case variant is refused');
  }
  assert.equal(spilled.get('Files/d0/Näme1.dll'), undefined);
  const [a, b] = collidingPair();
  assert.equal(spilled.claim(a, 1), undefined);
  assert.equal(spilled.claim(b, 2), undefined, 'a colliding hash is told apart once spilled too');
  assert.deepEqual(spilled.get(b), { tag: 2, path: b, data: undefined });
  assert.equal(spilled.size, n + 2);
  spilled.close();
  spilled.close();
  memory.close();
  assert.deepEqual(readdirSync(dir), []);
});
