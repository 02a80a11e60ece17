import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { tempDir } from '../../test/helpers/tools.js';
import type { EntryBody, LayerEntry } from '../entry.js';
import { isWinlayerError } from '../errors.js';
import { pathWitness, TRUSTED_PATHS } from '../internal/trusted-paths.js';
import { writeTar } from '../tar/index.js';
import { SD_PRESETS, sddlToBytes } from '../windows/index.js';
import { type SidecarRecord, SidecarWriter } from './sidecar.js';
import { type WalkLayerOptions, type WalkLimits, walkLayer, walkLayerSync } from './walk.js';

/** Creates files (content string), folders (trailing `/`) under `root`. */
function tree(root: string, spec: Record<string, string>): void {
  for (const [p, content] of Object.entries(spec)) {
    const host = join(root, ...p.split('/'));
    if (p.endsWith('/')) mkdirSync(host, { recursive: true });
    else {
      mkdirSync(join(host, '..'), { recursive: true });
      writeFileSync(host, content);
    }
  }
}

async function collect(dir: string, opts?: WalkLayerOptions): Promise<LayerEntry[]> {
  const out: LayerEntry[] = [];
  for await (const e of walkLayer(dir, opts)) out.push(e);
  return out;
}

function shape(e: LayerEntry): string {
  const target = e.kind === 'hardlink' || e.kind === 'symlink' ? ` -> ${e.linkTarget}` : '';
  return `${e.kind} ${e.path}${target}`;
}

test('base layer order: Files tree, then UtilityVM only with UtilityVM/Files; UTF-8 sibling order; by-products left out', async (t) => {
  const dir = tempDir(t);
  tree(dir, {
    'Files/b': '',
    'Files/B2': '',
    'Files/a/': '',
    'Files/a/x': '1',
    'Files/\u{1F600}': '',
    'Files/\uFF21': '',
    'Files/é': '',
    'Files/$RECYCLE.BIN/junk': '',
    'Files/Windows/$Recycle.Bin/kept': '',
    'UtilityVM/Files/EFI/': '',
    'UtilityVM/SystemTemplate.vhdx': '',
    'bcd.bak': '',
    'bcd.log.bak': '',
    layout: 'vhd-with-hives\n',
    'blank.vhdx': '',
  });
  const got = (await collect(dir)).map(shape);
  assert.deepEqual(got, [
    'directory Files',
    'file Files/B2',
    'directory Files/Windows',
    'directory Files/Windows/$Recycle.Bin',
    'file Files/Windows/$Recycle.Bin/kept',
    'directory Files/a',
    'file Files/a/x',
    'file Files/b',
    'file Files/é',
    'file Files/\uFF21',
    'file Files/\u{1F600}',
    'directory UtilityVM',
    'directory UtilityVM/Files',
    'directory UtilityVM/Files/EFI',
  ]);
});

test('no UtilityVM entries without UtilityVM/Files; no Files folder is an error', async (t) => {
  const dir = tempDir(t);
  tree(dir, { 'Files/': '', 'UtilityVM/SystemTemplate.vhdx': '' });
  assert.deepEqual((await collect(dir)).map(shape), ['directory Files']);
  const empty = tempDir(t);
  await assert.rejects(
    collect(empty),
    (e: unknown) => isWinlayerError(e, 'LAYER_INVALID') && /Files folder/.test(e.message),
  );
});

test('hard links: first path carries data, later ones link to it (never chained), across Files and UtilityVM/Files', async (t) => {
  const dir = tempDir(t);
  tree(dir, { 'Files/w/a.dll': 'dll', 'UtilityVM/Files/': '', 'Files/solo': 's' });
  linkSync(join(dir, 'Files/w/a.dll'), join(dir, 'UtilityVM/Files/a.dll'));
  linkSync(join(dir, 'UtilityVM/Files/a.dll'), join(dir, 'Files/w/b.dll'));
  const got = (await collect(dir)).map(shape);
  assert.deepEqual(got, [
    'directory Files',
    'file Files/solo',
    'directory Files/w',
    'file Files/w/a.dll',
    'hardlink Files/w/b.dll -> Files/w/a.dll',
    'directory UtilityVM',
    'directory UtilityVM/Files',
    'hardlink UtilityVM/Files/a.dll -> Files/w/a.dll',
  ]);
});

