/**
 * `winlayer lint` on tars other tools write (built with Python's tarfile and GNU tar) and on what winlayer itself
 * writes (export with every --sd preset, plain and compressed): exit codes, rule ids, JSON.
 */
import assert from 'node:assert/strict';
import { copyFileSync, linkSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import type { LintReport } from '../src/inspect/index.js';
import { runCli } from './helpers/cli.js';
import { type PyEntry, pyTar } from './helpers/pytar.js';
import { FIXTURES, requireTool, run, tempDir } from './helpers/tools.js';

const SD_B64 = 'AQAAgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAhAgAAAQIAAAAAAAUgAAAAIQIAAA==';
const WIN = { 'MSWINDOWS.rawsd': SD_B64, 'LIBARCHIVE.creationtime': '1700000000' };
const D = (name: string): PyEntry => ({ name, type: 'dir', pax: { ...WIN, 'MSWINDOWS.fileattr': '16' } });
const F = (name: string, data = 'x'): PyEntry => ({
  name,
  type: 'file',
  data,
  pax: { ...WIN, 'MSWINDOWS.fileattr': '32' },
});

/** A non-base layer (Hives/ present) in the canonical shape: clean. */
const CLEAN_NON_BASE: PyEntry[] = [D('Files'), D('Files/app'), F('Files/app/a.exe'), D('Hives')];

async function lintJson(...args: string[]): Promise<{ code: number; report: LintReport; stderr: string }> {
  const r = await runCli(['lint', '--json', ...args]);
  return { code: r.code, report: JSON.parse(r.stdout || 'null') as LintReport, stderr: r.stderr };
}

const rules = (r: LintReport) => r.findings.map((f) => `${f.rule} ${f.entry ?? ''}`.trim());

function needPython(t: TestContext): boolean {
  return requireTool(t, 'python3');
}

describe('winlayer lint on foreign tars', () => {
  it('a clean non-base layer: exit 0, no findings', async (t) => {
    if (!needPython(t)) return;
    const tar = pyTar(tempDir(t), 'clean.tar', CLEAN_NON_BASE);
    const { code, report } = await lintJson(tar);
    assert.deepEqual(rules(report), []);
    assert.equal(code, 0);
    assert.equal(report.base, false);
  });

  it("crane's unprefixed hard-link target is an error (exit 1)", async (t) => {
    if (!needPython(t)) return;
    const tar = pyTar(tempDir(t), 'crane.tar', [
      ...CLEAN_NON_BASE,
      { name: 'Files/app/b.exe', type: 'link', linkname: 'app/a.exe' },
    ]);
    const { code, report } = await lintJson(tar);
    // crane writes no PAX records at all: the link is also a plain ustar header (a warning).
    assert.deepEqual(rules(report), ['non-pax-entry Files/app/b.exe', 'hardlink-target-unprefixed Files/app/b.exe']);
    assert.equal(code, 1);
    assert.match(report.findings[1]!.hint, /Files\/app\/a\.exe/);
  });

  it('a Linux tar appended without the Files/ prefix', async (t) => {
    if (!needPython(t)) return;
    const tar = pyTar(tempDir(t), 'linux.tar', [...CLEAN_NON_BASE, D('etc'), F('etc/passwd')]);
    const { code, report } = await lintJson(tar);
    assert.deepEqual(rules(report), ['entry-outside-layer etc', 'entry-outside-layer etc/passwd']);
    assert.equal(code, 1);
  });

  it('a FIFO is an unsupported entry type', async (t) => {
    if (!needPython(t)) return;
    const tar = pyTar(tempDir(t), 'fifo.tar', [...CLEAN_NON_BASE, { name: 'Files/app/p', type: 'fifo', pax: WIN }]);
    const { code, report } = await lintJson(tar);
    assert.deepEqual(rules(report), ['unsupported-entry-type Files/app/p']);
    assert.equal(code, 1);
  });

  it("BuildKit's unpadded creation time and Files/-prefixed symlink: warnings, exit 0; --strict exits 1", async (t) => {
    if (!needPython(t)) return;
    const tar = pyTar(tempDir(t), 'buildkit.tar', [
      ...CLEAN_NON_BASE,
      {
        ...F('Files/app/c.txt'),
        pax: { ...WIN, 'MSWINDOWS.fileattr': '32', 'LIBARCHIVE.creationtime': '1700000000.50000000' },
      },
      { name: 'Files/app/l', type: 'sym', linkname: 'Files/app/c.txt', pax: { ...WIN, 'MSWINDOWS.fileattr': '1024' } },
    ]);
    const { code, report } = await lintJson(tar);
    assert.deepEqual(rules(report), ['creation-time-unpadded Files/app/c.txt', 'symlink-target-prefixed Files/app/l']);
    assert.equal(code, 0);
    assert.equal((await runCli(['lint', '--strict', tar])).code, 1);
  });

  it('unknown PAX records, mode 000, ./ names and no rawsd are warnings', async (t) => {
    if (!needPython(t)) return;
    const tar = pyTar(tempDir(t), 'odd.tar', [
      ...CLEAN_NON_BASE,
      { ...F('Files/app/u'), pax: { ...WIN, 'MSWINDOWS.fileattr': '32', 'MSWINDOWS.future': '1' } },
      { ...F('Files/app/m'), mode: 0 },
      { ...F('./Files/app/d') },
      { name: 'Files/app/n', type: 'file', data: 'n', pax: { 'MSWINDOWS.fileattr': '32' } },
    ]);
    const { code, report } = await lintJson(tar);
    assert.deepEqual(rules(report), [
      'unknown-pax-record Files/app/u',
      'name-dot-slash Files/app/d',
      'rawsd-missing Files/app/n',
      'mode-000 Files/app/m', // one finding for every such entry, at the end
    ]);
    assert.ok(report.findings.every((f) => f.severity === 'warning'));
    assert.equal(code, 0);
  });

  it('a folder whose fileattr lacks 0x10, and a child before its parent', async (t) => {
    if (!needPython(t)) return;
    const tar = pyTar(tempDir(t), 'dirattr.tar', [
      ...CLEAN_NON_BASE,
      { ...D('Files/d'), pax: { ...WIN, 'MSWINDOWS.fileattr': '32' } },
      F('Files/later/x'),
      D('Files/later'),
    ]);
    const { code, report } = await lintJson(tar);
    assert.deepEqual(rules(report), ['directory-attribute-missing Files/d', 'parent-missing Files/later/x']);
    assert.equal(code, 1);
  });

  it("GNU tar's default format of a plain base folder: no hives (error), no PAX and trailing / (warnings)", async (t) => {
    if (!requireTool(t, 'tar')) return;
    const dir = tempDir(t);
    mkdirSync(join(dir, 'Files/app'), { recursive: true });
    writeFileSync(join(dir, 'Files/app/a.txt'), 'a');
    const tar = join(dir, 'gnu.tar');
    run('tar', ['--format=gnu', '--sort=name', '-C', dir, '-cf', tar, 'Files']);
    const { code, report } = await lintJson(tar);
    const ids = new Set(report.findings.map((f) => f.rule));
    assert.deepEqual([...ids].sort(), ['base-hive-missing', 'name-trailing-slash', 'non-pax-entry', 'rawsd-missing']);
    assert.equal(report.findings.filter((f) => f.rule === 'base-hive-missing').length, 5);
    assert.equal(code, 1);
    // As a non-base layer the hives are not required: warnings only.
    assert.equal((await runCli(['lint', '--non-base', tar])).code, 0);
  });

  it('a corrupt archive is a finding (exit 1), a missing one exit 2, a bad command line exit 2', async (t) => {
    if (!needPython(t)) return;
    const dir = tempDir(t);
    const tar = pyTar(dir, 'ok.tar', CLEAN_NON_BASE);
    const bytes = readFileSync(tar);
    bytes.writeUInt8(bytes.readUInt8(1024 + 148) ^ 1, 1024 + 148); // break the checksum of the second header
    const bad = join(dir, 'bad.tar');
    writeFileSync(bad, bytes);
    const { code, report } = await lintJson(bad);
    assert.equal(code, 1);
    assert.deepEqual(
      report.findings.map((f) => f.rule),
      ['archive-corrupt'],
    );
    assert.equal((await runCli(['lint', join(dir, 'missing.tar')])).code, 2);
    assert.equal((await runCli(['lint'])).code, 2);
    assert.equal((await runCli(['lint', '--base', '--non-base', tar])).code, 2);
  });

  it('text output names the rule, the entry and the hint', async (t) => {
    if (!needPython(t)) return;
    const tar = pyTar(tempDir(t), 'linux.tar', [...CLEAN_NON_BASE, F('passwd')]);
    const r = await runCli(['lint', tar]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^error {3}entry-outside-layer {2}passwd: "passwd" is not one of Files, UtilityVM, Hives$/m);
    assert.match(r.stdout, /^ {4}hint: /m);
    assert.match(r.stdout, /^1 error, 0 warnings in 5 entries \(non-base layer\)$/m);
  });
});

describe('everything winlayer writes lints with no error', () => {
  /** A base-layer folder with hard links and a UtilityVM, made whole by makebaselayer. */
  async function baseFolder(t: TestContext): Promise<string> {
    const dir = join(tempDir(t), 'layer');
    mkdirSync(join(dir, 'Files/Program Files/app'), { recursive: true });
    writeFileSync(join(dir, 'Files/Program Files/app/app.exe'), 'MZ app');
    writeFileSync(join(dir, 'Files/readme.txt'), 'hello');
    linkSync(join(dir, 'Files/readme.txt'), join(dir, 'Files/readme-link.txt'));
    mkdirSync(join(dir, 'UtilityVM/Files/EFI/Microsoft/Boot'), { recursive: true });
    copyFileSync(
      join(FIXTURES, 'hives/valid/imgutil-minimal-BCD'),
      join(dir, 'UtilityVM/Files/EFI/Microsoft/Boot/BCD'),
    );
    const r = await runCli(['makebaselayer', '--quiet', dir]);
    assert.equal(r.code, 0, r.stderr);
    return dir;
  }

  for (const [label, flags] of [
    ['--sd users', ['--sd', 'users']],
    ['--sd admins, gzip', ['--sd', 'admins', '--gzip']],
    ['--sd none, zstd', ['--sd', 'none', '--zstd']],
    ['--dir-sd/--file-sd', ['--dir-sd', 'O:SYG:SYD:(A;OICI;FA;;;SY)', '--file-sd', 'O:SYG:SYD:(A;;FA;;;SY)']],
  ] as const) {
    it(`export ${label}`, async (t) => {
      const dir = await baseFolder(t);
      const out = join(dir, '..', 'layer.tar');
      const e = await runCli(['export', '--quiet', dir, '-o', out, ...flags]);
      assert.equal(e.code, 0, e.stderr);
      const { code, report } = await lintJson(out);
      assert.deepEqual(
        report.findings.filter((f) => f.severity === 'error').map((f) => `${f.rule} ${f.entry}`),
        [],
      );
      assert.equal(code, 0);
      assert.equal(report.base, true);
      // Only --sd none may leave warnings (no rawsd); the others are spotless.
      if (!label.includes('none')) assert.deepEqual(rules(report), []);
      else assert.ok(report.findings.every((f) => f.rule === 'rawsd-missing'));
    });
  }

  it('a folder written by import lints clean, and so does its re-export', async (t) => {
    const dir = await baseFolder(t);
    const tar = join(dir, '..', 'layer.tar');
    assert.equal((await runCli(['export', '--quiet', dir, '-o', tar, '--sd', 'admins'])).code, 0);
    const imported = join(dir, '..', 'imported');
    const i = await runCli(['import', '--quiet', imported, '-i', tar]);
    assert.equal(i.code, 0, i.stderr);
    const { code, report } = await lintJson(imported);
    assert.deepEqual(rules(report), []);
    assert.equal(code, 0);
    const again = join(dir, '..', 'again.tar.zst');
    assert.equal((await runCli(['export', '--quiet', imported, '-o', again, '--zstd'])).code, 0);
    assert.deepEqual(rules((await lintJson(again)).report), []);
  });

  it('images: create (every --sd), append, squash lint with no error; squash equals the applied layers', async (t) => {
    const dir = tempDir(t);
    const rootfs = new URL('../examples/rootfs', import.meta.url).pathname;
    const add = join(dir, 'add');
    mkdirSync(join(add, 'bin'), { recursive: true });
    writeFileSync(join(add, 'bin/tool.exe'), 'MZ tool');
    const errors = async (src: string) => {
      const { code, report } = await lintJson(src);
      assert.equal(code, 0, `${src}: ${JSON.stringify(report.findings)}`);
      return report.findings.filter((f) => f.severity === 'error');
    };
    for (const sd of ['users', 'admins', 'none']) {
      const img = join(dir, `img-${sd}`);
      const c = await runCli([
        'image',
        'create',
        rootfs,
        '-o',
        img,
        '--sd',
        sd,
        '--platform',
        'windows/amd64:10.0.20348.1',
        '--quiet',
      ]);
      assert.equal(c.code, 0, c.stderr);
      assert.deepEqual(await errors(img), []);
    }
    const appended = join(dir, 'appended.tar');
    const a = await runCli(['image', 'append', join(dir, 'img-users'), add, '-o', appended, '--quiet']);
    assert.equal(a.code, 0, a.stderr);
    assert.deepEqual(await errors(appended), []);
    const squashed = join(dir, 'squashed');
    const q = await runCli(['image', 'squash', appended, '-o', squashed, '--quiet']);
    assert.equal(q.code, 0, q.stderr);
    assert.deepEqual(await errors(squashed), []);
    const d = await runCli(['diff', '--flatten', appended, squashed]);
    assert.equal(d.code, 0, d.stdout + d.stderr);
  });

  it('the layer folder itself (dir: source) lints clean', async (t) => {
    const dir = await baseFolder(t);
    const { code, report } = await lintJson(`dir:${dir}`);
    assert.deepEqual(rules(report), []);
    assert.equal(code, 0);
  });
});
