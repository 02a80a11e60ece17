/**
 * ls, lint and diff read every source kind they can be given: a layer tar (file and stdin), a layer folder, an OCI
 * layout and a docker archive (both built here by hand from layers winlayer exported and Python wrote), per layer and
 * with --flatten; ls --html writes its page from each; and a registry reference (Debian's docker-registry, the
 * image copied there by skopeo).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { gunzipSync } from 'node:zlib';
import type { LintReport } from '../src/inspect/index.js';
import { skopeoTls, startRegistry } from './fixtures-registry/harness.js';
import { runCli } from './helpers/cli.js';
import { type PyEntry, pyTar } from './helpers/pytar.js';
import { requireTool, run, tempDir } from './helpers/tools.js';

const SD_USERS = 'AQAAgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAhAgAAAQIAAAAAAAUgAAAAIQIAAA==';
const WIN = { 'MSWINDOWS.rawsd': SD_USERS, 'LIBARCHIVE.creationtime': '1700000000' };

const sha = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

interface Built {
  readonly dir: string;
  readonly base: string; // exported base layer (gzip)
  readonly top: string; // a non-base layer (plain tar)
  readonly oci: string;
  readonly archive: string;
  readonly folder: string;
}

/** A base layer exported by winlayer (gzip) and a non-base layer that adds a file and deletes one. */
async function layers(t: TestContext): Promise<Omit<Built, 'oci' | 'archive'>> {
  const dir = tempDir(t);
  const folder = join(dir, 'base');
  mkdirSync(join(folder, 'Files/app'), { recursive: true });
  writeFileSync(join(folder, 'Files/app/app.exe'), 'MZ'.repeat(500));
  writeFileSync(join(folder, 'Files/readme.txt'), 'hello');
  assert.equal((await runCli(['makebaselayer', '--quiet', folder])).code, 0);
  const base = join(dir, 'base.tar.gz');
  assert.equal((await runCli(['export', '--quiet', folder, '-o', base, '--gzip'])).code, 0);
  const entries: PyEntry[] = [
    { name: 'Files', type: 'dir', pax: { ...WIN, 'MSWINDOWS.fileattr': '16' } },
    { name: 'Files/.wh.readme.txt', type: 'file', data: '', mode: 0 },
    { name: 'Files/app', type: 'dir', pax: { ...WIN, 'MSWINDOWS.fileattr': '16' } },
    { name: 'Files/app/new.txt', type: 'file', data: 'new', pax: { ...WIN, 'MSWINDOWS.fileattr': '32' } },
    { name: 'Hives', type: 'dir', pax: { ...WIN, 'MSWINDOWS.fileattr': '16' } },
  ];
  const top = pyTar(dir, 'top.tar', entries);
  return { dir, base, top, folder };
}

interface ImageOpts {
  readonly os?: string;
  readonly osVersion?: string | null;
  readonly badDiffId?: boolean;
  /** Leave the last diff_id out of the config. */
  readonly dropDiffId?: boolean;
  /** Give layer 1 the non-distributable media type and a URL, as Microsoft's base layers had. */
  readonly foreign?: boolean;
}

function config(files: readonly string[], o: ImageOpts): Buffer {
  const diffIds = files.map((f, i) => {
    const raw = readFileSync(f);
    const plain = raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw;
    return o.badDiffId === true && i === 1 ? sha(Buffer.from('not this')) : sha(plain);
  });
  return Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: o.os ?? 'windows',
      ...(o.osVersion === null ? {} : { 'os.version': o.osVersion ?? '10.0.20348.2582' }),
      rootfs: { type: 'layers', diff_ids: o.dropDiffId === true ? diffIds.slice(0, -1) : diffIds },
    }),
  );
}

