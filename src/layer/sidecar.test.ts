import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { tempDir } from '../../test/helpers/tools.js';
import { isWinlayerError } from '../errors.js';
import { decodeRecord, encodeRecord, readSidecar, type SidecarRecord, SidecarWriter } from './sidecar.js';

const FULL: SidecarRecord = {
  path: 'Files/a.exe',
  kind: 'file',
  attributes: 0x20,
  sd: 0,
  creationTime: 1677606423123456700n,
  lastWriteTime: 1677606423000000000n,
  lastAccessTime: -5n,
  changeTime: 1n,
  size: 4096,
  diskMtime: 1677606423000000000n,
  extendedAttributes: [{ name: '$KERNEL.PURGE', value: new Uint8Array([1, 2, 3]) }],
  streams: [{ name: 'Zone.Identifier', size: 26, data: 'streams/0' }],
  extraPax: [{ key: 'MSWINDOWS.future', value: 'x' }],
};

test('a record round-trips through its JSON line, fields in the documented order', () => {
  const line = encodeRecord(FULL);
  assert.ok(
    line.startsWith('{"path":"Files/a.exe","kind":"file","attributes":32,"sd":0,"creationTime":"1677606423.1234567"'),
  );
  assert.deepEqual(decodeRecord(line), FULL);
  const link: SidecarRecord = { path: 'Files/l', kind: 'symlink', linkTarget: 'C:\\x', mountPoint: true };
  assert.deepEqual(decodeRecord(encodeRecord(link)), link);
});

test('malformed records are SIDECAR_INVALID with the line number', () => {
  const cases = [
    'nope',
    '[]',
    '{"path":"Files/a","kind":"fifo"}',
    '{"path":"/abs","kind":"file"}',
    '{"path":"Files/../x","kind":"file"}',
    '{"path":"Files/a","kind":"file","attributes":-1}',
    '{"path":"Files/a","kind":"file","lastWriteTime":"yesterday"}',
    '{"path":"Files/a","kind":"file","streams":[{"name":"s","size":1,"data":"../../etc/passwd"}]}',
    '{"path":"Files/a","kind":"symlink"}',
    '{"path":"Files/a/.wh.b","kind":"whiteout"}',
  ];
  for (const c of cases) {
    assert.throws(
      () => decodeRecord(c, 'entries.ndjson', 7),
      (e: unknown) => isWinlayerError(e, 'SIDECAR_INVALID') && e.message.includes('line 7'),
      c,
    );
  }
});

test('SidecarWriter writes a sidecar readSidecar reads back; SDs are stored once', (t) => {
  const dir = tempDir(t);
  const w = new SidecarWriter(dir, { kind: 'non-base', parents: [{ path: '../base' }] });
  const sdA = w.addSecurityDescriptor(new Uint8Array([1, 0, 4, 0x80]));
  const sdB = w.addSecurityDescriptor(new Uint8Array([1, 0, 4, 0x81]));
  assert.equal(w.addSecurityDescriptor(new Uint8Array([1, 0, 4, 0x80])), sdA);
  assert.notEqual(sdA, sdB);
  // The same array again (what the tar reader hands out) and a view into a larger buffer both find their id.
  const shared = new Uint8Array([1, 0, 4, 0x81]);
  assert.equal(w.addSecurityDescriptor(shared), sdB);
  assert.equal(w.addSecurityDescriptor(shared), sdB);
  assert.equal(w.addSecurityDescriptor(new Uint8Array([9, 1, 0, 4, 0x80, 9]).subarray(1, 5)), sdA);
  const s = w.allocateStream();
  writeFileSync(s.hostPath, 'zone');
  const records: SidecarRecord[] = [
    { path: 'Files', kind: 'directory', attributes: 16, sd: sdA, lastWriteTime: 0n },
    { ...FULL, sd: sdB, streams: [{ name: 'Zone.Identifier', size: 4, data: s.data }] },
    { path: 'Files/d/.wh.x', kind: 'whiteout', target: 'Files/d/x' },
    { path: 'Files/d/y', kind: 'hardlink', linkTarget: 'Files/z', inParent: true },
  ];
  for (const r of records) w.add(r);
  assert.throws(
    () => w.add(records[0]!),
    (e: unknown) => isWinlayerError(e, 'SIDECAR_INVALID'),
  );
  assert.throws(
    () => w.add({ path: 'Files/q', kind: 'file', sd: 9 }),
    (e: unknown) => isWinlayerError(e, 'SIDECAR_INVALID'),
  );
  assert.equal(existsSync(join(dir, '.winlayer')), false, 'nothing at the final path before finish()');
  w.finish();
  assert.deepEqual(readdirSync(dir), ['.winlayer']);

  const sc = readSidecar(dir)!;
  assert.deepEqual(sc.manifest, { version: 1, kind: 'non-base', parents: [{ path: '../base' }] });
  assert.equal(sc.size, 4);
  assert.deepEqual(
    [...sc.paths()],
    records.map((r) => r.path),
  );
  for (const r of records) assert.deepEqual(sc.get(r.path), r);
  assert.equal(sc.get('Files/none'), undefined);
  assert.deepEqual(sc.securityDescriptor(sdB), new Uint8Array([1, 0, 4, 0x81]));
  assert.deepEqual([...sc.detached.keys()], ['Files/d']);
  assert.deepEqual(sc.detached.get('Files/d'), [records[2], records[3]]);
  assert.equal(readFileSync(sc.streamPath(sc.get('Files/a.exe')!.streams![0]!), 'utf8'), 'zone');
  assert.equal(readFileSync(join(dir, '.winlayer', 'sds.ndjson'), 'utf8').split('\n').length, 3);
});

