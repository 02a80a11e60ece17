/**
 * Hostile layer tars: each archive is built here byte by byte (a tiny test-local ustar/PAX builder — our own writer
 * refuses most of these), imported, and must be refused with the right error code and rule, leaving nothing behind:
 * no target folder, no temporary sibling, nothing written anywhere else in the test's folder.
 */
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { HOST_PATH_LIMITS, removeTree } from '../src/atomic.js';
import { type ErrorCode, WinlayerError } from '../src/errors.js';
import { importLayer } from '../src/layer/import.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tools.js';

// ── a tiny tar builder (test-local) ─────────────────────────────────────────────────────────────────────────────────

interface RawEntry {
  readonly name: string;
  /** Typeflag character; default '0'. */
  readonly type?: string;
  readonly data?: string | Buffer;
  /** Declared size, when it should differ from the data's. */
  readonly size?: number;
  readonly link?: string;
  readonly mode?: number;
  /** PAX records for an `x` header before this entry. */
  readonly pax?: readonly (readonly [string, string])[];
  /** A raw (possibly malformed) PAX body instead of `pax`. */
  readonly paxRaw?: Buffer;
}

function octal(n: number, len: number): string {
  return `${n.toString(8).padStart(len - 1, '0')}\0`;
}

function header(name: string, type: string, size: number, link = '', mode = 0o644): Buffer {
  const b = Buffer.alloc(512);
  b.write(name, 0, 100, 'utf8');
  b.write(octal(mode, 8), 100, 'ascii');
  b.write(octal(0, 8), 108, 'ascii');
  b.write(octal(0, 8), 116, 'ascii');
  b.write(octal(size, 12), 124, 'ascii');
  b.write(octal(1677606423, 12), 136, 'ascii');
  b.write('        ', 148, 'ascii');
  b.write(type, 156, 'ascii');
  b.write(link, 157, 100, 'utf8');
  b.write('ustar\0', 257, 'ascii');
  b.write('00', 263, 'ascii');
  let sum = 0;
  for (const x of b) sum += x;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return b;
}

function paxRecord(key: string, value: string): Buffer {
  const body = `${key}=${value}\n`;
  const bodyLen = Buffer.byteLength(body);
  let len = bodyLen + 2;
  while (String(len).length + 1 + bodyLen !== len) len = String(len).length + 1 + bodyLen;
  return Buffer.from(`${len} ${body}`);
}

function pad(data: Buffer): Buffer {
  const rest = data.length % 512;
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(512 - rest)]);
}

function rawTar(entries: readonly RawEntry[], opts: { cut?: number } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = typeof e.data === 'string' ? Buffer.from(e.data) : (e.data ?? Buffer.alloc(0));
    const long = Buffer.byteLength(e.name) > 100;
    const records = long ? [...(e.pax ?? []), ['path', e.name] as const] : e.pax;
    const pax =
      e.paxRaw ?? (records === undefined ? undefined : Buffer.concat(records.map(([k, v]) => paxRecord(k, v))));
    if (pax !== undefined) {
      parts.push(header('PaxHeaders.0/x', 'x', pax.length, '', 0), pad(pax));
    }
    const name = long ? 'long-name-in-pax' : e.name;
    parts.push(header(name, e.type ?? '0', e.size ?? data.length, e.link ?? '', e.mode ?? 0o644), pad(data));
  }
  parts.push(Buffer.alloc(1024));
  const tar = Buffer.concat(parts);
  return opts.cut === undefined ? tar : tar.subarray(0, opts.cut);
}

const D = (name: string): RawEntry => ({ name, type: '5', pax: [['MSWINDOWS.fileattr', '16']] });
const F = (name: string, data = 'x'): RawEntry => ({ name, data });
const L = (name: string, link: string): RawEntry => ({ name, type: '1', link });
const S = (name: string, link: string): RawEntry => ({ name, type: '2', link });

// ── the hostile archives ─────────────────────────────────────────────────────────────────────────────────────────────

interface Case {
  readonly title: string;
  readonly tar: Buffer;
  readonly code: ErrorCode;
  readonly rule: RegExp;
  readonly kind?: 'base' | 'non-base';
}

