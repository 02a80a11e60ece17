import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chownSync,
  closeSync,
  existsSync,
  ftruncateSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { run, tempDir } from '../../test/helpers/tools.js';
import type { LayerEntry } from '../entry.js';
import { isWinlayerError } from '../errors.js';
import { writeTar } from '../tar/index.js';
import { exportLayer } from './export.js';

const GiB = 1024 ** 3;
/**
 * The trees of most tests have no registry hives, which a base layer must have: they are exported as layers with
 * parents. For a folder without Hives/ or whiteouts that gives the very bytes a base layer would.
 */
const NO_HIVES = { kind: 'non-base' } as const;

/** The same logical tree, created in the given order with the given umask. */
function buildTree(root: string, order: 'forward' | 'reverse', umask: number): void {
  const old = process.umask(umask);
  try {
    const files: [string, string][] = [
      ['Files/Windows/System32/drivers/etc/hosts', '127.0.0.1 localhost\n'],
      ['Files/Windows/System32/kernel32.dll', 'MZ kernel'],
      ['Files/Program Files/App/é-ü-名前.txt', 'non-ascii'],
      ['Files/empty.txt', ''],
      ['Files/Zeta', 'z'],
      ['Files/alpha', 'a'],
    ];
    const dirs = ['Files/EmptyDir', 'UtilityVM/Files/EFI/Microsoft/Boot'];
    const list = order === 'forward' ? files : [...files].reverse();
    const dirList = order === 'forward' ? dirs : [...dirs].reverse();
    for (const d of dirList) mkdirSync(join(root, d), { recursive: true });
    for (const [p, c] of list) {
      mkdirSync(join(root, p, '..'), { recursive: true });
      writeFileSync(join(root, p), c);
    }
    // The hard link pair, created from either end.
    const a = join(root, 'Files/Windows/System32/kernel32.dll');
    const b = join(root, 'UtilityVM/Files/kernel32.dll');
    if (order === 'forward') linkSync(a, b);
    else {
      writeFileSync(b, 'MZ kernel');
      writeFileSync(a, ''); // replaced by the link below
      execFileSync('ln', ['-f', b, a]);
    }
    symlinkSync('../Windows', join(root, 'Files/Program Files/win'));
  } finally {
    process.umask(old);
  }
}

test('the same tree exports to the same bytes whatever the creation order, umask and owner', async (t) => {
  const one = tempDir(t);
  // Another filesystem when there is one (tmpfs: other inode numbers, other readdir order).
  const two = existsSync('/dev/shm') ? mkdtempSync('/dev/shm/winlayer-test-') : tempDir(t);
  t.after(() => rmSync(two, { recursive: true, force: true }));
  buildTree(one, 'forward', 0o022);
  buildTree(two, 'reverse', 0o077);
  if (process.getuid?.() === 0) {
    for (const p of ['Files/alpha', 'Files/Windows', 'UtilityVM/Files/kernel32.dll'])
      chownSync(join(two, p), 1234, 5678);
  }
  const epoch = { ...NO_HIVES, sourceDateEpoch: 1_700_000_000 }; // creation times differ; SOURCE_DATE_EPOCH makes them equal
  const out = tempDir(t);
  for (const compression of ['none', 'gzip', 'zstd'] as const) {
    const r1 = await exportLayer(one, { ...epoch, compression, output: join(out, `1-${compression}`) });
    const r2 = await exportLayer(two, { ...epoch, compression, output: join(out, `2-${compression}`) });
    assert.equal(r1.diffId, r2.diffId, compression);
    assert.equal(r1.digest, r2.digest, compression);
    assert.deepEqual(readFileSync(join(out, `1-${compression}`)), readFileSync(join(out, `2-${compression}`)));
    assert.equal(r1.entries, 21);
    assert.equal(createHash('sha256').update(readFileSync(r1.output!)).digest('hex'), r1.digest.slice(7));
  }
  // Times set explicitly (sub-microsecond digits are lost by utimes, 100 ns truncation is ours): still identical.
  for (const root of [one, two]) {
    for (const p of ['Files/alpha', 'Files/Zeta', 'Files', 'UtilityVM'])
      utimesSync(join(root, p), 1e9 + 0.5, 1e9 + 0.25);
  }
  const a = await exportLayer(one, { ...epoch, output: join(out, 'a') });
  const b = await exportLayer(two, { ...epoch, output: join(out, 'b') });
  assert.equal(a.diffId, b.diffId);
});

