import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { compress as zstdCompress } from 'zstd-napi';
import type { EntryBody, LayerEntry } from '../entry.js';
import { WinlayerError } from '../errors.js';
import { sddlToBytes } from '../windows/index.js';
import { USTAR } from './header.js';
import { readTar } from './read.js';
import {
  chunks,
  collect,
  concat,
  END,
  fixChecksum,
  headerBlock,
  member,
  paxMember,
  SAMPLE_SD,
  SAMPLE_TIME,
  sampleLayer as sample,
  tarOf,
} from './testing.js';
import type { ReadTarOptions } from './types.js';

const T = SAMPLE_TIME;
const T_SEC = 1677606423;
const SD = SAMPLE_SD;
const enc = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
const MODES = ['whole', 'bytes', 'random'] as const;

async function readAll(bytes: Uint8Array, mode: (typeof MODES)[number] = 'whole', opts?: ReadTarOptions) {
  return collect(readTar(chunks(bytes, mode), opts));
}

async function rejects(bytes: Uint8Array, code: string, match?: RegExp, opts?: ReadTarOptions): Promise<WinlayerError> {
  let caught: unknown;
  for (const mode of MODES) {
    caught = undefined;
    try {
      await readAll(bytes, mode, opts);
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof WinlayerError, `${mode}: expected a WinlayerError, got ${String(caught)}`);
    assert.equal(caught.code, code, `${mode}: ${caught.message}`);
    if (match !== undefined) assert.match(caught.message, match);
  }
  return caught as WinlayerError;
}

/** The WinlayerError `f` rejects with. */
async function caught(f: () => Promise<unknown>): Promise<WinlayerError> {
  try {
    await f();
  } catch (e) {
    assert.ok(e instanceof WinlayerError, String(e));
    return e;
  }
  assert.fail('expected an error');
}

/** What reading `sample()` back must give (everything the writer decided, spelled out). */
function sampleRead(): unknown[] {
  const t = (lw: bigint, extra: Record<string, unknown> = {}) => ({
    creationTime: lw,
    lastAccessTime: lw,
    changeTime: lw,
    lastWriteTime: lw,
    ...extra,
  });
  return [
    { kind: 'directory', path: 'Files', win: t(T, { attributes: 0x10 }) },
    {
      kind: 'file',
      path: 'Files/hello.txt',
      size: 5,
      data: 'hello',
      win: {
        creationTime: T - 10_000_000n,
        attributes: 0x21,
        securityDescriptor: new Uint8Array(SD),
        extendedAttributes: [{ name: 'user.x', value: enc('ea') }],
        lastAccessTime: T + 100n,
        changeTime: T + 200n,
        lastWriteTime: T,
      },
      extraPax: [{ key: 'MSWINDOWS.future', value: 'keep me' }],
    },
    {
      kind: 'stream',
      path: 'Files/hello.txt:Zone.Identifier',
      filePath: 'Files/hello.txt',
      streamName: 'Zone.Identifier',
      size: 600,
      data: 'z'.repeat(600),
      win: t(T),
    },
    { kind: 'hardlink', path: 'Files/link.txt', linkTarget: 'Files/hello.txt', win: t(T, { attributes: 0x20 }) },
    {
      kind: 'symlink',
      path: 'Files/junction',
      linkTarget: 'C:\\Windows',
      win: t(T, { attributes: 0x410, mountPoint: true }),
    },
    { kind: 'whiteout', path: 'Files/.wh.gone', target: 'Files/gone', win: { lastWriteTime: 0n } },
    {
      kind: 'file',
      path: `Files/${'long-'.repeat(30)}ü.txt`,
      size: 1,
      data: 'x',
      win: t(-1_500_000_000n, { attributes: 0x20 }),
    },
  ];
}

function strip(list: unknown[]): unknown[] {
  return list.map((e) => {
    const { raw: _raw, ...rest } = e as { raw?: unknown };
    return rest;
  });
}

