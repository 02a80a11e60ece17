/**
 * Images built by winlayer, read back by skopeo and by our own readers: image create (OCI layout and docker archive),
 * image append (plain folder, Linux tar made by GNU tar), image squash, image platform and image index. Every layout
 * we write has every descriptor's digest and size checked.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkHive } from '../src/hive/index.js';
import { openSource } from '../src/oci/source.js';
import { readTar } from '../src/tar/index.js';
import { compareUtf8 } from '../src/windows/index.js';
import { makeTestImage, registryBlobs, startRegistry } from './fixtures-registry/harness.js';
import { runCli } from './helpers/cli.js';
import { hasTool, requireTool, run, tempDir } from './helpers/tools.js';

const EPOCH = { SOURCE_DATE_EPOCH: '1700000000' };
const REF_NAME_KEY = 'org.opencontainers.image.ref.name';

interface Desc {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Record<string, string>;
}

function blob(dir: string, digest: string): Buffer {
  return readFileSync(join(dir, 'blobs/sha256', digest.slice(7)));
}

/** Checks every descriptor reachable from index.json: the blob exists, its size and sha256 match. Returns them. */
function checkLayout(dir: string): Desc[] {
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'oci-layout'), 'utf8')), { imageLayoutVersion: '1.0.0' });
  const seen: Desc[] = [];
  const visit = (d: Desc): void => {
    const b = blob(dir, d.digest);
    assert.equal(b.length, d.size, `size of ${d.digest}`);
    assert.equal(`sha256:${createHash('sha256').update(b).digest('hex')}`, d.digest);
    seen.push(d);
    if (d.mediaType.endsWith('index.v1+json'))
      for (const m of (JSON.parse(b.toString()) as { manifests: Desc[] }).manifests) visit(m);
    if (d.mediaType.endsWith('manifest.v1+json')) {
      const m = JSON.parse(b.toString()) as { config: Desc; layers: Desc[] };
      for (const x of [m.config, ...m.layers]) visit(x);
    }
  };
  for (const d of (JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: Desc[] }).manifests)
    visit(d);
  return seen;
}

function manifestOf(dir: string): { config: Desc; layers: Desc[]; annotations?: Record<string, string> } {
  const idx = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: Desc[] };
  return JSON.parse(blob(dir, idx.manifests[0]!.digest).toString()) as { config: Desc; layers: Desc[] };
}

interface Seen {
  kind: string;
  link?: string;
  sha?: string;
}

async function layerEntries(dir: string, d: Desc): Promise<Map<string, Seen>> {
  const out = new Map<string, Seen>();
  for await (const e of readTar(createReadStream(join(dir, 'blobs/sha256', d.digest.slice(7))))) {
    const s: Seen = { kind: e.kind };
    if (e.kind === 'hardlink' || e.kind === 'symlink') s.link = e.linkTarget;
    if (e.kind === 'file') {
      const h = createHash('sha256');
      for await (const c of e.body) h.update(c);
      s.sha = h.digest('hex');
    }
    out.set(e.path, s);
  }
  return out;
}

function makeRootfs(dir: string): string {
  const root = join(dir, 'rootfs');
  mkdirSync(join(root, 'app/sub'), { recursive: true });
  writeFileSync(join(root, 'app/hello.txt'), 'hello\n');
  linkSync(join(root, 'app/hello.txt'), join(root, 'app/sub/hello-link.txt'));
  symlinkSync('hello.txt', join(root, 'app/link'));
  writeFileSync(join(root, 'app/sub/data.bin'), Buffer.alloc(5000, 7));
  return root;
}

function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      const st = statSync(p, { throwIfNoEntry: false });
      out.push(`${rel}${n}:${st?.size ?? 'link'}:${st?.mtimeMs ?? ''}`);
      if (st?.isDirectory() === true) walk(p, `${rel}${n}/`);
    }
  };
  walk(dir, '');
  return out;
}