test('atomic output: nothing at the final path after a failure; stale temporaries of dead runs are removed', async (t) => {
  const dir = tempDir(t);
  const out = tempDir(t);
  mkdirSync(join(dir, 'Files/sub'), { recursive: true });
  writeFileSync(join(dir, 'Files/a'), 'a');
  execFileSync('mkfifo', [join(dir, 'Files/sub/pipe')]);
  const target = join(out, 'layer.tar');
  writeFileSync(join(out, '.layer.tar.winlayer-tmp-2147483646-deadbeef'), 'left by a SIGKILLed run');
  await assert.rejects(exportLayer(dir, { ...NO_HIVES, output: target }), (e: unknown) =>
    isWinlayerError(e, 'LAYER_SPECIAL_FILE'),
  );
  assert.deepEqual(readdirSync(out), []);
  // A device is written in place, never replaced by a renamed temporary.
  const ok = tempDir(t);
  mkdirSync(join(ok, 'Files'));
  const r = await exportLayer(ok, { ...NO_HIVES, output: '/dev/null' });
  assert.equal(r.entries, 1);
  assert.ok(statSync('/dev/null').isCharacterDevice());
  await assert.rejects(
    exportLayer(ok, { ...NO_HIVES, output: out }),
    (e: unknown) => isWinlayerError(e, 'USAGE') && /folder/.test(e.message),
  );
  await assert.rejects(
    exportLayer(dir, { ...NO_HIVES, output: join(dir, 'Files/out.tar') }),
    (e: unknown) => isWinlayerError(e, 'USAGE') && /inside the layer/.test(e.message),
  );
  // Beside Files/ too: the next export would refuse the tar as content that is not part of a layer.
  await assert.rejects(
    exportLayer(dir, { ...NO_HIVES, output: join(dir, 'out.tar') }),
    (e: unknown) => isWinlayerError(e, 'USAGE') && /inside the layer folder/.test(e.message),
  );
  assert.equal(existsSync(join(dir, 'out.tar')), false);
});

test('long paths, non-ASCII names, empty files and folders, 10,000 entries in one folder', async (t) => {
  const dir = tempDir(t);
  const deep = ['a'.repeat(100), 'ß'.repeat(60), '名'.repeat(50)].join('/');
  mkdirSync(join(dir, 'Files', deep), { recursive: true });
  writeFileSync(join(dir, 'Files', deep, 'f'.repeat(120)), 'deep');
  mkdirSync(join(dir, 'Files/many'));
  for (let i = 0; i < 10_000; i++) writeFileSync(join(dir, 'Files/many', `n${i}`), '');
  const out = join(tempDir(t), 'l.tar');
  const r = await exportLayer(dir, { ...NO_HIVES, output: out });
  assert.equal(r.entries, 1 + 3 + 1 + 1 + 10_000);
  const names = run('tar', ['--list', '--file', out, '--warning=no-unknown-keyword'])
    .toString('utf8')
    .trimEnd()
    .split('\n');
  assert.equal(names.length, r.entries);
  const long = `Files/${deep}/${'f'.repeat(120)}`;
  assert.ok(Buffer.byteLength(long) > 255);
  assert.ok(names.includes(long));
  const many = names.filter((n) => n.startsWith('Files/many/'));
  assert.equal(many.length, 10_000);
  const sorted = [...many].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
  assert.deepEqual(many, sorted);
});

