import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { badListHive } from '../../test/helpers/hives.js';
import { FIXTURES } from '../../test/helpers/tools.js';
import { bufferBody, type LayerEntry, type RawTarInfo } from '../entry.js';
import { WinlayerError } from '../errors.js';
import { type LintReport, lintLayer, looksUnpadded } from './lint.js';
import { LINT_RULES } from './rules.js';

const HIVE = readFileSync(join(FIXTURES, 'hives/valid/hostprocess-empty'));
const BCD = readFileSync(join(FIXTURES, 'hives/valid/imgutil-minimal-BCD'));
const DIRTY = readFileSync(join(FIXTURES, 'hives/dirty/regipy-SECURITY'));
const CORRUPT = badListHive();
/** ko's `O:BUG:BU`. */
const SD = Buffer.from('AQAAgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAhAgAAAQIAAAAAAAUgAAAAIQIAAA==', 'base64');
const T = 1_700_000_000_123_456_700n;

const win = (attributes?: number) => ({
  ...(attributes === undefined ? {} : { attributes }),
  securityDescriptor: SD,
  creationTime: T,
  lastWriteTime: T,
  lastAccessTime: T,
  changeTime: T,
});

function dir(path: string, attributes = 0x10): LayerEntry {
  return { kind: 'directory', path, win: win(attributes) };
}
function file(path: string, bytes: Uint8Array = Buffer.from('hello')): LayerEntry {
  return { kind: 'file', path, size: bytes.length, body: bufferBody(bytes), win: win(0x20) };
}
function link(path: string, linkTarget: string): LayerEntry {
  return { kind: 'hardlink', path, linkTarget, win: { ...win(0x20), securityDescriptor: undefined } };
}
function raw(e: LayerEntry, r: Partial<RawTarInfo>): LayerEntry {
  const base: RawTarInfo = {
    name: e.path,
    linkName: '',
    typeflag: '0',
    mode: 0o644,
    uid: 0,
    gid: 0,
    uname: '',
    gname: '',
    format: 'pax',
    pax: [{ key: 'MSWINDOWS.rawsd', value: SD.toString('base64') }],
    offset: 0,
  };
  return { ...e, raw: { ...base, ...r } };
}

/** A minimal clean base layer: the folders down to config and the five (valid, empty) hives. */
function baseLayer(hives: Partial<Record<string, Uint8Array | null>> = {}): LayerEntry[] {
  const out = [dir('Files'), dir('Files/Windows'), dir('Files/Windows/System32'), dir('Files/Windows/System32/config')];
  for (const h of ['DEFAULT', 'SAM', 'SECURITY', 'SOFTWARE', 'SYSTEM']) {
    const bytes = h in hives ? hives[h] : HIVE;
    if (bytes !== null && bytes !== undefined) out.push(file(`Files/Windows/System32/config/${h}`, bytes));
  }
  return out;
}

async function* stream(entries: LayerEntry[]): AsyncIterable<LayerEntry> {
  yield* entries;
}

async function lint(entries: LayerEntry[], opts = {}): Promise<LintReport> {
  return lintLayer(stream(entries), opts);
}

/** The (rule, entry) pairs of a report, in order: what each test compares whole. */
function found(r: LintReport): [string, string | undefined][] {
  return r.findings.map((f) => [f.rule, f.entry]);
}

