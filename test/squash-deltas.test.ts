/**
 * Issue 19 §3 end to end: `image squash` and `ls --flatten` merge every layer's `Hives/*_Delta` into the base hives
 * (the one engine, `hiveDeltas: 'merge'`), as Windows does on import; a delta that is not one is refused.
 */
import assert from 'node:assert/strict';
import { createReadStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  asDword,
  asString,
  buildHive,
  checkHive,
  createHiveBuilder,
  findKey,
  openHive,
  value,
} from '../src/hive/index.js';
import { readTar } from '../src/tar/index.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tools.js';

const EPOCH = { SOURCE_DATE_EPOCH: '1700000000' };
const SOFTWARE = 'Files/Windows/System32/config/SOFTWARE';

/** The one layer of an OCI layout, as path → file bytes (folders: empty). */
async function onlyLayer(dir: string): Promise<Map<string, Buffer>> {
  const idx = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
  const blob = (d: string): Buffer => readFileSync(join(dir, 'blobs/sha256', d.slice(7)));
  const m = JSON.parse(blob(idx.manifests[0]!.digest).toString()) as { layers: Array<{ digest: string }> };
  assert.equal(m.layers.length, 1);
  const out = new Map<string, Buffer>();
  for await (const e of readTar(createReadStream(join(dir, 'blobs/sha256', m.layers[0]!.digest.slice(7))))) {
    const chunks: Uint8Array[] = [];
    if (e.kind === 'file') for await (const c of e.body) chunks.push(c);
    out.set(e.path, Buffer.concat(chunks));
  }
  return out;
}

function delta(n: number): Uint8Array {
  const d = createHiveBuilder({ layered: true });
  d.key('Winlayer').setLayer('supersede-tree').setDword('n', n).setString('s', `layer ${n}`);
  return buildHive(d);
}

/** A base image, and two layers above it, each with a Software delta (and an empty System one). */
async function stacked(dir: string, second: Uint8Array = delta(2)): Promise<string> {
  const root = join(dir, 'rootfs');
  mkdirSync(join(root, 'app'), { recursive: true });
  writeFileSync(join(root, 'app/a.txt'), 'a');
  assert.equal((await runCli(['image', 'create', root, '-o', join(dir, 'base')], { env: EPOCH })).code, 0);
  let img = join(dir, 'base');
  for (const [i, d] of [delta(1), second].entries()) {
    const layer = join(dir, `layer${i}`);
    mkdirSync(join(layer, 'Files/x'), { recursive: true });
    mkdirSync(join(layer, 'Hives'), { recursive: true });
    writeFileSync(join(layer, `Files/x/${i}.txt`), `${i}`);
    writeFileSync(join(layer, 'Hives/Software_Delta'), d);
    writeFileSync(join(layer, 'Hives/System_Delta'), buildHive(createHiveBuilder({ layered: true })));
    const next = join(dir, `img${i}`);
    const r = await runCli(['image', 'append', img, `dir:${layer}`, '-o', next], { env: EPOCH });
    assert.equal(r.code, 0, r.stderr);
    img = next;
  }
  return img;
}

test('image squash merges every layer’s registry deltas into the base hives, in layer order', async (t) => {
  const dir = tempDir(t);
  const img = await stacked(dir);
  const sq = await runCli(['image', 'squash', img, '-o', join(dir, 'sq')]);
  assert.equal(sq.code, 0, sq.stderr);
  assert.match(sq.stderr, /merged registry delta layer 2: Hives\/Software_Delta/);
  assert.match(sq.stderr, /merged registry delta layer 3: Hives\/Software_Delta/);
  const got = await onlyLayer(join(dir, 'sq'));
  assert.deepEqual(
    [...got.keys()].filter((p) => p.startsWith('Hives')),
    [],
  );
  assert.equal(got.get('Files/x/1.txt')?.toString(), '1');
  const hive = got.get(SOFTWARE)!;
  assert.deepEqual(checkHive(hive).errors, []);
  const k = findKey(openHive(hive), 'Winlayer')!;
  assert.equal(asDword(value(k, 'n')!), 2);
  assert.equal(asString(value(k, 's')!), 'layer 2');
  assert.equal(openHive(hive).layered, false);
});

test('ls --flatten shows the merged hive; a delta that is not a differencing hive is refused', async (t) => {
  const dir = tempDir(t);
  const img = await stacked(dir);
  const ls = await runCli(['ls', img, '--flatten']);
  assert.equal(ls.code, 0, ls.stderr);
  assert.doesNotMatch(ls.stdout, /Hives\//);
  assert.match(ls.stdout, /config\/SOFTWARE/);
  const bad = await stacked(join(dir, 'bad'), new Uint8Array(8192));
  const refused = await runCli(['image', 'squash', bad, '-o', join(dir, 'sq')]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /layer 3: Hives\/Software_Delta/);
  assert.match(refused.stderr, /HIVE_HEADER/);
});
