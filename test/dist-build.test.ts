/**
 * The library as `import 'winlayer'` loads it: `dist/`, compiled by `tsc -p tsconfig.build.json`, one module per
 * source file. The other tests run the sources under tsx; this one checks that the compiled library finds and runs
 * its worker threads (`tar/hash.thread.js`, `layer/writer.thread.js`, each beside its owner) and gives the bytes the
 * sources give. Compiled when the test starts (without type checking: `npm run typecheck` does that), into a
 * temporary copy of the installed layout, never an older `dist/`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { exportLayer } from '../src/layer/index.js';
import { tempDir } from './helpers/tools.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BUILT = mkdtempSync(join(tmpdir(), 'winlayer-dist-build-'));

function buildDist(): void {
  const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
  const args = [tsc, '-p', 'tsconfig.build.json', '--outDir', join(BUILT, 'dist'), '--noCheck'];
  const r = spawnSync(process.execPath, [...args, '--declaration', 'false', '--sourceMap', 'false'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, `tsc failed: ${r.stdout}${r.stderr}`);
  copyFileSync(join(ROOT, 'package.json'), join(BUILT, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(BUILT, 'node_modules'));
}

describe('dist/ (the compiled library)', () => {
  before(buildDist);
  after(() => rmSync(BUILT, { recursive: true, force: true }));

  it('runs its worker threads: export hashes on the hashing thread, import writes on writer threads', async (t) => {
    const layer = tempDir(t);
    mkdirSync(join(layer, 'Files/many'), { recursive: true });
    for (let i = 0; i < 1200; i++) writeFileSync(join(layer, 'Files/many', `f${i}.txt`), `${i}\n`.repeat(50));
    writeFileSync(join(layer, 'Files/big.bin'), Buffer.alloc(2_000_000, 3));
    const dir = tempDir(t);
    const script = join(dir, 'run.mjs');
    // Threads counted as they start; two writer threads started at once, so every file goes through them.
    writeFileSync(
      script,
      `import { exportLayer, importLayer } from ${JSON.stringify(join(BUILT, 'dist/index.js'))};
      let threads = 0;
      process.on('worker', () => threads++);
      const [layer, dir] = process.argv.slice(-2);
      const opts = { kind: 'non-base', sourceDateEpoch: 1700000000 };
      await exportLayer(layer, { ...opts, output: dir + '/dist.tar' });
      const exportThreads = threads;
      const r = await importLayer(dir + '/dist.tar', dir + '/out', { sync: false, writerThreads: 2 });
      await exportLayer(dir + '/out', { ...opts, output: dir + '/again.tar' });
      process.stdout.write(JSON.stringify({ exportThreads, importThreads: threads - exportThreads * 2, files: r.files }));
      `,
    );
    const r = spawnSync(process.execPath, [script, layer, dir], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { exportThreads: 1, importThreads: 2, files: 1201 });
    const lib = join(dir, 'lib.tar');
    await exportLayer(layer, { output: lib, kind: 'non-base', sourceDateEpoch: 1_700_000_000 });
    assert.ok(
      readFileSync(join(dir, 'dist.tar')).equals(readFileSync(lib)),
      'dist/ and the sources wrote the same tar',
    );
    assert.ok(
      readFileSync(join(dir, 'again.tar')).equals(readFileSync(lib)),
      'the imported folder exports the same tar',
    );
  });
});