test('progress: a report as each entry starts and one at the end, and the same bytes as without it', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'Files/sub'), { recursive: true });
  writeFileSync(join(dir, 'Files/a.txt'), 'alpha');
  writeFileSync(join(dir, 'Files/sub/b.bin'), Buffer.alloc(70_000, 2));
  const plain = join(tempDir(t), 'plain.tar');
  const reported = join(tempDir(t), 'reported.tar');
  await exportLayer(dir, { ...NO_HIVES, output: plain });
  const seen: { entries: number; bytes: number; path: string }[] = [];
  const r = await exportLayer(dir, { ...NO_HIVES, output: reported, onProgress: (p) => seen.push({ ...p }) });
  assert.ok(readFileSync(plain).equals(readFileSync(reported)));
  assert.deepEqual(seen, [
    { entries: 1, bytes: 0, path: 'Files' },
    { entries: 2, bytes: 0, path: 'Files/a.txt' },
    { entries: 3, bytes: 5, path: 'Files/sub' },
    { entries: 4, bytes: 5, path: 'Files/sub/b.bin' },
    { entries: r.entries, bytes: 70_005, path: 'Files/sub/b.bin' },
  ]);
});

test('progress: bytes move while one large file is written', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'Files'), { recursive: true });
  const size = 21 * 1024 * 1024 + 3;
  writeFileSync(join(dir, 'Files/big.bin'), Buffer.alloc(size, 1));
  const seen: { entries: number; bytes: number; path: string }[] = [];
  await exportLayer(dir, { ...NO_HIVES, output: join(tempDir(t), 'big.tar'), onProgress: (p) => seen.push({ ...p }) });
  const inside = seen.filter((p) => p.path === 'Files/big.bin' && p.bytes > 0 && p.bytes < size);
  assert.ok(inside.length >= 3, `reports inside the body: ${JSON.stringify(seen)}`);
  for (let i = 1; i < inside.length; i++) assert.ok(inside[i]!.bytes > inside[i - 1]!.bytes, 'growing');
  assert.ok(inside.every((p) => p.entries === 2));
  assert.deepEqual(seen.at(-1), { entries: 2, bytes: size, path: 'Files/big.bin' });
});

test('sizes over 8 GiB: the header carries a PAX size record (synthetic entry into a hashing sink)', async () => {
  const size = 9 * GiB;
  const head: Buffer[] = [];
  let kept = 0;
  const hash = createHash('sha256');
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      if (kept < 65536) {
        head.push(chunk.subarray(0, 65536 - kept));
        kept += Math.min(chunk.length, 65536 - kept);
      }
      cb();
    },
  });
  const STOP = new Error('stop after the headers');
  let served = 0;
  const body = {
    [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
      return { next: () => Promise.reject(STOP) };
    },
    read(buf: Uint8Array, offset: number, length: number): number {
      if (served >= 4 * 1024 * 1024) throw STOP; // enough for the writer to flush its first buffer
      buf.fill(0, offset, offset + length);
      served += length;
      return length;
    },
  };
  const win = { lastWriteTime: 1_700_000_000_000_000_000n, attributes: 0x20 };
  const entries: LayerEntry[] = [
    { kind: 'directory', path: 'Files', win: { ...win, attributes: 0x10 } },
    { kind: 'file', path: 'Files/big.vhdx', size, body, win },
  ];
  await assert.rejects(writeTar(entries, sink), (e: unknown) => e === STOP);
  const bytes = Buffer.concat(head);
  assert.ok(bytes.includes(Buffer.from(`size=${size}\n`)), 'PAX size record');
  // Python's tarfile reads the headers of the truncated stream and sees the real size.
  const py = run(
    'python3',
    [
      '-c',
      'import sys,tarfile,io\nt=tarfile.open(fileobj=io.BytesIO(sys.stdin.buffer.read()),mode="r|")\nfor m in t:\n  print(m.name,m.size,m.type.decode())\n  if m.size>0: break',
    ],
    { input: bytes },
  );
  assert.equal(py.toString().trim(), `Files 0 5\nFiles/big.vhdx ${size} 0`);
});

