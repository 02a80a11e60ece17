/**
 * One CLI: help for every command and group, one usage-error format, one meaning of -q, missing output folders, and
 * the registry named by a reference (IPv6 hosts included).
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { registryNamed } from '../src/cli/registries.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tools.js';

/** Every command of the routing table, as `winlayer --help` lists them. */
async function commandNames(): Promise<string[]> {
  const r = await runCli(['--help']);
  const list = r.stdout.split('Commands:\n')[1]!.split('\n\n')[0]!;
  return list.split('\n').map((l) => /^ {2}(\S+(?: (?!\s)\S+)?)/.exec(l)![1]!);
}

describe('help', () => {
  it('every command has help with a usage line and its options, the same from CMD --help and help CMD', async () => {
    const names = await commandNames();
    assert.ok(names.length >= 19, names.join(','));
    for (const name of names) {
      const words = name.split(' ');
      const a = await runCli([...words, '--help']);
      assert.equal(a.code, 0, name);
      assert.match(a.stdout, new RegExp(`^Usage: winlayer ${name} `), name);
      assert.match(a.stdout, /\nOptions:\n {2}(-\w, | {4})--\w/, name);
      const b = await runCli(['help', ...words]);
      assert.deepEqual([b.code, b.stdout], [0, a.stdout], name);
    }
  });

  it('hive, image and sd --help list their subcommands', async () => {
    for (const [group, subs] of [
      ['hive', ['apply', 'check', 'delta', 'dump', 'merge', 'new']],
      ['image', ['append', 'create', 'index', 'platform', 'squash']],
      ['sd', ['decode', 'encode']],
    ] as const) {
      for (const args of [
        [group, '--help'],
        ['help', group],
      ]) {
        const r = await runCli(args);
        assert.equal(r.code, 0, args.join(' '));
        assert.match(r.stdout, new RegExp(`^Usage: winlayer ${group} <command>`));
        for (const s of subs) assert.match(r.stdout, new RegExp(`^ {2}${group} ${s} +\\S`, 'm'), `${group} ${s}`);
      }
    }
  });

  it('the registry options are declared once: the same help text wherever they appear', async () => {
    const lines = new Set<string>();
    for (const name of ['ls', 'diff', 'lint', 'push', 'pull', 'login', 'image create']) {
      const r = await runCli([...name.split(' '), '--help']);
      const line = r.stdout.split('\n').find((l) => /^ {2}( {4}|-\w, )--insecure/.test(l));
      assert.ok(line !== undefined, name);
      lines.add(line.trim().replace(/\s+/g, ' '));
    }
    assert.equal(lines.size, 1, [...lines].join('\n'));
  });

  it('-q is offered by every command that shows progress, with one meaning', async () => {
    const texts = new Set<string>();
    for (const name of [
      'export',
      'import',
      'push',
      'pull',
      'ls',
      'diff',
      'lint',
      'image create',
      'image append',
      'image squash',
    ]) {
      const r = await runCli([...name.split(' '), '--help']);
      const line = r.stdout.split('\n').find((l) => /^ {2}-q, --quiet/.test(l));
      assert.ok(line !== undefined, name);
      texts.add(line.trim().replace(/\s+/g, ' '));
    }
    assert.deepEqual(
      [...texts],
      ['-q, --quiet no progress line (progress is shown on a terminal only); the summary still prints'],
    );
  });
});

describe('usage errors', () => {
  it('one format: error, the one-line usage, where the help is; exit 2', async () => {
    const cases: [string[], string][] = [
      [['export', '--bogus'], 'unknown option --bogus'],
      [['export', 'dir', '-o'], '--output needs a value'],
      [['ls', '--json=yes', 'x'], '--json takes no value'],
      [['export', 'a', 'b'], 'expected one layer folder, got 2 arguments'],
      [['import', 'x', '--base', '--non-base', '-i', 'x.tar'], '--base and --non-base exclude each other'],
      [['lint', '--base', '--non-base', 'x.tar'], '--base and --non-base exclude each other'],
      [['image', 'create', 'dir'], '--output is required'],
      [
        ['image', 'append', 'a', 'b', '-o', 'x', '--symlinks', 'maybe'],
        '--symlinks must be "skip" or "error", not "maybe"',
      ],
      [['push', 'only-one'], 'expected <source> and <ref>, got 1 arguments'],
      [['hive', 'dump', 'f', '--json', '--reg'], '--json and --reg exclude each other'],
      [
        ['image', 'create', 'dir', '-o', 'x', '--cmd', '-File', 'a.ps1'],
        'the value of --cmd starts with a dash, so it reads as an option',
      ],
    ];
    for (const [args, what] of cases) {
      const r = await runCli(args);
      const name = args[0] === 'image' || args[0] === 'hive' ? `${args[0]} ${args[1]}` : args[0]!;
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      const lines = r.stderr.split('\n');
      assert.equal(lines[0], `error: ${what}`, args.join(' '));
      assert.match(lines.at(-3)!, new RegExp(`^usage: winlayer ${name} \\S`), args.join(' '));
      assert.equal(lines.at(-2), `see 'winlayer ${name} --help'`, args.join(' '));
      assert.doesNotMatch(r.stderr, /Options:|parseArgs|positional argument/, args.join(' '));
      assert.equal(r.stdout, '');
    }
  });

  it('an unknown command or subcommand points to the right help', async () => {
    const unknown = await runCli(['frobnicate']);
    assert.deepEqual(
      [unknown.code, unknown.stderr],
      [2, "error: unknown command 'frobnicate'\nsee 'winlayer --help'\n"],
    );
    const sub = await runCli(['hive', 'frob']);
    assert.deepEqual(
      [sub.code, sub.stderr],
      [
        2,
        "error: winlayer hive needs a command, not 'frob' (one of: apply, check, delta, dump, merge, new)\nsee 'winlayer hive --help'\n",
      ],
    );
    const none = await runCli(['image']);
    assert.equal(none.code, 2);
    assert.match(
      none.stderr,
      /^error: winlayer image needs a command \(one of: append, create, index, platform, squash\)\n/,
    );
    const help = await runCli(['help', 'frobnicate']);
    assert.equal(help.code, 2);
  });
});

