/**
 * Malformed images: every JSON document an image is made of (index.json, manifest, config; a docker archive's
 * manifest.json) is damaged — nulls, wrong types, missing fields, cut-off text — and the image is read the way the
 * commands read it (open, resolve, walk every blob, copy to a layout, `ls`). Each read must end in success or in a
 * WinlayerError that is not INTERNAL. First the cases fuzzing found (each a TypeError before the schema checks), then
 * seeded random damage (same runs every time, a few seconds in all).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { isWinlayerError } from '../src/errors.js';
import { writeImage } from '../src/oci/copy.js';
import { reachableBlobs, resolveImage } from '../src/oci/image.js';
import { Registries } from '../src/oci/registry/remote.js';
import { openImage } from '../src/oci/source.js';
import { runCli } from './helpers/cli.js';
import {
  type ArchiveDocs,
  type ImageDocs,
  validArchiveDocs,
  validDocs,
  writeArchiveDocs,
  writeLayoutDocs,
} from './helpers/image-docs.js';
import { tempDir } from './helpers/tools.js';

/**
 * Reads `name` as the image commands do, and copies it to the layout `copyTo` when given (the copy fsyncs: the random
 * runs copy now and then only, to stay within a few seconds). Resolves when the image is fine.
 */
async function readImage(name: string, copyTo: string | undefined): Promise<void> {
  const registries = new Registries({ credentials: async () => undefined });
  try {
    const h = await openImage(name, registries);
    await resolveImage(h);
    await reachableBlobs(h);
    if (copyTo !== undefined) await writeImage(h, copyTo);
  } finally {
    registries.close();
  }
}

/** The error reading `name` ends in (undefined when it reads fine). Fails the test on anything but a WinlayerError. */
async function readError(name: string, copyTo: string | undefined): Promise<Error | undefined> {
  try {
    await readImage(name, copyTo);
    return undefined;
  } catch (e) {
    assert.ok(isWinlayerError(e), `${name}: not a WinlayerError: ${(e as Error).stack}`);
    assert.notEqual(e.code, 'INTERNAL', e.message);
    return e;
  }
}

const obj = (v: unknown): Record<string, unknown> => v as Record<string, unknown>;

/** Sets the node at `path` inside `doc` (every step before the last must exist). */
function setAt(doc: unknown, path: readonly (string | number)[], value: unknown): void {
  const parent = path.slice(0, -1).reduce<unknown>((o, k) => obj(o)[k as string], doc);
  obj(parent)[path[path.length - 1] as string] = value;
}

/** The OCI cases fuzzing found: which document, which field, the damage, and what the error must name. */
const LAYOUT_CASES: [keyof ImageDocs, (string | number)[], unknown, RegExp][] = [
  ['config', ['rootfs'], null, /config: rootfs: is null, not an object/],
  ['manifest', ['layers', 0, 'urls'], null, /manifest: layers\[0\]\.urls: is null, not an array/],
  ['index', ['manifests'], null, /index\.json: manifests: is null/],
  ['index', ['manifests', 0, 'platform'], null, /index\.json: manifests\[0\]\.platform: is null/],
  ['index', ['manifests', 0, 'annotations'], null, /index\.json: manifests\[0\]\.annotations: is null/],
  ['manifest', ['annotations'], null, /manifest: annotations: is null/],
  ['manifest', ['config'], null, /manifest: config: is null/],
  ['manifest', ['layers'], null, /manifest: layers: is null/],
  ['config', ['config'], null, /config: config: is null/],
  ['config', ['history'], null, /config: history: is null/],
  ['config', ['os.version'], 7, /config: \["os\.version"\]: is number 7/],
];

test('malformed OCI layouts found by fuzzing end in INVALID_IMAGE naming the document and the field', async (t) => {
  const dir = tempDir(t);
  for (const [i, [doc, path, value, want]] of LAYOUT_CASES.entries()) {
    const what = `${doc} ${path.join('.')} = ${JSON.stringify(value)}`;
    const docs = validDocs();
    setAt(docs[doc], path, value);
    const layout = join(dir, `l${i}`);
    writeLayoutDocs(layout, docs);
    const e = await readError(`oci:${layout}:v1`, join(dir, `copy${i}`));
    assert.ok(e !== undefined, `${what}: read without an error`);
    assert.ok(isWinlayerError(e, 'INVALID_IMAGE'), `${what}: ${e.message}`);
    assert.match(e.message, want, what);
  }
  // Docker's own nulls (an empty Env, Cmd or Labels) are absent values, not damage
  const docs = validDocs();
  Object.assign(obj(obj(docs.config).config), { Env: null, Cmd: null, Entrypoint: null, Labels: null });
  writeLayoutDocs(join(dir, 'nulls'), docs);
  assert.equal(await readError(`oci:${join(dir, 'nulls')}:v1`, join(dir, 'copy-nulls')), undefined);
});

const ARCHIVE_CASES: [string, unknown, RegExp][] = [
  ['[null]', [null], /manifest\.json: \[0\]: is null, not an object/],
  ['["x"]', ['x'], /manifest\.json: \[0\]: is the string "x", not an object/],
  ['an object', { Config: 'config.json', Layers: [] }, /manifest\.json: is an object, not an array/],
  ['no Layers', [{ Config: 'config.json' }], /manifest\.json: \[0\]\.Layers: is missing/],
  ['no image', [], /manifest\.json: is empty/],
  ['not JSON', '[{"Config":', /manifest\.json: not valid JSON/],
];

