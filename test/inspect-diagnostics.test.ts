/**
 * What ls, lint, diff and import print about hostile or broken input, run through the CLI: names from the archive
 * never reach the terminal with their control characters; a file that is not a tar says what it is; the same cut tar
 * gives the same offset and count from every command; a path is named once; usage errors carry a code and a hint.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { bufferBody, type LayerEntry } from '../src/entry.js';
import { type InspectLayer, lintSource } from '../src/inspect/index.js';
import { readTar } from '../src/tar/index.js';
import { tarOf } from '../src/tar/testing.js';
import { type CliResult, runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tools.js';

const T = 1_700_000_000_000_000_000n;
/** ESC ] 0;PWNED BEL sets the terminal title; ESC [2J clears the screen. */
const EVIL = 'Files/evil\x1b]0;PWNED\x07\x1b[2J';
const EVIL_SHOWN = 'Files/evil\\x1b]0;PWNED\\x07\\x1b[2J';
const RAW_CONTROLS = /[\x1b\x07\r\x9b]/;

const dir = (path: string): LayerEntry => ({ kind: 'directory', path, win: { lastWriteTime: T, attributes: 0x10 } });
const file = (path: string, data: string | Buffer): LayerEntry => {
  const bytes = new Uint8Array(Buffer.from(data));
  return { kind: 'file', path, size: bytes.length, body: bufferBody(bytes), win: { lastWriteTime: T } };
};

/** Asserts that neither stream holds a raw ESC, BEL, CR or CSI, and that the escaped name was printed. */
function assertEscaped(r: CliResult, where: 'stdout' | 'stderr'): void {
  assert.doesNotMatch(r.stdout, RAW_CONTROLS, `stdout: ${JSON.stringify(r.stdout)}`);
  assert.doesNotMatch(r.stderr, RAW_CONTROLS, `stderr: ${JSON.stringify(r.stderr)}`);
  assert.ok(r[where].includes(EVIL_SHOWN), `${where} lacks the escaped name: ${JSON.stringify(r[where])}`);
}

describe('terminal safety: names from archives are printed with their controls escaped', () => {
  async function evilTar(t: TestContext): Promise<{ evil: string; plain: string; dir: string }> {
    const d = tempDir(t);
    const evil = join(d, 'evil.tar');
    writeFileSync(evil, await tarOf([dir('Files'), file(EVIL, 'x'), file('Files/a\rb', 'y')]));
    const plain = join(d, 'plain.tar');
    writeFileSync(plain, await tarOf([dir('Files')]));
    return { evil, plain, dir: d };
  }

  it('ls, ls --long, lint, diff: stdout', async (t) => {
    const { evil, plain } = await evilTar(t);
    assertEscaped(await runCli(['ls', evil]), 'stdout');
    assertEscaped(await runCli(['ls', '--long', evil]), 'stdout');
    const lint = await runCli(['lint', evil]);
    assertEscaped(lint, 'stdout');
    assert.ok(lint.stdout.includes('Files/a\\rb'));
    assertEscaped(await runCli(['diff', evil, plain]), 'stdout');
  });

  it('--json keeps the name exact (JSON escapes controls itself)', async (t) => {
    const { evil } = await evilTar(t);
    const r = await runCli(['ls', '--json', evil]);
    assert.doesNotMatch(r.stdout, RAW_CONTROLS);
    assert.ok(r.stdout.split('\n').some((l) => l !== '' && JSON.parse(l).path === EVIL));
  });

  it('import: the error naming the entry', async (t) => {
    const { evil, dir: d } = await evilTar(t);
    const r = await runCli(['import', join(d, 'out'), '-i', evil]);
    assert.equal(r.code, 1);
    assertEscaped(r, 'stderr');
  });

  it('ls --html: no control character in the page', async (t) => {
    const { evil, dir: d } = await evilTar(t);
    const page = join(d, 'page.html');
    assert.equal((await runCli(['ls', '--html', page, evil])).code, 0);
    const html = readFileSync(page, 'utf8');
    assert.doesNotMatch(html, /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/);
  });
});