test('symlinks: REPARSE_POINT, DIRECTORY for folder targets, backslashes; absolute or escaping targets fail or are skipped', async (t) => {
  const dir = tempDir(t);
  tree(dir, { 'Files/d/f.txt': 'x' });
  symlinkSync('d', join(dir, 'Files/todir'));
  symlinkSync('d/f.txt', join(dir, 'Files/tofile'));
  symlinkSync('d/missing', join(dir, 'Files/dangling'));
  const got = await collect(dir);
  const links = got
    .filter((e) => e.kind === 'symlink')
    .map((e) => [e.path, e.kind === 'symlink' && e.linkTarget, e.win.attributes]);
  assert.deepEqual(links, [
    ['Files/dangling', 'd\\missing', 0x420],
    ['Files/todir', 'd', 0x410],
    ['Files/tofile', 'd\\f.txt', 0x420],
  ]);

  const abs = tempDir(t);
  tree(abs, { 'Files/': '' });
  symlinkSync('/etc/passwd', join(abs, 'Files/abs'));
  symlinkSync('../../outside', join(abs, 'Files/esc'));
  await assert.rejects(
    collect(abs),
    (e: unknown) =>
      isWinlayerError(e, 'LAYER_SYMLINK') &&
      e.path === join(abs, 'Files/abs') &&
      e.message.split('Files/abs').length === 2 && // named once
      /absolute/.test(e.message) &&
      /--symlinks skip/.test(e.hint!),
  );
  const skipped: string[] = [];
  const kept = await collect(abs, { symlinks: 'skip', onSkip: (p, why) => skipped.push(`${p}: ${why}`) });
  assert.deepEqual(kept.map(shape), ['directory Files']);
  assert.deepEqual(skipped, ['Files/abs: is an absolute path', 'Files/esc: leaves Files/']);
});

test('special files, invalid Windows names and case collisions are errors naming the paths', async (t) => {
  const fifo = tempDir(t);
  tree(fifo, { 'Files/': '' });
  execFileSync('mkfifo', [join(fifo, 'Files/pipe')]);
  await assert.rejects(
    collect(fifo),
    (e: unknown) =>
      isWinlayerError(e, 'LAYER_SPECIAL_FILE') &&
      e.path === join(fifo, 'Files/pipe') &&
      e.message.split('Files/pipe').length === 2,
  );

  for (const bad of ['CON', 'nul.txt', 'trailing.', 'a:b', 'q?', 'tab\there', '.wh.deleted', '.wh..wh..opq']) {
    const dir = tempDir(t);
    tree(dir, { [`Files/d/${bad}`]: '' });
    await assert.rejects(
      collect(dir),
      (e: unknown) =>
        isWinlayerError(e, 'NAME_INVALID') &&
        e.path === join(dir, 'Files/d', bad) &&
        e.entry === undefined &&
        // The host path names the object; the rule does not name it again.
        !e.message.slice(e.path.length).includes(`"${bad}"`),
      bad,
    );
  }
  const dir = tempDir(t);
  tree(dir, { 'Files/Dir/A.txt': '', 'Files/Dir/a.TXT': '' });
  await assert.rejects(
    collect(dir),
    (e: unknown) =>
      isWinlayerError(e, 'NAME_COLLISION') &&
      e.message.startsWith(`${join(dir, 'Files/Dir')}: "A.txt" and "a.TXT" are the same name on Windows`),
  );
});

