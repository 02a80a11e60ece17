/**
 * The CLI as users run it: `bin/winlayer.js` over the bundle that `npm run build` writes to `dist/bin/`. The other
 * tests run the CLI in-process from the sources; these check that the bundle starts, finds its lazily loaded command
 * chunks and `package.json`, and gives the bytes the library gives. The bundle is built from the sources when the
 * tests start (esbuild, under a second), into a temporary copy of the installed layout: never the `dist/` of an
 * earlier build, which would test old code against the current library.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { exportLayer } from '../src/layer/index.js';
import { tempDir } from './helpers/tools.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The installed layout (`bin/`, `dist/bin/`, `package.json`), built by {@link buildCli}. */
const BUILT = mkdtempSync(join(tmpdir(), 'winlayer-cli-build-'));
const BIN = join(BUILT, 'bin/winlayer.js');

/**
 * Bundles the CLI from the sources with the `build:cli` step of `npm run build` (one place for esbuild's options)
 * into BUILT, beside a copy of the launcher and of package.json, and links the project's node_modules for the
 * packages the bundle leaves out.
 */
function buildCli(): void {
  const r = spawnSync('npm', ['run', '--silent', 'build:cli', '--', `--outdir=${join(BUILT, 'dist/bin')}`], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, `npm run build:cli failed: ${r.stderr}`);
  mkdirSync(join(BUILT, 'bin'));
  copyFileSync(join(ROOT, 'bin/winlayer.js'), BIN);
  copyFileSync(join(ROOT, 'package.json'), join(BUILT, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(BUILT, 'node_modules'));
}

function winlayer(args: string[]): { code: number | null; stdout: Buffer; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, maxBuffer: 1 << 28 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.toString('utf8') };
}

describe('bin/winlayer.js (the built CLI)', () => {
  before(buildCli);
  after(() => rmSync(BUILT, { recursive: true, force: true }));

  it('prints the version from package.json and the command list', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const v = winlayer(['--version']);
    assert.equal(v.code, 0, v.stderr);
    assert.equal(v.stdout.toString('utf8').trim(), pkg.version);
    const help = winlayer(['--help']);
    assert.equal(help.code, 0, help.stderr);
    for (const command of ['export', 'import', 'makebaselayer', 'hive check', 'image create']) {
      assert.match(help.stdout.toString('utf8'), new RegExp(`^  ${command} `, 'm'));
    }
  });

  it('exports the example layer to stdout with the bytes and digest the library gives', async (t) => {
    const layer = tempDir(t);
    mkdirSync(join(layer, 'Files/Program Files/app'), { recursive: true });
    writeFileSync(join(layer, 'Files/hello.txt'), 'hello from the built CLI\n');
    writeFileSync(join(layer, 'Files/Program Files/app/app.dll'), Buffer.alloc(300_000, 7));
    const out = winlayer(['export', layer, '--non-base', '-o', '-', '--source-date-epoch', '1700000000', '--json']);
    assert.equal(out.code, 0, out.stderr);
    const file = join(tempDir(t), 'lib.tar');
    const lib = await exportLayer(layer, { output: file, kind: 'non-base', sourceDateEpoch: 1_700_000_000 });
    assert.ok(out.stdout.equals(readFileSync(file)), 'the CLI and the library wrote the same tar');
    const summary = JSON.parse(out.stderr.trim().split('\n').pop()!) as { diffId: string };
    assert.equal(summary.diffId, lib.diffId);
  });

  it('writes the same tar to stdout redirected to a file, and fails clearly when the reader of a pipe goes away', async (t) => {
    const layer = tempDir(t);
    mkdirSync(join(layer, 'Files'), { recursive: true });
    writeFileSync(join(layer, 'Files/big.bin'), Buffer.alloc(3_000_000, 1));
    const dir = tempDir(t);
    const redirected = join(dir, 'stdout.tar');
    const fd = openSync(redirected, 'w');
    const r = spawnSync(process.execPath, [BIN, 'export', layer, '--non-base', '--source-date-epoch', '1700000000'], {
      cwd: ROOT,
      stdio: ['ignore', fd, 'pipe'],
    });
    closeSync(fd);
    assert.equal(r.status, 0, r.stderr.toString());
    const file = join(dir, 'lib.tar');
    await exportLayer(layer, { output: file, kind: 'non-base', sourceDateEpoch: 1_700_000_000 });
    assert.ok(readFileSync(redirected).equals(readFileSync(file)), "stdout as a file holds the library's tar");
    // `winlayer export … | head -c 100`: the tar cannot be written whole; say so (as GNU tar does), exit 1.
    const cut = spawnSync(
      'sh',
      ['-c', `'${process.execPath}' '${BIN}' export --non-base '${layer}' | head -c 100 > /dev/null`],
      {
        cwd: ROOT,
        encoding: 'utf8',
      },
    );
    assert.match(cut.stderr, /stopped reading/);
  });

  it('runs its worker threads: export hashes on the hashing thread, import writes on writer threads', async (t) => {
    const layer = tempDir(t);
    mkdirSync(join(layer, 'Files/many'), { recursive: true });
    // Past 1,000 entries the import starts its writer threads (the default on a host with a second core).
    for (let i = 0; i < 3000; i++) writeFileSync(join(layer, 'Files/many', `f${i}.txt`), `${i}\n`.repeat(50));
    writeFileSync(join(layer, 'Files/big.bin'), Buffer.alloc(2_000_000, 3));
    const dir = tempDir(t);
    const tar = join(dir, 'layer.tar');
    // Counts the threads the CLI starts (a thread module it cannot find fails the command: exit 1).
    const count =
      "data:text/javascript,let n=0;process.on('worker',()=>n++);process.on('exit',()=>process.stderr.write('threads='+n+'\\n'))";
    const run = (args: string[]) => spawnSync(process.execPath, ['--import', count, BIN, ...args], { cwd: ROOT });
    const exported = run(['export', layer, '--non-base', '-o', tar, '--source-date-epoch', '1700000000']);
    assert.equal(exported.status, 0, exported.stderr.toString());
    assert.match(exported.stderr.toString(), /threads=1\n/, 'export hashed on its thread');
    const lib = join(dir, 'lib.tar');
    await exportLayer(layer, { output: lib, kind: 'non-base', sourceDateEpoch: 1_700_000_000 });
    assert.ok(readFileSync(tar).equals(readFileSync(lib)), 'the CLI and the library wrote the same tar');
    const imported = run(['import', join(dir, 'out'), '-i', tar, '--non-base']);
    assert.equal(imported.status, 0, imported.stderr.toString());
    assert.match(imported.stderr.toString(), /threads=[12]\n/, 'import wrote on writer threads');
    const again = join(dir, 'again.tar');
    await exportLayer(join(dir, 'out'), { output: again, kind: 'non-base', sourceDateEpoch: 1_700_000_000 });
    assert.ok(readFileSync(again).equals(readFileSync(lib)), 'the imported folder exports to the same tar');
  });

  it('fails with exit status 2 and a message for an unknown command', () => {
    const r = winlayer(['frobnicate']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /frobnicate/);
  });
});