const big = 'A'.repeat(1024 * 1024 + 10);
/** `sd decode`'s example (O:SYG:SY) with the owner SID's revision byte (offset 20) set to 2. */
const OWNER_REVISION_2 = (() => {
  const sd = Buffer.from('AQAAgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAhAgAAAQIAAAAAAAUgAAAAIQIAAA==', 'base64');
  sd[20] = 2;
  return sd.toString('base64');
})();

const CASES: readonly Case[] = [
  // names that leave the layer
  { title: 'absolute name', tar: rawTar([D('Files'), F('/etc/evil')]), code: 'LAYER_UNSAFE', rule: /absolute/ },
  { title: 'absolute name under Files', tar: rawTar([F('/Files/evil')]), code: 'LAYER_UNSAFE', rule: /absolute/ },
  { title: '.. escaping', tar: rawTar([D('Files'), F('Files/../../evil')]), code: 'LAYER_UNSAFE', rule: /"\.\."/ },
  { title: 'leading ..', tar: rawTar([F('../evil')]), code: 'LAYER_UNSAFE', rule: /"\.\."/ },
  {
    title: '.. inside',
    tar: rawTar([D('Files'), D('Files/a'), F('Files/a/../b')]),
    code: 'LAYER_UNSAFE',
    rule: /"\.\."/,
  },
  { title: 'drive letter', tar: rawTar([F('C:/Windows/evil')]), code: 'LAYER_UNSAFE', rule: /drive letter/ },
  { title: 'drive-relative', tar: rawTar([F('c:evil')]), code: 'LAYER_UNSAFE', rule: /drive letter/ },
  {
    title: 'backslash .. escape',
    tar: rawTar([D('Files'), F('Files\\..\\..\\evil')]),
    code: 'LAYER_UNSAFE',
    rule: /backslash/,
  },
  { title: 'backslash separator', tar: rawTar([D('Files'), F('Files\\a')]), code: 'LAYER_UNSAFE', rule: /backslash/ },
  {
    title: 'NUL in a PAX path',
    tar: rawTar([D('Files'), { name: 'Files/a', data: 'x', pax: [['path', 'Files/a\0/../../evil']] }]),
    code: 'LAYER_UNSAFE',
    rule: /NUL/,
  },
  {
    title: 'PAX path escaping',
    tar: rawTar([D('Files'), { name: 'Files/ok', data: 'x', pax: [['path', '../../evil']] }]),
    code: 'LAYER_UNSAFE',
    rule: /"\.\."/,
  },
  {
    title: 'outside the three roots',
    tar: rawTar([D('etc'), F('etc/passwd')]),
    code: 'LAYER_UNSAFE',
    rule: /outside Files/,
  },
  { title: 'lower-case files/', tar: rawTar([D('files')]), code: 'LAYER_UNSAFE', rule: /outside Files/ },
  {
    title: 'UtilityVM/other',
    tar: rawTar([D('UtilityVM'), D('UtilityVM/Other')]),
    code: 'LAYER_INVALID',
    rule: /invalid UtilityVM/,
  },
  { title: 'top-level Files as a file', tar: rawTar([F('Files')]), code: 'LAYER_INVALID', rule: /must be a folder/ },
  {
    title: 'empty component',
    tar: rawTar([D('Files'), F('Files//a')]),
    code: 'NAME_INVALID',
    rule: /empty or "\." component/,
  },
  {
    title: '"." component',
    tar: rawTar([D('Files'), F('Files/./a')]),
    code: 'NAME_INVALID',
    rule: /empty or "\." component/,
  },
  { title: 'a file named ./', tar: rawTar([F('./')]), code: 'NAME_INVALID', rule: /empty/ },
  // order and duplicates
  {
    title: 'child before its parent',
    tar: rawTar([D('Files'), F('Files/a/b')]),
    code: 'LAYER_INVALID',
    rule: /child before its parent/,
  },
  { title: 'no Files entry', tar: rawTar([F('Files/a')]), code: 'LAYER_INVALID', rule: /child before its parent/ },
  {
    title: 'duplicate name',
    tar: rawTar([D('Files'), F('Files/a'), F('Files/a')]),
    code: 'LAYER_INVALID',
    rule: /duplicate entry/,
  },
  {
    title: 'duplicate by case',
    tar: rawTar([D('Files'), F('Files/a'), F('Files/A')]),
    code: 'NAME_COLLISION',
    rule: /same name on Windows/,
  },
  {
    title: 'duplicate by upcase (é/É)',
    tar: rawTar([D('Files'), F('Files/café'), F('Files/CAFÉ')]),
    code: 'NAME_COLLISION',
    rule: /same name on Windows/,
  },
  {
    title: 'folder then file of the same name in other case',
    tar: rawTar([D('Files'), D('Files/dir'), F('Files/DIR')]),
    code: 'NAME_COLLISION',
    rule: /same name/,
  },
  {
    title: 'parent spelled in other case',
    tar: rawTar([D('Files'), D('Files/Dir'), F('Files/dir/x')]),
    code: 'NAME_COLLISION',
    rule: /spelled/,
  },
  // names Windows cannot hold
  {
    title: 'reserved device name',
    tar: rawTar([D('Files'), F('Files/CON')]),
    code: 'NAME_INVALID',
    rule: /reserved device/,
  },
  {
    title: 'reserved name with extension',
    tar: rawTar([D('Files'), F('Files/nul.txt')]),
    code: 'NAME_INVALID',
    rule: /reserved/,
  },
  { title: 'trailing dot', tar: rawTar([D('Files'), F('Files/a.')]), code: 'NAME_INVALID', rule: /dot/ },
  { title: 'invalid character', tar: rawTar([D('Files'), F('Files/a<b')]), code: 'NAME_INVALID', rule: /"<"/ },
  {
    title: 'colon in a folder name',
    tar: rawTar([D('Files'), D('Files/a:b'), F('Files/a:b/c')]),
    code: 'NAME_INVALID',
    rule: /":"/,
  },
  // hard links
  {
    title: 'hard link to a missing target',
    tar: rawTar([D('Files'), L('Files/h', 'Files/none')]),
    code: 'LAYER_HARDLINK',
    rule: /missing/,
  },
  {
    title: 'hard link to a later target',
    tar: rawTar([D('Files'), L('Files/h', 'Files/a'), F('Files/a')]),
    code: 'LAYER_HARDLINK',
    rule: /later/,
  },
  {
    title: 'hard link outside the layer',
    tar: rawTar([D('Files'), L('Files/h', '../../etc/passwd')]),
    code: 'LAYER_UNSAFE',
    rule: /hard-link target holds a "\.\."/,
  },
  {
    title: 'hard link to an absolute path',
    tar: rawTar([D('Files'), L('Files/h', '/etc/passwd')]),
    code: 'LAYER_UNSAFE',
    rule: /hard-link target is absolute/,
  },
  {
    title: 'hard link without the Files/ prefix (crane)',
    tar: rawTar([D('Files'), F('Files/a'), L('Files/h', 'a')]),
    code: 'LAYER_HARDLINK',
    rule: /outside Files/,
  },
  {
    title: 'hard link to a folder',
    tar: rawTar([D('Files'), D('Files/d'), L('Files/h', 'Files/d')]),
    code: 'LAYER_HARDLINK',
    rule: /folder/,
  },
  {
    title: 'hard link to a symlink',
    tar: rawTar([D('Files'), S('Files/s', '..\\..\\etc\\passwd'), L('Files/h', 'Files/s')]),
    code: 'LAYER_HARDLINK',
    rule: /symbolic link/,
  },
  {
    title: 'hard link in Hives',
    tar: rawTar([D('Files'), F('Files/a'), D('Hives'), L('Hives/h', 'Files/a')]),
    code: 'LAYER_INVALID',
    rule: /registry hive files only/,
  },
  {
    title: 'hard link through a symlinked folder',
    tar: rawTar([D('Files'), S('Files/s', '.'), F('Files/a'), L('Files/h', 'Files/s/a')]),
    code: 'LAYER_HARDLINK',
    rule: /missing/,
  },
  // writing through links
  {
    title: 'file through a symlink',
    tar: rawTar([D('Files'), S('Files/l', '..\\..\\..\\tmp'), F('Files/l/evil')]),
    code: 'LAYER_UNSAFE',
    rule: /symbolic link, not a folder/,
  },
  {
    title: 'folder through a symlink spelled in other case',
    tar: rawTar([D('Files'), S('Files/l', '\\Windows'), D('Files/L/sub')]),
    code: 'LAYER_UNSAFE',
    rule: /symbolic link/,
  },
  {
    title: 'symlink replacing an earlier folder',
    tar: rawTar([D('Files'), D('Files/d'), S('Files/d', '..\\..'), F('Files/d/x')]),
    code: 'LAYER_INVALID',
    rule: /duplicate/,
  },
  {
    title: 'file then symlink of the same name',
    tar: rawTar([D('Files'), F('Files/a'), S('Files/a', 'C:\\Windows')]),
    code: 'LAYER_INVALID',
    rule: /duplicate/,
  },
  {
    title: 'file through a file',
    tar: rawTar([D('Files'), F('Files/a'), F('Files/a/b')]),
    code: 'LAYER_UNSAFE',
    rule: /which is a file/,
  },
  {
    title: 'file through a hard link',
    tar: rawTar([D('Files'), F('Files/a'), L('Files/h', 'Files/a'), F('Files/h/x')]),
    code: 'LAYER_UNSAFE',
    rule: /hard link/,
  },
  // types
  {
    title: 'character device',
    tar: rawTar([D('Files'), { name: 'Files/tty', type: '3' }]),
    code: 'LAYER_SPECIAL_FILE',
    rule: /character device/,
  },
  {
    title: 'block device',
    tar: rawTar([D('Files'), { name: 'Files/sda', type: '4' }]),
    code: 'LAYER_SPECIAL_FILE',
    rule: /block device/,
  },
  {
    title: 'FIFO',
    tar: rawTar([D('Files'), { name: 'Files/fifo', type: '6' }]),
    code: 'LAYER_SPECIAL_FILE',
    rule: /FIFO/,
  },
  {
    title: 'unknown typeflag',
    tar: rawTar([D('Files'), { name: 'Files/v', type: 'Z' }]),
    code: 'LAYER_SPECIAL_FILE',
    rule: /cannot go/,
  },
  // whiteouts
  {
    title: 'opaque whiteout',
    tar: rawTar([D('Files'), D('Files/d'), F('Files/d/.wh..wh..opq', '')]),
    code: 'LAYER_INVALID',
    rule: /opaque/,
  },
  {
    title: 'whiteout in a base layer',
    tar: rawTar([D('Files'), F('Files/.wh.a', '')]),
    code: 'LAYER_INVALID',
    rule: /base layer cannot have tombstones/,
    kind: 'base',
  },
  {
    title: 'Hives in a base layer',
    tar: rawTar([D('Files'), D('Hives')]),
    code: 'LAYER_INVALID',
    rule: /base layer cannot have Hives/,
    kind: 'base',
  },
  {
    title: 'whiteout of the same name as an entry',
    tar: rawTar([D('Files'), F('Files/a'), F('Files/.wh.a', '')]),
    code: 'LAYER_INVALID',
    rule: /duplicate/,
  },
  {
    title: 'whiteout outside Files',
    tar: rawTar([D('Files'), D('Hives'), F('Hives/.wh.System_Delta', '')]),
    code: 'LAYER_INVALID',
    rule: /registry hive files only/,
  },
  {
    title: 'whiteout below a symlink',
    tar: rawTar([D('Files'), S('Files/l', '..'), F('Files/l/sub/.wh.x', '')]),
    code: 'LAYER_UNSAFE',
    rule: /symbolic link/,
  },
  // streams
  {
    title: 'ADS without its file',
    tar: rawTar([D('Files'), F('Files/a:Zone.Identifier')]),
    code: 'LAYER_INVALID',
    rule: /does not directly precede/,
  },
  {
    title: 'ADS after another file',
    tar: rawTar([D('Files'), F('Files/a'), F('Files/b'), F('Files/a:s')]),
    code: 'LAYER_INVALID',
    rule: /does not directly precede/,
  },
  {
    title: 'ADS on a folder',
    tar: rawTar([D('Files'), D('Files/d'), F('Files/d:hidden', 'payload')]),
    code: 'LAYER_INVALID',
    rule: /streams on folders/,
  },
  // malformed archives
  { title: 'an empty archive (no Files)', tar: rawTar([]), code: 'LAYER_INVALID', rule: /no Files folder/ },
  {
    title: 'Hives only',
    tar: rawTar([D('Hives'), F('Hives/Sam_Delta', 'regf')]),
    code: 'LAYER_INVALID',
    rule: /no Files folder/,
  },
  {
    title: 'PAX record over 1 MiB',
    tar: rawTar([D('Files'), { name: 'Files/a', data: 'x', pax: [['comment', big]] }]),
    code: 'TAR_TOO_LARGE',
    rule: /./,
  },
  {
    title: 'declared size beyond the archive',
    tar: rawTar([D('Files'), F('Files/a', 'x'.repeat(2000))], { cut: 1536 }),
    code: 'TAR_TRUNCATED',
    rule: /./,
  },
  {
    title: 'declared size larger than the data',
    tar: rawTar([D('Files'), { name: 'Files/a', data: 'xy', size: 1 << 20 }]),
    code: 'TAR_TRUNCATED',
    rule: /./,
  },
  {
    title: 'PAX length malformed',
    tar: rawTar([D('Files'), { name: 'Files/a', data: 'x', paxRaw: Buffer.from('99 path=Files/b\n') }]),
    code: 'TAR_PAX',
    rule: /./,
  },
  {
    title: 'fileattr not a number',
    tar: rawTar([D('Files'), { name: 'Files/a', data: 'x', pax: [['MSWINDOWS.fileattr', 'abc']] }]),
    code: 'TAR_PAX_VALUE',
    rule: /./,
  },
  {
    title: 'rawsd not base64',
    tar: rawTar([D('Files'), { name: 'Files/a', data: 'x', pax: [['MSWINDOWS.rawsd', '***']] }]),
    code: 'TAR_PAX_VALUE',
    rule: /./,
  },
  {
    title: 'a whiteout that carries data (it would be emptied without a word)',
    tar: rawTar([D('Files'), F('Files/.wh.gone', 'secret')]),
    code: 'LAYER_INVALID',
    rule: /a whiteout that carries 6 bytes of data/,
    kind: 'non-base',
  },
  {
    title: 'a security descriptor sd decode refuses (owner SID revision 2)',
    tar: rawTar([D('Files'), { name: 'Files/a', data: 'x', pax: [['MSWINDOWS.rawsd', OWNER_REVISION_2]] }]),
    code: 'SD_INVALID',
    rule: /security descriptor .*owner SID revision is 2, not 1/,
  },
  {
    title: 'mtime malformed',
    tar: rawTar([D('Files'), { name: 'Files/a', data: 'x', pax: [['mtime', '12x']] }]),
    code: 'TAR_PAX_VALUE',
    rule: /./,
  },
];

