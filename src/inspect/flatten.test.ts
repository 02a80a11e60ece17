import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bufferBody, type LayerEntry } from '../entry.js';
import { flattenSource } from './flatten.js';
import type { InspectSource } from './source.js';

const dir = (path: string, t = 0n): LayerEntry => ({ kind: 'directory', path, win: { lastWriteTime: t } });
const file = (path: string, text: string): LayerEntry => ({
  kind: 'file',
  path,
  size: text.length,
  body: bufferBody(Buffer.from(text)),
  win: { lastWriteTime: 0n },
});
const wh = (path: string, target: string): LayerEntry => ({
  kind: 'whiteout',
  path,
  target,
  win: { lastWriteTime: 0n },
});

function source(...layers: LayerEntry[][]): InspectSource {
  return {
    name: 'img',
    kind: 'image',
    layers: layers.map((entries, i) => ({
      title: `layer ${i + 1}`,
      open: () => ({
        async *[Symbol.asyncIterator]() {
          // Fresh bodies on every pass, as a real source reads the layer again.
          for (const e of entries) yield e.kind === 'file' ? { ...e, body: bufferBody(new Uint8Array(e.size)) } : e;
        },
      }),
    })),
  };
}

async function flat(src: InspectSource): Promise<string[]> {
  const out: string[] = [];
  const f = flattenSource(src);
  assert.equal(f.layers.length, 1);
  for await (const e of f.layers[0]!.open())
    out.push(`${e.path}${e.kind === 'directory' ? `@${e.win.lastWriteTime}` : ''}`);
  return out;
}

describe('flattenSource', () => {
  it('applies whiteouts, overrides, re-created folders and case-insensitive names; leaves Hives out', async () => {
    const got = await flat(
      source(
        [
          dir('Files'),
          dir('Files/a'),
          file('Files/a/x', '1'),
          file('Files/a/y', '1'),
          dir('Files/b'),
          file('Files/b/z', '1'),
        ],
        [dir('Files', 5n), dir('Hives'), wh('Files/.wh.b', 'Files/b'), file('Files/A/X', '2')],
        [dir('Files/b', 7n), file('Files/b/new', '3'), wh('Files/a/.wh.y', 'Files/a/y')],
      ),
    );
    // a name follows its folder's final spelling: Files/A/X lies in the folder Files/a
    assert.deepEqual(got, ['Files@5', 'Files/a@0', 'Files/b@7', 'Files/a/X', 'Files/b/new']);
  });

  it('a folder replaced by a file loses its children', async () => {
    const got = await flat(
      source([dir('Files'), dir('Files/d'), file('Files/d/x', '1')], [file('Files/d', 'now a file')]),
    );
    assert.deepEqual(got, ['Files@0', 'Files/d']);
  });

  it('an opaque marker empties its folder of earlier content only', async () => {
    const opq: LayerEntry = {
      kind: 'opaqueWhiteout',
      path: 'Files/d/.wh..wh..opq',
      directory: 'Files/d',
      win: { lastWriteTime: 0n },
    };
    const got = await flat(
      source(
        [dir('Files'), dir('Files/d'), file('Files/d/old', '1')],
        [dir('Files/d', 3n), opq, file('Files/d/new', '2')],
      ),
    );
    assert.deepEqual(got, ['Files@0', 'Files/d@3', 'Files/d/new']);
  });

  it('leaves a single layer as it is', () => {
    const src = source([dir('Files')]);
    assert.equal(flattenSource(src), src);
  });
});
