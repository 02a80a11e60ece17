/**
 * Same bytes: the sha256 of what the main writers produce for fixed inputs, recorded once and checked on every run.
 * A refactor that changes any output byte fails here. A change made on purpose updates the table in the same commit,
 * with a comment on the row saying what changed and why.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { bufferBody, type LayerEntry } from '../src/entry.js';
import { writeTarFile } from '../src/index.js';
import { SAMPLE_TIME, sampleLayer } from '../src/tar/testing.js';
import { runCli } from './helpers/cli.js';

const ROOTFS = fileURLToPath(new URL('../examples/rootfs/', import.meta.url));
const EPOCH = '1704067200';
const tmp = mkdtempSync(join(tmpdir(), 'winlayer-golden-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** The recorded digests (sha256, hex). */
const GOLDEN: Record<string, string> = {
  'writeTar rich layer': '05f939043f51051d7c0938628de7af7fb50aa5211be36790f292d655c164c8f3',
  'import + export (plain)': '8eea7df74e8de23f91454887e067b013ce11bc8d46451648542df128ef144467',
  'import + export (gzip)': '58ce653267a35b639ecd2edd79d2e5a9d5a5d08ad556b5aab22a64a4b28bd3ca',
  // equals examples/layer.tar (made by the same two steps)
  'makebaselayer + export (SOURCE_DATE_EPOCH)': '26f97330c695a314e222475137f0aac5a3071545b9269e206ca76e7ce37b9812',
  'image create (docker archive)': '91aab545f492346234642850dc937f99b314c068d0eb2d598f89f79438de47a4',
  'image create (OCI layout)': 'a8f30a1aeef0ecf067fbdc5d234091b5ee8a84251e6a1f69bfcf68cd2b91c920',
  'hive new --from': 'a2b498fc590cb609fbc06fee1a1f732fb0f01d86a915221eca653f073e6866b5',
  'sd encode': '7bb935befad99426b652b0f57f567a4cc7f03b2f7e6c0a55d18ef00459e5e13b',
};

const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
const shaFile = (path: string): string => sha(readFileSync(path));

/** Every file of a folder, by relative path, with its digest (an OCI layout as one value). */
function shaTree(dir: string): string {
  const lines: string[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const p = rel === '' ? name : `${rel}/${name}`;
      if (statSync(join(dir, p)).isDirectory()) walk(p);
      else lines.push(`${p} ${shaFile(join(dir, p))}`);
    }
  };
  walk('');
  return sha(Buffer.from(lines.join('\n')));
}

/** sampleLayer plus entries that leave attributes to the defaults, many small files and one multi-MiB file. */
function richLayer(): LayerEntry[] {
  const t = { lastWriteTime: SAMPLE_TIME };
  const extra: LayerEntry[] = [
    { kind: 'directory', path: 'Files/plain', win: t },
    { kind: 'symlink', path: 'Files/plain/file-link', linkTarget: '..\\hello.txt', win: t },
    { kind: 'symlink', path: 'Files/plain/dir-link', linkTarget: 'C:\\Windows', win: { ...t, attributes: 0x10 } },
    { kind: 'file', path: 'Files/plain/empty', size: 0, body: bufferBody(new Uint8Array(0)), win: t },
  ];
  for (let i = 0; i < 300; i++) {
    const bytes = Buffer.from(`file ${i} `.repeat(i % 37));
    extra.push({ kind: 'file', path: `Files/plain/f${i}.txt`, size: bytes.length, body: bufferBody(bytes), win: t });
  }
  const big = Buffer.alloc(3 * 1024 * 1024 + 17);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 11)) & 0xff;
  extra.push({ kind: 'file', path: 'Files/plain/big.bin', size: big.length, body: bufferBody(big), win: t });
  return [...sampleLayer(), ...extra];
}

async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const r = await runCli(args, { env });
  assert.equal(r.code, 0, `winlayer ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const actual: Record<string, string> = {};

test('golden: writer outputs keep their bytes', async () => {
  const rich = join(tmp, 'rich.tar');
  await writeTarFile(richLayer(), rich);
  actual['writeTar rich layer'] = shaFile(rich);

  const imported = join(tmp, 'imported');
  await cli(['import', imported, '-i', rich]);
  await cli(['export', imported, '-o', join(tmp, 'again.tar')]);
  actual['import + export (plain)'] = shaFile(join(tmp, 'again.tar'));
  await cli(['export', imported, '-o', join(tmp, 'again.tar.gz')]);
  actual['import + export (gzip)'] = shaFile(join(tmp, 'again.tar.gz'));

  const base = join(tmp, 'base');
  mkdirSync(base);
  cpSync(ROOTFS, join(base, 'Files'), { recursive: true });
  await cli(['makebaselayer', base]);
  await cli(['export', base, '-o', join(tmp, 'base.tar')], { SOURCE_DATE_EPOCH: EPOCH });
  actual['makebaselayer + export (SOURCE_DATE_EPOCH)'] = shaFile(join(tmp, 'base.tar'));

  await cli(['image', 'create', ROOTFS, '-o', `docker-archive:${join(tmp, 'img.tar')}`, '-q'], {
    SOURCE_DATE_EPOCH: EPOCH,
  });
  actual['image create (docker archive)'] = shaFile(join(tmp, 'img.tar'));
  await cli(['image', 'create', ROOTFS, '-o', `oci:${join(tmp, 'layout')}`, '-q'], { SOURCE_DATE_EPOCH: EPOCH });
  actual['image create (OCI layout)'] = shaTree(join(tmp, 'layout'));

  const reg = join(tmp, 'in.reg');
  writeFileSync(
    reg,
    [
      'Windows Registry Editor Version 5.00',
      '',
      '[HKEY_LOCAL_MACHINE\\SOFTWARE\\Golden]',
      '"Name"="value"',
      '"Count"=dword:0000002a',
      '"Multi"=hex(7):61,00,00,00,62,00,00,00,00,00',
      '',
      '[HKEY_LOCAL_MACHINE\\SOFTWARE\\Golden\\Sub Key]',
      '@="default"',
      '',
    ].join('\r\n'),
  );
  await cli(['hive', 'new', join(tmp, 'out.hive'), '--from', reg]);
  actual['hive new --from'] = shaFile(join(tmp, 'out.hive'));

  actual['sd encode'] = sha(Buffer.from(await cli(['sd', 'encode', 'O:BAG:SYD:(A;OICI;FA;;;BA)(A;;0x1200a9;;;BU)'])));

  if (process.env.GOLDEN_PRINT === '1') process.stdout.write(`${JSON.stringify(actual, null, 2)}\n`);
  assert.deepEqual(actual, GOLDEN);
});