test('image create → OCI layout: skopeo reads it, hives are valid, links are right, output is reproducible', async (t) => {
  if (!requireTool(t, 'skopeo')) return;
  const dir = tempDir(t);
  const root = makeRootfs(dir);
  const before = listing(root);
  const args = [
    'image',
    'create',
    root,
    '--platform',
    'windows/amd64:10.0.20348.2113',
    '--cmd',
    'cmd.exe',
    '--env',
    'A=1',
    '--label',
    'x=y',
  ];
  const r1 = await runCli([...args, '-o', join(dir, 'a'), '--json'], { env: EPOCH });
  assert.equal(r1.code, 0, r1.stderr);
  const r2 = await runCli([...args, '-o', `oci:${join(dir, 'b')}:v1`, '--json'], { env: EPOCH });
  assert.equal(r2.code, 0, r2.stderr);
  assert.deepEqual(listing(root), before, 'the user folder is not changed');
  const o1 = JSON.parse(r1.stdout) as { descriptor: Desc; warnings: string[] };
  assert.equal(
    o1.descriptor.digest,
    (JSON.parse(r2.stdout) as { descriptor: Desc }).descriptor.digest,
    'same input, same digest',
  );
  assert.deepEqual(o1.warnings, []);
  assert.equal(checkLayout(join(dir, 'a')).length, 3);

  const inspected = JSON.parse(
    run('skopeo', ['inspect', '--override-os', 'windows', `oci:${join(dir, 'b')}:v1`]).toString(),
  ) as Record<string, unknown>;
  assert.equal(inspected.Os, 'windows');
  assert.equal(inspected.Digest, o1.descriptor.digest);
  const cfg = JSON.parse(blob(join(dir, 'a'), manifestOf(join(dir, 'a')).config.digest).toString()) as Record<
    string,
    unknown
  >;
  assert.equal(cfg['os.version'], '10.0.20348.2113');
  assert.equal(cfg.created, '2023-11-14T22:13:20Z');
  assert.deepEqual(cfg.config, { Env: ['A=1'], Cmd: ['cmd.exe'], Labels: { x: 'y' } });

  const layer = manifestOf(join(dir, 'a')).layers[0]!;
  assert.equal(layer.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
  const entries = await layerEntries(join(dir, 'a'), layer);
  assert.deepEqual([...entries.keys()].slice(0, 2), ['Files', 'Files/Windows']);
  assert.deepEqual(entries.get('Files/app/sub/hello-link.txt'), { kind: 'hardlink', link: 'Files/app/hello.txt' });
  assert.deepEqual(entries.get('Files/app/link'), { kind: 'symlink', link: 'hello.txt' });
  for (const h of ['DEFAULT', 'SAM', 'SECURITY', 'SOFTWARE', 'SYSTEM'])
    assert.equal(entries.get(`Files/Windows/System32/config/${h}`)?.kind, 'file');
  // the five hive files are valid, clean regf hives
  let hives = 0;
  for await (const e of readTar(createReadStream(join(dir, 'a/blobs/sha256', layer.digest.slice(7))))) {
    if (e.kind === 'file' && e.path.startsWith('Files/Windows/System32/config/')) {
      const parts: Buffer[] = [];
      for await (const c of e.body) parts.push(Buffer.from(c));
      const report = checkHive(Buffer.concat(parts));
      assert.deepEqual({ errors: report.errors, dirty: report.dirty }, { errors: [], dirty: false }, e.path);
      hives++;
    }
  }
  assert.equal(hives, 5);
});

test('image create → docker archive: skopeo inspects and copies it, openSource detects it; --zstd', async (t) => {
  if (!requireTool(t, 'skopeo')) return;
  const dir = tempDir(t);
  const root = makeRootfs(dir);
  const archive = join(dir, 'img.tar');
  const r = await runCli(
    ['image', 'create', root, '-o', archive, '--tag', 'winlayer/test:1', '--platform', 'windows/amd64:10.0.17763.1'],
    { env: EPOCH },
  );
  assert.equal(r.code, 0, r.stderr);
  const inspected = JSON.parse(
    run('skopeo', ['inspect', '--override-os', 'windows', `docker-archive:${archive}`]).toString(),
  ) as Record<string, unknown>;
  assert.equal(inspected.Os, 'windows');
  assert.equal((await openSource(archive)).kind, 'docker-archive');
  await assert.rejects(openSource(root), /neither an OCI layout/);
  run('skopeo', ['copy', '--override-os', 'windows', `docker-archive:${archive}`, `oci:${join(dir, 'copied')}:x`]);
  checkLayout(join(dir, 'copied'));
  // our reader opens the archive and writes the same manifest into a layout
  const back = await runCli([
    'image',
    'platform',
    archive,
    '--platform',
    'windows/amd64:10.0.17763.1',
    '-o',
    join(dir, 'from-archive'),
  ]);
  assert.equal(back.code, 0, back.stderr);
  checkLayout(join(dir, 'from-archive'));

  // an archive skopeo writes (uncompressed layers, docker-save names) opens too: its layers are the diff_ids
  const skopeoArchive = join(dir, 'by-skopeo.tar');
  run('skopeo', [
    'copy',
    '--override-os',
    'windows',
    `docker-archive:${archive}`,
    `docker-archive:${skopeoArchive}:x/y:1`,
  ]);
  const viaSkopeo = await runCli([
    'image',
    'platform',
    skopeoArchive,
    '--platform',
    'windows/amd64:10.0.17763.1',
    '-o',
    join(dir, 'via'),
  ]);
  assert.equal(viaSkopeo.code, 0, viaSkopeo.stderr);
  const viaCfg = JSON.parse(blob(join(dir, 'via'), manifestOf(join(dir, 'via')).config.digest).toString()) as {
    rootfs: { diff_ids: string[] };
  };
  assert.deepEqual(
    manifestOf(join(dir, 'via')).layers.map((l) => l.digest),
    viaCfg.rootfs.diff_ids,
  );
  checkLayout(join(dir, 'via'));

  const z = await runCli(['image', 'create', root, '-o', join(dir, 'z'), '--zstd'], { env: EPOCH });
  assert.equal(z.code, 0, z.stderr);
  assert.match(z.stderr, /no os\.version/);
  assert.equal(manifestOf(join(dir, 'z')).layers[0]!.mediaType, 'application/vnd.oci.image.layer.v1.tar+zstd');
  checkLayout(join(dir, 'z'));
  run('skopeo', ['inspect', '--override-os', 'windows', `oci:${join(dir, 'z')}`]);
});

test('image append: plain folder and Linux tar get Files/, base layers stay byte-identical, squash equals base + files', async (t) => {
  if (!requireTool(t, 'tar')) return;
  const dir = tempDir(t);
  const root = makeRootfs(dir);
  assert.equal(
    (
      await runCli(['image', 'create', root, '-o', join(dir, 'base'), '--platform', 'windows/amd64:10.0.20348.1'], {
        env: EPOCH,
      })
    ).code,
    0,
  );
  const base = manifestOf(join(dir, 'base'));

  const add = join(dir, 'add');
  mkdirSync(join(add, 'tools'), { recursive: true });
  writeFileSync(join(add, 'tools/new.exe'), 'MZ');
  linkSync(join(add, 'tools/new.exe'), join(add, 'tools/same.exe'));
  writeFileSync(join(add, 'tools/.wh.gone'), '');
  const linuxTar = join(dir, 'add.tar');
  mkdirSync(join(dir, 'tarsrc/app'), { recursive: true });
  writeFileSync(join(dir, 'tarsrc/app/hello.txt'), 'replaced\n');
  writeFileSync(join(dir, 'tarsrc/app/sub/../.wh.data-dir-placeholder'), '');
  mkdirSync(join(dir, 'tarsrc/app/sub'), { recursive: true });
  writeFileSync(join(dir, 'tarsrc/app/sub/.wh.data.bin'), '');
  run('tar', ['-C', join(dir, 'tarsrc'), '-cf', linuxTar, '.']);

  const r1 = await runCli(['image', 'append', join(dir, 'base'), add, '-o', join(dir, 'one')], { env: EPOCH });
  assert.equal(r1.code, 0, r1.stderr);
  const r2 = await runCli(['image', 'append', join(dir, 'one'), linuxTar, '-o', join(dir, 'two'), '--sd', 'admins'], {
    env: EPOCH,
  });
  assert.equal(r2.code, 0, r2.stderr);
  const two = manifestOf(join(dir, 'two'));
  checkLayout(join(dir, 'two'));
  assert.equal(two.layers.length, 3);
  assert.deepEqual(two.layers[0], base.layers[0], 'base layer descriptor unchanged');
  assert.deepEqual(blob(join(dir, 'two'), two.layers[0]!.digest), blob(join(dir, 'base'), base.layers[0]!.digest));
  assert.equal(two.annotations?.['org.opencontainers.image.base.digest'] !== undefined, true);

  const added = await layerEntries(join(dir, 'two'), two.layers[1]!);
  assert.deepEqual(
    [...added.keys()],
    ['Files', 'Files/tools', 'Files/tools/.wh.gone', 'Files/tools/new.exe', 'Files/tools/same.exe', 'Hives'],
  );
  assert.deepEqual(added.get('Files/tools/same.exe'), { kind: 'hardlink', link: 'Files/tools/new.exe' });
  const fromTar = await layerEntries(join(dir, 'two'), two.layers[2]!);
  assert.equal(fromTar.get('Files/app/hello.txt')?.kind, 'file');
  assert.equal(fromTar.get('Files/app/sub/.wh.data.bin')?.kind, 'whiteout');
  assert.equal([...fromTar.keys()].at(-1), 'Hives');
  assert.ok(![...fromTar.keys()].some((k) => k.includes('./')));

  // a Windows layer tar (layer:FILE) is taken as is: the same entries give the same diff_id
  const one = manifestOf(join(dir, 'one'));
  const layerFile = join(dir, 'blobs-one-layer.tar.gz');
  writeFileSync(layerFile, blob(join(dir, 'one'), one.layers[1]!.digest));
  const again = await runCli(['image', 'append', join(dir, 'base'), `layer:${layerFile}`, '-o', join(dir, 'again')], {
    env: EPOCH,
  });
  assert.equal(again.code, 0, again.stderr);
  const diffIds = (p: string) =>
    (JSON.parse(blob(p, manifestOf(p).config.digest).toString()) as { rootfs: { diff_ids: string[] } }).rootfs.diff_ids;
  assert.deepEqual(diffIds(join(dir, 'again')), diffIds(join(dir, 'one')));
  const inside = await runCli(['image', 'create', root, '-o', join(root, 'out')]);
  assert.equal(inside.code, 2);
  assert.match(inside.stderr, /inside the folder being read/);

  const sq = await runCli(['image', 'squash', join(dir, 'two'), '-o', join(dir, 'squashed')], { env: EPOCH });
  assert.equal(sq.code, 0, sq.stderr);
  const squashed = manifestOf(join(dir, 'squashed'));
  assert.equal(squashed.layers.length, 1);
  checkLayout(join(dir, 'squashed'));
  const got = await layerEntries(join(dir, 'squashed'), squashed.layers[0]!);
  // expected: the base, then layer 2's files, then layer 3's replacement and deletion
  const expected = new Map(await layerEntries(join(dir, 'base'), base.layers[0]!));
  for (const [k, v] of added) if (k !== 'Hives' && v.kind !== 'whiteout') expected.set(k, v);
  expected.set('Files/app/hello.txt', fromTar.get('Files/app/hello.txt')!);
  expected.delete('Files/app/sub/data.bin');
  // the base's hard link still names the old hello.txt: it becomes a file holding that content
  expected.set('Files/app/sub/hello-link.txt', {
    kind: 'file',
    sha: createHash('sha256').update('hello\n').digest('hex'),
  });
  const strip = (m: Map<string, Seen>) => [...m.entries()].map(([k, v]) => `${k} ${JSON.stringify(v)}`).sort();
  assert.deepEqual(strip(got), strip(expected));
  assert.ok(![...got.keys()].some((k) => k.startsWith('Hives')));
  // the squashed layer is written in the one order of everything we write: parents first, siblings by UTF-8 bytes
  const order = [...got.keys()];
  const byComponents = (a: string, b: string): number => {
    const x = a.split('/');
    const y = b.split('/');
    for (let i = 0; i < Math.min(x.length, y.length); i++) {
      const c = compareUtf8(x[i]!, y[i]!);
      if (c !== 0) return c;
    }
    return x.length - y.length;
  };
  assert.deepEqual(order, [...order].sort(byComponents));
});

test('image append refuses opaque whiteouts and absolute symlinks (unless --symlinks skip)', async (t) => {
  if (!requireTool(t, 'tar')) return;
  const dir = tempDir(t);
  const root = makeRootfs(dir);
  assert.equal((await runCli(['image', 'create', root, '-o', join(dir, 'base')], { env: EPOCH })).code, 0);
  mkdirSync(join(dir, 'opq/d'), { recursive: true });
  writeFileSync(join(dir, 'opq/d/.wh..wh..opq'), '');
  run('tar', ['-C', join(dir, 'opq'), '-cf', join(dir, 'opq.tar'), '.']);
  const r = await runCli(['image', 'append', join(dir, 'base'), join(dir, 'opq.tar'), '-o', join(dir, 'out')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /opaque whiteout/);
  assert.equal(existsSync(join(dir, 'out')), false, 'nothing written');

  mkdirSync(join(dir, 'abs'), { recursive: true });
  symlinkSync('/etc/passwd', join(dir, 'abs/pw'));
  writeFileSync(join(dir, 'abs/ok.txt'), 'ok');
  const refused = await runCli(['image', 'append', join(dir, 'base'), join(dir, 'abs'), '-o', join(dir, 'out')]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /is an absolute path/);
  const skipped = await runCli([
    'image',
    'append',
    join(dir, 'base'),
    join(dir, 'abs'),
    '-o',
    join(dir, 'out'),
    '--symlinks',
    'skip',
  ]);
  assert.equal(skipped.code, 0, skipped.stderr);
  assert.match(skipped.stderr, /skipped Files\/pw/);
});

test('image platform and image index: an index over two os.versions, pushed and pulled by platform', async (t) => {
  if (!requireTool(t, 'docker-registry') || !requireTool(t, 'skopeo')) return;
  const dir = tempDir(t);
  const img = makeTestImage(join(dir, 'img'), [20_000], 'test', '10.0.17763.1');
  const p = await runCli([
    'image',
    'platform',
    img.dir,
    '--platform',
    'windows/amd64:10.0.20348.2113',
    '-o',
    join(dir, 'ltsc2022'),
  ]);
  assert.equal(p.code, 0, p.stderr);
  const m2 = manifestOf(join(dir, 'ltsc2022'));
  assert.deepEqual(
    m2.layers,
    img.layers.map((l) => ({ ...l })),
    'layers untouched',
  );
  const idx = await runCli(['image', 'index', '-o', join(dir, 'index'), img.dir, join(dir, 'ltsc2022')]);
  assert.equal(idx.code, 0, idx.stderr);
  const all = checkLayout(join(dir, 'index'));
  const index = JSON.parse(blob(join(dir, 'index'), all[0]!.digest).toString()) as { manifests: Desc[] };
  assert.deepEqual(
    index.manifests.map((m) => m.platform?.['os.version']),
    ['10.0.17763.1', '10.0.20348.2113'],
  );
  const dup = await runCli(['image', 'index', '-o', join(dir, 'dup'), img.dir, img.dir]);
  assert.equal(dup.code, 1);

  const reg = await startRegistry(t, dir, 'open');
  const push = await runCli(['push', join(dir, 'index'), `${reg.host}/win/multi:1`, '--insecure']);
  assert.equal(push.code, 0, push.stderr);
  const raw = JSON.parse(
    run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/win/multi:1`]).toString(),
  ) as { manifests: Desc[] };
  assert.equal(raw.manifests.length, 2);
  const pull = await runCli([
    'pull',
    `${reg.host}/win/multi:1`,
    '-o',
    join(dir, 'pulled'),
    '--platform',
    'windows/amd64:10.0.20348',
    '--insecure',
    '--json',
  ]);
  assert.equal(pull.code, 0, pull.stderr);
  assert.equal((JSON.parse(pull.stdout) as { platform: string }).platform, 'windows/amd64:10.0.20348.2113');
  checkLayout(join(dir, 'pulled'));
  const none = await runCli([
    'pull',
    `${reg.host}/win/multi:1`,
    '-o',
    join(dir, 'none'),
    '--platform',
    'windows/amd64:10.0.26100',
    '--insecure',
  ]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /10\.0\.17763\.1, windows\/amd64:10\.0\.20348\.2113/);
  // append onto the registry image, pushed back to the same registry: the base layer is not uploaded again
  const add = join(dir, 'add');
  mkdirSync(add);
  writeFileSync(join(add, 'x.txt'), 'x');
  const before = registryBlobs(reg).size;
  const ap = await runCli(
    [
      'image',
      'append',
      `docker://${reg.host}/win/multi:1`,
      add,
      '-o',
      `docker://${reg.host}/win/app:1`,
      '--platform',
      'windows/amd64:10.0.20348',
      '--insecure',
      '--json',
    ],
    { env: EPOCH },
  );
  assert.equal(ap.code, 0, ap.stderr);
  const pushed = (JSON.parse(ap.stdout) as { push: { blobs: { uploaded: number; mounted: number } } }).push.blobs;
  assert.deepEqual(pushed, { uploaded: 2, existed: 0, mounted: 1, skippedForeign: 0 });
  assert.equal(registryBlobs(reg).size, before + 3, 'new layer, config and manifest only');
});

interface IndexEntry {
  digest: string;
  annotations?: Record<string, string>;
}

function indexEntries(dir: string): IndexEntry[] {
  return (JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: IndexEntry[] }).manifests;
}

