/**
 * `winlayer diff` over `compareLayers`: "equal" for a layer and its re-export after import, exactly the field a test
 * changed, hard-link groups as groups, order-only differences as noise, exit 2 on an unreadable input.
 */
import assert from 'node:assert/strict';
import { linkSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import type { SourceDiff } from '../src/inspect/index.js';
import { runCli } from './helpers/cli.js';
import { type PyEntry, pyTar } from './helpers/pytar.js';
import { requireTool, tempDir } from './helpers/tools.js';

const SD_USERS = 'AQAAgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAhAgAAAQIAAAAAAAUgAAAAIQIAAA=='; // O:BUG:BU
const WIN = { 'MSWINDOWS.rawsd': SD_USERS, 'LIBARCHIVE.creationtime': '1700000000.1234567' };
const D = (name: string): PyEntry => ({ name, type: 'dir', pax: { ...WIN, 'MSWINDOWS.fileattr': '16' } });
const F = (name: string, data = 'x', pax: Record<string, string> = {}): PyEntry => ({
  name,
  type: 'file',
  data,
  pax: { ...WIN, 'MSWINDOWS.fileattr': '32', ...pax },
});
const LAYER: PyEntry[] = [
  D('Files'),
  D('Files/a'),
  F('Files/a/one.txt', 'one'),
  F('Files/a/two.txt', 'two'),
  D('Hives'),
];

async function diffJson(a: string, b: string): Promise<{ code: number; diff: SourceDiff; stderr: string }> {
  const r = await runCli(['diff', '--json', a, b]);
  return { code: r.code, diff: JSON.parse(r.stdout || 'null') as SourceDiff, stderr: r.stderr };
}

/** Every changed field of the (single) compared pair, as `path field`. */
function changedFields(d: SourceDiff): string[] {
  return d.layers.flatMap((l) => l.report.changed.flatMap((c) => c.fields.map((f) => `${c.path} ${f.field}`)));
}

function variant(t: TestContext, change: (entries: PyEntry[]) => PyEntry[]): [string, string] {
  const dir = tempDir(t);
  return [pyTar(dir, 'a.tar', LAYER), pyTar(dir, 'b.tar', change(LAYER.map((e) => ({ ...e }))))];
}

describe('winlayer diff', () => {
  it('names exactly the field a test changed: attributes (by name)', async (t) => {
    if (!requireTool(t, 'python3')) return;
    const [a, b] = variant(t, (es) => {
      es[2] = F('Files/a/one.txt', 'one', { 'MSWINDOWS.fileattr': '33' });
      return es;
    });
    const { code, diff } = await diffJson(a, b);
    assert.equal(code, 1);
    assert.deepEqual(changedFields(diff), ['Files/a/one.txt attributes']);
    const f = diff.layers[0]!.report.changed[0]!.fields[0]!;
    assert.match(f.a!, /ARCHIVE/);
    assert.match(f.b!, /READONLY/);
  });

  it('the security descriptor, shown as SDDL', async (t) => {
    if (!requireTool(t, 'python3')) return;
    const ba = (await runCli(['sd', 'encode', 'O:BAG:SYD:(A;;FA;;;SY)'])).stdout.trim();
    const [a, b] = variant(t, (es) => {
      es[3] = F('Files/a/two.txt', 'two', { 'MSWINDOWS.rawsd': ba });
      return es;
    });
    const { code, diff } = await diffJson(a, b);
    assert.equal(code, 1);
    assert.deepEqual(changedFields(diff), ['Files/a/two.txt securityDescriptor']);
    const f = diff.layers[0]!.report.changed[0]!.fields[0]!;
    assert.deepEqual([f.a, f.b], ['O:BUG:BU', 'O:BAG:SYD:(A;;FA;;;SY)']);
  });

  it('content, and one time', async (t) => {
    if (!requireTool(t, 'python3')) return;
    const [a, b] = variant(t, (es) => {
      es[2] = F('Files/a/one.txt', 'ONE');
      es[3] = F('Files/a/two.txt', 'two', { 'LIBARCHIVE.creationtime': '1700000001.1234567' });
      return es;
    });
    const { code, diff } = await diffJson(a, b);
    assert.equal(code, 1);
    assert.deepEqual(changedFields(diff), ['Files/a/one.txt content', 'Files/a/two.txt creationTime']);
  });

  it('added and removed names', async (t) => {
    if (!requireTool(t, 'python3')) return;
    const [a, b] = variant(t, (es) => [...es.filter((e) => e.name !== 'Files/a/two.txt'), F('Files/a/three.txt')]);
    const { code, diff } = await diffJson(a, b);
    assert.equal(code, 1);
    const r = diff.layers[0]!.report;
    assert.deepEqual(r.added, [{ path: 'Files/a/three.txt', kind: 'file' }]);
    assert.deepEqual(r.removed, [{ path: 'Files/a/two.txt', kind: 'file' }]);
    assert.deepEqual(r.changed, []);
  });

  it('entry order alone is noise: exit 0, "equal", the moved names listed apart', async (t) => {
    if (!requireTool(t, 'python3')) return;
    const [a, b] = variant(t, (es) => [es[0]!, es[1]!, es[3]!, es[2]!, es[4]!]);
    const { code, diff } = await diffJson(a, b);
    assert.equal(code, 0);
    assert.equal(diff.equal, true);
    assert.equal(diff.layers[0]!.report.noise.orderDiffers, true);
    const text = await runCli(['diff', a, b]);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /^noise \(ignored\): entry order differs \(1 moved\)$/m);
    assert.match(text.stdout, /^equal \(5 and 5 entries\)$/m);
  });

  it('hard-link groups are compared as groups', async (t) => {
    if (!requireTool(t, 'python3')) return;
    const [a, b] = variant(t, (es) => [
      ...es.slice(0, 3),
      {
        name: 'Files/a/two.txt',
        type: 'link',
        linkname: 'Files/a/one.txt',
        pax: { ...WIN, 'MSWINDOWS.fileattr': '32' },
      },
      es[4]!,
    ]);
    const { code, diff } = await diffJson(a, b);
    assert.equal(code, 1);
    const r = diff.layers[0]!.report;
    assert.deepEqual(r.linkGroups, [{ a: [], b: ['Files/a/one.txt', 'Files/a/two.txt'] }]);
    assert.deepEqual(changedFields(diff), ['Files/a/two.txt content']);
    const text = await runCli(['diff', a, b]);
    assert.match(text.stdout, /^~ hard-link group \(none\) → \{Files\/a\/one\.txt, Files\/a\/two\.txt\}$/m);
  });

  it('exit 2 when an input cannot be read (missing, corrupt) or the command line is wrong', async (t) => {
    if (!requireTool(t, 'python3')) return;
    const dir = tempDir(t);
    const a = pyTar(dir, 'a.tar', LAYER);
    const bytes = readFileSync(a);
    bytes.writeUInt8(bytes.readUInt8(1024 + 148) ^ 1, 1024 + 148);
    const bad = join(dir, 'bad.tar');
    writeFileSync(bad, bytes);
    assert.equal((await runCli(['diff', a, join(dir, 'missing.tar')])).code, 2);
    const r = await runCli(['diff', a, bad]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /TAR_CHECKSUM|checksum/);
    assert.equal((await runCli(['diff', a])).code, 2);
  });

  it('a layer and its re-export after import are equal; so are the tar and the imported folder', async (t) => {
    const dir = tempDir(t);
    const src = join(dir, 'src');
    mkdirSync(join(src, 'Files/app/sub'), { recursive: true });
    writeFileSync(join(src, 'Files/app/a.exe'), 'MZ');
    writeFileSync(join(src, 'Files/app/sub/b.txt'), 'b');
    linkSync(join(src, 'Files/app/a.exe'), join(src, 'Files/app/a-link.exe'));
    assert.equal((await runCli(['makebaselayer', '--quiet', src])).code, 0);
    const t1 = join(dir, 't1.tar');
    const t2 = join(dir, 't2.tar.gz');
    assert.equal((await runCli(['export', '--quiet', src, '-o', t1, '--sd', 'admins'])).code, 0);
    const imported = join(dir, 'imported');
    const i = await runCli(['import', '--quiet', imported, '-i', t1]);
    assert.equal(i.code, 0, i.stderr);
    assert.equal((await runCli(['export', '--quiet', imported, '-o', t2, '--gzip'])).code, 0);
    const d = await runCli(['diff', t1, t2]);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.match(d.stdout, /^equal /m);
    assert.equal((await runCli(['diff', t1, `dir:${imported}`])).code, 0);
  });
});