describe('writers', () => {
  it('a missing output folder is exit 2 naming the folder, never a temporary name', async (t) => {
    const dir = tempDir(t);
    const layer = join(dir, 'layer');
    mkdirSync(join(layer, 'Files'), { recursive: true });
    writeFileSync(join(layer, 'Files/a.txt'), 'a');
    const rootfs = join(dir, 'rootfs');
    mkdirSync(rootfs);
    writeFileSync(join(rootfs, 'b.txt'), 'b');
    const tar = join(dir, 'a.tar');
    assert.equal((await runCli(['export', layer, '--non-base', '-o', tar])).code, 0);
    const nope = join(dir, 'nope');
    const cases: string[][] = [
      ['export', layer, '--non-base', '-o', join(nope, 'x.tar')],
      ['import', join(nope, 'l'), '-i', tar],
      ['hive', 'new', join(nope, 'h')],
      ['image', 'create', rootfs, '-o', join(nope, 'oci')],
      ['image', 'create', rootfs, '-o', join(nope, 'a.tar')],
      ['ls', '--html', join(nope, 'x.html'), tar],
    ];
    for (const args of cases) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /nope\S*: the destination folder does not exist \(NOT_FOUND\)/, args.join(' '));
      assert.doesNotMatch(r.stderr, /winlayer-tmp/, args.join(' '));
    }
    assert.deepEqual(readdirSync(dir).sort(), ['a.tar', 'layer', 'rootfs']);
  });

  it('image index refuses a docker archive in the library, as a usage error, before reading the images', async () => {
    const r = await runCli(['image', 'index', '-o', 'x.tar', 'oci:missing']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error: x\.tar: a docker archive holds single images, not an index\n {2}hint: /);
  });

  it('import takes -q, and its summary still prints', async (t) => {
    const dir = tempDir(t);
    const layer = join(dir, 'layer');
    mkdirSync(join(layer, 'Files'), { recursive: true });
    writeFileSync(join(layer, 'Files/a.txt'), 'a');
    const tar = join(dir, 'a.tar');
    assert.equal((await runCli(['export', layer, '--non-base', '-o', tar, '-q'])).code, 0);
    const r = await runCli(['import', join(dir, 'back'), '-i', tar, '-q']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^imported a base layer into \S+back: 1 file, 1 folder, 1 byte, 1 distinct security descriptor\n$/,
    );
  });
});

describe('success is never silent', () => {
  it('hive new, hive merge and ls --html say what they wrote', async (t) => {
    const dir = tempDir(t);
    const hive = join(dir, 'SOFTWARE');
    const made = await runCli(['hive', 'new', hive]);
    assert.deepEqual([made.code, made.stdout], [0, `wrote ${hive}\n`]);
    const reg = join(dir, 'c.reg');
    writeFileSync(reg, 'Windows Registry Editor Version 5.00\r\n\r\n[ROOT\\Foo]\r\n"Bar"=dword:00000002\r\n');
    const merged = await runCli(['hive', 'merge', hive, reg]);
    assert.equal(merged.code, 0, merged.stderr);
    assert.match(merged.stdout, /^merged \S+c\.reg into \S+SOFTWARE \(\d+ bytes\)\n$/);
    const layer = join(dir, 'layer');
    mkdirSync(join(layer, 'Files'), { recursive: true });
    writeFileSync(join(layer, 'Files/a.txt'), 'a');
    const tar = join(dir, 'a.tar');
    assert.equal((await runCli(['export', layer, '--non-base', '-o', tar])).code, 0);
    const page = join(dir, 'p.html');
    const pictured = await runCli(['ls', '--html', page, tar]);
    assert.deepEqual([pictured.code, pictured.stdout], [0, `wrote ${page} (1 layer, 2 entries)\n`]);
  });
});

describe('registryNamed', () => {
  it('reads the registry of a docker:// name with the reference parser', () => {
    assert.equal(registryNamed('docker://[::1]:5000/app:1'), '[::1]:5000');
    assert.equal(registryNamed('docker://localhost:5000/app'), 'localhost:5000');
    assert.equal(registryNamed('docker://nginx'), 'docker.io');
    assert.equal(registryNamed('docker://team/app'), 'docker.io');
    assert.equal(registryNamed('oci:dir', 'docker://ghcr.io/a/b'), 'ghcr.io');
    assert.equal(registryNamed('oci:dir', undefined, 'x.tar'), undefined);
  });
});
