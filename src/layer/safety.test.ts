import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { bufferBody, type LayerEntry } from '../entry.js';
import { upcaseHash } from '../windows/case.js';
import { checkNameSyntax, ImportGuard, nameKey, trimName } from './safety.js';

const win = { lastWriteTime: 0n };
const dir = (path: string): LayerEntry => ({ kind: 'directory', path, win });
const file = (path: string): LayerEntry => ({ kind: 'file', path, size: 0, body: bufferBody(new Uint8Array()), win });
const link = (path: string, linkTarget: string): LayerEntry => ({ kind: 'hardlink', path, linkTarget, win });
const whiteout = (path: string, target: string): LayerEntry => ({ kind: 'whiteout', path, target, win });

test('checkNameSyntax: the syntax rules, each with its code', () => {
  for (const [name, code] of [
    ['/a', 'LAYER_UNSAFE'],
    ['C:a', 'LAYER_UNSAFE'],
    ['a\\b', 'LAYER_UNSAFE'],
    ['a\0b', 'LAYER_UNSAFE'],
    ['a/../b', 'LAYER_UNSAFE'],
    ['a//b', 'NAME_INVALID'],
    ['a/./b', 'NAME_INVALID'],
  ] as const) {
    assert.throws(() => checkNameSyntax(name, name), { code }, name);
  }
  checkNameSyntax('./Files/a/', 'ok');
  assert.equal(trimName('./././Files/a//'), 'Files/a');
});

test('hard-link chains resolve to the file that holds the data; UtilityVM may link into Files', () => {
  const g = new ImportGuard();
  g.check(dir('Files'));
  g.check(file('Files/a'));
  assert.deepEqual(g.check(link('Files/b', 'Files/a')).link, { in: 'layer', dataPath: 'Files/a' });
  assert.deepEqual(g.check(link('Files/c', 'Files/b')).link, { in: 'layer', dataPath: 'Files/a' });
  g.check(dir('UtilityVM'));
  g.check(dir('UtilityVM/Files'));
  assert.deepEqual(g.check(link('UtilityVM/Files/a', 'Files/c')).link, { in: 'layer', dataPath: 'Files/a' });
  assert.equal(g.accepted, 7);
});

test('links into parent layers: only with parents, only under Files/', () => {
  const g = new ImportGuard({ kind: 'non-base', parentLinks: true });
  g.check(dir('Files'));
  assert.deepEqual(g.check(link('Files/x', 'Files/in-parent.dll')).link, { in: 'parent', path: 'Files/in-parent.dll' });
  assert.deepEqual(g.check(link('Files/y', 'Files/x')).link, { in: 'parent', path: 'Files/in-parent.dll' });
  g.check(dir('UtilityVM'));
  g.check(dir('UtilityVM/Files'));
  assert.throws(() => g.check(link('UtilityVM/Files/z', 'UtilityVM/Files/none')), { code: 'LAYER_HARDLINK' });
  const base = new ImportGuard();
  base.check(dir('Files'));
  assert.throws(() => base.check(link('Files/x', 'Files/in-parent.dll')), {
    code: 'LAYER_HARDLINK',
    message: /--parent/,
  });
});

test('whiteouts: non-base marker kinds, folders of a parent layer, collisions with their target', () => {
  const g = new ImportGuard();
  g.check(dir('Files'));
  assert.equal(g.check(whiteout('Files/.wh.a', 'Files/a')).nonBase, true);
  // The folder exists only in a parent layer: accepted (nothing is written for a whiteout).
  g.check(whiteout('Files/deep/er/.wh.x', 'Files/deep/er/x'));
  assert.throws(() => g.check(file('Files/A')), { code: 'NAME_COLLISION' });
  assert.throws(() => g.check(whiteout('Files/.wh.b', 'Files/c')), { code: 'LAYER_INVALID' });
  assert.equal(new ImportGuard().check(dir('Hives')).nonBase, true);
});

test('entries without raw info are checked on their path alone', () => {
  const g = new ImportGuard();
  assert.throws(() => g.check(dir('../Files')), { code: 'LAYER_UNSAFE' });
  assert.throws(() => g.check(dir('Files/')), { code: 'NAME_INVALID' });
  g.check(dir('Files'));
  const special: LayerEntry = { kind: 'special', path: 'Files/p', typeflag: '6', description: 'FIFO', win };
  assert.throws(() => g.check(special), { code: 'LAYER_SPECIAL_FILE' });
});