describe('readTar', () => {
  for (const mode of MODES) {
    it(`reads what writeTar writes (${mode} chunks)`, async () => {
      const bytes = await tarOf(sample());
      assert.deepEqual(strip(await readAll(bytes, mode)), sampleRead());
    });
  }

  it('fills raw with the header as stored', async () => {
    const list = await readAll(await tarOf(sample()));
    assert.deepEqual(list[0]!.raw, {
      name: 'Files',
      linkName: '',
      typeflag: '5',
      mode: 0o755,
      uid: 0,
      gid: 0,
      uname: '',
      gname: '',
      format: 'pax',
      pax: [
        { key: 'LIBARCHIVE.creationtime', value: '1677606423.1234567' },
        { key: 'MSWINDOWS.fileattr', value: '16' },
        { key: 'atime', value: '1677606423.1234567' },
        { key: 'ctime', value: '1677606423.1234567' },
        { key: 'mtime', value: '1677606423.1234567' },
      ],
      offset: 0,
    });
    assert.equal(list[5]!.raw?.format, 'ustar');
    assert.equal(list[5]!.raw?.mode, 0);
  });

  for (const c of ['gzip', 'zstd'] as const) {
    it(`detects ${c} from the bytes`, async () => {
      const plain = await tarOf(sample());
      const packed = c === 'gzip' ? gzipSync(plain) : zstdCompress(plain);
      for (const mode of MODES) {
        assert.deepEqual(strip(await readAll(new Uint8Array(packed), mode)), sampleRead());
      }
    });
  }

  it('reports corrupt compressed data as COMPRESSION', async () => {
    const packed = gzipSync(await tarOf(sample()));
    await rejects(new Uint8Array(packed.subarray(0, packed.length - 20)), 'COMPRESSION');
    const z = zstdCompress(await tarOf(sample()));
    await rejects(new Uint8Array(z.subarray(0, z.length - 10)), 'COMPRESSION');
  });

  it('reads a tar without PAX records (plain ustar, leading ./, trailing /) with defaults', async () => {
    const bytes = concat([
      member({ name: './', mode: 0o755, mtime: T_SEC, typeflag: '5' }),
      member({ name: './Files/', mode: 0o755, mtime: T_SEC, typeflag: '5' }),
      member({ name: './Files/a.txt', mode: 0o644, mtime: T_SEC, typeflag: '0' }, enc('abc')),
      member({ name: 'Files/old/', mode: 0o755, mtime: T_SEC, typeflag: '\0' }),
      member({ name: 'Files/contig', mode: 0o644, mtime: T_SEC, typeflag: '7' }, enc('c')),
      END,
    ]);
    for (const mode of MODES) {
      const list = await readAll(bytes, mode);
      assert.deepEqual(
        list.map((e) => [e.kind, e.path, e.raw?.name, e.win, e.data]),
        [
          ['directory', '', './', { lastWriteTime: BigInt(T_SEC) * 1_000_000_000n }, undefined],
          ['directory', 'Files', './Files/', { lastWriteTime: BigInt(T_SEC) * 1_000_000_000n }, undefined],
          ['file', 'Files/a.txt', './Files/a.txt', { lastWriteTime: BigInt(T_SEC) * 1_000_000_000n }, 'abc'],
          ['directory', 'Files/old', 'Files/old/', { lastWriteTime: BigInt(T_SEC) * 1_000_000_000n }, undefined],
          ['file', 'Files/contig', 'Files/contig', { lastWriteTime: BigInt(T_SEC) * 1_000_000_000n }, 'c'],
        ],
      );
      assert.equal(list[2]!.raw?.format, 'ustar');
    }
  });

  it('applies global records to every later entry; x records override; an empty value deletes', async () => {
    const bytes = concat([
      paxMember(
        [
          { key: 'MSWINDOWS.fileattr', value: '34' },
          { key: 'comment', value: 'g' },
        ],
        'g',
      ),
      member({ name: 'a', mode: 0o644, mtime: 0, typeflag: '0' }),
      paxMember([{ key: 'MSWINDOWS.fileattr', value: '1' }]),
      member({ name: 'b', mode: 0o644, mtime: 0, typeflag: '0' }),
      paxMember([{ key: 'MSWINDOWS.fileattr', value: '' }], 'g'),
      member({ name: 'c', mode: 0o644, mtime: 0, typeflag: '0' }),
      END,
    ]);
    const list = await readAll(bytes);
    assert.deepEqual(
      list.map((e) => [e.path, e.win.attributes, e.extraPax, e.raw?.pax, e.raw?.format]),
      [
        [
          'a',
          34,
          [{ key: 'comment', value: 'g' }],
          [
            { key: 'MSWINDOWS.fileattr', value: '34' },
            { key: 'comment', value: 'g' },
          ],
          'pax',
        ],
        [
          'b',
          1,
          [{ key: 'comment', value: 'g' }],
          [
            { key: 'MSWINDOWS.fileattr', value: '34' },
            { key: 'comment', value: 'g' },
            { key: 'MSWINDOWS.fileattr', value: '1' },
          ],
          'pax',
        ],
        ['c', undefined, [{ key: 'comment', value: 'g' }], [{ key: 'comment', value: 'g' }], 'pax'],
      ],
    );
  });

  it('reads GNU long names and link names (L, K)', async () => {
    const long = `Files/${'d/'.repeat(80)}file.txt`;
    const gnu = (b: Uint8Array) => {
      b.set(enc('ustar  \0'), USTAR.magic.at);
    };
    const ll = (name: string, flag: 'L' | 'K') =>
      concat([
        headerBlock({ name: '././@LongLink', mode: 0, size: name.length + 1, mtime: 0, typeflag: flag }, gnu),
        new Uint8Array(Math.ceil((name.length + 1) / 512) * 512).fill(0).map((_, i) => name.charCodeAt(i) || 0),
      ]);
    const bytes = concat([
      ll(long, 'L'),
      headerBlock({ name: long.slice(0, 100), mode: 0o644, size: 2, mtime: T_SEC, typeflag: '0' }, gnu),
      new Uint8Array(512).fill(0x41, 0, 2),
      ll(long, 'L'),
      ll(`${long}.target`, 'K'),
      headerBlock({ name: long.slice(0, 100), mode: 0o644, size: 0, mtime: T_SEC, typeflag: '1' }, gnu),
      END,
    ]);
    for (const mode of MODES) {
      const list = await readAll(bytes, mode);
      assert.deepEqual(
        list.map((e) => [e.kind, e.path, e.kind === 'hardlink' ? e.linkTarget : e.data, e.raw?.format]),
        [
          ['file', long, 'AA', 'gnu'],
          ['hardlink', long, `${long}.target`, 'gnu'],
        ],
      );
    }
  });

  it('attaches alternate data streams (with or without :$DATA) only right after their file or folder', async () => {
    const bytes = concat([
      member({ name: 'Files/a.exe', mode: 0o644, mtime: 0, typeflag: '0' }, enc('MZ')),
      member({ name: 'Files/a.exe:Zone.Identifier:$DATA', mode: 0o644, mtime: 0, typeflag: '0' }, enc('z1')),
      member({ name: 'Files/a.exe:two', mode: 0o644, mtime: 0, typeflag: '0' }, enc('z2')),
      member({ name: 'Files/dir', mode: 0o755, mtime: 0, typeflag: '5' }),
      member({ name: 'Files/dir:s', mode: 0o644, mtime: 0, typeflag: '0' }, enc('d')),
      member({ name: 'Files/b.txt', mode: 0o644, mtime: 0, typeflag: '0' }),
      member({ name: 'Files/a.exe:late', mode: 0o644, mtime: 0, typeflag: '0' }, enc('?')),
      END,
    ]);
    const list = await readAll(bytes);
    assert.deepEqual(
      list.map((e) => [e.kind, e.path, e.kind === 'stream' ? `${e.filePath}|${e.streamName}` : '', e.raw?.name]),
      [
        ['file', 'Files/a.exe', '', 'Files/a.exe'],
        ['stream', 'Files/a.exe:Zone.Identifier', 'Files/a.exe|Zone.Identifier', 'Files/a.exe:Zone.Identifier:$DATA'],
        ['stream', 'Files/a.exe:two', 'Files/a.exe|two', 'Files/a.exe:two'],
        ['directory', 'Files/dir', '', 'Files/dir'],
        ['stream', 'Files/dir:s', 'Files/dir|s', 'Files/dir:s'],
        ['file', 'Files/b.txt', '', 'Files/b.txt'],
        ['file', 'Files/a.exe:late', '', 'Files/a.exe:late'],
      ],
    );
  });

  it('reads whiteouts, opaque markers and special entries', async () => {
    const bytes = concat([
      member({ name: 'Files/dir/.wh.gone.txt', mode: 0, mtime: 0, typeflag: '0' }),
      member({ name: 'Files/dir/.wh..wh..opq', mode: 0, mtime: 0, typeflag: '0' }),
      member({ name: '.wh.top', mode: 0, mtime: 0, typeflag: '0' }),
      member({ name: 'dev/null', mode: 0o666, mtime: 0, typeflag: '3' }),
      member({ name: 'dev/sda', mode: 0o666, mtime: 0, typeflag: '4' }),
      member({ name: 'fifo', mode: 0o666, mtime: 0, typeflag: '6' }),
      member({ name: 'weird', mode: 0o666, mtime: 0, typeflag: 'Q' }, enc('skipped data')),
      paxMember([
        { key: 'GNU.sparse.major', value: '1' },
        { key: 'GNU.sparse.minor', value: '0' },
      ]),
      member({ name: 'sparse', mode: 0o644, mtime: 0, typeflag: '0' }, enc('map')),
      member({ name: 'after', mode: 0o644, mtime: 0, typeflag: '0' }, enc('ok')),
      END,
    ]);
    const list = await readAll(bytes, 'random');
    assert.deepEqual(
      list.map((e) => {
        if (e.kind === 'whiteout') return [e.kind, e.path, e.target];
        if (e.kind === 'opaqueWhiteout') return [e.kind, e.path, e.directory];
        if (e.kind === 'special') return [e.kind, e.path, e.typeflag, e.description];
        return [e.kind, e.path, e.data];
      }),
      [
        ['whiteout', 'Files/dir/.wh.gone.txt', 'Files/dir/gone.txt'],
        ['opaqueWhiteout', 'Files/dir/.wh..wh..opq', 'Files/dir'],
        ['whiteout', '.wh.top', 'top'],
        ['special', 'dev/null', '3', 'character device'],
        ['special', 'dev/sda', '4', 'block device'],
        ['special', 'fifo', '6', 'FIFO'],
        ['special', 'weird', 'Q', 'typeflag "Q"'],
        ['special', 'sparse', '0', 'GNU sparse file'],
        ['file', 'after', 'ok'],
      ],
    );
  });

  it('converts a legacy MSWINDOWS.sd (SDDL) when there is no rawsd', async () => {
    const expected = sddlToBytes('O:BUG:BU');
    const bytes = concat([
      paxMember([{ key: 'MSWINDOWS.sd', value: 'O:BUG:BU' }]),
      member({ name: 'a', mode: 0o644, mtime: 0, typeflag: '0' }),
      paxMember([
        { key: 'MSWINDOWS.rawsd', value: SD.toString('base64') },
        { key: 'MSWINDOWS.sd', value: 'O:BAG:BA' },
      ]),
      member({ name: 'b', mode: 0o644, mtime: 0, typeflag: '0' }),
      END,
    ]);
    const list = await readAll(bytes);
    assert.deepEqual(list[0]!.win.securityDescriptor, expected);
    assert.deepEqual(list[1]!.win.securityDescriptor, new Uint8Array(SD));
  });

  it('reads base-256 numbers (GNU) for size and a negative mtime', async () => {
    const block = headerBlock({ name: 'big', mode: 0o644, size: 0, mtime: 0, typeflag: '0' }, (b) => {
      b.fill(0, USTAR.size.at, USTAR.size.at + 12);
      b[USTAR.size.at] = 0x80;
      b[USTAR.size.at + 11] = 3;
      b.fill(0xff, USTAR.mtime.at, USTAR.mtime.at + 12); // -1
    });
    const list = await readAll(concat([block, new Uint8Array(512).fill(0x61, 0, 3), END]));
    assert.deepEqual([list[0]!.data, list[0]!.win.lastWriteTime], ['aaa', -1_000_000_000n]);
  });
});

