/** The progress line as a pure function: counts and elapsed time in, one line out. */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { entryCounts, entryProgress, progressText, transferCounts } from './progress.js';

describe('progressText', () => {
  it('shows entries, bytes and the mean rate', () => {
    assert.equal(progressText({ entries: 12, bytes: 30_000_000 }, 2000), '12 entries, 30.0 MB, 15.0 MB/s');
  });

  it('leaves the rate out before a tenth of a second has passed', () => {
    assert.equal(progressText({ entries: 1, bytes: 0 }, 0), '1 entry, 0.0 MB');
    assert.equal(progressText({ entries: 1, bytes: 5_000_000 }, 99), '1 entry, 5.0 MB');
  });

  it('adds a percentage when the total is known, and never shows more than 100 %', () => {
    assert.equal(
      progressText({ entries: 3, bytes: 25_000_000, total: { done: 25_000_000, of: 100_000_000 } }, 1000),
      '3 entries, 25.0 MB of 100.0 MB (25%), 25.0 MB/s',
    );
    assert.equal(progressText({ bytes: 2, total: { done: 200, of: 100 } }, 0), '0.0 MB of 0.0 MB (100%)');
  });

  it('ignores a zero total (nothing to take a percentage of)', () => {
    assert.equal(progressText({ bytes: 0, total: { done: 0, of: 0 } }, 0), '0.0 MB');
  });
});

describe('counts', () => {
  it('an import from a file: input bytes against the file size; without them, no percentage', () => {
    assert.deepEqual(entryCounts({ entries: 2, bytes: 10, inputBytes: 50 }, 200), {
      entries: 2,
      bytes: 10,
      total: { done: 50, of: 200 },
    });
    assert.deepEqual(entryCounts({ entries: 2, bytes: 10 }, 200), { entries: 2, bytes: 10 });
    assert.deepEqual(entryCounts({ entries: 2, bytes: 10, inputBytes: 5 }), { entries: 2, bytes: 10 });
  });

  it('a transfer: blobs that exist or were mounted count as moved and finished', () => {
    const c = transferCounts([
      { digest: 'sha256:a', phase: 'upload', done: 5, total: 10 },
      { digest: 'sha256:b', phase: 'exists', done: 0, total: 20 },
      { digest: 'sha256:c', phase: 'mounted', done: 0, total: 0 },
      { digest: 'sha256:d', phase: 'download', done: 7, total: 7 },
    ]);
    assert.deepEqual(c, { blobs: { finished: 3, count: 4 }, bytes: 32, total: { done: 32, of: 37 } });
    assert.equal(progressText(c, 0), '3/4 blobs, 0.0 MB of 0.0 MB (86%)');
  });
});

describe('the live line', () => {
  it('draws at the first report, redraws on its timer while nothing is reported, and clears itself', async () => {
    const out = new PassThrough();
    const chunks: string[] = [];
    out.on('data', (c: Buffer) => chunks.push(c.toString()));
    const line = entryProgress(out);
    (line.report as (p: { entries: number; bytes: number }) => void)({ entries: 1, bytes: 1_000_000 });
    await new Promise((r) => setTimeout(r, 600));
    line.stop();
    await new Promise((r) => setImmediate(r));
    const text = chunks.join('');
    assert.match(text, /^\r1 entry, 1\.0 MB\x1b\[K/);
    // at least two timer redraws in 600 ms (REDRAW_MS = 250), each with a rate that falls as time passes
    assert.ok((text.match(/\r1 entry/g) ?? []).length >= 3, JSON.stringify(text));
    assert.match(text, /MB\/s\x1b\[K/);
    assert.ok(text.endsWith('\r\x1b[K'));
  });
});