/** Imports `tar` into `<tmp>/out/layer` and checks the error and that nothing was left anywhere in `<tmp>`. */
async function expectRefused(t: import('node:test').TestContext, c: Case, viaGzip = false): Promise<WinlayerError> {
  const root = tempDir(t, 'winlayer-hostile-');
  const input = join(root, 'in.tar');
  writeFileSync(input, viaGzip ? gzipSync(c.tar) : c.tar);
  mkdirSync(join(root, 'out'));
  const target = join(root, 'out', 'layer');
  const err = await importLayer(
    input,
    target,
    c.kind === undefined ? { sync: false } : { kind: c.kind, sync: false },
  ).then(
    () => assert.fail(`${c.title}: the archive was accepted`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof WinlayerError, `${c.title}: not a WinlayerError: ${String(err)}`);
  assert.equal(err.code, c.code, `${c.title}: ${err.message}`);
  assert.match(err.message, c.rule);
  assert.deepEqual(readdirSync(join(root, 'out')), [], `${c.title}: something was left in the target's folder`);
  assert.deepEqual(readdirSync(root).sort(), ['in.tar', 'out'], `${c.title}: something was written beside the target`);
  return err;
}

test('at least 40 hostile archives', () => {
  assert.ok(CASES.length >= 40, `only ${CASES.length} cases`);
});

for (const c of CASES) {
  test(`refuses: ${c.title}`, async (t) => {
    const err = await expectRefused(t, c);
    if (c.code.startsWith('LAYER') || c.code.startsWith('NAME')) {
      assert.ok(err.entry !== undefined && err.entry !== '', `${c.title}: the error names no entry`);
    }
  });
}

test('refuses hostile archives compressed with gzip too', async (t) => {
  for (const c of CASES.slice(0, 5)) await expectRefused(t, c, true);
});

test('a refused import leaves an existing layer untouched (--force)', async (t) => {
  const root = tempDir(t, 'winlayer-hostile-');
  const target = join(root, 'layer');
  const good = join(root, 'good.tar');
  writeFileSync(good, rawTar([D('Files'), F('Files/a', 'hello')]));
  await importLayer(good, target, { sync: false });
  const bad = join(root, 'bad.tar');
  writeFileSync(bad, rawTar([D('Files'), F('Files/b', 'new'), F('Files/../../evil')]));
  await assert.rejects(importLayer(bad, target, { force: true, sync: false }), { code: 'LAYER_UNSAFE' });
  assert.deepEqual(readdirSync(join(target, 'Files')), ['a']);
  assert.deepEqual(readdirSync(root).sort(), ['bad.tar', 'good.tar', 'layer']);
});

test('the target must not exist or be empty; --force replaces it', async (t) => {
  const root = tempDir(t, 'winlayer-hostile-');
  const target = join(root, 'layer');
  const good = join(root, 'good.tar');
  writeFileSync(good, rawTar([D('Files'), F('Files/a', 'hello')]));
  mkdirSync(target);
  await importLayer(good, target, { sync: false }); // an empty folder is fine
  await assert.rejects(importLayer(good, target, { sync: false }), { code: 'LAYER_EXISTS' });
  writeFileSync(good, rawTar([D('Files'), F('Files/b', 'bye')]));
  const r = await importLayer(good, target, { force: true, sync: false });
  assert.equal(r.replaced, true);
  assert.deepEqual(readdirSync(join(target, 'Files')), ['b']);
  assert.deepEqual(readdirSync(root).sort(), ['good.tar', 'layer']);
});

test('stale temporaries of a killed import are removed by the next run', async (t) => {
  const root = tempDir(t, 'winlayer-hostile-');
  const target = join(root, 'layer');
  const stale = join(root, '.layer.winlayer-tmp-999999999-deadbeef');
  mkdirSync(join(stale, 'Files'), { recursive: true });
  const good = join(root, 'good.tar');
  writeFileSync(good, rawTar([D('Files'), F('Files/a', 'hello')]));
  await importLayer(good, target, { sync: false });
  assert.equal(existsSync(stale), false);
  assert.deepEqual(readdirSync(root).sort(), ['good.tar', 'layer']);
});

test('CLI: a hostile archive exits 1 naming the entry and the rule; stdin works', async (t) => {
  const root = tempDir(t, 'winlayer-hostile-');
  const target = join(root, 'layer');
  const bad = rawTar([D('Files'), S('Files/l', '..\\..\\..'), F('Files/l/evil')]);
  const r = await runCli(['import', target, '-i', '-'], { stdin: bad });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Files\/l\/evil: .*symbolic link, not a folder.*\(LAYER_UNSAFE\)/);
  assert.deepEqual(readdirSync(root), []);
  const ok = await runCli(['import', target, '--json'], { stdin: rawTar([D('Files'), F('Files/a', 'hi')]) });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(JSON.parse(ok.stdout).files, 1);
  const usage = await runCli(['import', target, '--base', '--non-base']);
  assert.equal(usage.code, 2);
});

