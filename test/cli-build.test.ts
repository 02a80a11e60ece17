/**
 * The CLI as users run it: `bin/winlayer.js` over the bundle that `npm run build` writes to `dist/bin/`. The other
 * tests run the CLI in-process from the sources; these check that the bundle starts, finds its lazily loaded command
 * chunks and `package.json`, and gives the bytes the library gives. Locally a missing build skips them; in CI
 * (`CI=true`, which builds first) it is a failure.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { exportLayer } from '../src/layer/index.js';
import { tempDir } from './helpers/tools.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin/winlayer.js');
const BUNDLE = join(ROOT, 'dist/bin/main.js');

function requireBuild(t: TestContext): boolean {
  if (existsSync(BUNDLE)) return true;
  if (process.env.CI === 'true') throw new Error('dist/bin/main.js is missing: CI must run `npm run build` first');
  t.skip('not built (npm run build)');
  return false;
}

function winlayer(args: string[]): { code: number | null; stdout: Buffer; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, maxBuffer: 1 << 28 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.toString('utf8') };
}

describe('bin/winlayer.js (the built CLI)', () => {
  it('prints the version from package.json and the command list', (t) => {
    if (!requireBuild(t)) return;
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
    if (!requireBuild(t)) return;
    const layer = tempDir(t);
    mkdirSync(join(layer, 'Files/Program Files/app'), { recursive: true });
    writeFileSync(join(layer, 'Files/hello.txt'), 'hello from the built CLI\n');
    writeFileSync(join(layer, 'Files/Program Files/app/app.dll'), Buffer.alloc(300_000, 7));
    const out = winlayer(['export', layer, '-o', '-', '--source-date-epoch', '1700000000', '--json']);
    assert.equal(out.code, 0, out.stderr);
    const file = join(tempDir(t), 'lib.tar');
    const lib = await exportLayer(layer, { output: file, sourceDateEpoch: 1_700_000_000n });
    assert.ok(out.stdout.equals(readFileSync(file)), 'the CLI and the library wrote the same tar');
    const summary = JSON.parse(out.stderr.trim().split('\n').pop()!) as { diffId: string };
    assert.equal(summary.diffId, lib.diffId);
  });

  it('writes the same tar to stdout redirected to a file, and fails clearly when the reader of a pipe goes away', async (t) => {
    if (!requireBuild(t)) return;
    const layer = tempDir(t);
    mkdirSync(join(layer, 'Files'), { recursive: true });
    writeFileSync(join(layer, 'Files/big.bin'), Buffer.alloc(3_000_000, 1));
    const dir = tempDir(t);
    const redirected = join(dir, 'stdout.tar');
    const fd = openSync(redirected, 'w');
    const r = spawnSync(process.execPath, [BIN, 'export', layer, '--source-date-epoch', '1700000000'], {
      cwd: ROOT,
      stdio: ['ignore', fd, 'pipe'],
    });
    closeSync(fd);
    assert.equal(r.status, 0, r.stderr.toString());
    const file = join(dir, 'lib.tar');
    await exportLayer(layer, { output: file, sourceDateEpoch: 1_700_000_000n });
    assert.ok(readFileSync(redirected).equals(readFileSync(file)), "stdout as a file holds the library's tar");
    // `winlayer export … | head -c 100`: the tar cannot be written whole; say so (as GNU tar does), exit 1.
    const cut = spawnSync('sh', ['-c', `'${process.execPath}' '${BIN}' export '${layer}' | head -c 100 > /dev/null`], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    assert.match(cut.stderr, /stopped reading/);
  });

  it('fails with exit status 2 and a message for an unknown command', (t) => {
    if (!requireBuild(t)) return;
    const r = winlayer(['frobnicate']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /frobnicate/);
  });
});