test('malformed docker archives found by fuzzing end in INVALID_IMAGE naming manifest.json and the field', async (t) => {
  const dir = tempDir(t);
  for (const [i, [what, manifestJson, want]] of ARCHIVE_CASES.entries()) {
    const path = join(dir, `a${i}.tar`);
    writeArchiveDocs(path, { ...validArchiveDocs(), manifestJson });
    const e = await readError(`docker-archive:${path}`, join(dir, `copy${i}`));
    assert.ok(e !== undefined, `${what}: read without an error`);
    assert.ok(isWinlayerError(e, 'INVALID_IMAGE'), `${what}: ${e.message}`);
    assert.match(e.message, want, what);
  }
  const fine = join(dir, 'fine.tar');
  writeArchiveDocs(fine, validArchiveDocs());
  assert.equal(await readError(fine, join(dir, 'copy-fine')), undefined);
});

// ── seeded random damage ───────────────────────────────────────────────────────────────────────────────────────────

/** mulberry32: a small seeded generator, so every run damages the documents the same way. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

type Path = (string | number)[];

function allPaths(v: unknown, at: Path = []): Path[] {
  const out: Path[] = [at];
  if (Array.isArray(v)) {
    for (const [i, x] of v.entries()) out.push(...allPaths(x, [...at, i]));
  } else if (typeof v === 'object' && v !== null)
    for (const [k, x] of Object.entries(v)) out.push(...allPaths(x, [...at, k]));
  return out;
}

const WRONG_TYPES: unknown[] = [7, -1, 1.5, 2 ** 60, '', 'x', 'sha256:00', true, [], {}, [null], { a: null }];

/** Field names of the image specs, for damage that adds a field a document may hold but this one does not. */
const SPEC_FIELDS = ['urls', 'annotations', 'platform', 'config', 'layers', 'manifests', 'history', 'rootfs'];
const SPEC_FIELDS_MORE = ['diff_ids', 'os.features', 'subject', 'Env', 'Labels', 'RepoTags', 'Layers', 'Config'];

/**
 * A copy of `doc` with one node damaged: set to null (the most common damage fuzzing found) or to a value of another
 * type, removed, given a null element, or a spec field added to an object with such a value; now and then the whole
 * text is cut short instead.
 */
function damage(doc: unknown, next: () => number): unknown {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  if (next() < 0.05) {
    const text = JSON.stringify(doc);
    return text.slice(0, Math.floor(next() * text.length));
  }
  const copy = structuredClone(doc);
  const value = next() < 0.5 ? null : pick(WRONG_TYPES);
  const op = next();
  if (op < 0.3) {
    const objects = allPaths(copy).filter((p) => {
      const v = p.reduce<unknown>((o, k) => obj(o)[k as string], copy);
      return typeof v === 'object' && v !== null && !Array.isArray(v);
    });
    if (objects.length > 0) {
      const target = obj(pick(objects).reduce<unknown>((o, k) => obj(o)[k as string], copy));
      target[pick([...SPEC_FIELDS, ...SPEC_FIELDS_MORE])] = value;
      return copy;
    }
  }
  // half the time a node that holds an object or array: the damage that broke readers was there
  const paths = allPaths(copy);
  const containers = paths.filter((p) => typeof p.reduce<unknown>((o, k) => obj(o)[k as string], copy) === 'object');
  const path = pick(next() < 0.5 ? containers : paths);
  if (path.length === 0) return value;
  const parent = path.slice(0, -1).reduce<unknown>((o, k) => obj(o)[k as string], copy);
  const key = path[path.length - 1] as string;
  if (op < 0.45 && !Array.isArray(parent)) delete obj(parent)[key];
  else if (op < 0.55 && Array.isArray(obj(parent)[key])) (obj(parent)[key] as unknown[]).push(null);
  else obj(parent)[key] = value;
  return copy;
}

test('seeded damage to index.json, manifest and config never ends in INTERNAL', async (t) => {
  const dir = tempDir(t);
  const next = generator(16);
  const kinds = ['index', 'manifest', 'config'] as const;
  let refused = 0;
  for (let i = 0; i < 150; i++) {
    const docs = validDocs();
    const kind = kinds[i % kinds.length]!;
    docs[kind] = damage(docs[kind], next);
    const layout = join(dir, `l${i}`);
    writeLayoutDocs(layout, docs);
    const copy = i % 10 === 0 ? join(dir, `copy${i}`) : undefined;
    if ((await readError(`oci:${layout}`, copy)) !== undefined) refused++;
    if (i % 15 === 0) {
      const ls = await runCli(['ls', layout]);
      assert.doesNotMatch(ls.stderr, /INTERNAL/, `ls of damage ${i} (${kind})`);
    }
  }
  assert.ok(refused > 60, `most damage is refused (${refused} of 150)`);
});

test('seeded damage to a docker archive manifest.json and config never ends in INTERNAL', async (t) => {
  const dir = tempDir(t);
  const next = generator(17);
  let refused = 0;
  for (let i = 0; i < 160; i++) {
    const docs: ArchiveDocs = validArchiveDocs();
    if (i % 2 === 0) docs.manifestJson = damage(docs.manifestJson, next);
    else docs.config = damage(docs.config, next);
    const path = join(dir, `a${i}.tar`);
    writeArchiveDocs(path, docs);
    const copy = i % 10 === 0 ? join(dir, `copy${i}`) : undefined;
    if ((await readError(path, copy)) !== undefined) refused++;
    if (i % 8 === 0) {
      const ls = await runCli(['ls', path]);
      assert.doesNotMatch(ls.stderr, /INTERNAL/, `ls of damage ${i}`);
    }
  }
  assert.ok(refused > 60, `most damage is refused (${refused} of 160)`);
});