test('a path longer than the host filesystem allows fails cleanly, naming the entry', async (t) => {
  const entries: RawEntry[] = [D('Files')];
  let p = 'Files';
  for (let i = 0; i < 20; i++) {
    p = `${p}/${String(i).padStart(3, '0')}${'d'.repeat(240)}`;
    entries.push(D(p));
  }
  const err = await expectRefused(t, {
    title: 'deep path',
    tar: rawTar(entries),
    code: 'IO',
    rule: /cannot write the entry/,
  });
  // Refused before it is made (the folder above it is the last one written), with the limit it passes.
  assert.match(
    err.message,
    /the path is \d+ bytes with the folder it is written to; this host takes at most \d+ \(PATH_MAX\)/,
  );
  assert.ok(err.entry?.startsWith('Files/000'));
});

test('a missing or folder input is SOURCE_UNREADABLE before anything is created', async (t) => {
  const root = tempDir(t, 'winlayer-hostile-');
  await assert.rejects(importLayer(join(root, 'none.tar'), join(root, 'layer')), { code: 'SOURCE_UNREADABLE' });
  await assert.rejects(importLayer(`layer:${root}`, join(root, 'layer')), { code: 'SOURCE_UNREADABLE' });
  assert.deepEqual(readdirSync(root), []);
  const r = await runCli(['import', join(root, 'layer'), '-i', join(root, 'none.tar')]);
  assert.equal(r.code, 2);
});

