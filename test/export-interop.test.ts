/**
 * Interop: a base layer built with `winlayer makebaselayer` and written with `winlayer export` is read by tools we did
 * not write. Python's `tarfile` checks every rule of the format (order, PAX records and their encodings, link targets,
 * modes, no stray entries); `hivexml` reads the five hives taken out of the tar; GNU tar and bsdtar list it.
 * Fixtures: `hives/valid/regipy-BCD` (a real BCD store) for the UtilityVM.
 */
import assert from 'node:assert/strict';
import { copyFileSync, linkSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from './helpers/cli.js';
import { garbageHive } from './helpers/hives.js';
import { FIXTURES, requireTool, run, tempDir } from './helpers/tools.js';

/** Checks an exported base layer; prints one JSON object (counts and the hive files it extracted). */
const CHECK_LAYER_PY = String.raw`
import base64, json, re, sys, tarfile, os
path, outdir, users_sd = sys.argv[1], sys.argv[2], sys.argv[3]
tf = tarfile.open(path)
members = tf.getmembers()
names = [m.name for m in members]
def fail(msg):
    raise SystemExit("RULE BROKEN: " + msg)

# Names: relative, "/"-separated, no "./", no trailing "/", only the two trees, Files first.
for n in names:
    if n.startswith("./") or n.startswith("/") or n.endswith("/") or "\\" in n: fail("bad name " + n)
    if not (n == "Files" or n.startswith("Files/") or n == "UtilityVM" or n == "UtilityVM/Files" or n.startswith("UtilityVM/Files/")):
        fail("stray entry " + n)
    low = n.lower()
    if "/.winlayer" in low or low.startswith(".winlayer") or low.endswith(".vhdx") or low.startswith("files/$recycle.bin") \
       or os.path.basename(low).startswith("bcd") and low.endswith(".bak") or low == "layout":
        fail("stray entry " + n)
if names[0] != "Files": fail("first entry is " + names[0])
# Order: parents before children, siblings in UTF-8 byte order = sorting by the list of encoded components.
expected = sorted(names, key=lambda n: [c.encode("utf-8") for c in n.split("/")])
if names != expected: fail("order: " + json.dumps([a + " vs " + b for a, b in zip(names, expected) if a != b][:3]))
seen = set()
for n in names:
    parent = n.rsplit("/", 1)[0] if "/" in n else None
    if parent is not None and parent not in seen: fail("child before parent: " + n)
    seen.add(n)
if len(set(names)) != len(names): fail("duplicate names")

TIME = re.compile(r"^-?\d+(\.\d{0,6}[1-9])?$")  # at most 7 fraction digits: 100 ns
kinds = {}
firsts = {}
for m in members:
    kinds[m.type.decode()] = kinds.get(m.type.decode(), 0) + 1
    if m.type not in (tarfile.DIRTYPE, tarfile.REGTYPE, tarfile.LNKTYPE, tarfile.SYMTYPE): fail("typeflag %r on %s" % (m.type, m.name))
    if (m.uid, m.gid, m.uname, m.gname) != (0, 0, "", ""): fail("owner of " + m.name)
    want_mode = 0o755 if m.isdir() else 0o644
    if m.mode != want_mode: fail("mode %o on %s" % (m.mode, m.name))
    pax = m.pax_headers
    keys = list(pax.keys())
    if keys != sorted(keys): fail("PAX keys not in byte order on " + m.name + ": " + json.dumps(keys))
    for k in ("MSWINDOWS.fileattr", "LIBARCHIVE.creationtime", "atime", "ctime", "mtime"):
        if k not in pax: fail(k + " missing on " + m.name)
    for k in ("LIBARCHIVE.creationtime", "atime", "ctime", "mtime"):
        if not TIME.match(pax[k]): fail("time %s=%r on %s" % (k, pax[k], m.name))
    if not re.match(r"^\d+$", pax["MSWINDOWS.fileattr"]): fail("fileattr encoding on " + m.name)
    attr = int(pax["MSWINDOWS.fileattr"])
    if m.isdir() and attr != 0x10: fail("dir attributes %#x on %s" % (attr, m.name))
    if m.isfile() and attr != 0x20: fail("file attributes %#x on %s" % (attr, m.name))
    if m.issym() and attr & 0x400 == 0: fail("symlink without REPARSE_POINT on " + m.name)
    sd = pax.get("MSWINDOWS.rawsd")
    if sd is None or len(sd) % 4 != 0 or not re.match(r"^[A-Za-z0-9+/]+={0,2}$", sd) or sd != users_sd:
        fail("rawsd %r on %s" % (sd, m.name))
    long_or_unicode = len(m.name.encode()) > 100 or not m.name.isascii()
    if long_or_unicode and pax.get("path") != m.name: fail("PAX path missing on " + m.name)
    if not long_or_unicode and "path" in pax: fail("needless PAX path on " + m.name)
    if m.isfile() or m.isdir(): firsts.setdefault(m.name, m)
    if m.islnk():
        t = firsts.get(m.linkname)
        if t is None or not t.isfile(): fail("hard link %s -> %s: target is not an earlier regular file" % (m.name, m.linkname))
        if m.size != 0: fail("hard link with data")
    if m.issym():
        if "/" in m.linkname: fail("symlink target with / on " + m.name)
        want = 0x410 if m.name.endswith("todir") else 0x420
        if attr != want: fail("symlink attributes %#x on %s" % (attr, m.name))
    if m.name.startswith(".wh.") or "/.wh." in m.name: fail("whiteout in a base layer")

hives = []
for h in ("DEFAULT", "SAM", "SECURITY", "SOFTWARE", "SYSTEM"):
    m = tf.getmember("Files/Windows/System32/config/" + h)
    data = tf.extractfile(m).read()
    if data[:4] != b"regf": fail(h + " is not a hive")
    out = os.path.join(outdir, h)
    open(out, "wb").write(data)
    hives.append(out)
bcd = tf.extractfile(tf.getmember("UtilityVM/Files/EFI/Microsoft/Boot/BCD")).read()
print(json.dumps({"entries": len(members), "kinds": kinds, "hives": hives, "bcd_size": len(bcd),
                  "long": [n for n in names if len(n.encode()) > 255]}))
`;

const USERS_SD = 'AQAAgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAhAgAAAQIAAAAAAAUgAAAAIQIAAA==';

function buildLayer(dir: string): void {
  const mk = (p: string) => mkdirSync(join(dir, p), { recursive: true });
  mk('Files/Program Files/Ünïcödé 名前');
  mk('Files/EmptyDir');
  mk('Files/$Recycle.Bin/S-1-5-18');
  mk('UtilityVM/Files/EFI/Microsoft/Boot');
  mk('.winlayer');
  writeFileSync(
    join(dir, '.winlayer/manifest.json'),
    '{"format":"winlayer-layer-folder","version":1,"kind":"base","parents":[]}',
  );
  writeFileSync(join(dir, 'Files/Program Files/Ünïcödé 名前/readme.txt'), 'unicode');
  writeFileSync(join(dir, 'Files/empty.txt'), '');
  writeFileSync(join(dir, 'Files/$Recycle.Bin/S-1-5-18/desktop.ini'), 'x');
  const deep = join(dir, 'Files', 'd'.repeat(120), 'e'.repeat(120));
  mkdirSync(deep, { recursive: true });
  writeFileSync(join(deep, 'f'.repeat(60)), 'deep');
  writeFileSync(join(dir, 'Files/kernel32.dll'), 'MZ'.repeat(1000));
  linkSync(join(dir, 'Files/kernel32.dll'), join(dir, 'UtilityVM/Files/kernel32.dll'));
  linkSync(join(dir, 'Files/kernel32.dll'), join(dir, 'UtilityVM/Files/EFI/kernel32-copy.dll'));
  symlinkSync('Program Files', join(dir, 'Files/todir'));
  symlinkSync('kernel32.dll', join(dir, 'Files/tofile'));
  copyFileSync(join(FIXTURES, 'hives/valid/regipy-BCD'), join(dir, 'UtilityVM/Files/EFI/Microsoft/Boot/BCD'));
  for (const stray of ['bcd.bak', 'bcd.log.bak', 'layout', 'blank.vhdx', 'UtilityVM/SystemTemplate.vhdx']) {
    writeFileSync(join(dir, stray), 'stray');
  }
}

test('Python tarfile reads an exported base layer and every rule holds; hivexml reads its five hives', async (t) => {
  if (!requireTool(t, 'python3') || !requireTool(t, 'hivexml')) return;
  const dir = tempDir(t);
  buildLayer(dir);
  const mb = await runCli(['makebaselayer', dir]);
  assert.equal(mb.code, 0, mb.stderr);
  assert.equal((mb.stdout.match(/^created +Files\/Windows\/System32\/config\/[A-Z]+$/gm) ?? []).length, 5, mb.stdout);
  assert.match(mb.stdout, /checked +UtilityVM\/Files\/EFI\/Microsoft\/Boot\/BCD/);

  const out = join(tempDir(t), 'layer.tar');
  const ex = await runCli(['export', dir, '-o', out, '--json']);
  assert.equal(ex.code, 0, ex.stderr);
  const summary = JSON.parse(ex.stdout) as { diffId: string; digest: string; size: number; entries: number };
  assert.match(summary.diffId, /^sha256:[0-9a-f]{64}$/);
  assert.equal(summary.size, readFileSync(out).length);

  const hiveDir = tempDir(t);
  const report = JSON.parse(run('python3', ['-c', CHECK_LAYER_PY, out, hiveDir, USERS_SD]).toString()) as {
    entries: number;
    kinds: Record<string, number>;
    hives: string[];
    bcd_size: number;
    long: string[];
  };
  assert.equal(report.entries, summary.entries);
  assert.deepEqual(report.kinds, { '5': 14, '0': 10, '1': 2, '2': 2 });
  assert.equal(report.bcd_size, readFileSync(join(FIXTURES, 'hives/valid/regipy-BCD')).length);
  assert.equal(report.long.length, 1);
  for (const hive of report.hives) {
    // hivexml opens /dev/stdout by name, which fails on Node's socket pipes: redirect it to a file.
    run('sh', ['-c', 'hivexml "$1" > "$1.xml"', 'sh', hive]);
    const xml = readFileSync(`${hive}.xml`, 'utf8');
    assert.match(xml, /<hive>/, hive);
  }
  // Other readers agree on the listing.
  if (requireTool(t, 'bsdtar')) {
    const listed = run('bsdtar', ['-tf', out]).toString('utf8').trimEnd().split('\n');
    assert.equal(listed.length, summary.entries);
  }
  const gnu = run('tar', ['--warning=no-unknown-keyword', '-tvf', out]).toString('utf8');
  assert.match(gnu, /^hrw-r--r-- 0\/0 .* UtilityVM\/Files\/kernel32\.dll link to Files\/kernel32\.dll$/m);
});

test('the CLI: -o - writes the tar to stdout and the summary to stderr; a terminal is refused; gzip is reproducible', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'Files/a'), { recursive: true });
  writeFileSync(join(dir, 'Files/a/b.txt'), 'hello');
  const r1 = await runCli(['export', dir, '--non-base', '-o', '-', '--gzip', '--source-date-epoch', '1700000000']);
  assert.equal(r1.code, 0, r1.stderr);
  const h = r1.stdoutBytes;
  // gzip header: magic, deflate, no flags (no file name), mtime 0, OS 255 (unknown); byte 8 is the level hint.
  assert.deepEqual([h[0], h[1], h[2], h[3], h.readUInt32LE(4), h[9]], [0x1f, 0x8b, 8, 0, 0, 0xff]);
  assert.match(r1.stderr, /^diff_id {2}sha256:[0-9a-f]{64}$/m);
  assert.match(r1.stderr, /^digest {3}sha256:[0-9a-f]{64} \(gzip\)$/m);
  const r2 = await runCli(['export', dir, '--non-base', '-z'], { env: { SOURCE_DATE_EPOCH: '1700000000' } });
  assert.deepEqual(r2.stdoutBytes, r1.stdoutBytes);

  const { main } = await import('../src/cli/main.js');
  const { PassThrough, Readable } = await import('node:stream');
  const tty = Object.assign(new PassThrough(), { isTTY: true });
  const err = new PassThrough();
  const chunks: Buffer[] = [];
  err.on('data', (c: Buffer) => chunks.push(c));
  const code = await main(['export', dir], { stdout: tty, stderr: err, stdin: Readable.from([]), env: {} });
  assert.equal(code, 2);
  assert.match(Buffer.concat(chunks).toString(), /refusing to write a tar to a terminal/);

  const bad = await runCli(['export', dir, '-o', join(tempDir(t), 'x.tar'), '--sd', 'everyone']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown security descriptor preset/);
});