test('a plain folder has no sidecar; an incomplete or unknown-version one is refused', (t) => {
  const dir = tempDir(t);
  assert.equal(readSidecar(dir), undefined);
  mkdirSync(join(dir, '.winlayer'));
  assert.throws(
    () => readSidecar(dir),
    (e: unknown) => isWinlayerError(e, 'SIDECAR_INVALID') && /missing/.test(e.message),
  );
  writeFileSync(
    join(dir, '.winlayer', 'manifest.json'),
    '{"format":"winlayer-layer-folder","version":2,"kind":"base"}',
  );
  assert.throws(
    () => readSidecar(dir),
    (e: unknown) => isWinlayerError(e, 'SIDECAR_INVALID') && /version 2/.test(e.message),
  );
  writeFileSync(
    join(dir, '.winlayer', 'manifest.json'),
    '{"format":"winlayer-layer-folder","version":1,"kind":"base"}',
  );
  writeFileSync(join(dir, '.winlayer', 'entries.ndjson'), '{"path":"Files","kind":"directory","sd":0}\n');
  assert.throws(
    () => readSidecar(dir),
    (e: unknown) => isWinlayerError(e, 'SIDECAR_INVALID') && /sd id 0/.test(e.message),
  );
});

test('abort() leaves nothing behind', (t) => {
  const dir = tempDir(t);
  const w = new SidecarWriter(dir, { kind: 'base' });
  w.add({ path: 'Files', kind: 'directory' });
  w.abort();
  w.abort();
  assert.deepEqual(readdirSync(dir), []);
});

test('records are read back by offset: many records across read chunks, a record longer than a chunk', (t) => {
  const dir = tempDir(t);
  const w = new SidecarWriter(dir, { kind: 'base' });
  const big = 'x'.repeat(3 * 1024 * 1024);
  const n = 20_000;
  for (let i = 0; i < n; i++) {
    w.add({ path: `Files/d${i % 7}/é-${i}`, kind: 'file', size: i, lastWriteTime: BigInt(i) * 100n });
    if (i === 9_999) w.add({ path: 'Files/big', kind: 'file', extraPax: [{ key: 'k', value: big }] });
  }
  w.finish();
  const sc = readSidecar(dir)!;
  assert.equal(sc.size, n + 1);
  for (const i of [0, 1, 4_321, 9_999, 10_000, 15_555, n - 1]) {
    assert.deepEqual(sc.get(`Files/d${i % 7}/é-${i}`), {
      path: `Files/d${i % 7}/é-${i}`,
      kind: 'file',
      size: i,
      lastWriteTime: BigInt(i) * 100n,
    });
  }
  assert.equal(sc.get('Files/big')!.extraPax![0]!.value.length, big.length);
  sc.close();
  assert.equal(sc.get('Files/d0/é-0')!.size, 0, 'get after close opens the file again');
  sc.close();
});