test('one verdict per security descriptor: sd decode refuses what import refuses', async (t) => {
  const root = tempDir(t, 'winlayer-hostile-');
  const decoded = await runCli(['sd', 'decode', OWNER_REVISION_2]);
  assert.equal(decoded.code, 1);
  assert.match(decoded.stderr, /owner SID revision is 2, not 1.*\(SD_INVALID\)/);
  const imported = await runCli(['import', join(root, 'layer'), '-i', '-'], {
    stdin: rawTar([D('Files'), { name: 'Files/a', data: 'x', pax: [['MSWINDOWS.rawsd', OWNER_REVISION_2]] }]),
  });
  assert.equal(imported.code, 1);
  assert.match(imported.stderr, /Files\/a: .*owner SID revision is 2, not 1.*\(SD_INVALID\)/);
  assert.deepEqual(readdirSync(root), []);
});

test('--force replaces a layer folder only: never a file, a link or another kind of folder', async (t) => {
  const root = tempDir(t, 'winlayer-hostile-');
  const good = join(root, 'good.tar');
  writeFileSync(good, rawTar([D('Files'), F('Files/a', 'hello')]));
  writeFileSync(join(root, 'victim.txt'), 'precious');
  mkdirSync(join(root, 'photos'));
  writeFileSync(join(root, 'photos', 'cat.jpg'), 'meow');
  symlinkSync(join(root, 'photos'), join(root, 'link'));
  for (const [name, what] of [
    ['victim.txt', 'a file'],
    ['photos', 'a folder that holds neither Files/ nor .winlayer/'],
    ['link', 'a symbolic link'],
  ] as const) {
    await assert.rejects(importLayer(good, join(root, name), { force: true, sync: false }), {
      code: 'LAYER_EXISTS',
      message: new RegExp(`${name}: the target is ${what}: --force replaces a layer folder only`),
    });
  }
  assert.equal(readFileSync(join(root, 'victim.txt'), 'utf8'), 'precious');
  assert.deepEqual(readdirSync(join(root, 'photos')), ['cat.jpg']);
  assert.deepEqual(readdirSync(root).sort(), ['good.tar', 'link', 'photos', 'victim.txt']);
  // A folder with Files/ only (a layer made by hand, or by hcsshim) is a layer folder.
  mkdirSync(join(root, 'byhand', 'Files'), { recursive: true });
  assert.equal((await importLayer(good, join(root, 'byhand'), { force: true, sync: false })).replaced, true);
});