test('default policy: attributes by kind, SD presets and SDDL, times truncated to 100 ns and clamped', async (t) => {
  const dir = tempDir(t);
  tree(dir, { 'Files/f': 'x', 'Files/d/': '' });
  utimesSync(join(dir, 'Files/f'), 1_700_000_000.1234567, 1_700_000_000.1234567);
  const byPath = async (opts?: WalkLayerOptions) => new Map((await collect(dir, opts)).map((e) => [e.path, e]));

  const users = await byPath();
  const f = users.get('Files/f')!;
  assert.equal(f.win.attributes, 0x20);
  assert.equal(users.get('Files/d')!.win.attributes, 0x10);
  assert.deepEqual(f.win.securityDescriptor, sddlToBytes(SD_PRESETS.users.file));
  // utimes keeps microseconds: 1700000000.123456(7) → .1234560 after truncation to 100 ns; all four times equal.
  const t0 = f.win.lastWriteTime;
  assert.equal(t0 % 100n, 0n);
  assert.ok(t0 >= 1_700_000_000_123_400_000n && t0 <= 1_700_000_000_123_500_000n, String(t0));
  assert.deepEqual([f.win.creationTime, f.win.lastAccessTime, f.win.changeTime], [t0, t0, t0]);

  const admins = await byPath({ sd: 'admins' });
  assert.deepEqual(admins.get('Files/d')!.win.securityDescriptor, sddlToBytes(SD_PRESETS.admins.dir));
  assert.deepEqual(admins.get('Files/f')!.win.securityDescriptor, sddlToBytes(SD_PRESETS.admins.file));
  const none = await byPath({ sd: 'none', dirSd: 'O:SYG:SY' });
  assert.equal(none.get('Files/f')!.win.securityDescriptor, undefined);
  assert.deepEqual(none.get('Files/d')!.win.securityDescriptor, sddlToBytes('O:SYG:SY'));

  const clamped = (await byPath({ sourceDateEpoch: 1_000_000 })).get('Files/f')!;
  assert.equal(clamped.win.lastWriteTime, 1_000_000_000_000_000n);
  assert.equal(clamped.win.creationTime, 1_000_000_000_000_000n);

  assert.throws(
    () => walkLayer(dir, { sd: 'everyone' as never }),
    (e: unknown) => isWinlayerError(e, 'USAGE'),
  );
  assert.throws(
    () => walkLayer(dir, { sourceDateEpoch: -1 }),
    (e: unknown) => isWinlayerError(e, 'USAGE'),
  );
  assert.throws(
    () => walkLayer(dir, { fileSd: 'O:nonsense' }),
    (e: unknown) => isWinlayerError(e, 'SDDL_INVALID'),
  );
});

test('bodies: exact bytes by read or iteration; stale after the walk moves on', async (t) => {
  const dir = tempDir(t);
  tree(dir, { 'Files/a': 'hello', 'Files/b': 'world!', 'Files/c': '' });
  const it = walkLayer(dir)[Symbol.asyncIterator]();
  await it.next(); // Files
  const a = (await it.next()).value as LayerEntry;
  assert.equal(a.kind, 'file');
  if (a.kind !== 'file') return;
  const buf = new Uint8Array(3);
  assert.equal(a.body.read!(buf, 0, 3), 3);
  assert.equal(Buffer.from(buf).toString(), 'hel');
  const b = (await it.next()).value as LayerEntry;
  assert.throws(
    () => a.body.read!(buf, 0, 3),
    (e: unknown) => isWinlayerError(e, 'BODY_STALE'),
  );
  if (b.kind !== 'file') return assert.fail('expected a file');
  const chunks: Uint8Array[] = [];
  for await (const c of b.body) chunks.push(c);
  assert.equal(Buffer.concat(chunks).toString(), 'world!');
  await assert.rejects(
    async () => {
      for await (const _ of b.body) break;
    },
    (e: unknown) => isWinlayerError(e, 'BODY_STALE'),
  );
  const c = (await it.next()).value as LayerEntry;
  assert.equal(c.kind === 'file' && c.size, 0);
  assert.equal((await it.next()).done, true);
});

const SD1 = sddlToBytes('O:BAG:SYD:(A;;FA;;;SY)');

function withSidecar(
  dir: string,
  kind: 'base' | 'non-base',
  records: (sd: number) => SidecarRecord[],
  streams?: string[],
): void {
  const w = new SidecarWriter(dir, { kind });
  const sd = w.addSecurityDescriptor(SD1);
  const datas = (streams ?? []).map((content) => {
    const s = w.allocateStream();
    writeFileSync(s.hostPath, content);
    return s.data;
  });
  for (const r of records(sd)) {
    w.add(r.streams ? { ...r, streams: r.streams.map((s, i) => ({ ...s, data: datas[i]! })) } : r);
  }
  w.finish();
}