test('makebaselayer CLI: a missing or corrupt BCD fails with the documented messages; nothing is written', async (t) => {
  for (const [hive, message] of [
    [undefined, 'UtilityVM must contain Files/EFI/Microsoft/Boot/BCD (LAYER_BCD)'],
    [
      garbageHive(),
      'UtilityVM must contain Files/EFI/Microsoft/Boot/BCD as a valid BCD store: the registry hive is corrupt',
    ],
  ] as const) {
    const dir = tempDir(t);
    mkdirSync(join(dir, 'Files'));
    mkdirSync(join(dir, 'UtilityVM/Files/EFI/Microsoft/Boot'), { recursive: true });
    if (hive !== undefined) writeFileSync(join(dir, 'UtilityVM/Files/EFI/Microsoft/Boot/BCD'), hive);
    const r = await runCli(['makebaselayer', dir]);
    assert.equal(r.code, 1);
    assert.ok(r.stderr.includes(message), r.stderr);
    assert.deepEqual(
      run('find', [join(dir, 'Files')])
        .toString()
        .trim()
        .split('\n'),
      [join(dir, 'Files')],
    );
  }
  const ok = tempDir(t);
  mkdirSync(join(ok, 'Files'));
  mkdirSync(join(ok, 'UtilityVM/Files/EFI/Microsoft/Boot'), { recursive: true });
  copyFileSync(join(FIXTURES, 'hives/valid/imgutil-minimal-BCD'), join(ok, 'UtilityVM/Files/EFI/Microsoft/Boot/BCD'));
  writeFileSync(join(ok, 'Files/placeholder'), '');
  mkdirSync(join(ok, 'Files/Windows/System32/config'), { recursive: true });
  writeFileSync(join(ok, 'Files/Windows/System32/config/SYSTEM'), '');
  const r = await runCli(['makebaselayer', ok]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^replaced Files\/Windows\/System32\/config\/SYSTEM \(zero-byte file/m);
});

test('SIGTERM during an export removes the temporary output; nothing is left at the final path', async (t) => {
  const { spawn } = await import('node:child_process');
  const { closeSync, ftruncateSync, openSync, readdirSync } = await import('node:fs');
  const dir = tempDir(t);
  const out = tempDir(t);
  mkdirSync(join(dir, 'Files'));
  for (let i = 0; i < 1000; i++) {
    const fd = openSync(join(dir, `Files/sparse${i}.bin`), 'w');
    ftruncateSync(fd, 4 * 1024 ** 2); // sparse: costs no disk; 4 GB in all takes seconds to export
    closeSync(fd);
  }
  const root = new URL('..', import.meta.url).pathname;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'export', dir, '--non-base', '-o', join(out, 'x.tar')],
    {
      cwd: root,
      stdio: 'ignore',
    },
  );
  t.after(() => child.kill('SIGKILL')); // never outlives the test
  let early: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      early = code;
      resolve(code);
    }),
  );
  const deadline = Date.now() + 30_000;
  while (!readdirSync(out).some((n) => n.startsWith('.x.tar.winlayer-tmp-')) && Date.now() < deadline) {
    if (early !== undefined) assert.fail(`the export ended (exit ${early}) before it could be interrupted`);
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(readdirSync(out).length === 1, 'the temporary sibling appeared');
  child.kill('SIGTERM');
  assert.equal(await exited, 143);
  assert.deepEqual(readdirSync(out), []);
});