test('slow: a real 9 GiB sparse file exports (SLOW=1)', { skip: !process.env.SLOW }, async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'Files'));
  const fd = openSync(join(dir, 'Files/sparse.bin'), 'w');
  ftruncateSync(fd, 9 * GiB);
  closeSync(fd);
  const sink = new Writable({ write: (_c, _e, cb) => cb() });
  const r = await exportLayer(dir, { ...NO_HIVES, output: sink });
  // Files (pax + header), sparse.bin (pax + header + data), two zero blocks.
  assert.equal(r.entries, 2);
  assert.ok(r.uncompressedSize > 9 * GiB && r.uncompressedSize < 9 * GiB + 16 * 1024);
});

test('round trip: export → import → export gives the same bytes (base from a folder; non-base from synthetic entries)', async (t) => {
  const { importLayer } = await import('./import.js');
  const { bufferBody } = await import('../entry.js');
  const { sddlToBytes } = await import('../windows/index.js');
  const out = tempDir(t);

  // Base: a folder → tar A → folder → tar A'.
  const src = tempDir(t);
  buildTree(src, 'forward', 0o022);
  const a = await exportLayer(src, { ...NO_HIVES, output: join(out, 'a.tar') });
  await importLayer(join(out, 'a.tar'), join(out, 'base'));
  const a2 = await exportLayer(join(out, 'base'), { ...NO_HIVES, output: join(out, 'a2.tar'), sd: 'none' });
  assert.equal(a2.diffId, a.diffId);

  // Non-base: every kind the sidecar keeps (SDs, 100 ns times, EAs, ADS, junction, whiteouts, Hives, unknown PAX).
  const t1 = 1_677_606_423_123_456_700n;
  const win = (attributes: number, sddl?: string) => ({
    attributes,
    ...(sddl === undefined ? {} : { securityDescriptor: sddlToBytes(sddl) }),
    creationTime: t1 - 1_000_000_000n,
    lastWriteTime: t1,
    lastAccessTime: t1 + 100n,
    changeTime: t1 + 200n,
  });
  const entries: LayerEntry[] = [
    { kind: 'directory', path: 'Files', win: win(0x10, 'O:BAG:SYD:(A;OICI;FA;;;BA)') },
    { kind: 'whiteout', path: 'Files/.wh.gone', target: 'Files/gone', win: { lastWriteTime: 0n } },
    {
      kind: 'file',
      path: 'Files/a.exe',
      size: 2,
      body: bufferBody(Buffer.from('MZ')),
      win: { ...win(0x21, 'O:SYG:SY'), extendedAttributes: [{ name: 'X.EA', value: new Uint8Array([1, 2]) }] },
      extraPax: [{ key: 'MSWINDOWS.future', value: 'kept' }],
    },
    {
      kind: 'stream',
      path: 'Files/a.exe:Zone.Identifier',
      filePath: 'Files/a.exe',
      streamName: 'Zone.Identifier',
      size: 4,
      body: bufferBody(Buffer.from('zone')),
      win: { lastWriteTime: t1, creationTime: t1 - 1_000_000_000n, lastAccessTime: t1 + 100n, changeTime: t1 + 200n },
    },
    { kind: 'symlink', path: 'Files/j', linkTarget: 'C:\\Windows', win: { ...win(0x410, 'O:BU'), mountPoint: true } },
    { kind: 'directory', path: 'Files/sub', win: win(0x10) },
    { kind: 'file', path: 'Files/sub/b.txt', size: 1, body: bufferBody(Buffer.from('b')), win: win(0x20) },
    { kind: 'hardlink', path: 'Files/sub/c.txt', linkTarget: 'Files/sub/b.txt', win: win(0x20) },
    { kind: 'directory', path: 'Hives', win: win(0x10) },
    { kind: 'file', path: 'Hives/System_Delta', size: 4, body: bufferBody(Buffer.from('regf')), win: win(0x20) },
  ];
  const fd = openSync(join(out, 'n.tar'), 'w');
  const n = await writeTar(entries, fd);
  closeSync(fd);
  await importLayer(join(out, 'n.tar'), join(out, 'nonbase'));
  const n2 = await exportLayer(join(out, 'nonbase'), { output: join(out, 'n2.tar') });
  assert.equal(n2.kind, 'non-base');
  assert.deepEqual(readFileSync(join(out, 'n2.tar')), readFileSync(join(out, 'n.tar')));
  assert.equal(n2.diffId, n.diffId);
});