test('encodeRecord gives exactly what JSON.stringify gives for the record (any field mix, any time)', async () => {
  const { default: fc } = await import('fast-check');
  const { formatPaxTime } = await import('../windows/filetime.js');
  /** The plain reference: an object with the documented field order, times as PAX strings. */
  const reference = (r: SidecarRecord): string => {
    const o: Record<string, unknown> = { path: r.path, kind: r.kind };
    const time = (t: bigint | undefined) => (t === undefined ? undefined : formatPaxTime(t));
    Object.assign(o, {
      attributes: r.attributes,
      sd: r.sd,
      creationTime: time(r.creationTime),
      lastWriteTime: time(r.lastWriteTime),
      lastAccessTime: time(r.lastAccessTime),
      changeTime: time(r.changeTime),
      size: r.size,
      diskMtime: time(r.diskMtime),
      linkTarget: r.linkTarget,
      mountPoint: r.mountPoint === true ? true : undefined,
      inParent: r.inParent === true ? true : undefined,
      target: r.target,
      extendedAttributes: r.extendedAttributes?.length
        ? r.extendedAttributes.map((ea) => ({ name: ea.name, value: Buffer.from(ea.value).toString('base64') }))
        : undefined,
      streams: r.streams?.length ? r.streams : undefined,
      extraPax: r.extraPax?.length ? r.extraPax : undefined,
    });
    return JSON.stringify(o);
  };
  const time = fc.option(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), { nil: undefined });
  const text = fc.string({ unit: 'binary' });
  const record = fc.record(
    {
      path: text,
      kind: fc.constantFrom('directory', 'file', 'symlink', 'hardlink', 'whiteout' as const),
      attributes: fc.option(fc.nat(), { nil: undefined }),
      sd: fc.option(fc.nat(), { nil: undefined }),
      creationTime: time,
      lastWriteTime: time,
      lastAccessTime: time,
      changeTime: time,
      size: fc.option(fc.maxSafeNat(), { nil: undefined }),
      diskMtime: time,
      linkTarget: fc.option(text, { nil: undefined }),
      mountPoint: fc.option(fc.boolean(), { nil: undefined }),
      inParent: fc.option(fc.boolean(), { nil: undefined }),
      target: fc.option(text, { nil: undefined }),
      extendedAttributes: fc.option(fc.array(fc.record({ name: text, value: fc.uint8Array() })), { nil: undefined }),
      streams: fc.option(fc.array(fc.record({ name: text, size: fc.nat(), data: text })), { nil: undefined }),
      extraPax: fc.option(fc.array(fc.record({ key: text, value: text })), { nil: undefined }),
    },
    { requiredKeys: ['path', 'kind'] },
  );
  fc.assert(
    fc.property(fc.array(record, { minLength: 1, maxLength: 4 }), (records) => {
      for (const r of records) assert.equal(encodeRecord(r as SidecarRecord), reference(r as SidecarRecord));
    }),
    { numRuns: 400, seed: 11 },
  );
});

/** A folder with a base-layer sidecar manifest (entries are the caller's). */
function baseLayerSidecar(t: TestContext): string {
  const dir = tempDir(t);
  mkdirSync(join(dir, '.winlayer'));
  writeFileSync(
    join(dir, '.winlayer', 'manifest.json'),
    '{"format":"winlayer-layer-folder","version":1,"kind":"base"}',
  );
  return dir;
}

test('readSidecar: exact paths (case variants are different records); a duplicate line is refused with its number', (t) => {
  const dir = baseLayerSidecar(t);
  const lines = ['Files', 'Files/a', 'Files/A', 'Files/b'].map(
    (p, i) => `{"path":"${p}","kind":"${i === 0 ? 'directory' : 'file'}","attributes":${i}}`,
  );
  writeFileSync(join(dir, '.winlayer', 'entries.ndjson'), `${lines.join('\n')}\n`);
  const sc = readSidecar(dir)!;
  assert.equal(sc.size, 4);
  assert.equal(sc.get('Files/a')?.attributes, 1);
  assert.equal(sc.get('Files/A')?.attributes, 2);
  assert.equal(sc.get('files/a'), undefined);
  assert.equal(sc.has('Files/b'), true);
  assert.deepEqual([...sc.paths()], ['Files', 'Files/a', 'Files/A', 'Files/b']);
  assert.deepEqual(
    [...sc.records()].map((r) => r.attributes),
    [0, 1, 2, 3],
  );
  // matched as Windows matches names: the first record in file order
  assert.equal(sc.getFolded('FILES/A')?.path, 'Files/a');
  assert.equal(sc.getFolded('files/B')?.attributes, 3);
  assert.equal(sc.getFolded('Files/c'), undefined);
  sc.close();
  writeFileSync(join(dir, '.winlayer', 'entries.ndjson'), `${[...lines, lines[2]].join('\n')}\n`);
  assert.throws(
    () => readSidecar(dir),
    (e: unknown) =>
      isWinlayerError(e, 'SIDECAR_INVALID') &&
      /duplicate record for Files\/A/.test(e.message) &&
      /line 5/.test(e.message),
  );
});

