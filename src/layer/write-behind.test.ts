import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { KICK_BYTES, WriteBehind } from './write-behind.js';

test('write-behind: one background sync per KICK_BYTES of data, never two at once', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winlayer-wb-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const w = new WriteBehind(dir);
  w.wrote(KICK_BYTES - 1);
  assert.equal(w.started, 0, 'not before KICK_BYTES');
  w.wrote(1);
  assert.equal(w.started, 1);
  w.wrote(KICK_BYTES);
  assert.equal(w.started, 1, 'one at a time: the second waits until the first has ended');
  await w.settle();
  w.wrote(KICK_BYTES);
  assert.equal(w.started, 2);
  await w.settle();
});