test('sidecar merge: unchanged objects take the record, edited ones disk times, other kinds the default', async (t) => {
  const dir = tempDir(t);
  tree(dir, { 'Files/same.exe': 'exe', 'Files/edited.dll': 'dll', 'Files/was-dir': 'now a file', 'Files/new': '' });
  const mtime = 1_600_000_000; // whole seconds survive every filesystem
  for (const f of ['same.exe', 'edited.dll', 'was-dir']) utimesSync(join(dir, 'Files', f), mtime, mtime);
  const rec = (path: string, sd: number, extra: Partial<SidecarRecord> = {}): SidecarRecord => ({
    path,
    kind: 'file',
    attributes: 0x21,
    sd,
    creationTime: 1n,
    lastWriteTime: 2n,
    lastAccessTime: 3n,
    changeTime: 4n,
    size: 3,
    diskMtime: BigInt(mtime) * 1_000_000_000n,
    ...extra,
  });
  withSidecar(
    dir,
    'base',
    (sd) => [
      rec('Files/same.exe', sd, {
        streams: [{ name: 'Zone.Identifier', size: 4, data: '' }],
        extendedAttributes: [{ name: 'E', value: new Uint8Array([7]) }],
        extraPax: [{ key: 'MSWINDOWS.future', value: 'v' }],
      }),
      rec('Files/edited.dll', sd, { size: 2 }),
      rec('Files/was-dir', sd, { kind: 'directory' }),
      rec('Files/gone', sd),
    ],
    ['zone'],
  );
  const entries = await collect(dir, { sourceDateEpoch: 1_650_000_000 });
  assert.deepEqual(entries.map(shape), [
    'directory Files',
    'file Files/edited.dll',
    'file Files/new',
    'file Files/same.exe',
    'stream Files/same.exe:Zone.Identifier',
    'file Files/was-dir',
  ]);
  const by = new Map(entries.map((e) => [e.path, e]));
  assert.deepEqual(by.get('Files/same.exe')!.win, {
    attributes: 0x21,
    securityDescriptor: SD1,
    lastWriteTime: 2n,
    creationTime: 1n,
    lastAccessTime: 3n,
    changeTime: 4n,
    extendedAttributes: [{ name: 'E', value: new Uint8Array([7]) }],
  });
  assert.deepEqual(by.get('Files/same.exe')!.extraPax, [{ key: 'MSWINDOWS.future', value: 'v' }]);
  const s = by.get('Files/same.exe:Zone.Identifier')!;
  assert.ok(
    s.kind === 'stream' && s.size === 4 && s.streamName === 'Zone.Identifier' && s.filePath === 'Files/same.exe',
  );
  const t0 = BigInt(mtime) * 1_000_000_000n;
  assert.deepEqual(by.get('Files/edited.dll')!.win, {
    attributes: 0x21,
    securityDescriptor: SD1,
    creationTime: t0,
    lastWriteTime: t0,
    lastAccessTime: t0,
    changeTime: t0,
  });
  assert.equal(by.get('Files/was-dir')!.win.attributes, 0x20);
  assert.deepEqual(by.get('Files/was-dir')!.win.securityDescriptor, sddlToBytes(SD_PRESETS.users.file));
});

test('non-base: Hives after Files, whiteouts after their folder (also folders only in a parent), links into parents', async (t) => {
  const dir = tempDir(t);
  tree(dir, { 'Files/a/keep': '', 'Hives/System_Delta': 'regf', 'Files/z': '' });
  withSidecar(dir, 'non-base', () => [
    { path: 'Files/a/.wh.old', kind: 'whiteout', target: 'Files/a/old' },
    { path: 'Files/.wh.b', kind: 'whiteout', target: 'Files/b' },
    { path: 'Files/p/q/.wh.r', kind: 'whiteout', target: 'Files/p/q/r' },
    { path: 'Files/a/link.dll', kind: 'hardlink', linkTarget: 'Files/Windows/x.dll', inParent: true },
  ]);
  assert.deepEqual((await collect(dir)).map(shape), [
    'directory Files',
    'whiteout Files/.wh.b',
    'directory Files/a',
    'whiteout Files/a/.wh.old',
    'file Files/a/keep',
    'hardlink Files/a/link.dll -> Files/Windows/x.dll',
    'whiteout Files/p/q/.wh.r',
    'file Files/z',
    'directory Hives',
    'file Hives/System_Delta',
  ]);
  await assert.rejects(
    collect(dir, { kind: 'base' }),
    (e: unknown) => isWinlayerError(e, 'LAYER_INVALID') && /base layer cannot hold/.test(e.message),
  );
});

