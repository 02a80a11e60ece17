import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bufferBody, type LayerEntry } from '../entry.js';
import { renderHtml } from './html.js';
import { summarizeLayer } from './summary.js';
import { squarify } from './treemap.js';

const SD_A = Buffer.from('AQAAgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAhAgAAAQIAAAAAAAUgAAAAIQIAAA==', 'base64');
const SD_BAD = new Uint8Array([9, 9, 9]);

function dir(path: string): LayerEntry {
  return { kind: 'directory', path, win: { lastWriteTime: 0n, securityDescriptor: SD_A } };
}
/** A file of `size` zero bytes; `sd` null = no descriptor. */
function file(path: string, size: number, sd: Uint8Array | null = SD_A): LayerEntry {
  const win = { lastWriteTime: 0n, ...(sd === null ? {} : { securityDescriptor: sd }) };
  return { kind: 'file', path, size, body: bufferBody(new Uint8Array(size)), win };
}
async function* stream(entries: LayerEntry[]): AsyncIterable<LayerEntry> {
  yield* entries;
}

const LAYER: LayerEntry[] = [
  dir('Files'),
  dir('Files/a'),
  file('Files/a/big.bin', 1000),
  file('Files/a/small.txt', 10, SD_BAD),
  dir('Files/b'),
  file('Files/b/mid.dll', 500, null),
  { kind: 'hardlink', path: 'Files/b/big-link.bin', linkTarget: 'Files/a/big.bin', win: { lastWriteTime: 0n } },
  {
    kind: 'stream',
    path: 'Files/b/mid.dll:Zone.Identifier',
    filePath: 'Files/b/mid.dll',
    streamName: 'Zone.Identifier',
    size: 26,
    body: bufferBody(new Uint8Array(26)),
    win: { lastWriteTime: 0n },
  },
  file('Files/top.txt', 4),
];

describe('summarizeLayer', () => {
  it('adds up folders (hard links once, streams with their file) and keeps the biggest files and the SDs', async () => {
    const s = await summarizeLayer(stream(LAYER), { top: 2 });
    assert.equal(s.entries, 9);
    assert.equal(s.totalSize, 1000 + 10 + 500 + 26 + 4);
    const files = s.root.children[0]!;
    assert.equal(files.path, 'Files');
    assert.deepEqual(
      files.children.map((c) => [c.path, c.size, c.files, c.ownSize]),
      [
        ['Files/a', 1010, 2, 1010],
        ['Files/b', 526, 1, 526],
      ],
    );
    assert.equal(files.ownSize, 4);
    assert.equal(files.size, 1540);
    assert.deepEqual(s.biggest, [
      { path: 'Files/a/big.bin', size: 1000, links: 1 },
      { path: 'Files/b/mid.dll', size: 500, links: 0 },
    ]);
    assert.equal(s.securityDescriptors.length, 2);
    assert.deepEqual(
      s.securityDescriptors.map((d) => [d.base64, d.count]),
      [
        [SD_A.toString('base64'), 5],
        ['CQkJ', 1],
      ],
    );
    assert.equal(s.securityDescriptors[0]!.sddl, 'O:BUG:BU');
    assert.match(s.securityDescriptors[1]!.sddl, /^\(invalid: /);
    assert.equal(s.withoutSd, 1);
    assert.equal(s.counts.hardlink, 1);
  });
});

describe('squarify', () => {
  it('fills the rectangle with areas proportional to the values', () => {
    const values = [6, 6, 4, 3, 2, 2, 1];
    const rects = squarify(values, { x: 0, y: 0, w: 6, h: 4 });
    const total = values.reduce((a, b) => a + b, 0);
    rects.forEach((r, i) => {
      assert.ok(Math.abs(r.w * r.h - (values[i]! * 24) / total) < 1e-9);
      assert.ok(r.x >= -1e-9 && r.y >= -1e-9 && r.x + r.w <= 6 + 1e-9 && r.y + r.h <= 4 + 1e-9);
    });
    // No two rectangles overlap.
    for (let i = 0; i < rects.length; i++) {
      for (let j = i + 1; j < rects.length; j++) {
        const a = rects[i]!;
        const b = rects[j]!;
        const ox = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
        const oy = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
        assert.ok(ox <= 1e-9 || oy <= 1e-9, `rectangles ${i} and ${j} overlap`);
      }
    }
  });

  it('gives zero values an empty rectangle', () => {
    const rects = squarify([0, 5], { x: 1, y: 2, w: 10, h: 10 });
    assert.deepEqual(rects[0], { x: 1, y: 2, w: 0, h: 0 });
    assert.equal(rects[1]!.w * rects[1]!.h, 100);
  });
});

describe('renderHtml', () => {
  it('is one self-contained page with the treemap, the biggest files and the SD table, escaped', async () => {
    const s = await summarizeLayer(stream([...LAYER, file('Files/<script>.txt', 3)]));
    const html = renderHtml([{ title: 'layer.tar', summary: s }], { title: 'a "layer" & <more>' });
    assert.match(html, /^<!DOCTYPE html>/);
    assert.doesNotMatch(html, /<script/i);
    assert.doesNotMatch(html, /(src|href)=/i);
    assert.doesNotMatch(html, /url\(/i);
    assert.match(html, /a &#34;layer&#34; &#38; &#60;more&#62;/);
    assert.match(html, /Files\/a\/big\.bin/);
    assert.match(html, /<code>O:BUG:BU<\/code>/);
    assert.match(html, /class="map"/);
    assert.equal(
      renderHtml([{ title: 'layer.tar', summary: s }], { title: 'x' }),
      renderHtml([{ title: 'layer.tar', summary: s }], { title: 'x' }),
    );
  });
});