describe('lintLayer', () => {
  it('finds nothing in a minimal clean base layer', async () => {
    const r = await lint(baseLayer());
    assert.deepEqual(found(r), []);
    assert.equal(r.base, true);
    assert.equal(r.entries, 9);
    assert.equal(r.errors, 0);
  });

  it('every finding carries its rule severity and a hint', async () => {
    const r = await lint([...baseLayer(), file('etc/passwd')]);
    for (const f of r.findings) {
      assert.equal(f.severity, LINT_RULES[f.rule].severity);
      assert.ok(f.hint.length > 0);
    }
  });

  it('entry-outside-layer: a Linux tar appended without the prefix, wrong case, UtilityVM children', async () => {
    const r = await lint([
      ...baseLayer(),
      dir('etc'),
      dir('files'),
      dir('UtilityVM'),
      dir('UtilityVM/Other'),
      dir('UtilityVM/Files'),
    ]);
    assert.deepEqual(found(r), [
      ['entry-outside-layer', 'etc'],
      ['entry-outside-layer', 'files'],
      ['case-collision', 'files'],
      ['entry-outside-layer', 'UtilityVM/Other'],
      ['bcd-invalid', 'UtilityVM/Files/EFI/Microsoft/Boot/BCD'],
    ]);
    assert.match(r.findings[1]!.message, /differs in case from Files/);
  });

  it('parent-missing and parent-not-directory', async () => {
    const r = await lint([...baseLayer(), file('Files/a/b.txt'), file('Files/c'), file('Files/c/d')]);
    assert.deepEqual(found(r), [
      ['parent-missing', 'Files/a/b.txt'],
      ['parent-not-directory', 'Files/c/d'],
    ]);
  });

  it('duplicate-entry and case-collision (by upcaseUnit)', async () => {
    const r = await lint([...baseLayer(), file('Files/x'), file('Files/x'), file('Files/ä'), file('Files/Ä')]);
    assert.deepEqual(found(r), [
      ['duplicate-entry', 'Files/x'],
      ['case-collision', 'Files/Ä'],
    ]);
  });

  it('case-collision follows Windows, not toUpperCase: ß and SS differ', async () => {
    const r = await lint([...baseLayer(), file('Files/straße'), file('Files/STRASSE')]);
    assert.deepEqual(found(r), []);
  });

  it('name-invalid: reserved names, trailing dot, forbidden characters', async () => {
    const r = await lint([...baseLayer(), file('Files/CON.txt'), file('Files/a.'), file('Files/a?b')]);
    assert.deepEqual(found(r), [
      ['name-invalid', 'Files/CON.txt'],
      ['name-invalid', 'Files/a.'],
      ['name-invalid', 'Files/a?b'],
    ]);
  });

  it('whiteout-in-base-layer when the layer is a base layer', async () => {
    const wh: LayerEntry = {
      kind: 'whiteout',
      path: 'Files/.wh.gone',
      target: 'Files/gone',
      win: { lastWriteTime: 0n },
    };
    const opq: LayerEntry = {
      kind: 'opaqueWhiteout',
      path: 'Files/.wh..wh..opq',
      directory: 'Files',
      win: { lastWriteTime: 0n },
    };
    const r = await lint([...baseLayer(), wh, opq], { base: true });
    assert.deepEqual(found(r), [
      ['whiteout-in-base-layer', 'Files/.wh.gone'],
      ['whiteout-in-base-layer', 'Files/.wh..wh..opq'],
    ]);
    // Detected: a whiteout makes the layer non-base; the opaque marker is still an error there.
    const d = await lint([dir('Files'), file('Files/a'), wh, opq]);
    assert.equal(d.base, false);
    assert.deepEqual(found(d), [['opaque-whiteout', 'Files/.wh..wh..opq']]);
  });

  it('base-hive-missing and base-hive-invalid: empty, dirty, corrupt', async () => {
    const r = await lint(baseLayer({ DEFAULT: null, SAM: new Uint8Array(0), SECURITY: DIRTY, SOFTWARE: CORRUPT }));
    assert.deepEqual(found(r), [
      ['base-hive-missing', 'Files/Windows/System32/config/DEFAULT'],
      ['base-hive-invalid', 'Files/Windows/System32/config/SAM'],
      ['base-hive-invalid', 'Files/Windows/System32/config/SECURITY'],
      ['base-hive-invalid', 'Files/Windows/System32/config/SOFTWARE'],
    ]);
    assert.match(r.findings[1]!.message, /empty/);
    assert.match(r.findings[2]!.message, /dirty/);
    assert.match(r.findings[3]!.message, /corrupt/);
  });

  it('a non-base layer needs no hives', async () => {
    const r = await lint([dir('Files'), dir('Hives'), file('Files/a')]);
    assert.equal(r.base, false);
    assert.deepEqual(found(r), []);
  });

  it('hives-in-base-layer when a layer with Hives/ is linted as base', async () => {
    const r = await lint([...baseLayer(), dir('Hives')], { base: true });
    assert.deepEqual(found(r), [['hives-in-base-layer', undefined]]);
  });

  it('bcd-invalid: UtilityVM/Files without a BCD, or with a corrupt one; a clean BCD passes', async () => {
    const uvm = [dir('UtilityVM'), dir('UtilityVM/Files'), dir('UtilityVM/Files/EFI')];
    const boot = [dir('UtilityVM/Files/EFI/Microsoft'), dir('UtilityVM/Files/EFI/Microsoft/Boot')];
    assert.deepEqual(found(await lint([...baseLayer(), ...uvm])), [
      ['bcd-invalid', 'UtilityVM/Files/EFI/Microsoft/Boot/BCD'],
    ]);
    const bad = [...baseLayer(), ...uvm, ...boot, file('UtilityVM/Files/EFI/Microsoft/Boot/BCD', CORRUPT)];
    assert.deepEqual(found(await lint(bad)), [['bcd-invalid', 'UtilityVM/Files/EFI/Microsoft/Boot/BCD']]);
    const notBcd = [...baseLayer(), ...uvm, ...boot, file('UtilityVM/Files/EFI/Microsoft/Boot/BCD', HIVE)];
    const nb = await lint(notBcd);
    assert.deepEqual(found(nb), [['bcd-invalid', 'UtilityVM/Files/EFI/Microsoft/Boot/BCD']]);
    assert.match(nb.findings[0]!.message, /not a BCD store/);
    const good = [...baseLayer(), ...uvm, ...boot, file('UtilityVM/Files/EFI/Microsoft/Boot/BCD', BCD)];
    assert.deepEqual(found(await lint(good)), []);
  });

  it('hard links: unprefixed (crane), missing, later, to a folder; chains and links from UtilityVM into Files pass', async () => {
    const r = await lint(
      [
        ...baseLayer(),
        file('Files/a'),
        link('Files/b', 'a'),
        link('Files/c', 'Files/nowhere'),
        link('Files/d', 'Files/e'),
        file('Files/e'),
        link('Files/f', 'Files/Windows'),
        link('Files/g', 'Files/d'),
        dir('UtilityVM'),
        dir('UtilityVM/Files'),
        link('UtilityVM/Files/a', 'Files/a'),
      ],
      { base: true },
    );
    assert.deepEqual(
      found(r).filter(([rule]) => rule !== 'bcd-invalid'),
      [
        ['hardlink-target-unprefixed', 'Files/b'],
        ['hardlink-target-later', 'Files/e'],
        ['hardlink-target-invalid', 'Files/f'],
        ['hardlink-target-missing', 'Files/c'],
      ],
    );
    assert.match(r.findings[0]!.hint, /Files\/a/);
  });

  it('a hard link in a non-base layer may point into a parent layer (warning)', async () => {
    const r = await lint([dir('Files'), dir('Hives'), link('Files/b', 'Files/in-parent')]);
    assert.deepEqual(found(r), [['hardlink-target-in-parent', 'Files/b']]);
  });

  it('directory-attribute-missing: a folder whose fileattr lacks 0x10', async () => {
    const r = await lint([...baseLayer(), dir('Files/d', 0x20)]);
    assert.deepEqual(found(r), [['directory-attribute-missing', 'Files/d']]);
    assert.match(r.findings[0]!.hint, /fileattr=48/);
  });

  it('sd-invalid: a security descriptor that does not decode', async () => {
    const bad = {
      ...file('Files/x'),
      win: { ...win(0x20), securityDescriptor: new Uint8Array([1, 0, 4]) },
    } as LayerEntry;
    const r = await lint([...baseLayer(), bad]);
    assert.deepEqual(found(r), [['sd-invalid', 'Files/x']]);
  });

  it('unsupported-entry-type and stream rules', async () => {
    const fifo: LayerEntry = { kind: 'special', path: 'Files/p', typeflag: '6', description: 'FIFO', win: win() };
    const s = (path: string, filePath: string, streamName: string): LayerEntry => ({
      kind: 'stream',
      path,
      filePath,
      streamName,
      size: 0,
      body: bufferBody(new Uint8Array(0)),
      win: { lastWriteTime: T },
    });
    const r = await lint([
      ...baseLayer(),
      fifo,
      file('Files/f'),
      s('Files/f:ok', 'Files/f', 'ok'),
      s('Files/f:bad\\x', 'Files/f', 'bad\\x'),
      dir('Files/g'),
      s('Files/a:z', 'Files/a', 'z'),
    ]);
    assert.deepEqual(found(r), [
      ['unsupported-entry-type', 'Files/p'],
      ['stream-name-invalid', 'Files/f:bad\\x'],
      ['stream-without-file', 'Files/a:z'],
    ]);
  });

  it('raw header warnings: ./, trailing /, non-PAX, mode 000, unpadded creation time, unknown PAX, legacy sd', async () => {
    const r = await lint([
      ...baseLayer(),
      raw(dir('Files/a'), { name: './Files/a/', typeflag: '5', mode: 0o755 }),
      raw(file('Files/b'), { format: 'ustar' }),
      raw(file('Files/c'), { mode: 0o100000 }),
      raw(file('Files/d'), {
        pax: [
          { key: 'LIBARCHIVE.creationtime', value: '1700000000.50000000' },
          { key: 'MSWINDOWS.rawsd', value: SD.toString('base64') },
        ],
      }),
      raw(file('Files/e'), {
        pax: [
          { key: 'MSWINDOWS.rawsd', value: SD.toString('base64') },
          { key: 'SCHILY.xattr.user.x', value: '1' },
        ],
      }),
      raw(file('Files/f'), { pax: [{ key: 'MSWINDOWS.sd', value: 'O:BUG:BU' }] }),
    ]);
    assert.deepEqual(found(r), [
      ['name-dot-slash', 'Files/a'],
      ['name-trailing-slash', 'Files/a'],
      ['non-pax-entry', 'Files/b'],
      ['creation-time-unpadded', 'Files/d'],
      ['unknown-pax-record', 'Files/e'],
      ['legacy-sd-record', 'Files/f'],
      ['mode-000', 'Files/c'], // one finding for every such entry, at the end
    ]);
    assert.ok(r.findings.every((f) => f.severity === 'warning'));
  });

  it('rawsd-missing: files, folders and symlinks; hard links, streams and whiteouts are exempt', async () => {
    const noSd = (e: LayerEntry) => ({ ...e, win: { ...e.win, securityDescriptor: undefined } }) as LayerEntry;
    const r = await lint([
      dir('Files'),
      dir('Hives'),
      noSd(dir('Files/d')),
      noSd(file('Files/f')),
      { kind: 'symlink', path: 'Files/s', linkTarget: 'f', win: { lastWriteTime: T } },
      link('Files/l', 'Files/f'),
      { kind: 'whiteout', path: 'Files/.wh.x', target: 'Files/x', win: { lastWriteTime: 0n } },
    ]);
    assert.deepEqual(found(r), [
      ['rawsd-missing', 'Files/d'],
      ['rawsd-missing', 'Files/f'],
      ['rawsd-missing', 'Files/s'],
    ]);
  });

  it('symlink-target-prefixed: BuildKit and buildah give symlink targets the Files/ prefix', async () => {
    const sym = (path: string, linkTarget: string): LayerEntry => ({
      kind: 'symlink',
      path,
      linkTarget,
      win: win(0x400),
    });
    const r = await lint([...baseLayer(), sym('Files/a', 'Files/Windows'), sym('Files/b', 'Windows\\System32')]);
    assert.deepEqual(found(r), [['symlink-target-prefixed', 'Files/a']]);
  });

  it('archive-corrupt: a source that fails mid-stream is a finding, not a throw', async () => {
    async function* broken(): AsyncIterable<LayerEntry> {
      yield dir('Files');
      throw new WinlayerError('TAR_CHECKSUM', 'header checksum 123 does not match', { entry: 'Files/x', offset: 512 });
    }
    const r = await lintLayer(broken());
    assert.deepEqual(found(r).slice(0, 1), [['archive-corrupt', 'Files/x']]);
    assert.equal(r.entries, 1);
  });

  it('an unopenable source still throws', async () => {
    async function* missing(): AsyncIterable<LayerEntry> {
      yield* [];
      throw new WinlayerError('NOT_FOUND', 'no such file', { path: '/nope.tar' });
    }
    await assert.rejects(lintLayer(missing()), (e: unknown) => e instanceof WinlayerError && e.code === 'NOT_FOUND');
  });

  it('labels findings with the layer', async () => {
    const r = await lint([dir('Files'), dir('Hives'), file('x')], { layer: 'layer 2' });
    assert.deepEqual(
      r.findings.map((f) => f.layer),
      ['layer 2'],
    );
  });

  it('looksUnpadded: fewer than 9 fraction digits ending in 0', () => {
    assert.equal(looksUnpadded('1700000000.50000000'), true);
    assert.equal(looksUnpadded('1700000000.5'), false);
    assert.equal(looksUnpadded('1700000000.050000000'), false);
    assert.equal(looksUnpadded('1700000000'), false);
    assert.equal(looksUnpadded('1700000000.1234560'), true);
  });
});

describe('rule coverage', () => {
  it('every rule of the catalog is asserted by a test with its own bad layer', () => {
    const tests = [
      './lint.test.ts',
      '../../test/lint.test.ts',
      '../../test/inspect-sources.test.ts',
      '../../test/layer-deltas.test.ts',
    ]
      .map((f) => readFileSync(new URL(f, import.meta.url), 'utf8'))
      .join('\n');
    const missing = Object.keys(LINT_RULES).filter((id) => !new RegExp(`'${id}[ ']`).test(tests));
    assert.deepEqual(missing, []);
  });
});
