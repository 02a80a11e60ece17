import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { isWinlayerError } from '../errors.js';
import { sha256Digest } from './digest.js';
import { addToIndex, LayoutWriter, REF_NAME } from './layout.js';
import { parseDestination } from './source.js';
import type { Descriptor } from './spec.js';

function temp(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'winlayer-layout-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function entry(n: number, tag?: string, extra: Record<string, string> = {}): Descriptor {
  const annotations = { ...extra, ...(tag === undefined ? {} : { [REF_NAME]: tag }) };
  return {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: sha256Digest(String(n)),
    size: n,
    ...(Object.keys(annotations).length === 0 ? {} : { annotations }),
  };
}

test('addToIndex: a tag moves (the old image stays, untagged), an untagged image is added once', () => {
  const a = entry(1, 'v1', { keep: 'me' });
  const b = entry(2, 'v2');
  assert.deepEqual(addToIndex([a, b], [entry(3, 'v1')]), [entry(1, undefined, { keep: 'me' }), b, entry(3, 'v1')]);
  // the same image under its tag again: the untagged copy left by the move is replaced, nothing is duplicated
  assert.deepEqual(addToIndex([a, b], [entry(1, 'v1')]), [entry(1, 'v1'), b]);
  assert.deepEqual(addToIndex([a], [entry(4)]), [a, entry(4)]);
  assert.deepEqual(addToIndex([a, entry(4)], [entry(4)]), [a, entry(4)]);
  // tagging an image that is there untagged takes the untagged entry
  assert.deepEqual(addToIndex([entry(4), a], [entry(4, 'v4')]), [entry(4, 'v4'), a]);
});

function existingLayout(dir: string): Descriptor {
  const bytes = Buffer.from('{"schemaVersion":2,"config":{},"layers":[]}');
  const d = { ...entry(0, 'old'), digest: sha256Digest(bytes), size: bytes.length };
  mkdirSync(join(dir, 'blobs/sha256'), { recursive: true });
  writeFileSync(join(dir, 'blobs/sha256', d.digest.slice(7)), bytes);
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [d] }));
  return d;
}

test('LayoutWriter writes into an existing layout in place; index.json changes only at commit; abort leaves it', (t) => {
  const dir = join(temp(t), 'layout');
  const old = existingLayout(dir);
  const before = readFileSync(join(dir, 'index.json'), 'utf8');
  const w = new LayoutWriter(dir);
  const d = w.putBytes(Buffer.from('new blob'), 'application/octet-stream');
  assert.equal(readFileSync(join(dir, 'blobs/sha256', d.digest.slice(7)), 'utf8'), 'new blob', 'written in place');
  assert.equal(readFileSync(join(dir, 'index.json'), 'utf8'), before, 'index.json waits for commit');
  w.abort();
  assert.equal(readFileSync(join(dir, 'index.json'), 'utf8'), before);

  const w2 = new LayoutWriter(dir);
  const staged = w2.stagingPath();
  writeFileSync(staged, 'half');
  w2.commit([{ ...d, annotations: { [REF_NAME]: 'new' } }]);
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
  assert.deepEqual(
    index.manifests.map((m) => m.annotations?.[REF_NAME]),
    ['old', 'new'],
  );
  assert.equal(index.manifests[0]!.digest, old.digest);
  assert.equal(readFileSync(join(dir, 'oci-layout'), 'utf8'), '{"imageLayoutVersion":"1.0.0"}', 'oci-layout added');
  assert.deepEqual(
    readdirSync(join(dir, 'blobs/sha256')).filter((n) => n.startsWith('.')),
    [],
    'no temporary left',
  );
});

test('LayoutWriter refuses, before writing a blob, a layout whose index.json or oci-layout it cannot read', (t) => {
  const dir = join(temp(t), 'layout');
  existingLayout(dir);
  writeFileSync(join(dir, 'index.json'), '{"schemaVersion":2,"manifests":null}');
  assert.throws(
    () => new LayoutWriter(dir),
    (e: unknown) => isWinlayerError(e, 'INVALID_IMAGE') && /manifests: is null/.test(e.message),
  );
  existingLayout(dir);
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"2.0.0"}');
  assert.throws(
    () => new LayoutWriter(dir),
    (e: unknown) => isWinlayerError(e, 'INVALID_IMAGE') && /is not 1\.x/.test(e.message),
  );
  assert.equal(readdirSync(join(dir, 'blobs/sha256')).length, 1);
});

test('a digest names a source, never a destination', () => {
  assert.throws(
    () => parseDestination(`oci:out@sha256:${'a'.repeat(64)}`),
    (e: unknown) => isWinlayerError(e, 'USAGE'),
  );
  assert.deepEqual(parseDestination('oci:out:v1'), { kind: 'oci-layout', path: 'out', tag: 'v1' });
});