describe('readTar bodies', () => {
  it('skips unread bodies, refuses stale and second reads, never hangs', async () => {
    const bytes = await tarOf(sample());
    const seen: string[] = [];
    let stale: LayerEntry | undefined;
    for await (const e of readTar(chunks(bytes, 'random', 7))) {
      seen.push(e.path);
      if (e.kind === 'file' && e.path === 'Files/hello.txt') {
        // read one chunk only, then move on
        for await (const _ of e.body) break;
        await assert.rejects(async () => {
          for await (const _ of e.body) void _;
        }, /BODY_STALE/);
        stale = e;
      }
    }
    assert.equal(seen.length, 7);
    assert.ok(stale !== undefined && stale.kind === 'file');
    await assert.rejects(async () => {
      for await (const _ of stale.body) void _;
    }, /BODY_STALE/);
  });

  it('stops cleanly when the consumer breaks early', async () => {
    let returned = false;
    async function* src() {
      try {
        yield* chunks(await tarOf(sample()), 'random');
      } finally {
        returned = true;
      }
    }
    for await (const e of readTar(src())) {
      assert.equal(e.path, 'Files');
      break;
    }
    assert.ok(returned);
  });

  it('offers read for a body within the current chunk: same bytes, one way only, stale after moving on', async () => {
    const bytes = await tarOf(sample());
    let synced = 0;
    let kept: LayerEntry | undefined;
    for await (const e of readTar(chunks(bytes, 'whole'))) {
      if (e.kind !== 'file' && e.kind !== 'stream') continue;
      const body = e.body;
      assert.ok(body.read !== undefined, `${e.path}: the whole archive is one chunk`);
      const buf = new Uint8Array(5); // smaller than most bodies: several calls, at an offset
      const got: number[] = [];
      for (let n = body.read(buf, 2, 3); n > 0; n = body.read(buf, 2, 3)) got.push(...buf.subarray(2, 2 + n));
      assert.equal(got.length, e.size);
      assert.equal(body.read(buf, 0, 5), 0);
      assert.throws(() => e.body[Symbol.asyncIterator](), /BODY_STALE/);
      synced++;
      kept = e;
    }
    assert.ok(synced >= 2);
    assert.ok(kept !== undefined && (kept.kind === 'file' || kept.kind === 'stream'));
    assert.throws(() => kept.body.read!(new Uint8Array(8), 0, 8), /BODY_STALE/);
    // The same archive read through the async path gives the same bytes.
    const viaAsync = await readAll(bytes, 'whole');
    const viaBytes = await readAll(bytes, 'bytes');
    assert.deepEqual(viaBytes, viaAsync);
  });

  it('view lends the bytes read would copy, shares its one way, and exists only where read does', async () => {
    const bytes = await tarOf(sample());
    const whole = new Map<string, Buffer>();
    let kept: EntryBody | undefined;
    for await (const e of readTar(chunks(bytes, 'whole'))) {
      if (e.kind !== 'file' && e.kind !== 'stream') continue;
      const body = e.body;
      assert.ok(body.view !== undefined && body.read !== undefined, e.path);
      const parts: Uint8Array[] = [];
      // Copied: a view is lent briefly.
      for (let v = body.view(3); v.length > 0; v = body.view(3)) parts.push(Buffer.from(v));
      assert.equal(body.read(new Uint8Array(8), 0, 8), 0, 'the synchronous reads share one position');
      assert.throws(() => body[Symbol.asyncIterator](), /BODY_STALE/);
      whole.set(e.path, Buffer.concat(parts));
      kept = body;
    }
    assert.throws(() => kept!.view!(8), /BODY_STALE/);
    assert.ok(whole.size >= 2);
    const viaAsync = await readAll(bytes, 'whole');
    for (const [path, data] of whole) {
      const entry = viaAsync.find((x) => x.path === path) as { data?: string } | undefined;
      assert.equal(data.toString('latin1'), entry?.data, path);
    }
    for await (const e of readTar(chunks(bytes, 'bytes'))) {
      if ((e.kind === 'file' || e.kind === 'stream') && e.size > 1) assert.equal(e.body.view, undefined);
    }
  });

  it('an iterated body offers no second way: read after iteration is BODY_STALE', async () => {
    for await (const e of readTar(chunks(await tarOf(sample()), 'whole'))) {
      if (e.kind !== 'file' || e.size === 0) continue;
      for await (const _ of e.body) void _;
      assert.throws(() => e.body.read!(new Uint8Array(8), 0, 8), /BODY_STALE/);
    }
  });

  it('a body that spans input chunks has no read (it must be awaited)', async () => {
    let spanning = 0;
    for await (const e of readTar(chunks(await tarOf(sample()), 'bytes'))) {
      if ((e.kind === 'file' || e.kind === 'stream') && e.size > 1) {
        assert.equal(e.body.read, undefined, e.path);
        spanning++;
      }
    }
    assert.ok(spanning >= 1);
  });

  it('is iterable only once', async () => {
    const r = readTar(chunks(await tarOf(sample()), 'whole'));
    for await (const _ of r) void _;
    assert.throws(() => r[Symbol.asyncIterator](), /BODY_STALE/);
  });
});

