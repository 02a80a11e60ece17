/**
 * `SOURCE_DATE_EPOCH` through the CLI: one parser (`parseSourceDateEpoch`) for every command that honours it. `''` is
 * unset, garbage is a usage error naming the variable and the rule, and a valid value reaches the library as a
 * number (an image's `created`, a docker archive's member times, export's time clamp).
 */
import assert from 'node:assert/strict';
import { createReadStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readTar } from '../src/tar/index.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tools.js';

const ROOTFS = fileURLToPath(new URL('../examples/rootfs/', import.meta.url));

/** The `created` of the one image in an OCI layout. */
function createdOf(layout: string): string {
  const blob = (digest: string) => JSON.parse(readFileSync(join(layout, 'blobs/sha256', digest.slice(7)), 'utf8'));
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  const manifest = blob(index.manifests[0]!.digest) as { config: { digest: string } };
  return (blob(manifest.config.digest) as { created: string }).created;
}

describe('SOURCE_DATE_EPOCH in the CLI', () => {
  it('image create: a value sets created, empty is unset (1970), garbage is exit 2 naming the rule', async (t) => {
    const dir = tempDir(t);
    const make = (name: string, value: string) =>
      runCli(['image', 'create', ROOTFS, '-o', `oci:${join(dir, name)}`, '-q'], { env: { SOURCE_DATE_EPOCH: value } });

    assert.equal((await make('set', '1700000000')).code, 0);
    assert.equal(createdOf(join(dir, 'set')), '2023-11-14T22:13:20Z');
    assert.equal((await make('empty', '')).code, 0);
    assert.equal(createdOf(join(dir, 'empty')), '1970-01-01T00:00:00Z');

    for (const bad of ['soon', ' 1700000000', '-1', '1e9', '253402300800']) {
      const r = await make(`bad-${bad.trim()}`, bad);
      assert.equal(r.code, 2, `${JSON.stringify(bad)}: ${r.stderr}`);
      assert.match(r.stderr, /SOURCE_DATE_EPOCH .*decimal digits only/);
    }
  });

  it('export: the flag wins over the variable and is named in its error; empty leaves times alone', async (t) => {
    const dir = tempDir(t);
    const layer = join(dir, 'layer');
    mkdirSync(join(layer, 'Files'), { recursive: true });
    writeFileSync(join(layer, 'Files/a.txt'), 'a'); // its time is now: well past 1000 s
    const times = async (args: string[], env: NodeJS.ProcessEnv): Promise<bigint[]> => {
      const out = join(dir, 'out.tar');
      const r = await runCli(['export', layer, '--non-base', '-o', out, ...args], { env });
      assert.equal(r.code, 0, r.stderr);
      const all: bigint[] = [];
      for await (const e of readTar(createReadStream(out))) all.push(e.win.lastWriteTime);
      return all;
    };
    const free = await times([], { SOURCE_DATE_EPOCH: '' });
    assert.ok(
      free.some((x) => x > 1_000n * 1_000_000_000n),
      'times are not clamped when the variable is empty',
    );
    const clamped = await times(['--source-date-epoch', '1000'], { SOURCE_DATE_EPOCH: 'garbage is not read' });
    assert.ok(clamped.every((x) => x <= 1_000n * 1_000_000_000n));

    const r = await runCli(['export', layer, '--non-base', '-o', join(dir, 'x.tar'), '--source-date-epoch', '12h']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--source-date-epoch "12h" is not a time/);
  });
});