test('an old layer an interrupted --force set aside is put back by the next import, which then refuses', async (t) => {
  const root = tempDir(t, 'winlayer-hostile-');
  const good = join(root, 'good.tar');
  writeFileSync(good, rawTar([D('Files'), F('Files/a', 'old')]));
  await importLayer(good, join(root, 'made'), { sync: false });
  // What a kill between the two renames leaves: no target, the old layer set aside, the new one as a temporary.
  renameSync(join(root, 'made'), join(root, '.layer.winlayer-old-999999999-0badc0de'));
  mkdirSync(join(root, '.layer.winlayer-tmp-999999999-deadbeef'));
  writeFileSync(good, rawTar([D('Files'), F('Files/b', 'new')]));
  await assert.rejects(importLayer(good, join(root, 'layer'), { sync: false }), { code: 'LAYER_EXISTS' });
  assert.deepEqual(readdirSync(root).sort(), ['good.tar', 'layer']);
  assert.equal(readFileSync(join(root, 'layer', 'Files', 'a'), 'utf8'), 'old');
});

// ── deep trees ───────────────────────────────────────────────────────────────────────────────────────────────────────

/** A scratch folder removed with `removeTree` (the test helper's recursive `rmSync` overflows on deep trees). */
function deepScratch(t: import('node:test').TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'winlayer-deep-'));
  t.after(() => removeTree(dir));
  return dir;
}

