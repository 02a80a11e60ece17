import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bufferBody, type LayerEntry, type RawTarInfo, type WindowsMetadata } from '../entry.js';
import { compareLayers } from './compare.js';

const T = 1_677_606_423_123_456_700n;
const win = (extra: Partial<WindowsMetadata> = {}): WindowsMetadata => ({ lastWriteTime: T, ...extra });

function dir(path: string, w: Partial<WindowsMetadata> = {}): LayerEntry {
  return { kind: 'directory', path, win: win(w) };
}
function file(path: string, data: string, w: Partial<WindowsMetadata> = {}, raw?: Partial<RawTarInfo>): LayerEntry {
  const bytes = Buffer.from(data);
  return {
    kind: 'file',
    path,
    size: bytes.length,
    body: bufferBody(bytes),
    win: win(w),
    ...(raw === undefined ? {} : { raw: rawInfo(path, raw) }),
  };
}
function link(path: string, target: string): LayerEntry {
  return { kind: 'hardlink', path, linkTarget: target, win: win() };
}
function stream(filePath: string, name: string, data: string): LayerEntry {
  const bytes = Buffer.from(data);
  return {
    kind: 'stream',
    path: `${filePath}:${name}`,
    filePath,
    streamName: name,
    size: bytes.length,
    body: bufferBody(bytes),
    win: win(),
  };
}
function rawInfo(name: string, r: Partial<RawTarInfo>): RawTarInfo {
  return {
    name,
    linkName: '',
    typeflag: '0',
    mode: 0o644,
    uid: 0,
    gid: 0,
    uname: '',
    gname: '',
    format: 'pax',
    pax: [],
    offset: 0,
    ...r,
  };
}
async function* from(entries: LayerEntry[]): AsyncIterable<LayerEntry> {
  yield* entries;
}
const cmp = (a: LayerEntry[], b: LayerEntry[]) => compareLayers(from(a), from(b));

test('equal layers: ignored differences (order, modes, ./, trailing /, digits below 100 ns, defaults)', async () => {
  const a = [
    dir('Files'),
    file('Files/a', 'alpha', { attributes: 0x20 }, { mode: 0o100000, uid: 5 }),
    file('Files/b', 'beta', { creationTime: T, lastAccessTime: T, changeTime: T }),
  ];
  const b = [
    dir('./Files/', { attributes: 0x10 }),
    file('Files/b', 'beta', { lastWriteTime: T + 99n }),
    file('Files/a', 'alpha', {}, { mode: 0o644, uid: 0, name: './Files/a' }),
  ];
  const c = await cmp(a, b);
  assert.deepEqual(
    { equal: c.equal, added: c.added, removed: c.removed, changed: c.changed },
    { equal: true, added: [], removed: [], changed: [] },
  );
  assert.equal(c.noise.orderDiffers, true);
  assert.equal(c.noise.moved.length, 1, 'one move explains a swap of two names');
  assert.deepEqual(c.noise.raw, { mode: 1, uid: 1, name: 1 });
  assert.deepEqual(c.counts, { a: 3, b: 3 });
});

test('each compared field is named with both values', async () => {
  const sd1 = new Uint8Array([1, 0, 4, 0x80]);
  const sd2 = new Uint8Array([1, 0, 4, 0x81]);
  const a = [
    dir('Files'),
    file('Files/x', 'one', {
      attributes: 0x21,
      securityDescriptor: sd1,
      creationTime: T - 100n,
      extendedAttributes: [{ name: 'E', value: new Uint8Array([1]) }],
    }),
    { kind: 'symlink', path: 'Files/s', linkTarget: '..\\a', win: win() } as LayerEntry,
  ];
  const b = [
    dir('Files'),
    file('Files/x', 'two!', {
      attributes: 0x20,
      securityDescriptor: sd2,
      lastAccessTime: T + 1000n,
      extendedAttributes: [{ name: 'E', value: new Uint8Array([2]) }],
    }),
    { kind: 'symlink', path: 'Files/s', linkTarget: '..\\b', win: win({ mountPoint: true }) } as LayerEntry,
  ];
  const c = await cmp(a, b);
  assert.equal(c.equal, false);
  const x = c.changed.find((e) => e.path === 'Files/x')!;
  assert.deepEqual(
    x.fields.map((f) => f.field),
    ['content', 'size', 'attributes', 'securityDescriptor', 'extendedAttributes', 'creationTime', 'lastAccessTime'],
  );
  assert.deepEqual(
    x.fields.find((f) => f.field === 'attributes'),
    { field: 'attributes', a: 0x21, b: 0x20 },
  );
  assert.deepEqual(
    x.fields.find((f) => f.field === 'creationTime'),
    {
      field: 'creationTime',
      a: '2023-02-28T17:47:03.1234566Z',
      b: '2023-02-28T17:47:03.1234567Z',
    },
  );
  const s = c.changed.find((e) => e.path === 'Files/s')!;
  assert.deepEqual(
    s.fields.map((f) => [f.field, f.a, f.b]),
    [
      ['linkTarget', '..\\a', '..\\b'],
      ['attributes', 0x420, 0x410],
      ['mountPoint', false, true],
    ],
  );
});