test('nameKey is upcase (ASCII fast path included); checkNameSyntax agrees with the rules written plainly', async () => {
  const { default: fc } = await import('fast-check');
  const { upcase } = await import('../windows/index.js');
  /** The rules as a plain reference (split, regex). */
  const reference = (name: string): string | undefined => {
    if (name.includes('\0')) return 'LAYER_UNSAFE';
    if (name.includes('\\')) return 'LAYER_UNSAFE';
    if (name.startsWith('/')) return 'LAYER_UNSAFE';
    if (/^[A-Za-z]:/.test(name)) return 'LAYER_UNSAFE';
    const parts = trimName(name).split('/');
    if (parts.includes('..')) return 'LAYER_UNSAFE';
    if (parts.some((p) => p === '' || p === '.')) return 'NAME_INVALID';
    return undefined;
  };
  const codeOf = (name: string): string | undefined => {
    try {
      checkNameSyntax(name, name);
      return undefined;
    } catch (e) {
      return (e as { code?: string }).code;
    }
  };
  const name = fc
    .array(fc.constantFrom('/', '.', '..', 'a', 'Z', '\\', ':', 'C', '\0', './', 'é', 'ß'), { maxLength: 10 })
    .map((a) => a.join(''));
  fc.assert(
    fc.property(name, (n) => {
      assert.equal(codeOf(n), reference(n), JSON.stringify(n));
    }),
    { numRuns: 2000, seed: 5 },
  );
  fc.assert(
    fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme-ascii' }), (s, a) => {
      assert.equal(nameKey(s), upcase(s));
      assert.equal(nameKey(a), upcase(a));
    }),
    { numRuns: 1000, seed: 6 },
  );
});

test('names whose hashes collide are told apart; the names may live in a spill file', (t) => {
  const seen = new Map<number, string>();
  let pair: [string, string] | undefined;
  for (let i = 0; pair === undefined; i++) {
    const name = `Files/n${i.toString(36)}`;
    const other = seen.get(upcaseHash(name));
    if (other !== undefined) pair = [other, name];
    else seen.set(upcaseHash(name), name);
  }
  const [a, b] = pair;
  const dir0 = mkdtempSync(join(tmpdir(), 'winlayer-guard-'));
  t.after(() => rmSync(dir0, { recursive: true, force: true }));
  const g = new ImportGuard({ spillFile: join(dir0, 'names') });
  g.check(dir('Files'));
  g.check(file(a));
  g.check(dir(b));
  g.check(file(`${b}/inside`)); // the parent found is the folder b, not the file a with the same hash
  assert.deepEqual(g.check(link('Files/l', a)).link, { in: 'layer', dataPath: a });
  assert.throws(() => g.check(link('Files/m', b)), { code: 'LAYER_HARDLINK', message: /is a folder/ });
  const variant = `Files/${a.slice('Files/'.length).toUpperCase()}`;
  assert.throws(() => g.check(file(variant)), { code: 'NAME_COLLISION', message: new RegExp(a) });
  assert.throws(() => g.check(file(b)), { code: 'LAYER_INVALID', message: /appears twice/ });
  g.close();
});

test('place rules: roots, UtilityVM/Files and top-level folders, with their messages', () => {
  const refuse = (e: LayerEntry, code: string, message: string, kind: 'auto' | 'base' = 'auto'): void => {
    const g = new ImportGuard({ kind });
    for (const d of ['Files', 'UtilityVM', 'UtilityVM/Files']) g.check(dir(d));
    assert.throws(
      () => g.check(e),
      (err: { code: string; message: string }) => err.code === code && err.message.includes(message),
      e.path,
    );
  };
  refuse(dir('files'), 'LAYER_UNSAFE', 'the entry is outside Files/, UtilityVM/ and Hives/');
  refuse(dir('Files2/a'), 'LAYER_UNSAFE', 'the entry is outside Files/, UtilityVM/ and Hives/');
  refuse(file('Files'), 'LAYER_INVALID', 'the top-level "Files" must be a folder');
  refuse(file('UtilityVM'), 'LAYER_INVALID', 'the top-level "UtilityVM" must be a folder');
  for (const p of ['UtilityVM/File', 'UtilityVM/FilesX', 'UtilityVM/files/a', 'UtilityVM/FilesX/a']) {
    refuse(dir(p), 'LAYER_INVALID', 'invalid UtilityVM layer: only UtilityVM/Files may be under UtilityVM');
  }
  refuse(file('UtilityVM/Files'), 'LAYER_INVALID', 'UtilityVM/Files must be a folder');
  refuse(
    dir('Hives'),
    'LAYER_INVALID',
    'a base layer cannot have Hives/ (registry deltas belong to non-base layers)',
    'base',
  );
  refuse(file('Files/a:b'), 'LAYER_INVALID', 'an alternate data stream whose file does not directly precede it');
  refuse(dir('Files/a/'), 'NAME_INVALID', 'the name is not normalised (leading "./" or trailing "/")');
  const g = new ImportGuard();
  g.check(dir('Files'));
  g.check(dir('Files/A'));
  g.check(file('Files/A/x'));
  assert.throws(
    () => g.check(file('Files/a/y')),
    (err: { code: string; message: string }) =>
      err.code === 'NAME_COLLISION' &&
      err.message.includes('the parent is spelled "Files/a" but the folder was declared as "Files/A"'),
  );
  assert.throws(() => g.check(file('Files/B/y')), { code: 'LAYER_INVALID' }, 'an undeclared parent');
});

test('checkNameSyntax: components are read after trimming "./" and trailing "/"', () => {
  for (const name of ['./a/', '././a//', 'a', './.../', '/', 'Files/./', './']) {
    let expected = 'ok';
    const n = trimName(name);
    if (name.startsWith('/')) expected = 'LAYER_UNSAFE';
    else if (n.split('/').some((c) => c === '' || c === '.')) expected = 'NAME_INVALID';
    let got = 'ok';
    try {
      checkNameSyntax(name, name);
    } catch (e) {
      got = (e as { code: string }).code;
    }
    assert.equal(got, expected, name);
  }
});
