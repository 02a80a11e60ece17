/**
 * Import round trips.
 * - Tars our export writes: `export(import(T))` is byte-identical to `T` (plain, gzip, zstd; base and non-base;
 *   hard links across UtilityVM/Files → Files, symlinks, junctions, ADS, EAs, whiteouts, long and non-ASCII names).
 * - Foreign tars in the shapes other tools write (go-winio/hcsshim, BuildKit, crane, ko, GNU tar's default format,
 *   Microsoft's host-process base image), built here with Python's tarfile and GNU tar: `export(import(T))` is
 *   semantically equal to `T` (`compareLayers`).
 * - Import → edit → export: the edits appear with the default policy, the rest is unchanged.
 */
import assert from 'node:assert/strict';
import {
  createReadStream,
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  rmSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { compareLayers, type LayerComparison } from '../src/layer/compare.js';
import { exportLayer } from '../src/layer/export.js';
import { importLayer } from '../src/layer/import.js';
import { readSidecar } from '../src/layer/sidecar.js';
import { readTar } from '../src/tar/index.js';
import { requireTool, run, tempDir } from './helpers/tools.js';

type Compression = 'none' | 'gzip' | 'zstd';

/** The layers here have no registry hives: exported as layers with parents, which gives the bytes a base layer would. */
async function exportTo(dir: string, out: string, compression: Compression = 'none'): Promise<string> {
  await exportLayer(dir, { output: out, compression, kind: 'non-base' });
  return out;
}

function entriesOf(path: string) {
  return readTar(createReadStream(path));
}

async function semantic(a: string, b: string): Promise<LayerComparison> {
  return compareLayers(entriesOf(a), entriesOf(b));
}

function assertEqualLayers(c: LayerComparison, what: string): void {
  const detail = JSON.stringify({ added: c.added, removed: c.removed, changed: c.changed }, null, 1);
  assert.equal(c.equal, true, `${what}: ${detail}`);
}

/** Python that writes go-winio-shaped tars by hand: PAX `x` headers named `dir/PaxHeaders.0/base`, keys sorted. */
const PY_GOWINIO = String.raw`
import sys, tarfile
def pax_bytes(recs):
    out = b''
    for k, v in sorted(recs.items()):
        v = v if isinstance(v, bytes) else v.encode('utf-8')
        body = b' ' + k.encode() + b'=' + v + b'\n'
        n = len(body) + 1
        while len(str(n)) + len(body) != n:
            n = len(str(n)) + len(body)
        out += str(n).encode() + body
    return out
class W:
    def __init__(self, path):
        self.f = open(path, 'wb')
    def _hdr(self, name, typ, size=0, mode=0, mtime=0, link=''):
        ti = tarfile.TarInfo(name)
        ti.type = typ; ti.size = size; ti.mode = mode; ti.mtime = mtime; ti.linkname = link
        ti.uid = ti.gid = 0; ti.uname = ti.gname = ''
        self.f.write(ti.tobuf(tarfile.USTAR_FORMAT, 'utf-8', 'surrogateescape'))
    def _data(self, b):
        self.f.write(b)
        if len(b) % 512:
            self.f.write(b'\0' * (512 - len(b) % 512))
    def entry(self, name, typ, data=b'', mode=0, mtime=1677606423, link='', pax=None):
        stored = name
        if pax is None:
            pax = {}
        if any(ord(c) > 127 for c in name) or len(name) > 100:
            pax['path'] = name
            stored = 'nonascii-or-long'
        if pax:
            d = pax_bytes(pax)
            i = name.rfind('/')
            pname = (name[:i] + '/PaxHeaders.0/' + name[i+1:]) if i >= 0 else 'PaxHeaders.0/' + name
            if len(pname) > 100 or any(ord(c) > 127 for c in pname):
                pname = 'PaxHeaders.0/x'
            self._hdr(pname, tarfile.XHDTYPE, len(d))
            self._data(d)
        self._hdr(stored, typ, len(data) if typ == tarfile.REGTYPE else 0, mode, mtime, link)
        if typ == tarfile.REGTYPE:
            self._data(data)
    def close(self):
        self.f.write(b'\0' * 1024)
        self.f.close()
`;

function python(t: TestContext, script: string, ...args: string[]): boolean {
  if (!requireTool(t, 'python3')) return false;
  run('python3', ['-c', script, ...args]);
  return true;
}

/** go-winio's metadata for one entry: fileattr, rawsd, creationtime and the three other times. */
const GOWINIO_TIMES = `
def meta(attr, sd=None, t='1677606423.1234567', extra=None):
    m = {'MSWINDOWS.fileattr': str(attr), 'LIBARCHIVE.creationtime': '1677606400.5', 'atime': '1677606424.25', 'ctime': '1677606425.0000001', 'mtime': t}
    if sd is not None:
        m['MSWINDOWS.rawsd'] = sd
    if extra:
        m.update(extra)
    return m
SD_A = 'AQAAgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAhAgAAAQIAAAAAAAUgAAAAIQIAAA=='
SD_B = 'AQAEgBQAAAAkAAAAAAAAADAAAAABAgAAAAAABSAAAAAgAgAAAQEAAAAAAAUSAAAAAgAcAAEAAAAAABQA/wEfAAEBAAAAAAAFEgAAAA=='
`;

/** A go-winio/hcsshim-shaped base layer with a UtilityVM, hard links UVM → Files, ADS, EAs, symlinks, junctions. */
const PY_HCSSHIM = `${PY_GOWINIO}${GOWINIO_TIMES}
w = W(sys.argv[1])
D, F, L, S = tarfile.DIRTYPE, tarfile.REGTYPE, tarfile.LNKTYPE, tarfile.SYMTYPE
w.entry('Files', D, mode=0o40000, pax=meta(16, SD_A))
# case-insensitive sibling order (another collation than ours): a, B, c
w.entry('Files/a.txt', F, b'alpha', mode=0o100000, pax=meta(32, SD_B))
w.entry('Files/a.txt:Zone.Identifier', F, b'[ZoneTransfer]\\r\\nZoneId=3', mode=0o100000, pax={'mtime': '1677606423.1234567', 'atime': '1677606424.25', 'ctime': '1677606425.0000001', 'LIBARCHIVE.creationtime': '1677606400.5'})
w.entry('Files/B.dll', F, b'\\x00' * 3000, mode=0o100000, pax=meta(0x21, SD_B, extra={'MSWINDOWS.xattr.$KERNEL.PURGE.ESBCACHE': 'AQIDBA==', 'VENDOR.future': 'kept as is'}))
w.entry('Files/c', D, mode=0o40000, pax=meta(16, SD_A))
w.entry('Files/c/empty', F, b'', mode=0, pax=meta(0x80, SD_B))
w.entry('Files/c/link-to-a', L, mode=0o644, link='Files/a.txt', pax=meta(32))
w.entry('Files/c/sym', S, mode=0o120000, link='..\\\\a.txt', pax=meta(0x420, SD_B))
w.entry('Files/c/junction', S, mode=0o160000, link='C:\\\\ProgramData', pax=meta(0x410, SD_A, extra={'MSWINDOWS.mountpoint': '1'}))
w.entry('Files/c/\u00e9t\u00e9 \u65e5\u672c', F, b'unicode', mode=0o100000, pax=meta(32, SD_B))
w.entry('Files/c/' + 'long-name-' * 12, F, b'long', mode=0o100000, pax=meta(32, SD_B))
w.entry('UtilityVM', D, mode=0o40000, pax=meta(16, SD_A))
w.entry('UtilityVM/Files', D, mode=0o40000, pax=meta(16, SD_A))
w.entry('UtilityVM/Files/EFI', D, mode=0o40000, pax=meta(16, SD_A))
w.entry('UtilityVM/Files/EFI/Microsoft', D, mode=0o40000, pax=meta(16, SD_A))
w.entry('UtilityVM/Files/EFI/Microsoft/Boot', D, mode=0o40000, pax=meta(16, SD_A))
w.entry('UtilityVM/Files/EFI/Microsoft/Boot/BCD', F, b'regf-bcd-bytes', mode=0o100000, pax=meta(0x26, SD_A))
w.entry('UtilityVM/Files/EFI/Microsoft/Boot/BCD.LOG', F, b'log', mode=0o100000, pax=meta(0x26, SD_A))
w.entry('UtilityVM/Files/B.dll', L, mode=0o644, link='Files/B.dll', pax=meta(0x21))
w.entry('UtilityVM/Files/a-again', L, mode=0o644, link='UtilityVM/Files/B.dll', pax=meta(0x21))
w.close()
`;

/** A go-winio-shaped non-base layer: Files, Hives deltas, whiteouts inline after their folder. */
const PY_NONBASE = `${PY_GOWINIO}${GOWINIO_TIMES}
w = W(sys.argv[1])
D, F = tarfile.DIRTYPE, tarfile.REGTYPE
w.entry('Files', D, mode=0o40000, pax=meta(16))
w.entry('Files/Windows', D, mode=0o40000, pax=meta(16, SD_A))
w.f.write(tarfile.TarInfo('Files/Windows/.wh.old.dll').tobuf(tarfile.USTAR_FORMAT))
w.entry('Files/Windows/new.dll', F, b'new', mode=0o100000, pax=meta(32, SD_B))
w.entry('Files/Windows/parent.dll', tarfile.LNKTYPE, mode=0o644, link='Files/base.dll', pax=meta(32))
w.entry('Hives', D, mode=0o40000, pax=meta(16))
w.entry('Hives/Software_Delta', F, b'regf-delta', mode=0o100000, pax=meta(32))
w.close()
`;

/** BuildKit's Windows differ: Files + Hives dirs, fileattr 16/32, its fixed SDs, creationtime with unpadded nanos. */
const PY_BUILDKIT = `import sys, tarfile, io
DIR_SD = 'AQAEgBQAAAAkAAAAAAAAADAAAAABAgAAAAAABSAAAAAgAgAAAQEAAAAAAAUSAAAAAgCoAAcAAAAAAxgA/wEfAAECAAAAAAAFIAAAACACAAAAAxQA/wEfAAEBAAAAAAAFEgAAAAAAGAD/AR8AAQIAAAAAAAUgAAAAIAIAAAALFAAAAAAQAQEAAAAAAAMAAAAAAAMYAKkAEgABAgAAAAAABSAAAAAhAgAAAAIYAAQAAAABAgAAAAAABSAAAAAhAgAAAAIYAAIAAAABAgAAAAAABSAAAAAhAgAA'
FILE_SD = 'AQAEgBQAAAAkAAAAAAAAADAAAAABAgAAAAAABSAAAAAgAgAAAQEAAAAAAAUSAAAAAgBMAAMAAAAAABgA/wEfAAECAAAAAAAFIAAAACACAAAAABQA/wEfAAEBAAAAAAAFEgAAAAAAGACpABIAAQIAAAAAAAUgAAAAIQIAAA=='
t = tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT)
def add(name, typ, data=b'', mode=0o755, pax=None):
    ti = tarfile.TarInfo(name); ti.type = typ; ti.mode = mode; ti.mtime = 1700000000
    ti.pax_headers = pax or {}
    if typ == tarfile.REGTYPE:
        ti.size = len(data); t.addfile(ti, io.BytesIO(data))
    else:
        t.addfile(ti)
add('Hives', tarfile.DIRTYPE, pax={'MSWINDOWS.fileattr': '16', 'MSWINDOWS.rawsd': DIR_SD, 'LIBARCHIVE.creationtime': '1700000000.50000000'})
add('Files', tarfile.DIRTYPE, pax={'MSWINDOWS.fileattr': '16', 'MSWINDOWS.rawsd': DIR_SD, 'LIBARCHIVE.creationtime': '1700000000.50000000'})
add('Files/app', tarfile.DIRTYPE, pax={'MSWINDOWS.fileattr': '16', 'MSWINDOWS.rawsd': DIR_SD, 'LIBARCHIVE.creationtime': '1700000000.5000000', 'mtime': '1700000000.5'})
add('Files/app/run.exe', tarfile.REGTYPE, b'MZ' + b'\\x90' * 100, 0o755, {'MSWINDOWS.fileattr': '32', 'MSWINDOWS.rawsd': FILE_SD, 'LIBARCHIVE.creationtime': '1700000000.0'})
add('Files/app/.wh.stale.txt', tarfile.REGTYPE, b'', 0)
t.close()
`;

/** crane / ko (go-containerregistry internal/windows): Files + Hives, rawsd O:BUG:BU, Go's PAX, real modes. */
const PY_KO = `import sys, tarfile, io
SD = 'AQAAgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAhAgAAAQIAAAAAAAUgAAAAIQIAAA=='
t = tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT)
def add(name, typ, data=b'', mode=0o555):
    ti = tarfile.TarInfo(name); ti.type = typ; ti.mode = mode; ti.mtime = 315532800
    ti.pax_headers = {'MSWINDOWS.rawsd': SD}
    if typ == tarfile.REGTYPE:
        ti.size = len(data); t.addfile(ti, io.BytesIO(data))
    else:
        t.addfile(ti)
add('Files', tarfile.DIRTYPE)
add('Files/ko-app', tarfile.DIRTYPE)
add('Files/ko-app/app.exe', tarfile.REGTYPE, b'MZ-ko-binary')
add('Files/var', tarfile.DIRTYPE)
add('Files/var/run', tarfile.DIRTYPE)
add('Files/var/run/ko', tarfile.DIRTYPE)
add('Files/var/run/ko/HEAD', tarfile.REGTYPE, b'cafe', 0o644)
add('Hives', tarfile.DIRTYPE)
t.close()
`;

async function roundTrip(t: TestContext, tar: string, opts: { parents?: string[] } = {}) {
  const root = tempDir(t, 'winlayer-rt-');
  const layer = join(root, 'layer');
  const result = await importLayer(tar, layer, { sync: false, ...(opts.parents ? { parents: opts.parents } : {}) });
  const out = await exportTo(layer, join(root, 'out.tar'));
  return { root, layer, result, out };
}

// ── tars our export writes: byte-identical ──────────────────────────────────────────────────────────────────────────

test('our export → import → export is byte-identical (plain folder, gzip and zstd, hard links, long names)', async (t) => {
  const root = tempDir(t, 'winlayer-rt-');
  const src = join(root, 'src');
  mkdirSync(join(src, 'Files/Windows/System32'), { recursive: true });
  mkdirSync(join(src, 'UtilityVM/Files/EFI/Microsoft/Boot'), { recursive: true });
  writeFileSync(join(src, 'Files/Windows/System32/kernel32.dll'), Buffer.alloc(70_000, 7));
  writeFileSync(join(src, 'Files/Windows/empty.txt'), '');
  writeFileSync(join(src, 'Files/Windows/été.txt'), 'ünïcödé');
  const deep = join(src, 'Files', 'd'.repeat(120), 'e'.repeat(120));
  mkdirSync(deep, { recursive: true });
  writeFileSync(join(deep, 'f'.repeat(100)), 'deep');
  writeFileSync(join(src, 'UtilityVM/Files/EFI/Microsoft/Boot/BCD'), 'bcd');
  linkSync(join(src, 'Files/Windows/System32/kernel32.dll'), join(src, 'UtilityVM/Files/kernel32.dll'));
  linkSync(join(src, 'Files/Windows/empty.txt'), join(src, 'Files/Windows/empty-link.txt'));
  utimesSync(join(src, 'Files/Windows/empty.txt'), 1_600_000_000.5, 1_600_000_000.25);
  for (const compression of ['none', 'gzip', 'zstd'] as const) {
    for (const sd of ['users', 'admins', 'none'] as const) {
      const first = join(root, `first-${compression}-${sd}.tar`);
      await exportLayer(src, { output: first, compression, sd, kind: 'non-base' });
      const layer = join(root, `layer-${compression}-${sd}`);
      const r = await importLayer(first, layer, { sync: false });
      assert.equal(r.kind, 'base');
      assert.equal(r.hardlinks, 2);
      assert.deepEqual(r.bcdBackups, ['bcd.bak']);
      assert.equal(readFileSync(join(layer, 'bcd.bak'), 'utf8'), 'bcd');
      const second = await exportTo(layer, join(root, `second-${compression}-${sd}.tar`), compression);
      assert.ok(readFileSync(first).equals(readFileSync(second)), `${compression}/${sd}: the re-export differs`);
    }
  }
});

test('canonical tars with every feature re-export byte-identically (symlinks, junctions, ADS, EAs, non-base)', async (t) => {
  const root = tempDir(t, 'winlayer-rt-');
  const foreign = join(root, 'hcsshim.tar');
  if (!python(t, PY_HCSSHIM, foreign)) return;
  const nonbase = join(root, 'nonbase.tar');
  python(t, PY_NONBASE, nonbase);
  const parent = join(root, 'parent');
  mkdirSync(join(parent, 'Files'), { recursive: true });
  writeFileSync(join(parent, 'Files/base.dll'), 'from the parent');
  for (const [name, tar, parents] of [
    ['hcsshim', foreign, []],
    ['nonbase', nonbase, [parent]],
  ] as const) {
    const a = join(root, `${name}-a`);
    await importLayer(tar, a, { sync: false, parents: [...parents] });
    const canonical = await exportTo(a, join(root, `${name}-canonical.tar`));
    const b = join(root, `${name}-b`);
    await importLayer(canonical, b, { sync: false, parents: [...parents] });
    const again = await exportTo(b, join(root, `${name}-again.tar`));
    assert.ok(readFileSync(canonical).equals(readFileSync(again)), `${name}: the re-export differs`);
  }
});

// ── foreign tars: semantically equal ────────────────────────────────────────────────────────────────────────────────

test('hcsshim/go-winio shape: type-only modes, PaxHeaders.0 names, ADS, EAs, junctions, UVM → Files links', async (t) => {
  const root = tempDir(t, 'winlayer-rt-');
  const tar = join(root, 'in.tar');
  if (!python(t, PY_HCSSHIM, tar)) return;
  const { layer, result, out } = await roundTrip(t, tar);
  assert.equal(result.kind, 'base');
  assert.equal(result.streams, 1);
  assert.equal(result.symlinks, 2);
  assert.equal(result.hardlinks, 3);
  assert.deepEqual(result.bcdBackups, ['bcd.bak', 'bcd.log.bak']);
  assert.equal(result.securityDescriptors, 2);
  // On disk: modes 0644/0755 whatever the tar said, real hard links, no host symlink.
  const st = (p: string) =>
    run('stat', ['-c', '%a %h %F', join(layer, p)])
      .toString()
      .trim();
  assert.equal(st('Files/c/empty'), '644 1 regular empty file');
  assert.equal(st('Files/c'), '755 2 directory');
  assert.equal(st('Files/B.dll'), '644 3 regular file');
  assert.equal(existsSync(join(layer, 'Files/c/sym')), false);
  const c = await semantic(tar, out);
  assertEqualLayers(c, 'hcsshim shape');
  // Unknown PAX records and EAs survive the round trip.
  let seen = 0;
  for await (const e of entriesOf(out)) {
    if (e.path !== 'Files/B.dll') continue;
    seen++;
    assert.deepEqual(e.extraPax, [{ key: 'VENDOR.future', value: 'kept as is' }]);
    assert.deepEqual(
      e.win.extendedAttributes?.map((x) => x.name),
      ['$KERNEL.PURGE.ESBCACHE'],
    );
  }
  assert.equal(seen, 1);
  assert.equal(c.noise.orderDiffers, true, 'the foreign sibling order is reported as noise');
  assert.ok((c.noise.raw.mode ?? 0) > 0);
});

test('non-base go-winio shape: Hives, whiteouts, a hard link into a parent layer', async (t) => {
  const root = tempDir(t, 'winlayer-rt-');
  const tar = join(root, 'in.tar');
  if (!python(t, PY_NONBASE, tar)) return;
  const parent = join(root, 'parent');
  mkdirSync(join(parent, 'Files'), { recursive: true });
  writeFileSync(join(parent, 'Files/base.dll'), 'from the parent');
  await assert.rejects(importLayer(tar, join(root, 'no-parent'), { sync: false }), { code: 'LAYER_HARDLINK' });
  const { layer, result, out } = await roundTrip(t, tar, { parents: [parent] });
  assert.equal(result.kind, 'non-base');
  assert.equal(result.whiteouts, 1);
  assert.equal(result.parentLinks, 1);
  assert.equal(readSidecar(layer)?.manifest.kind, 'non-base');
  assert.equal(existsSync(join(layer, 'Files/Windows/parent.dll')), false);
  assertEqualLayers(await semantic(tar, out), 'non-base');
  await assert.rejects(importLayer(tar, join(root, 'forced-base'), { sync: false, kind: 'base', parents: [parent] }), {
    message: /a base layer cannot have tombstones/,
  });
});

test('BuildKit shape: Hives first, fixed SDs, unpadded creationtime nanoseconds', async (t) => {
  const root = tempDir(t, 'winlayer-rt-');
  const tar = join(root, 'in.tar');
  if (!python(t, PY_BUILDKIT, tar)) return;
  const { result, out } = await roundTrip(t, tar);
  assert.equal(result.kind, 'non-base');
  assertEqualLayers(await semantic(tar, out), 'BuildKit');
});

test('ko / crane shape: O:BUG:BU on everything, real modes, no fileattr', async (t) => {
  const root = tempDir(t, 'winlayer-rt-');
  const tar = join(root, 'in.tar');
  if (!python(t, PY_KO, tar)) return;
  const { result, out } = await roundTrip(t, tar);
  assert.equal(result.securityDescriptors, 1);
  assertEqualLayers(await semantic(tar, out), 'ko');
});

test('GNU tar default format (long names, hard links, trailing slashes) and the host-process image (ustar, no PAX)', async (t) => {
  if (!requireTool(t, 'tar')) return;
  const root = tempDir(t, 'winlayer-rt-');
  const src = join(root, 'src');
  const config = join(src, 'Files/Windows/System32/config');
  mkdirSync(config, { recursive: true });
  for (const h of ['DEFAULT', 'SAM', 'SECURITY', 'SOFTWARE', 'SYSTEM']) writeFileSync(join(config, h), `hive ${h}`);
  const long = join(src, 'Files', 'x'.repeat(90), 'y'.repeat(90));
  mkdirSync(long, { recursive: true });
  writeFileSync(join(long, 'z'.repeat(80)), 'long');
  linkSync(join(config, 'SAM'), join(src, 'Files/sam-link'));
  const gnu = join(root, 'gnu.tar');
  run('tar', ['-C', src, '--sort=name', '-cf', gnu, '.']); // ./, ./Files/, ... (the archive root is skipped)
  const gnuRt = await roundTrip(t, gnu);
  assert.equal(gnuRt.result.hardlinks, 1);
  assertEqualLayers(await semantic(gnu, gnuRt.out), 'GNU tar');

  rmSync(long.slice(0, long.lastIndexOf('/')), { recursive: true });
  unlinkSync(join(src, 'Files/sam-link'));
  const ustar = join(root, 'hostprocess.tar');
  run('tar', ['-C', src, '--format=ustar', '-cf', ustar, 'Files']);
  const hp = await roundTrip(t, ustar);
  assert.equal(hp.result.securityDescriptors, 0);
  assertEqualLayers(await semantic(ustar, hp.out), 'host-process image');
  // No SD in, no SD out (export keeps the absence rather than applying a preset).
  let n = 0;
  for await (const e of entriesOf(hp.out)) {
    n++;
    assert.equal(e.win.securityDescriptor, undefined, e.path);
  }
  assert.ok(n >= 8, `only ${n} entries`);
});

// ── import → edit → export ──────────────────────────────────────────────────────────────────────────────────────────

test('import → edit (add, change, delete) → export: the edits appear, the rest is unchanged', async (t) => {
  const root = tempDir(t, 'winlayer-rt-');
  const tar = join(root, 'in.tar');
  if (!python(t, PY_HCSSHIM, tar)) return;
  const layer = join(root, 'layer');
  await importLayer(tar, layer, { sync: false });
  const before = await exportTo(layer, join(root, 'before.tar'));
  writeFileSync(join(layer, 'Files/c/added.txt'), 'new file');
  writeFileSync(join(layer, 'Files/a.txt'), 'changed content');
  utimesSync(join(layer, 'Files/a.txt'), 1_700_000_000, 1_700_000_000);
  unlinkSync(join(layer, 'Files/c/empty'));
  const after = await exportTo(layer, join(root, 'after.tar'));
  const c = await semantic(before, after);
  assert.deepEqual(c.added, [{ path: 'Files/c/added.txt', kind: 'file' }]);
  assert.deepEqual(c.removed, [{ path: 'Files/c/empty', kind: 'file' }]);
  // Folder times changed with the edits (the disk's mtime now differs from the record).
  const changed = new Map(c.changed.map((x) => [x.path, x.fields.map((f) => f.field)]));
  const aTxt = changed.get('Files/a.txt') ?? [];
  for (const f of ['content', 'size', 'lastWriteTime']) assert.ok(aTxt.includes(f as never), `a.txt: ${aTxt}`);
  assert.ok(!aTxt.includes('securityDescriptor' as never), 'an edited file keeps its SD');
  // Its hard link (Files/c/link-to-a) shares the edit: same group, same content.
  assert.ok((changed.get('Files/c/link-to-a') ?? []).includes('content' as never));
  for (const path of changed.keys()) {
    assert.ok(['Files/a.txt', 'Files/c/link-to-a', 'Files/c'].includes(path), `unexpected change: ${path}`);
  }
});
