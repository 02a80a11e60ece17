/**
 * `winlayer export` and `makebaselayer` from the command line: nothing is lost without a word (content beside
 * `Files/`, a plain folder given to makebaselayer, a base layer without hives), the compression follows the output's
 * name, and each mistake says what to do instead.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tools.js';

/** A base layer folder (Files/ and the five hives) holding one file. */
async function baseLayer(root: string): Promise<string> {
  const dir = join(root, 'layer');
  mkdirSync(join(dir, 'Files/app'), { recursive: true });
  writeFileSync(join(dir, 'Files/app/app.exe'), 'MZ');
  const r = await runCli(['makebaselayer', '--quiet', dir]);
  assert.equal(r.code, 0, r.stderr);
  return dir;
}

const GZIP = [0x1f, 0x8b];
const ZSTD = [0x28, 0xb5, 0x2f, 0xfd];
const magic = (file: string, n: number) => [...readFileSync(file).subarray(0, n)];

test('the output name chooses the compression when no flag does, and the summary says so', async (t) => {
  const root = tempDir(t);
  const dir = await baseLayer(root);
  for (const [name, bytes, kind] of [
    ['a.tar.gz', GZIP, 'gzip'],
    ['a.TGZ', GZIP, 'gzip'],
    ['a.tar.zst', ZSTD, 'zstd'],
    ['a.tzst', ZSTD, 'zstd'],
  ] as const) {
    const out = join(root, name);
    const r = await runCli(['export', dir, '-o', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(magic(out, bytes.length), [...bytes], name);
    assert.match(r.stdout, new RegExp(`^digest {3}sha256:[0-9a-f]{64} \\(${kind}, chosen by the name \\S+\\)$`, 'm'));
    // -q means "no progress line" on every command: the summary still prints.
    const quiet = await runCli(['export', dir, '-o', out, '-q']);
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.equal(quiet.stderr, '');
    assert.match(
      quiet.stdout,
      new RegExp(`^digest {3}sha256:[0-9a-f]{64} \\(${kind}, chosen by the name \\S+\\)$`, 'm'),
    );
  }
  // A flag that agrees, and a plain .tar name with a flag (as `tar -czf x.tar` allows): no remark, no refusal.
  const agree = await runCli(['export', dir, '-o', join(root, 'b.tar.gz'), '--gzip']);
  assert.equal(agree.code, 0, agree.stderr);
  assert.match(agree.stdout, /\(gzip\)$/m);
  const plain = await runCli(['export', dir, '-o', join(root, 'c.tar'), '--zstd']);
  assert.equal(plain.code, 0, plain.stderr);
  assert.deepEqual(magic(join(root, 'c.tar'), 4), ZSTD);
  const none = await runCli(['export', dir, '-o', join(root, 'd.tar')]);
  assert.equal(none.code, 0, none.stderr);
  assert.equal(readFileSync(join(root, 'd.tar')).subarray(257, 262).toString(), 'ustar');
});

test('a compressed name and a flag that disagree are a usage error; nothing is written', async (t) => {
  const root = tempDir(t);
  const dir = await baseLayer(root);
  for (const [name, flag, hint] of [
    ['x.tar.gz', '--zstd', /x\.tar\.zst/],
    ['x.tzst', '-z', /x\.tar\.gz/],
  ] as const) {
    const r = await runCli(['export', dir, '-o', join(root, name), flag]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /says (gzip|zstd), but --(gzip|zstd) asks for/);
    assert.match(r.stderr, hint);
  }
  assert.deepEqual(readdirSync(root), ['layer']);
});

test('a base layer without hives is refused with makebaselayer and --non-base as the ways out', async (t) => {
  const root = tempDir(t);
  const dir = join(root, 'layer');
  mkdirSync(join(dir, 'Files'), { recursive: true });
  writeFileSync(join(dir, 'Files/app.exe'), 'MZ');
  const out = join(root, 'x.tar');
  const r = await runCli(['export', dir, '-o', out]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /a base layer needs the registry hives .*: it has none \(LAYER_HIVE\)/);
  assert.match(r.stderr, /hint: run `winlayer makebaselayer .*`.*--non-base/);
  assert.equal(existsSync(out), false);
  const nonBase = await runCli(['export', dir, '-o', out, '--non-base']);
  assert.equal(nonBase.code, 0, nonBase.stderr);
  assert.match(nonBase.stdout, /\(non-base layer\)/);
});

test('W2: makebaselayer on a plain folder refuses, and export refuses content beside Files/', async (t) => {
  const root = tempDir(t);
  const plain = join(root, 'plaindir');
  mkdirSync(plain);
  writeFileSync(join(plain, 'f'), 'the user file');
  const m = await runCli(['makebaselayer', plain]);
  assert.equal(m.code, 1);
  assert.match(m.stderr, /plaindir: has no Files\/ folder, so it is not a layer folder \(LAYER_INVALID\)/);
  assert.match(m.stderr, /image create/);
  assert.deepEqual(readdirSync(plain), ['f'], 'nothing written');

  // The same content moved under Files/ by hand, with a file left beside it: export names it.
  mkdirSync(join(plain, 'Files'));
  writeFileSync(join(plain, 'Files/g'), 'moved');
  assert.equal((await runCli(['makebaselayer', '-q', plain])).code, 0);
  const e = await runCli(['export', plain, '-o', join(root, 'pd.tar')]);
  assert.equal(e.code, 1);
  assert.match(
    e.stderr,
    /plaindir\/f: not part of a layer: export writes only Files\/, UtilityVM\/Files\/ and Hives\//,
  );
  assert.equal(existsSync(join(root, 'pd.tar')), false);
});

test('a tar given as the layer folder points at import; a missing folder says it does not exist', async (t) => {
  const root = tempDir(t);
  const tar = join(root, 'a.tar');
  writeFileSync(tar, 'a tar');
  const r = await runCli(['export', tar, '-o', join(root, 'x.tar')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /a\.tar: is a file, not a layer folder \(SOURCE_UNREADABLE\)/);
  assert.match(r.stderr, /hint: to read a layer tar, use `winlayer import <dir> -i \S*a\.tar`/);
  const missing = await runCli(['export', join(root, 'nope'), '-o', join(root, 'x.tar')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /nope: the layer folder does not exist \(NOT_FOUND\)/);
});

test('invalid and colliding names: all of them in one run, each path named once', async (t) => {
  const root = tempDir(t);
  const dir = await baseLayer(root);
  for (const name of ['CON', 'a:b', 'trail.', 'Dup', 'dup']) writeFileSync(join(dir, 'Files/app', name), '');
  const r = await runCli(['export', dir, '-o', join(root, 'x.tar')]);
  assert.equal(r.code, 1);
  const first = r.stderr.split('\n')[0]!;
  assert.match(first, /: 4 names Windows cannot hold: Files\/app\/CON \(/);
  for (const p of ['Files/app/CON', 'Files/app/a:b', 'Files/app/trail.', 'Files/app/Dup']) {
    assert.equal(first.split(p).length, 2, `${p} named once: ${first}`);
  }
  assert.match(first, /Files\/app\/Dup \(the same name on Windows as dup\)/);
});

test('W3: the bundled examples/layer.tar lints clean (a base layer with its hives)', async () => {
  const example = new URL('../examples/layer.tar', import.meta.url).pathname;
  const r = await runCli(['lint', example]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^clean: \d+ entries, base layer$/m);
});