/** `Files` and `levels` nested folders `Files/d/d/…`; returns the entries and the deepest path. */
function nestedFolders(levels: number): { entries: RawEntry[]; deepest: string } {
  const entries: RawEntry[] = [D('Files')];
  let p = 'Files';
  for (let i = 0; i < levels; i++) {
    p = `${p}/d`;
    entries.push(D(p));
  }
  return { entries, deepest: p };
}

/** Levels of `d/` that bring a path in the temporary folder of `target` to `bytes` short of PATH_MAX. */
function levelsBelowLimit(target: string, bytes: number): number {
  const temp = Buffer.byteLength(
    `${join(dirname(target), `.${basename(target)}.winlayer-tmp-${process.pid}-00000000`)}/Files`,
  );
  return Math.floor((HOST_PATH_LIMITS.PATH_MAX - 1 - bytes - temp) / 2);
}

test('deep trees: an invalid name under ~2,000 folders is reported, and nothing is left behind', async (t) => {
  const root = deepScratch(t);
  const target = join(root, 'layer');
  const { entries, deepest } = nestedFolders(levelsBelowLimit(target, 20));
  assert.ok(entries.length > 1900, `${entries.length} levels`);
  const input = join(root, 'deep.tar');
  writeFileSync(input, rawTar([...entries, F(`${deepest}/a?b`)]));
  for (let run = 0; run < 2; run++) {
    await assert.rejects(importLayer(input, target, { sync: false }), {
      code: 'NAME_INVALID',
      message: /"a\?b" cannot be a Windows name/,
    });
    assert.deepEqual(readdirSync(root), ['deep.tar']);
  }
});

test('deep trees: a folder past PATH_MAX is refused before it is made, naming the limit', async (t) => {
  const root = deepScratch(t);
  const target = join(root, 'layer');
  const { entries } = nestedFolders(levelsBelowLimit(target, 0) + 40);
  const input = join(root, 'deep.tar');
  writeFileSync(input, rawTar(entries));
  await assert.rejects(importLayer(input, target, { sync: false }), {
    code: 'IO',
    message: /cannot write the entry: the path is \d+ bytes .* at most \d+ \(PATH_MAX\)/,
  });
  assert.deepEqual(readdirSync(root), ['deep.tar']);
});

test('deep trees: --force over a 2,000-deep layer replaces it and says so', async (t) => {
  const root = deepScratch(t);
  const target = join(root, 'layer');
  const { entries } = nestedFolders(levelsBelowLimit(target, 20));
  const input = join(root, 'deep.tar');
  writeFileSync(input, rawTar(entries));
  await importLayer(input, target, { sync: false });
  const r = await importLayer(input, target, { sync: false, force: true });
  assert.equal(r.replaced, true);
  assert.equal(r.directories, entries.length);
  assert.deepEqual(readdirSync(root).sort(), ['deep.tar', 'layer']);
});
