import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EarlyWriteBack, EVERY } from './write-back.js';

/** Waits until the running early sync (if any) has ended. */
async function settled(wb: EarlyWriteBack): Promise<void> {
  for (let i = 0; i < 500 && wb.running; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(wb.running, false, 'the early sync did not end within 5 s');
}

test('early write-back: none before EVERY bytes, then one at a time, EVERY bytes apart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winlayer-wb-'));
  const wb = new EarlyWriteBack(dir);
  t.after(() => {
    wb.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  wb.progress(EVERY - 1);
  assert.equal(wb.running, false, 'a small import never syncs early');
  wb.progress(EVERY);
  assert.equal(wb.running, true);
  await settled(wb);
  wb.progress(EVERY + EVERY - 1);
  assert.equal(wb.running, false, 'the next sync waits for EVERY more bytes');
  wb.progress(EVERY + EVERY);
  assert.equal(wb.running, true);
  wb.stop();
  await settled(wb);
  wb.progress(EVERY + 10 * EVERY);
  assert.equal(wb.running, false, 'nothing starts after stop()');
});

test('early write-back: a sync that fails (a folder that does not exist) is never tried again', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'winlayer-wb-'));
  rmSync(dir, { recursive: true });
  const wb = new EarlyWriteBack(dir);
  t.after(() => wb.stop());
  wb.progress(EVERY);
  await settled(wb);
  wb.progress(EVERY + 2 * EVERY);
  assert.equal(wb.running, false);
});