describe('readTar rejects malformed archives with a typed error', () => {
  const ok = (name = 'Files/a') => member({ name, mode: 0o644, mtime: 0, typeflag: '0' }, enc('data'));

  it('a bad header checksum', async () => {
    const b = concat([ok(), END]);
    b[200] = b[200]! ^ 1;
    const e = await rejects(b, 'TAR_CHECKSUM');
    assert.equal(e.offset, 0);
    assert.equal(e.entry, 'Files/a');
  });

  it('a bad PAX length (too long, not digits, no newline)', async () => {
    for (const text of ['99 path=a\n', 'x9 path=a\n', '10 path=ab', '3 a=\n', '10 =value\n', '09 path=a\n0']) {
      const data = enc(text);
      const bytes = concat([member({ name: 'p', mode: 0, mtime: 0, typeflag: 'x' }, data), ok(), END]);
      await rejects(bytes, 'TAR_PAX');
    }
  });

  it('bad values: base64, fileattr, times, size', async () => {
    const cases: [string, string][] = [
      ['MSWINDOWS.rawsd', 'AQAA*BQ='],
      ['MSWINDOWS.rawsd', 'AQAAgBQ'],
      ['MSWINDOWS.rawsd', 'AQB='],
      ['MSWINDOWS.xattr.a', '@@@@'],
      ['MSWINDOWS.fileattr', '0x10'],
      ['MSWINDOWS.fileattr', '-1'],
      ['MSWINDOWS.fileattr', '4294967296'],
      ['MSWINDOWS.fileattr', ' 16'],
      ['mtime', '12abc'],
      ['LIBARCHIVE.creationtime', '1.2.3'],
      ['size', '-5'],
    ];
    for (const [key, value] of cases) {
      const e = await rejects(concat([paxMember([{ key, value }]), ok('Files/x'), END]), 'TAR_PAX_VALUE');
      assert.equal(e.entry, 'Files/x', `${key}=${value}`);
      assert.ok(e.message.includes(key));
    }
  });

  it('lenient accepts non-canonical base64 padding bits', async () => {
    const bytes = concat([paxMember([{ key: 'MSWINDOWS.rawsd', value: 'AQB=' }]), ok(), END]);
    const list = await readAll(bytes, 'whole', { lenient: true });
    assert.deepEqual(list[0]!.win.securityDescriptor, new Uint8Array([1, 0]));
  });

  it('a truncated archive: inside a header, inside data, inside a PAX block, without end blocks', async () => {
    const full = concat([ok(), ok('Files/b'), END]);
    await rejects(full.subarray(0, 700), 'TAR_TRUNCATED', /Files\/a/);
    await rejects(full.subarray(0, 512 + 2), 'TAR_TRUNCATED', /Files\/a/);
    await rejects(full.subarray(0, 1024 + 100), 'TAR_TRUNCATED');
    await rejects(full.subarray(0, 2048), 'TAR_TRUNCATED', /end-of-archive/);
    const pax = concat([paxMember([{ key: 'path', value: 'x'.repeat(300) }]), ok(), END]);
    await rejects(pax.subarray(0, 600), 'TAR_TRUNCATED');
    await rejects(pax.subarray(0, 1024), 'TAR_TRUNCATED');
    // lenient: a clean cut at an entry boundary is accepted
    assert.equal((await readAll(full.subarray(0, 2048), 'whole', { lenient: true })).length, 2);
    // a lone zero block at the end is fine (Go accepts it too)
    assert.equal((await readAll(full.subarray(0, 2560))).length, 2);
  });

  it('input that is not a tar is NOT_A_TAR saying what it looks like, compressed or not', async () => {
    const zip = Buffer.concat([Buffer.from('PK\x03\x04\x14\x00\x00\x00', 'latin1'), Buffer.alloc(700)]);
    const hive = Buffer.concat([Buffer.from('regf'), Buffer.alloc(4092, 1)]);
    const elf = Buffer.concat([Buffer.from('\x7fELF\x02\x01\x01', 'latin1'), Buffer.alloc(600)]);
    const text = Buffer.from('# a README, not a layer\n'.repeat(60));
    const cases: [Uint8Array, RegExp][] = [
      [new Uint8Array(0), /it looks like an empty file/],
      [zip, /it looks like a zip archive/],
      [hive, /it looks like a registry hive/],
      [elf, /it looks like an ELF executable/],
      [text, /it looks like text/],
      [Buffer.from('short text\n'), /it looks like text/],
      [Buffer.from('é'.repeat(256)), /it looks like text/], // the block boundary cuts no character in two
      [Buffer.from(`x${'é'.repeat(300)}`), /it looks like text/], // this one it does
      [Buffer.alloc(600, 0xee), /it does not start with a tar header/],
      [gzipSync(text), /it looks like text/],
      [zstdCompress(hive), /it looks like a registry hive/],
    ];
    for (const [bytes, match] of cases) {
      const e = await rejects(bytes, 'NOT_A_TAR', match);
      assert.equal(e.exitCode, 2);
      assert.doesNotMatch(e.hint ?? '', /fetch|option/);
    }
    const stdin = await rejects(new Uint8Array(0), 'NOT_A_TAR', /empty standard input/, { stdin: true });
    assert.match(stdin.hint ?? '', /standard input/);
  });

  it('a damaged or cut tar stays a tar error, not NOT_A_TAR', async () => {
    const full = concat([ok(), END]);
    await rejects(full.subarray(0, 300), 'TAR_TRUNCATED', /header block/); // the magic came
    await rejects(full.subarray(0, 200), 'TAR_TRUNCATED', /header block/); // the checksum field came
    const bad = concat([ok(), END]);
    bad[5] = 0x41; // a changed name: the checksum no longer matches; the magic says tar
    await rejects(bad, 'TAR_CHECKSUM');
    const v7 = concat([ok(), END]);
    v7.fill(0, USTAR.magic.at, USTAR.magic.at + 8);
    v7[5] = 0x41; // an old header without magic: its checksum field is still a number
    await rejects(v7, 'TAR_CHECKSUM');
  });

  it('a cut entry gives one offset and one count whether its body is read or skipped', async () => {
    const data = new Uint8Array(3000).fill(0x61);
    const full = concat([ok('Files/dir'), member({ name: 'Files/big', mode: 0o644, mtime: 0, typeflag: '0' }, data)]);
    const dataStart = 1024 + 512;
    for (const cut of [dataStart + 1000, dataStart + 3000 + 10]) {
      const bytes = full.subarray(0, cut);
      for (const mode of MODES) {
        const skipped = await caught(async () => {
          for await (const _ of readTar(chunks(bytes, mode))) {
            // bodies left unread: the reader skips them
          }
        });
        const read = await caught(async () => collect(readTar(chunks(bytes, mode))));
        assert.equal(skipped.message, read.message, mode);
        assert.equal(skipped.offset, cut, mode); // where the input ended
        assert.equal(skipped.entry, 'Files/big');
        if (cut < dataStart + 3000) assert.match(read.message, /3000-byte entry \(2000 bytes missing\)/);
        else assert.match(read.message, /padding after the data of this 3000-byte entry/);
      }
    }
  });

  it('an entry larger than the archive', async () => {
    const b = concat([member({ name: 'Files/huge', mode: 0o644, mtime: 0, typeflag: '0', size: 1 << 30 }), END]);
    const e = await rejects(b, 'TAR_TRUNCATED', /Files\/huge/);
    assert.ok(e.offset !== undefined);
  });

  it('malformed numeric fields: non-octal, negative size, overflow', async () => {
    const patched = (patch: (b: Uint8Array) => void) =>
      concat([headerBlock({ name: 'n', mode: 0o644, size: 0, mtime: 0, typeflag: '0' }, patch), END]);
    const e = await rejects(
      patched((b) => b.set(enc('00000009999\0'), USTAR.size.at)),
      'TAR_HEADER',
      /size/,
    );
    assert.deepEqual([e.entry, e.offset], ['n', 0]);
    await rejects(
      patched((b) => b.set(enc('0000x44\0'), USTAR.mode.at)),
      'TAR_HEADER',
      /mode/,
    );
    await rejects(
      patched((b) => {
        b.fill(0xff, USTAR.size.at, USTAR.size.at + 12);
      }),
      'TAR_HEADER',
      /size/,
    );
    await rejects(
      patched((b) => {
        b.fill(0, USTAR.size.at, USTAR.size.at + 12);
        b[USTAR.size.at] = 0x80;
        b[USTAR.size.at + 1] = 0x7f;
      }),
      'TAR_HEADER',
      /size/,
    );
    await rejects(
      patched((b) => b.set(enc('garbag'), USTAR.magic.at)),
      'TAR_HEADER',
      /magic/,
    );
  });

  it('an extended header larger than maxPaxSize', async () => {
    const bytes = concat([paxMember([{ key: 'comment', value: 'c'.repeat(5000) }]), ok(), END]);
    await rejects(bytes, 'TAR_TOO_LARGE', undefined, { maxPaxSize: 4096 });
    assert.equal((await readAll(bytes)).length, 1);
  });

  it('an end marker followed by more headers, an extended header without an entry', async () => {
    await rejects(concat([ok(), new Uint8Array(512), ok('Files/b'), END]), 'TAR_HEADER', /zero block/);
    await rejects(concat([paxMember([{ key: 'path', value: 'x' }]), END]), 'TAR_HEADER');
  });

  it('fuzz: mutated archives give entries or a WinlayerError, never another error or a hang', async () => {
    const base = await tarOf(sample());
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: base.length - 1 }), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 8,
        }),
        fc.integer({ min: 0, max: base.length }),
        async (mutations, cut) => {
          const b = new Uint8Array(base.subarray(0, Math.max(cut, base.length - 1024 * (cut % 3))));
          for (const [at, v] of mutations) if (at < b.length) b[at] = v;
          for (const headerFix of [false, true]) {
            if (headerFix)
              for (let at = 0; at + 512 <= b.length; at += 512)
                if (b[at + 257] === 0x75) fixChecksum(b.subarray(at, at + 512));
            try {
              await readAll(b, 'random');
            } catch (e) {
              if (!(e instanceof WinlayerError)) throw e;
            }
          }
        },
      ),
      { numRuns: 300, seed: 42 },
    );
  });

  it('fuzz: mutated gzip and zstd archives give entries or a WinlayerError', async () => {
    const plain = await tarOf(sample());
    for (const packed of [gzipSync(plain), zstdCompress(plain)]) {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(fc.integer({ min: 0, max: packed.length - 1 }), fc.integer({ min: 0, max: 255 })), {
            minLength: 1,
            maxLength: 4,
          }),
          async (mutations) => {
            const b = new Uint8Array(packed);
            for (const [at, v] of mutations) b[at] = v;
            try {
              await readAll(b, 'random');
            } catch (e) {
              if (!(e instanceof WinlayerError)) throw e;
            }
          },
        ),
        { numRuns: 100, seed: 7 },
      );
    }
  });

  it('reads Buffer chunks at any byte offset of their memory alike (headers decoded in place)', async () => {
    const bytes = await tarOf(sample());
    for (const shift of [0, 1, 2, 3]) {
      for (const size of [bytes.length, 1536, 1000]) {
        const store = Buffer.alloc(bytes.length + 4);
        store.set(bytes, shift);
        const data = store.subarray(shift, shift + bytes.length);
        async function* pieces(): AsyncGenerator<Uint8Array> {
          for (let at = 0; at < data.length; at += size) yield data.subarray(at, at + size);
        }
        assert.deepEqual(strip(await collect(readTar(pieces()))), sampleRead(), `shift ${shift}, chunks of ${size}`);
      }
    }
  });

  it('a security descriptor text decoded leniently is not reused by a strict read', async () => {
    const bad = Buffer.concat([Buffer.from('AQAAgBQAAAAkAAAA'), Buffer.from([0xff, 0xfe]), Buffer.from('AA==')]);
    const record = Buffer.concat([Buffer.from(' MSWINDOWS.rawsd='), bad, Buffer.from('\n')]);
    const data = Buffer.concat([Buffer.from(String(record.length + 2)), record]);
    const ok = member({ name: 'Files/a', mode: 0o644, mtime: 0, typeflag: '0' }, enc('data'));
    const bytes = concat([member({ name: 'p', mode: 0, mtime: 0, typeflag: 'x' }, data), ok, END]);
    await rejects(bytes, 'TAR_PAX_VALUE', /rawsd/, { lenient: true });
    await rejects(bytes, 'TAR_PAX', /UTF-8/);
    // A good one, read twice: the same bytes again.
    const good = concat([paxMember([{ key: 'MSWINDOWS.rawsd', value: SD.toString('base64') }]), ok, END]);
    for (let i = 0; i < 2; i++) {
      const list = await readAll(good);
      assert.deepEqual(list[0]!.win.securityDescriptor, new Uint8Array(SD));
      assert.equal(list[0]!.raw?.pax[0]?.value, SD.toString('base64'));
    }
  });
});