function blobNames(dir: string): string[] {
  return readdirSync(join(dir, 'blobs/sha256')).sort();
}

test('image create / append onto an existing OCI layout add the image: the tag moves, other images and blobs stay', async (t) => {
  const dir = tempDir(t);
  const root = makeRootfs(dir);
  const out = join(dir, 'app');
  const v1 = await runCli(['image', 'create', root, '-o', `oci:${out}:v1`, '--json'], { env: EPOCH });
  assert.equal(v1.code, 0, v1.stderr);
  const v1Digest = (JSON.parse(v1.stdout) as { descriptor: Desc }).descriptor.digest;
  const v1Blobs = blobNames(out);

  // append onto the same layout, as a second tag: source and destination are the same folder
  const more = join(dir, 'more');
  mkdirSync(more);
  writeFileSync(join(more, 'extra.txt'), 'extra');
  const v2 = await runCli(['image', 'append', `oci:${out}:v1`, more, '-o', `oci:${out}:v2`, '--json'], { env: EPOCH });
  assert.equal(v2.code, 0, v2.stderr);
  const v2Digest = (JSON.parse(v2.stdout) as { descriptor: Desc }).descriptor.digest;
  assert.deepEqual(
    indexEntries(out).map((e) => [e.digest, e.annotations?.[REF_NAME_KEY]]),
    [
      [v1Digest, 'v1'],
      [v2Digest, 'v2'],
    ],
  );
  for (const b of v1Blobs) assert.ok(blobNames(out).includes(b), `blob ${b} of v1 stays`);
  checkLayout(out);
  assert.deepEqual(
    readdirSync(dir).filter((n) => n.includes('winlayer-')),
    [],
    'no temporary left beside',
  );
  assert.deepEqual(
    blobNames(out).filter((n) => n.startsWith('.')),
    [],
    'no temporary left among the blobs',
  );

  // the tag v1 moves to a new image; the old v1 stays, untagged, and can be named by its digest
  writeFileSync(join(root, 'app/new.txt'), 'new');
  const again = await runCli(['image', 'create', root, '-o', `oci:${out}:v1`], { env: EPOCH });
  assert.equal(again.code, 0, again.stderr);
  const entries = indexEntries(out);
  assert.equal(entries.length, 3);
  assert.deepEqual(entries[0], { ...entries[0], digest: v1Digest });
  assert.equal(entries[0]!.annotations?.[REF_NAME_KEY], undefined, 'the old v1 lost its tag');
  assert.equal(entries.filter((e) => e.annotations?.[REF_NAME_KEY] === 'v1').length, 1);
  const old = await runCli(['ls', `oci:${out}@${v1Digest}`]);
  assert.equal(old.code, 0, old.stderr);
  assert.doesNotMatch(old.stdout, /new\.txt/);
  const cur = await runCli(['ls', `oci:${out}:v1`]);
  assert.match(cur.stdout, /Files\/app\/new\.txt/);
  // what the command printed names the image it wrote
  const printed = /^wrote (\S+)$/m.exec(again.stdout)?.[1];
  assert.match(printed ?? '', /^oci:.*:v1@sha256:/);
  assert.equal((await runCli(['ls', printed!])).stdout, cur.stdout);
  assert.equal((await runCli(['ls', `oci:${out}:v2@${v1Digest}`])).code, 2, 'tag and digest must agree');
  // without a name, a layout of several images of one platform is refused, never a silent pick
  const unnamed = await runCli(['ls', out]);
  assert.equal(unnamed.code, 2, unnamed.stderr);
  assert.match(unnamed.stderr, /holds 3 images: name one/);
  assert.match(unnamed.stderr, new RegExp(`tags: v2, v1; untagged: ${v1Digest}`));

  // writing the same image again adds nothing
  const same = await runCli(['image', 'create', root, '-o', `oci:${out}:v1`], { env: EPOCH });
  assert.equal(same.code, 0, same.stderr);
  assert.deepEqual(indexEntries(out), entries);
  if (hasTool('skopeo')) {
    for (const tag of ['v1', 'v2']) run('skopeo', ['inspect', `oci:${out}:${tag}`]);
  }
});