describe('input that is not a tar', () => {
  const cases: [string, Buffer | string, RegExp][] = [
    ['text.txt', 'just some notes\n', /it looks like text/],
    ['archive.zip', Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), Buffer.alloc(600)]), /a zip archive/],
    ['SYSTEM', Buffer.concat([Buffer.from('regf'), Buffer.alloc(4092)]), /a registry hive/],
    ['empty.tar', '', /an empty file/],
  ];

  it('ls, lint, import and diff say NOT_A_TAR and what it looks like, exit 2, no "fetch it again"', async (t) => {
    const d = tempDir(t);
    const good = join(d, 'good.tar');
    writeFileSync(good, await tarOf([dir('Files')]));
    for (const [name, bytes, looks] of cases) {
      const path = join(d, name);
      writeFileSync(path, bytes);
      const runs = [
        await runCli(['ls', path]),
        await runCli(['lint', path]),
        await runCli(['import', join(d, `out-${name}`), '-i', path]),
        await runCli(['diff', path, good]),
      ];
      for (const r of runs) {
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, /not a tar archive/);
        assert.match(r.stderr, looks);
        assert.match(r.stderr, /NOT_A_TAR/);
        assert.doesNotMatch(r.stderr, /fetch|TAR_TRUNCATED/);
        assert.match(r.stderr, /\(NOT_A_TAR\)\n {2}hint: a layer is a tar archive/); // the hint on its own line
      }
    }
  });

  it('an image layer whose blob is not a tar is an archive-corrupt finding of the image, not exit 2', async () => {
    async function* blob(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('not a layer\n');
    }
    const layer: InspectLayer = {
      title: 'layer 1/1 sha256:0',
      base: true,
      open: () => readTar(blob()),
      openBlob: async () => blob(),
    };
    const report = await lintSource({ name: 'img', kind: 'image', layers: [layer] });
    assert.deepEqual(
      report.findings.map((f) => [f.rule, f.layer]),
      [['archive-corrupt', 'layer 1/1 sha256:0']],
    );
    assert.match(report.findings[0]!.message, /not a tar archive: it looks like text \(NOT_A_TAR\)/);
  });

  it('empty standard input is named as such', async (t) => {
    const target = join(tempDir(t), 'layer');
    for (const args of [
      ['ls', '-'],
      ['lint', '-'],
      ['import', target],
    ]) {
      const r = await runCli(args, { stdin: '' });
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, /it looks like empty standard input \(NOT_A_TAR\)/);
    }
  });
});

describe('a cut tar', () => {
  it('gives one offset and one byte count from ls, lint, import and diff; lint names the path once', async (t) => {
    const d = tempDir(t);
    const name = 'Files/Program Files/MyApp/data.bin';
    const full = await tarOf([
      dir('Files'),
      dir('Files/Program Files'),
      dir('Files/Program Files/MyApp'),
      file(name, Buffer.alloc(300_000, 7)),
    ]);
    const cut = join(d, 'cut.tar');
    writeFileSync(cut, full.subarray(0, 200_000));
    const good = join(d, 'good.tar');
    writeFileSync(good, await tarOf([dir('Files')]));
    const texts = [
      (await runCli(['ls', cut])).stderr,
      (await runCli(['lint', cut])).stdout,
      (await runCli(['import', join(d, 'out'), '-i', cut])).stderr,
      (await runCli(['diff', cut, good])).stderr,
    ];
    const facts = texts.map((s) => /\((\d+) bytes missing\) at offset (0x[0-9a-f]+)/.exec(s)?.slice(1));
    const dataStart = Buffer.from(full).indexOf(Buffer.alloc(512, 7));
    const missing = String(300_000 - (200_000 - dataStart));
    for (const [i, f] of facts.entries()) assert.deepEqual(f, [missing, '0x30d40'], texts[i]);
    const corrupt = texts[1]!.split('\n').find((l) => l.includes('archive-corrupt')) ?? '';
    assert.equal(corrupt.split(name).length - 1, 1, `the path once: ${corrupt}`);
  });
});

describe('usage and not-found messages', () => {
  it('diff with one source is a USAGE error with a hint, not the whole help', async () => {
    const r = await runCli(['diff', 'a.tar']);
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      'error: expected two sources, got 1\n  hint: winlayer diff a.tar b.tar\n' +
        "usage: winlayer diff <a> <b> [--json] [--flatten] [--platform P]\nsee 'winlayer diff --help'\n",
    );
  });

  it('lint with no source is a USAGE error with a hint', async () => {
    const r = await runCli(['lint']);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /^error: expected one source, got 0\n {2}hint: .*\nusage: winlayer lint <source> .*\nsee 'winlayer lint --help'\n$/,
    );
  });

  it('a missing file is "no such file"; the registry hint only for a name that looks like a reference', async (t) => {
    const d = tempDir(t);
    const missing = await runCli(['ls', join(d, 'missing.tar')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /missing\.tar: no such file or folder \(NOT_FOUND\)/);
    assert.doesNotMatch(missing.stderr, /docker:\/\//);
    const ref = await runCli(['ls', 'example.invalid/windows/nanoserver:ltsc2022']);
    assert.equal(ref.code, 2);
    assert.match(
      ref.stderr,
      /hint: to read from a registry write docker:\/\/example\.invalid\/windows\/nanoserver:ltsc2022/,
    );
  });
});