/** Writes an OCI image layout holding one image made of `files` (in order). */
function ociLayout(dir: string, files: readonly string[], o: ImageOpts = {}): string {
  mkdirSync(join(dir, 'blobs/sha256'), { recursive: true });
  const put = (b: Buffer) => {
    const d = sha(b);
    writeFileSync(join(dir, 'blobs/sha256', d.slice(7)), b);
    return { digest: d, size: b.length };
  };
  const cfg = put(config(files, o));
  const layerDescs = files.map((f, i) => {
    const b = readFileSync(f);
    const gz = b[0] === 0x1f && b[1] === 0x8b;
    if (o.foreign === true && i === 0) {
      return {
        mediaType: `application/vnd.oci.image.layer.nondistributable.v1.tar${gz ? '+gzip' : ''}`,
        ...put(b),
        urls: ['https://mcr.example.invalid/blob'],
      };
    }
    return { mediaType: `application/vnd.oci.image.layer.v1.tar${gz ? '+gzip' : ''}`, ...put(b) };
  });
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...cfg },
      layers: layerDescs,
    }),
  );
  const m = put(manifest);
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...m }],
    }),
  );
  return dir;
}

/** Writes a docker archive (`docker save` shape) holding one image made of `files`, packed with GNU tar. */
function dockerArchive(dir: string, out: string, files: readonly string[]): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), config(files, {}));
  const names = files.map((f, i) => {
    const name = `layer${i}.tar${f.endsWith('.gz') ? '.gz' : ''}`;
    writeFileSync(join(dir, name), readFileSync(f));
    return name;
  });
  writeFileSync(
    join(dir, 'manifest.json'),
    JSON.stringify([{ Config: 'config.json', RepoTags: ['test:1'], Layers: names }]),
  );
  run('tar', ['-C', dir, '-cf', out, 'manifest.json', 'config.json', ...names]);
  return out;
}

async function build(t: TestContext): Promise<Built> {
  const l = await layers(t);
  const oci = ociLayout(join(l.dir, 'oci'), [l.base, l.top]);
  const archive = dockerArchive(join(l.dir, 'da'), join(l.dir, 'image.tar'), [l.base, l.top]);
  return { ...l, oci, archive };
}

const paths = (stdout: string) =>
  stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { path: string; layer?: number })
    .map((e) => (e.layer === undefined ? e.path : `${e.layer} ${e.path}`));

