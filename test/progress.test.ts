/** Long work shows a progress line on a terminal (stderr) and stays quiet when piped or with --quiet. */
import assert from 'node:assert/strict';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { test } from 'node:test';
import { main } from '../src/cli/main.js';
import { exportLayer, importLayer } from '../src/index.js';
import type { ImportProgress } from '../src/layer/index.js';
import { tempDir } from './helpers/tools.js';

async function runWithTerminal(args: string[], stderrIsTTY: boolean): Promise<{ code: number; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = Object.assign(new PassThrough(), { isTTY: stderrIsTTY });
  const err: Buffer[] = [];
  stderr.on('data', (c: Buffer) => err.push(c));
  stdout.resume();
  const code = await main(args, { stdout, stderr, stdin: Readable.from([]), env: process.env });
  return { code, stderr: Buffer.concat(err).toString('utf8') };
}

function layer(dir: string): string {
  const root = join(dir, 'layer');
  // No registry hives: exported with --non-base (a base layer without them is refused).
  mkdirSync(join(root, 'Files/app'), { recursive: true });
  writeFileSync(join(root, 'Files/app/a.txt'), 'a');
  return root;
}

test('export and import draw a progress line on a terminal only, and clear it', async (t) => {
  const dir = tempDir(t);
  const root = layer(dir);
  const tty = await runWithTerminal(['export', root, '--non-base', '-o', join(dir, 'a.tar')], true);
  assert.equal(tty.code, 0, tty.stderr);
  assert.match(tty.stderr, /\r\d+ entr(?:y|ies), [\d.]+ MB/);
  assert.match(tty.stderr, /\r\x1b\[K/);

  const piped = await runWithTerminal(['export', root, '--non-base', '-o', join(dir, 'b.tar')], false);
  assert.equal(piped.code, 0, piped.stderr);
  assert.equal(piped.stderr, '');

  const quiet = await runWithTerminal(['export', root, '--non-base', '-o', join(dir, 'c.tar'), '--quiet'], true);
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.equal(quiet.stderr, '');

  const imported = await runWithTerminal(['import', join(dir, 'imported'), '-i', join(dir, 'a.tar')], true);
  assert.equal(imported.code, 0, imported.stderr);
  assert.match(imported.stderr, /\r\d+ entr(?:y|ies), [\d.]+ MB/);
});

test('importLayer of a file reports the input bytes read, up to the file size (a percentage for the CLI)', async (t) => {
  const dir = tempDir(t);
  const root = layer(dir);
  for (let i = 0; i < 50; i++) writeFileSync(join(root, `Files/app/f${i}.bin`), Buffer.alloc(64 * 1024, i));
  const tar = join(dir, 'p.tar');
  await exportLayer(root, { output: tar, kind: 'non-base' });
  const seen: ImportProgress[] = [];
  await importLayer(tar, join(dir, 'imported'), { onProgress: (p) => seen.push(p) });
  assert.ok(seen.length > 0);
  const inputs = seen.map((p) => p.inputBytes ?? -1);
  assert.ok(
    inputs.every((n, i) => n >= 0 && (i === 0 || n >= inputs[i - 1]!)),
    'input bytes only grow',
  );
  assert.equal(inputs.at(-1), statSync(tar).size);
});
