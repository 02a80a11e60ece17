import assert from 'node:assert/strict';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { AtomicTarget, removeStaleTemps, tempSiblingPath, writeFileAtomic } from './atomic.js';

function scratch(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'winlayer-atomic-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('AtomicTarget', () => {
  test('nothing sits at the final path until commit, and no temporary is left after it', (t) => {
    const dir = scratch(t);
    const final = join(dir, 'out.tar');
    const target = new AtomicTarget(final);
    writeFileSync(target.tempPath, 'data');
    assert.equal(existsSync(final), false);
    assert.match(target.tempPath, /\/\.out\.tar\.winlayer-tmp-\d+-[0-9a-f]{8}$/);
    target.commit();
    assert.equal(readFileSync(final, 'utf8'), 'data');
    assert.deepEqual(readdirSync(dir), ['out.tar']);
  });

  test('abort removes the temporary and leaves an existing final file as it was', (t) => {
    const dir = scratch(t);
    const final = join(dir, 'out.tar');
    writeFileSync(final, 'old');
    const target = new AtomicTarget(final);
    writeFileSync(target.tempPath, 'new');
    target.abort();
    assert.equal(readFileSync(final, 'utf8'), 'old');
    assert.deepEqual(readdirSync(dir), ['out.tar']);
  });

  test('a folder target replaces an existing folder whole', (t) => {
    const dir = scratch(t);
    const final = join(dir, 'layer');
    writeFileAtomic(join(dir, 'placeholder'), '');
    const first = new AtomicTarget(final);
    mkdirSync(join(first.tempPath, 'a'), { recursive: true });
    first.commit({ synced: true });
    const second = new AtomicTarget(final);
    mkdirSync(join(second.tempPath, 'b'), { recursive: true });
    second.commit({ synced: true, replaceDirectory: true });
    assert.deepEqual(readdirSync(final), ['b']);
    assert.deepEqual(readdirSync(dir).sort(), ['layer', 'placeholder']);
  });

  test('a device such as /dev/null is written in place, never renamed over', () => {
    const target = new AtomicTarget('/dev/null');
    assert.equal(target.direct, true);
    assert.equal(target.tempPath, '/dev/null');
    writeFileSync(target.tempPath, 'discarded');
    target.commit();
    assert.equal(lstatSync('/dev/null').isCharacterDevice(), true);
  });

  test('temporaries of dead processes are removed by the next run; live ones are kept', (t) => {
    const dir = scratch(t);
    const final = join(dir, 'out.tar');
    const dead = join(dir, '.out.tar.winlayer-tmp-999999999-deadbeef');
    writeFileSync(dead, 'partial');
    const mine = tempSiblingPath(final);
    writeFileSync(join(dir, '.other.winlayer-tmp-1-00000000'), 'not ours');
    const removed = removeStaleTemps(final);
    assert.deepEqual(removed, [dead]);
    assert.equal(existsSync(dead), false);
    assert.equal(existsSync(join(dir, '.other.winlayer-tmp-1-00000000')), true);
    assert.notEqual(mine, dead);
  });
});