test('an untagged destination adds an untagged image once; a blob damaged in the layout is written again', async (t) => {
  const dir = tempDir(t);
  const root = makeRootfs(dir);
  const out = join(dir, 'plain');
  const first = await runCli(['image', 'create', root, '-o', out], { env: EPOCH });
  assert.equal(first.code, 0, first.stderr);
  const [entry] = indexEntries(out);
  const layer = manifestOf(out).layers[0]!;
  writeFileSync(join(out, 'blobs/sha256', layer.digest.slice(7)), 'damaged');
  const second = await runCli(['image', 'create', root, '-o', out], { env: EPOCH });
  assert.equal(second.code, 0, second.stderr);
  assert.deepEqual(indexEntries(out), [entry], 'the same untagged image is not listed twice');
  checkLayout(out);
});

test('an existing docker archive is refused unless --force; --platform linux/… and a file as rootfs are usage errors', async (t) => {
  const dir = tempDir(t);
  const root = makeRootfs(dir);
  const tar = join(dir, 'img.tar');
  const first = await runCli(['image', 'create', root, '-o', tar, '--tag', 'one:1'], { env: EPOCH });
  assert.equal(first.code, 0, first.stderr);
  const before = readFileSync(tar);
  const refused = await runCli(['image', 'create', root, '-o', tar, '--tag', 'two:2'], { env: EPOCH });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /the docker archive exists.*\(LAYER_EXISTS\)\n {2}hint: pass --force/);
  assert.deepEqual(readFileSync(tar), before, 'the archive is untouched');
  const squash = await runCli(['image', 'squash', tar, '-o', `docker-archive:${tar}`], { env: EPOCH });
  assert.equal(squash.code, 1, squash.stderr);
  assert.match(squash.stderr, /LAYER_EXISTS/);
  const forced = await runCli(['image', 'create', root, '-o', tar, '--tag', 'two:2', '--force'], { env: EPOCH });
  assert.equal(forced.code, 0, forced.stderr);
  assert.notDeepEqual(readFileSync(tar), before);

  const linux = await runCli(['image', 'create', root, '-o', join(dir, 'lin'), '--platform', 'linux/amd64']);
  assert.equal(linux.code, 2);
  assert.match(linux.stderr, /^error: .*linux\/amd64 is not windows\n/);
  assert.equal(existsSync(join(dir, 'lin')), false);
  const file = await runCli(['image', 'create', join(root, 'app/hello.txt'), '-o', join(dir, 'f')]);
  assert.equal(file.code, 2);
  assert.match(file.stderr, /hello\.txt: the root file system must be a folder/);
  // a destination that is neither a layout nor an empty folder is refused before the layer is built
  const notLayout = join(dir, 'notes');
  writeFileSync(notLayout, 'keep');
  const beside = readdirSync(dir).sort();
  const refusedLayout = await runCli(['image', 'create', root, '-o', notLayout], { env: EPOCH });
  assert.equal(refusedLayout.code, 1, refusedLayout.stderr);
  assert.match(refusedLayout.stderr, /notes: the destination exists and is not an OCI layout \(LAYER_EXISTS\)/);
  assert.equal(readFileSync(notLayout, 'utf8'), 'keep');
  assert.deepEqual(readdirSync(dir).sort(), beside, 'nothing staged beside it');
});
