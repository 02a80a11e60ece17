/**
 * Issue 17 §3 in layers: `makebaselayer` and `lint` refuse a differencing hive where a base hive belongs; `lint` checks
 * each `Hives/*_Delta` of a non-base layer and flags any other file under `Hives/`; `ls --long` and `diff` show a
 * layer's deltas as registry changes. Every hive is made by our writer.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import { bufferBody, type LayerEntry } from '../src/entry.js';
import { isWinlayerError } from '../src/errors.js';
import { buildHive, createEmptyHive, createHiveBuilder } from '../src/hive/index.js';
import { lintLayer } from '../src/inspect/lint.js';
import { BASE_LAYER_HIVES, HIVE_CONFIG_DIR } from '../src/layer/base-hives.js';
import { makeBaseLayer } from '../src/layer/makebaselayer.js';
import { writeTar } from '../src/tar/index.js';
import { runCli } from './helpers/cli.js';
import { DELTA_SERVICES, deltaHive } from './helpers/delta-hives.js';
import { tempDir } from './helpers/tools.js';

const T = 1_700_000_000_000_000_000n;
/** ko's `O:BUG:BU`: every entry has a security descriptor, as Windows needs. */
const SD = Buffer.from('AQAAgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAhAgAAAQIAAAAAAAUgAAAAIQIAAA==', 'base64');
const win = (attributes: number) => ({ lastWriteTime: T, attributes, securityDescriptor: SD });
const dir = (path: string): LayerEntry => ({ kind: 'directory', path, win: win(0x10) });
const file = (path: string, data: Uint8Array | string): LayerEntry => {
  const bytes = new Uint8Array(Buffer.from(data));
  return {
    kind: 'file',
    path,
    size: bytes.length,
    body: bufferBody(bytes),
    win: win(0x20),
  };
};

async function* entries(list: LayerEntry[]): AsyncGenerator<LayerEntry> {
  yield* list;
}

async function writeLayerTar(t: TestContext, name: string, list: LayerEntry[]): Promise<string> {
  const parts: Buffer[] = [];
  const out = new PassThrough();
  out.on('data', (c: Buffer) => parts.push(c));
  await writeTar(list, out);
  const path = join(tempDir(t), name);
  writeFileSync(path, Buffer.concat(parts));
  return path;
}

/** A non-base layer: one file and the given `Hives/` files. */
function nonBase(hives: Record<string, Uint8Array | string>): LayerEntry[] {
  return [
    dir('Files'),
    file('Files/a.txt', 'a'),
    dir('Hives'),
    ...Object.entries(hives).map(([n, b]) => file(`Hives/${n}`, b)),
  ];
}

const found = (r: { findings: ReadonlyArray<{ rule: string; entry?: string }> }) =>
  r.findings.map((f) => [f.rule, f.entry]);

describe('lint of Hives/', () => {
  it('clean deltas with known names pass', async () => {
    const r = await lintLayer(entries(nonBase({ System_Delta: deltaHive(), SOFTWARE_DELTA: deltaHive() })));
    assert.equal(r.base, false);
    assert.deepEqual(found(r), []);
  });

  it('a corrupt delta, an ordinary hive as a delta, and any other file are flagged', async () => {
    const plain = createEmptyHive();
    const r = await lintLayer(
      entries(
        nonBase({ Sam_Delta: new Uint8Array(9000), System_Delta: plain, Other_Delta: deltaHive(), 'x.txt': 'x' }),
      ),
    );
    assert.deepEqual(found(r), [
      ['delta-hive-invalid', 'Hives/Sam_Delta'],
      ['delta-hive-invalid', 'Hives/System_Delta'],
      ['hives-unknown-entry', 'Hives/Other_Delta'],
      ['hives-unknown-entry', 'Hives/x.txt'],
    ]);
    assert.match(r.findings[1]!.message, /not a differencing hive/);
  });

  it('a differencing hive where a base hive belongs is base-hive-invalid', async () => {
    const list: LayerEntry[] = [
      dir('Files'),
      dir('Files/Windows'),
      dir('Files/Windows/System32'),
      dir(HIVE_CONFIG_DIR),
    ];
    for (const h of BASE_LAYER_HIVES)
      list.push(file(`${HIVE_CONFIG_DIR}/${h}`, h === 'SYSTEM' ? deltaHive() : createEmptyHive()));
    const r = await lintLayer(entries(list));
    assert.deepEqual(found(r), [['base-hive-invalid', `${HIVE_CONFIG_DIR}/SYSTEM`]]);
    assert.match(r.findings[0]!.message, /differencing hive/);
  });
});

describe('makebaselayer', () => {
  it('refuses a differencing hive as a base hive, and replaces it only with --replace-hives', async (t) => {
    const layer = tempDir(t);
    const config = join(layer, ...HIVE_CONFIG_DIR.split('/'));
    mkdirSync(config, { recursive: true });
    writeFileSync(join(config, 'SYSTEM'), deltaHive());
    await assert.rejects(
      makeBaseLayer(layer),
      (e) => isWinlayerError(e, 'LAYER_HIVE') && /differencing hive/.test(e.message),
    );
    const r = await makeBaseLayer(layer, { replaceHives: true });
    const system = r.hives.find((h) => h.name === 'SYSTEM')!;
    assert.equal(system.action, 'replaced');
    assert.match(system.reason!, /differencing hive/);
  });
});

describe('ls --long and diff show Hives/*_Delta as registry changes', () => {
  const S = `HKEY_LOCAL_MACHINE\\SYSTEM\\${DELTA_SERVICES}`;

  it('ls --long lists the changes under the entry', async (t) => {
    const tar = await writeLayerTar(t, 'layer.tar', nonBase({ System_Delta: deltaHive() }));
    const out = await runCli(['ls', '--long', tar]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /registry changes of HKEY_LOCAL_MACHINE\\SYSTEM: 9\n/);
    assert.ok(out.stdout.includes(`      - key    ${S}\\Old\n`), out.stdout);
    assert.ok(out.stdout.includes(`      - value  ${S}\\Gone\n`), out.stdout);
  });

  it('diff names the registry changes only one side makes', async (t) => {
    const other = createHiveBuilder({ layered: true });
    other.key(DELTA_SERVICES).setLayer('merge', { inheritClass: true }).setDword('Changed', 5);
    const a = await writeLayerTar(t, 'a.tar', nonBase({ System_Delta: deltaHive() }));
    const b = await writeLayerTar(t, 'b.tar', nonBase({ System_Delta: buildHive(other) }));
    const out = await runCli(['diff', a, b]);
    assert.equal(out.code, 1, out.stderr);
    assert.ok(out.stdout.includes('~ registry  Hives/System_Delta\n'), out.stdout);
    assert.ok(out.stdout.includes(`    a: - key    ${S}\\Old\n`), out.stdout);
    assert.ok(out.stdout.includes(`    b: + value  ${S}\\Changed (type 4, 4 bytes 05000000)\n`), out.stdout);
    const json = await runCli(['diff', '--json', a, b]);
    const parsed = JSON.parse(json.stdout) as { layers: Array<{ registry: unknown[] }> };
    assert.equal(parsed.layers[0]!.registry.length, 1);
  });
});