describe('every source kind', () => {
  it('ls lists an image layer by layer with header lines, and --json marks the layer', async (t) => {
    if (!requireTool(t, 'python3')) return;
    const b = await build(t);
    for (const src of [`oci:${b.oci}`, b.oci, `docker-archive:${b.archive}`, b.archive]) {
      const text = await runCli(['ls', src]);
      assert.equal(text.code, 0, text.stderr);
      const headers = text.stdout.split('\n').filter((l) => l.startsWith('== '));
      assert.equal(headers.length, 2, src);
      assert.match(headers[0]!, /^== layer 1\/2 sha256:[0-9a-f]{64} \(base\)$/);
      assert.match(headers[1]!, /^== layer 2\/2 sha256:[0-9a-f]{64}$/);
      const json = await runCli(['ls', '--json', src]);
      const listed = paths(json.stdout);
      assert.ok(listed.includes('1 Files/readme.txt'));
      assert.ok(listed.includes('2 Files/app/new.txt'));
      assert.ok(listed.includes('2 Files/.wh.readme.txt'));
    }
  });

  it('ls --flatten applies the layers: the whiteout deletes, the new file appears, parents first', async (t) => {
    if (!requireTool(t, 'python3')) return;
    const b = await build(t);
    const r = await runCli(['ls', '--json', '--flatten', `oci:${b.oci}`]);
    assert.equal(r.code, 0, r.stderr);
    const listed = paths(r.stdout);
    assert.ok(!listed.includes('Files/readme.txt'));
    assert.ok(!listed.some((p) => p.includes('.wh.')));
    assert.ok(listed.includes('Files/app/new.txt'));
    assert.ok(listed.includes('Files/app/app.exe'));
    assert.equal(listed.filter((p) => p === 'Files/app').length, 1);
    assert.equal(listed.filter((p) => p === 'Files').length, 1);
    assert.ok(!listed.includes('Hives'));
    // The flattened layer is a clean base layer (hives from layer 1; registry deltas are left out).
    const lint = await runCli(['lint', '--json', '--flatten', `oci:${b.oci}`]);
    const report = JSON.parse(lint.stdout) as LintReport;
    assert.deepEqual(report.findings, []);
    assert.equal(lint.code, 0);
  });

  it('ls --long shows the SDDL of each entry, from a tar, stdin and a layer folder', async (t) => {
    if (!requireTool(t, 'python3')) return;
    const b = await build(t);
    for (const [src, stdin] of [
      [b.base, undefined],
      [`layer:${b.base}`, undefined],
      ['-', readFileSync(b.base)],
      [`dir:${b.folder}`, undefined],
      [b.folder, undefined],
    ] as const) {
      const r = await runCli(['ls', '--long', src], stdin === undefined ? {} : { stdin });
      assert.equal(r.code, 0, `${src}: ${r.stderr}`);
      assert.match(r.stdout, /Files\/readme\.txt\n {4}sd: O:BUG:BU\n/, src);
      assert.doesNotMatch(r.stdout, /^== /m);
    }
  });

  it('ls --long shows extended attributes, and alternate data streams as file:stream entries', async (t) => {
    if (!requireTool(t, 'python3')) return;
    const dir = tempDir(t);
    const tar = pyTar(dir, 'ea.tar', [
      { name: 'Files', type: 'dir', pax: { ...WIN, 'MSWINDOWS.fileattr': '16' } },
      {
        name: 'Files/a.exe',
        type: 'file',
        data: 'MZ',
        pax: { ...WIN, 'MSWINDOWS.fileattr': '32', 'MSWINDOWS.xattr.$KERNEL.PURGE.ESBCACHE': 'AAEC' },
      },
      // hcsshim writes ADS entries in PAX format with the times and no MSWINDOWS.* records.
      {
        name: 'Files/a.exe:Zone.Identifier',
        type: 'file',
        data: '[ZoneTransfer]\r\nZoneId=3\r\n',
        pax: { atime: '1700000000', ctime: '1700000000' },
      },
      { name: 'Hives', type: 'dir', pax: { ...WIN, 'MSWINDOWS.fileattr': '16' } },
    ]);
    const r = await runCli(['ls', '--long', tar]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Files\/a\.exe\n {4}sd: O:BUG:BU\n {4}ea: \$KERNEL\.PURGE\.ESBCACHE=AAEC\n/);
    assert.match(r.stdout, /^stream .* Files\/a\.exe:Zone\.Identifier$/m);
    const lint = await runCli(['lint', '--json', tar]);
    assert.deepEqual((JSON.parse(lint.stdout) as LintReport).findings, []);
  });

  it('lint: a clean image exits 0; wrong os, missing os.version and a wrong diff_id are found', async (t) => {
    if (!requireTool(t, 'python3')) return;
    const b = await build(t);
    for (const src of [`oci:${b.oci}`, b.archive]) {
      const r = await runCli(['lint', '--json', src]);
      const report = JSON.parse(r.stdout) as LintReport;
      assert.deepEqual(report.findings, [], src);
      assert.equal(r.code, 0);
      assert.equal(report.base, true);
    }
    const bad = ociLayout(join(b.dir, 'bad'), [b.base, b.top], { os: 'linux', badDiffId: true });
    const r = await runCli(['lint', '--json', bad]);
    const report = JSON.parse(r.stdout) as LintReport;
    assert.deepEqual(
      report.findings.map((f) => `${f.rule}${f.layer === undefined ? '' : ` @${f.layer.split(' ')[1]}`}`),
      ['image-os-not-windows', 'diff-id-mismatch @2/2'],
    );
    assert.equal(r.code, 1);
    const fewer = ociLayout(join(b.dir, 'fewer'), [b.base, b.top], { dropDiffId: true });
    const f = JSON.parse((await runCli(['lint', '--json', fewer])).stdout) as LintReport;
    assert.deepEqual(
      f.findings.map((x) => x.rule),
      ['image-invalid'],
    );
    // A foreign (non-distributable) base layer: a warning; when its blob is not stored, it is not linted.
    const foreign = ociLayout(join(b.dir, 'foreign'), [b.base, b.top], { foreign: true });
    const fr = await runCli(['lint', '--json', foreign]);
    assert.deepEqual(
      (JSON.parse(fr.stdout) as LintReport).findings.map((x) => `${x.rule} ${x.layer?.split(' ')[1]}`),
      ['foreign-layer 1/2'],
    );
    assert.equal(fr.code, 0);
    const gz = readFileSync(b.base);
    rmSync(join(foreign, 'blobs/sha256', sha(gz).slice(7)));
    const gone = await runCli(['lint', '--json', foreign]);
    const goneReport = JSON.parse(gone.stdout) as LintReport;
    assert.deepEqual(
      goneReport.findings.map((x) => x.rule),
      ['foreign-layer'],
    );
    assert.match(goneReport.findings[0]!.message, /not stored here/);
    const noVersion = ociLayout(join(b.dir, 'nover'), [b.base], { osVersion: null });
    const v = await runCli(['lint', '--json', noVersion]);
    assert.deepEqual(
      (JSON.parse(v.stdout) as LintReport).findings.map((f) => f.rule),
      ['os-version-missing'],
    );
    assert.equal(v.code, 0);
  });

  it('diff: the same image as OCI layout and docker archive is equal; a layer against its folder too', async (t) => {
    if (!requireTool(t, 'python3')) return;
    const b = await build(t);
    const r = await runCli(['diff', `oci:${b.oci}`, `docker-archive:${b.archive}`]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal((await runCli(['diff', b.base, `dir:${b.folder}`])).code, 0);
    const one = ociLayout(join(b.dir, 'one'), [b.base]);
    const d = await runCli(['diff', '--json', b.oci, one]);
    assert.equal(d.code, 1);
    // Flattened, the two-layer image differs from its base by exactly the deleted and the added file.
    const f = await runCli(['diff', '--json', '--flatten', one, b.oci]);
    const report = (JSON.parse(f.stdout) as { layers: { report: { added: unknown; removed: unknown } }[] }).layers[0]!
      .report;
    assert.deepEqual(report.added, [{ path: 'Files/app/new.txt', kind: 'file' }]);
    assert.deepEqual(report.removed, [{ path: 'Files/readme.txt', kind: 'file' }]);
  });

  it('ls --html writes a page for each source kind', async (t) => {
    if (!requireTool(t, 'python3')) return;
    const b = await build(t);
    for (const [i, src] of [b.base, b.folder, `oci:${b.oci}`, b.archive].entries()) {
      const out = join(b.dir, `page${i}.html`);
      const r = await runCli(['ls', '--html', out, src]);
      assert.equal(r.code, 0, r.stderr);
      const html = readFileSync(out, 'utf8');
      assert.match(html, /^<!DOCTYPE html>/);
      assert.match(html, /Files\/app\/app\.exe/);
      assert.match(html, /<code>O:BUG:BU<\/code>/);
    }
  });
});

describe('a registry source (docker://)', () => {
  it('ls, lint and diff read an image from a real registry (Debian docker-registry, plain HTTP, --insecure)', async (t) => {
    if (!requireTool(t, 'python3') || !requireTool(t, 'docker-registry') || !requireTool(t, 'skopeo')) return;
    const b = await build(t);
    const reg = await startRegistry(t, b.dir, 'open');
    run('skopeo', ['copy', ...skopeoTls('dest'), `oci:${b.oci}`, `docker://${reg.host}/inspect/test:1`]);
    const ref = `docker://${reg.host}/inspect/test:1`;
    const env = { DOCKER_CONFIG: join(b.dir, 'no-docker-config') };
    const ls = await runCli(['ls', '--insecure', '--json', ref], { env });
    assert.equal(ls.code, 0, ls.stderr);
    assert.ok(paths(ls.stdout).includes('2 Files/app/new.txt'));
    const lint = await runCli(['lint', '--insecure', '--json', ref], { env });
    assert.deepEqual((JSON.parse(lint.stdout) as LintReport).findings, []);
    assert.equal(lint.code, 0, lint.stderr);
    const diff = await runCli(['diff', '--insecure', ref, `oci:${b.oci}`], { env });
    assert.equal(diff.code, 0, diff.stdout + diff.stderr);
    // Without --insecure plain HTTP is refused: an input diff cannot read (exit 2).
    assert.equal((await runCli(['diff', ref, `oci:${b.oci}`], { env })).code, 2);
  });
});