test('imported symlinks come from their records (no host symlink); folders carry their ADS', async (t) => {
  const dir = tempDir(t);
  tree(dir, { 'Files/a/': '', 'Files/c': '' });
  utimesSync(join(dir, 'Files/a'), 1_600_000_000, 1_600_000_000);
  withSidecar(
    dir,
    'base',
    (sd) => [
      {
        path: 'Files/a',
        kind: 'directory',
        attributes: 0x10,
        lastWriteTime: 5n,
        diskMtime: 1_600_000_000_000_000_000n,
        streams: [{ name: 'meta', size: 2, data: '' }],
      },
      {
        path: 'Files/b',
        kind: 'symlink',
        linkTarget: 'C:\\Windows',
        mountPoint: true,
        attributes: 0x410,
        sd,
        lastWriteTime: 7n,
      },
    ],
    ['hi'],
  );
  const entries = await collect(dir);
  assert.deepEqual(entries.map(shape), [
    'directory Files',
    'directory Files/a',
    'stream Files/a:meta',
    'symlink Files/b -> C:\\Windows',
    'file Files/c',
  ]);
  const b = entries[3]!;
  assert.deepEqual(b.win, { attributes: 0x410, securityDescriptor: SD1, lastWriteTime: 7n, mountPoint: true });
  assert.equal(entries[1]!.win.lastWriteTime, 5n);
});

test('walkLayerSync is a generator: return() and errors end the walk and stale the body; done stays done', (t) => {
  const dir = tempDir(t);
  tree(dir, { 'Files/a': 'aaa', 'Files/b': 'bb', 'Files/c/': '' });
  const walk = walkLayerSync(dir, { sidecar: null });
  assert.equal(walk[Symbol.iterator](), walk);
  assert.equal(walk.next().value?.path, 'Files');
  const a = walk.next().value!;
  assert.equal(a.path, 'Files/a');
  assert.deepEqual(walk.return(undefined), { value: undefined, done: true });
  assert.throws(
    () => (a as { body: EntryBody }).body.read!(new Uint8Array(8), 0, 8),
    (e) => isWinlayerError(e) && e.code === 'BODY_STALE',
  );
  assert.deepEqual(walk.next(), { value: undefined, done: true });

  // All of it, then done for good.
  const all = [...walkLayerSync(dir, { sidecar: null })].map(shape);
  assert.deepEqual(all, ['directory Files', 'file Files/a', 'file Files/b', 'directory Files/c']);

  // An error ends it: the next call is done.
  writeFileSync(join(dir, 'Files', 'bad:name'), '');
  const failing = walkLayerSync(dir, { sidecar: null });
  // The invalid name is left out, the rest walked, and the error comes at the end (with any others found).
  assert.deepEqual(
    [failing.next(), failing.next(), failing.next(), failing.next()].map((r) => r.value?.path),
    ['Files', 'Files/a', 'Files/b', 'Files/c'],
  );
  assert.throws(
    () => failing.next(),
    (e) => isWinlayerError(e) && e.code === 'NAME_INVALID',
  );
  assert.deepEqual(failing.next(), { value: undefined, done: true });
});

test('the tar writer skips its path check only for entries the walk built, unchanged', async (t) => {
  const dir = tempDir(t);
  tree(dir, { 'Files/a': 'aaa', 'Files/b/': '' });
  const walk = walkLayerSync(dir, { sidecar: null });
  assert.ok(pathWitness(walk) !== undefined, 'the walk vouches for its paths');
  // A source that hands on the walk's entries and its witness, but changes a path on the way: still checked.
  const tampered = {
    [Symbol.iterator]() {
      return this;
    },
    next() {
      const r = walk.next();
      if (r.done !== true && r.value.path === 'Files/a') (r.value as { path: string }).path = 'Files/../a';
      return r;
    },
    [TRUSTED_PATHS]: pathWitness(walk),
  };
  await assert.rejects(
    writeTar(tampered as Iterable<LayerEntry>, new PassThrough().resume()),
    (e) => isWinlayerError(e) && e.code === 'TAR_ENTRY' && e.entry === 'Files/../a',
  );
  // The walk itself writes.
  const out = new PassThrough().resume();
  const summary = await writeTar(walkLayerSync(dir, { sidecar: null }), out);
  assert.equal(summary.entries, 3);
});