test('readSidecar: the index holds no paths (heap grows by under 50 bytes a record, not by its paths)', (t) => {
  const dir = baseLayerSidecar(t);
  const n = 200_000;
  const body: string[] = [];
  for (let i = 0; i < n; i++) {
    body.push(
      `{"path":"Files/Windows/WinSxS/amd64_component_${i % 500}/file-with-a-long-name-${i}.dll","kind":"file"}`,
    );
  }
  writeFileSync(join(dir, '.winlayer', 'entries.ndjson'), `${body.join('\n')}\n`);
  body.length = 0;
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void; // a gc() for this test without a command-line flag
  const heap = (): number => {
    gc();
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  const before = heap();
  const sc = readSidecar(dir)!;
  const perRecord = (heap() - before) / n;
  assert.equal(sc.get(`Files/Windows/WinSxS/amd64_component_7/file-with-a-long-name-${n - 493}.dll`)?.kind, 'file');
  sc.close();
  // Paths are ~75 bytes each: a Map of them took ~150 bytes a record.
  assert.ok(perRecord < 50, `${perRecord.toFixed(1)} bytes a record`);
  t.diagnostic(`${perRecord.toFixed(1)} bytes a record`);
});

test('a spilled index with wrapped offsets answers as the in-memory one, and close removes its folder', (t) => {
  const dir = tempDir(t);
  const w = new SidecarWriter(dir, { kind: 'base' });
  const paths: string[] = [];
  for (let i = 0; i < 5000; i++) {
    const path = `Files/d${i % 7}/f${i}${'x'.repeat(i % 300)}`;
    paths.push(path);
    w.add({ path, kind: 'file', lastWriteTime: BigInt(i), size: i });
  }
  w.finish();
  // Blank lines between records: a line ends at its first newline, not at the next record.
  const entries = join(dir, '.winlayer', 'entries.ndjson');
  writeFileSync(entries, readFileSync(entries, 'utf8').replace(/\n/g, '\n  \n'));
  const before = new Set(readdirSync(tmpdir()).filter((n) => n.startsWith('winlayer-sidecar-')));
  const whole = readSidecar(dir)!;
  const bounded = readSidecar(dir, { memorySlots: 4096, offsetBits: 9 })!;
  try {
    assert.equal(bounded.size, whole.size);
    assert.deepEqual([...bounded.paths()], paths);
    assert.deepEqual([...bounded.paths()], [...whole.paths()]);
    for (const p of [...paths, 'Files/none', 'FILES/D0/F0']) assert.deepEqual(bounded.get(p), whole.get(p), p);
    assert.equal(bounded.get(paths[4321]!)?.lastWriteTime, 4321n);
    const spills = readdirSync(tmpdir()).filter((n) => n.startsWith('winlayer-sidecar-') && !before.has(n));
    assert.equal(spills.length, 1, 'the bounded index spilled to its own folder');
  } finally {
    whole.close();
    bounded.close();
  }
  const after = readdirSync(tmpdir()).filter((n) => n.startsWith('winlayer-sidecar-') && !before.has(n));
  assert.deepEqual(after, []);
});

test('a duplicate path is still refused once the index has spilled', (t) => {
  const dir = tempDir(t);
  const w = new SidecarWriter(dir, { kind: 'base' });
  for (let i = 0; i < 4000; i++) w.add({ path: `Files/f${i}`, kind: 'file' });
  w.finish();
  const entries = join(dir, '.winlayer', 'entries.ndjson');
  writeFileSync(entries, `${readFileSync(entries, 'utf8')}{"path":"Files/f17","kind":"file"}\n`);
  assert.throws(
    () => readSidecar(dir, { memorySlots: 4096 }),
    (e: unknown) => isWinlayerError(e, 'SIDECAR_INVALID') && e.message.includes('duplicate record for Files/f17'),
  );
});