test('hard-link groups compare as groups, whichever name holds the data', async () => {
  const a = () => [dir('Files'), file('Files/a', 'data'), link('Files/b', 'Files/a'), link('Files/c', 'Files/b')];
  const b = [dir('Files'), file('Files/b', 'data'), link('Files/a', 'Files/b'), link('Files/c', 'Files/a')];
  assert.equal((await cmp(a(), b)).equal, true);
  const split = [dir('Files'), file('Files/a', 'data'), file('Files/b', 'data'), link('Files/c', 'Files/a')];
  const c = await cmp(a(), split);
  assert.equal(c.equal, false);
  assert.deepEqual(
    c.changed.map((e) => [e.path, e.fields.map((f) => f.field)]),
    [
      ['Files/a', ['links']],
      ['Files/b', ['links']],
      ['Files/c', ['links']],
    ],
  );
});

test('added, removed, ADS by name and content, whiteouts', async () => {
  const a = [dir('Files'), file('Files/a', 'x'), stream('Files/a', 'Zone.Identifier', 'z1'), file('Files/gone', '')];
  const b = [
    dir('Files'),
    file('Files/a', 'x'),
    stream('Files/a', 'Zone.Identifier', 'z2'),
    stream('Files/a', 'more', ''),
    { kind: 'whiteout', path: 'Files/.wh.old', target: 'Files/old', win: win() } as LayerEntry,
  ];
  const c = await cmp(a, b);
  assert.deepEqual(c.added, [
    { path: 'Files/.wh.old', kind: 'whiteout' },
    { path: 'Files/a:more', kind: 'stream' },
  ]);
  assert.deepEqual(c.removed, [{ path: 'Files/gone', kind: 'file' }]);
  assert.deepEqual(
    c.changed.map((e) => [e.path, e.fields.map((f) => f.field)]),
    [['Files/a:Zone.Identifier', ['content']]],
  );
});

test('a missing fileattr equals the default of its kind (0x10, 0x20, 0x420 for a file symlink, 0x410 for a junction)', async () => {
  const symlink = (path: string, w: Partial<WindowsMetadata> = {}): LayerEntry => ({
    kind: 'symlink',
    path,
    linkTarget: 'a',
    win: win(w),
  });
  const bare = () => [dir('Files'), file('Files/a', 'x'), symlink('Files/s'), symlink('Files/j', { mountPoint: true })];
  const explicit = (fileLink: number) => [
    dir('Files', { attributes: 0x10 }),
    file('Files/a', 'x', { attributes: 0x20 }),
    symlink('Files/s', { attributes: fileLink }),
    symlink('Files/j', { mountPoint: true, attributes: 0x410 }),
  ];
  assert.equal((await cmp(bare(), explicit(0x420))).equal, true);
  const other = await cmp(bare(), explicit(0x400));
  assert.deepEqual(
    other.changed.map((e) => [e.path, e.fields.map((f) => [f.field, f.a, f.b])]),
    [['Files/s', [['attributes', 0x420, 0x400]]]],
  );
});

test('an ADS named with or without :$DATA is the same stream', async () => {
  const withType: LayerEntry = { ...stream('Files/a', 's', 'data'), path: 'Files/a:s:$DATA' } as LayerEntry;
  const c = await cmp(
    [dir('Files'), file('Files/a', 'x'), withType],
    [dir('Files'), file('Files/a', 'x'), stream('Files/a', 's', 'data')],
  );
  assert.equal(c.equal, true, JSON.stringify(c));
});