/** The walk of `dir` as entry shapes and metadata, with the given internal limits. */
function walkWith(dir: string, limits: WalkLimits): string[] {
  const out: string[] = [];
  for (const e of walkLayerSync(dir, { limits })) {
    out.push(`${shape(e)} ${e.win.lastWriteTime} ${e.win.attributes ?? ''}`);
  }
  return out;
}

test('large folders: packed names and a spilled sidecar index give the same walk as the unbounded path', (t) => {
  const dir = tempDir(t);
  // Names whose UTF-16 and UTF-8 orders differ, case variants that do not collide, a sidecar record for each.
  const names = ['b', 'B2', 'a', 'ä', '\u{1F600}x', '\uFF21', 'z', '~', 'a b', 'ab'];
  for (let i = 0; i < 3000; i++) names.push(`n${i}`);
  const files: Record<string, string> = {};
  for (const n of names) files[`Files/big/${n}`] = n;
  tree(dir, files);
  const w = new SidecarWriter(dir, { kind: 'base' });
  w.add({ path: 'Files', kind: 'directory', lastWriteTime: 5n, attributes: 0x10 });
  w.add({ path: 'Files/big', kind: 'directory', lastWriteTime: 6n, attributes: 0x10 });
  names.forEach((n, i) => {
    w.add({ path: `Files/big/${n}`, kind: 'file', lastWriteTime: BigInt(100 + i), attributes: 0x21, size: 99 });
  });
  w.finish();
  const unbounded = walkWith(dir, {});
  const bounded = walkWith(dir, { packNamesOver: 4, sidecar: { memorySlots: 4096, offsetBits: 12 } });
  assert.equal(unbounded.length, names.length + 2);
  assert.deepEqual(bounded, unbounded);
  // The records matched (the files' sizes differ from the records, so the attributes are the records', times the
  // disk's).
  assert.ok(unbounded.every((l) => !l.startsWith('file') || l.endsWith(' 33')));

  tree(dir, { 'Files/big/N7': '' });
  const collision = (limits: WalkLimits) => () => walkWith(dir, limits);
  const message = (() => {
    try {
      collision({})();
    } catch (e) {
      return (e as Error).message;
    }
    return '';
  })();
  assert.match(message, /Files\/big: "N7" and "n7" are the same name/);
  assert.throws(
    collision({ packNamesOver: 4 }),
    (e: unknown) => isWinlayerError(e, 'NAME_COLLISION') && e.message === message,
  );
});

test('content export would leave out is an error naming the first such path; by-products and the sidecar are not', async (t) => {
  const cases: [Record<string, string>, string, RegExp][] = [
    [{ f: 'user file', 'g/': '' }, 'f', /not part of a layer/],
    [{ '.winlayer-not/': '' }, '.winlayer-not', /not part of a layer/],
    [{ 'UtilityVM/Files/': '', 'UtilityVM/other/': '' }, 'UtilityVM/other', /not part of a layer/],
    [{ 'UtilityVM/notes.txt': '' }, 'UtilityVM/notes.txt', /not part of a layer/],
    [{ UtilityVM: 'a file' }, 'UtilityVM', /must be a folder, not a file/],
    [{ 'UtilityVM/Files': 'a file' }, 'UtilityVM/Files', /must be a folder, not a file/],
    [{ 'Hives/System_Delta': '' }, 'Hives', /a base layer has no Hives/],
  ];
  for (const [spec, first, rule] of cases) {
    const dir = tempDir(t);
    tree(dir, { 'Files/a': 'a', ...spec });
    await assert.rejects(
      collect(dir),
      (e: unknown) => isWinlayerError(e, 'LAYER_INVALID') && e.path === join(dir, first) && rule.test(e.message),
      first,
    );
  }
  // A non-base layer exports Hives/; what import and hcsshim leave beside a layer is not layer content.
  const dir = tempDir(t);
  tree(dir, {
    'Files/a': 'a',
    'Hives/System_Delta': 'd',
    'bcd.bak': '',
    'BCD.LOG1.bak': '',
    layout: '',
    'blank-base.vhdx': '',
    'UtilityVM/SystemTemplateBase.vhdx': '',
  });
  assert.deepEqual((await collect(dir, { kind: 'non-base' })).map(shape), [
    'directory Files',
    'file Files/a',
    'directory Hives',
    'file Hives/System_Delta',
  ]);
});