test('a base layer without its five hives is refused before anything is written, by the rule lint applies', async (t) => {
  const { makeBaseLayer } = await import('./makebaselayer.js');
  const { lintLayer } = await import('../inspect/index.js');
  const { readTar } = await import('../tar/index.js');
  const { createReadStream } = await import('node:fs');
  const lintErrors = async (tar: string) =>
    (await lintLayer(readTar(createReadStream(tar)))).findings.filter((f) => f.severity === 'error').map((f) => f.rule);
  const dir = tempDir(t);
  mkdirSync(join(dir, 'Files/app'), { recursive: true });
  writeFileSync(join(dir, 'Files/app/app.exe'), 'MZ');
  const out = tempDir(t);
  const tar = join(out, 'layer.tar');
  await assert.rejects(
    exportLayer(dir, { output: tar }),
    (e: unknown) =>
      isWinlayerError(e, 'LAYER_HIVE') &&
      /needs the registry hives Files\/Windows\/System32\/config\/\{DEFAULT,SAM,SECURITY,SOFTWARE,SYSTEM\}: it has none/.test(
        e.message,
      ) &&
      /makebaselayer/.test(e.hint!) &&
      /--non-base/.test(e.hint!),
  );
  assert.deepEqual(readdirSync(out), [], 'nothing written');
  // What export refuses, lint rejects: the same tar written as a layer with parents fails lint as a base layer.
  await exportLayer(dir, { ...NO_HIVES, output: tar });
  assert.deepEqual(await lintErrors(tar), Array(5).fill('base-hive-missing'));

  // Hives found as Windows finds them (any case below Files/), and only the missing ones named.
  mkdirSync(join(dir, 'Files/windows/SYSTEM32/Config'), { recursive: true });
  for (const h of ['default', 'Sam', 'SECURITY']) writeFileSync(join(dir, 'Files/windows/SYSTEM32/Config', h), '');
  await assert.rejects(
    exportLayer(dir, { output: tar }),
    (e: unknown) => isWinlayerError(e, 'LAYER_HIVE') && /: it lacks SOFTWARE, SYSTEM \(LAYER_HIVE\)/.test(e.message),
  );
  rmSync(join(dir, 'Files/windows'), { recursive: true });

  // After makebaselayer the export passes, and so does lint.
  await makeBaseLayer(dir);
  const r = await exportLayer(dir, { output: tar });
  assert.equal(r.kind, 'base');
  assert.deepEqual(await lintErrors(tar), []);
});

test('content outside Files/, UtilityVM/Files/ and Hives/ fails the export, which leaves nothing behind', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'Files'));
  writeFileSync(join(dir, 'Files/a'), 'a');
  writeFileSync(join(dir, 'notes.txt'), 'the user meant this to be in the layer');
  const out = tempDir(t);
  await assert.rejects(
    exportLayer(dir, { ...NO_HIVES, output: join(out, 'x.tar') }),
    (e: unknown) =>
      isWinlayerError(e, 'LAYER_INVALID') && e.path === join(dir, 'notes.txt') && /move it under Files\//.test(e.hint!),
  );
  assert.deepEqual(readdirSync(out), []);
});

test('a file given as the layer folder says it is a file and points at import', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'a.tar'), 'a layer tar');
  await assert.rejects(
    exportLayer(join(dir, 'a.tar'), { output: join(dir, 'x.tar') }),
    (e: unknown) =>
      isWinlayerError(e, 'SOURCE_UNREADABLE') &&
      e.message.startsWith(`${join(dir, 'a.tar')}: is a file, not a layer folder`) &&
      /winlayer import/.test(e.hint!),
  );
  assert.equal(existsSync(join(dir, 'x.tar')), false);
});