test('a missing folder or a file given as the layer folder says which', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'layer.tar'), 'a tar');
  await assert.rejects(
    collect(join(dir, 'layer.tar')),
    (e: unknown) =>
      isWinlayerError(e, 'SOURCE_UNREADABLE') &&
      /is a file, not a layer folder/.test(e.message) &&
      /winlayer import/.test(e.hint!),
  );
  await assert.rejects(
    collect(join(dir, 'nope')),
    (e: unknown) => isWinlayerError(e, 'NOT_FOUND') && /does not exist/.test(e.message),
  );
  // A symlink to a layer folder is a layer folder.
  tree(dir, { 'real/Files/a': 'a' });
  symlinkSync('real', join(dir, 'link'));
  assert.deepEqual((await collect(join(dir, 'link'))).map(shape), ['directory Files', 'file Files/a']);
});

test('every name Windows cannot hold is reported in one error (20 listed, then a count), in both walks', async (t) => {
  const dir = tempDir(t);
  const spec: Record<string, string> = {
    'Files/ok': '',
    'Files/CON': '',
    'Files/a:b': '',
    'Files/sub/trail.': '',
    'Files/sub/Same': '',
    'Files/sub/same': '',
    'Files/sub/x\u001b]0;t\u0007': '',
    'Files/bad?/inner': '',
  };
  tree(dir, spec);
  const layerMessage = await collect(dir).then(
    () => '',
    (e: unknown) => (isWinlayerError(e, 'NAME_INVALID') ? e.message : String(e)),
  );
  assert.equal(
    layerMessage.split('\n')[0],
    `${dir}: 6 names Windows cannot hold: ` +
      'Files/CON (the name stands for the reserved device name CON); ' +
      'Files/a:b (the name contains ":", which Windows does not allow in names); ' +
      'Files/bad? (the name contains "?", which Windows does not allow in names); ' +
      'Files/sub/Same (the same name on Windows as same); ' +
      'Files/sub/trail. (the name ends with a dot, which Windows strips); ' +
      'Files/sub/x\\x1b]0;t\\x07 (the name contains control character U+001b, which Windows does not allow in names) ' +
      '(NAME_INVALID)',
  );
  // The plain-folder walk (image create) reports the same, relative to the folder given.
  const walked: string[] = [];
  const plainMessage = (() => {
    try {
      for (const e of walkLayerSync(join(dir, 'Files'), { plain: { whiteouts: 'refuse' } })) walked.push(e.path);
      return '';
    } catch (e) {
      return (e as Error).message;
    }
  })();
  assert.ok(plainMessage.startsWith(`${join(dir, 'Files')}: 6 names Windows cannot hold: CON (the name`), plainMessage);
  assert.ok(plainMessage.includes('; sub/Same (the same name on Windows as same); sub/trail. ('), plainMessage);
  // The walk went on past them (streaming), leaving them out (of two names that collide, the first in UTF-8 order).
  assert.deepEqual(walked, ['Files', 'Files/ok', 'Files/sub', 'Files/sub/same']);

  // More than 20: the first 20, then how many more.
  const many = tempDir(t);
  const names: Record<string, string> = { 'Files/': '' };
  for (let i = 0; i < 25; i++) names[`Files/n${String(i).padStart(2, '0')}.`] = '';
  tree(many, names);
  await assert.rejects(collect(many), (e: unknown) => {
    assert.ok(isWinlayerError(e, 'NAME_INVALID'));
    assert.equal((e.message.match(/ \(the name ends with a dot/g) ?? []).length, 20);
    assert.match(e.message, /: 25 names Windows cannot hold: Files\/n00\. \(/);
    assert.match(
      e.message,
      /Files\/n19\. \(the name ends with a dot, which Windows strips\); and 5 more \(NAME_INVALID\)/,
    );
    return true;
  });
});
