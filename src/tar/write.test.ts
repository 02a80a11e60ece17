import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { decompress as zstdDecompress } from 'zstd-napi';
import { bufferBody, type EntryBody, type LayerEntry } from '../entry.js';
import { WinlayerError } from '../errors.js';
import { unixSeconds } from '../windows/filetime.js';
import { asciiField, BLOCK_SIZE, decodeHeader, encodeHeader, fitsField, USTAR } from './header.js';
import { decodePax, encodePax } from './pax.js';
import { readTar } from './read.js';
import { chunks, collect } from './testing.js';
import type { WriteTarOptions } from './types.js';
import { encodeWindowsPax } from './windows-pax.js';
import { paxHeaderName, writeTar, writeTarFile } from './write.js';

const T = 1677606423123456700n;
const enc = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'));

async function toBytes(entries: LayerEntry[], opts?: WriteTarOptions) {
  const parts: Buffer[] = [];
  const out = new PassThrough();
  out.on('data', (c: Buffer) => parts.push(c));
  const summary = await writeTar(entries, out, opts);
  return { bytes: Buffer.concat(parts), summary };
}

function entries(): LayerEntry[] {
  return [
    { kind: 'directory', path: 'Files', win: { lastWriteTime: T } },
    { kind: 'directory', path: 'Files/dir', win: { lastWriteTime: T, attributes: 0x2 } },
    { kind: 'file', path: 'Files/dir/a.txt', size: 3, body: bufferBody(enc('abc')), win: { lastWriteTime: T } },
    { kind: 'hardlink', path: 'Files/dir/b.txt', linkTarget: 'Files/dir/a.txt', win: { lastWriteTime: T } },
    { kind: 'whiteout', path: 'Files/dir/.wh.c.txt', target: 'Files/dir/c.txt', win: { lastWriteTime: T } },
  ];
}

/** Splits a plain tar into its headers (name, typeflag, mode, size, PAX records). */
function headers(bytes: Uint8Array) {
  const out: { name: string; typeflag: string; mode: number; size: number; mtime: number; pax?: string[] }[] = [];
  let at = 0;
  for (;;) {
    const block = bytes.subarray(at, at + BLOCK_SIZE);
    if (block.every((b) => b === 0)) break;
    const h = decodeHeader(block, at);
    const size = Number(h.size);
    const entry: (typeof out)[number] = {
      name: h.name,
      typeflag: h.typeflag,
      mode: h.mode,
      size: h.size,
      mtime: h.mtime,
    };
    if (h.typeflag === 'x') {
      entry.pax = decodePax(bytes.subarray(at + 512, at + 512 + size)).map((r) => `${r.key}=${r.value}`);
    }
    out.push(entry);
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return { list: out, end: at };
}

describe('writeTar', () => {
  it('writes every entry as PAX (Go header names, sorted keys, all times, fileattr) and whiteouts bare', async () => {
    const { bytes, summary } = await toBytes(entries());
    const { list, end } = headers(bytes);
    const times = ['atime=1677606423.1234567', 'ctime=1677606423.1234567', 'mtime=1677606423.1234567'];
    const ct = 'LIBARCHIVE.creationtime=1677606423.1234567';
    assert.deepEqual(list, [
      {
        name: 'PaxHeaders.0/Files',
        typeflag: 'x',
        mode: 0,
        size: 155,
        mtime: 0,
        pax: [ct, 'MSWINDOWS.fileattr=16', ...times],
      },
      { name: 'Files', typeflag: '5', mode: 0o755, size: 0, mtime: 1677606423 },
      {
        name: 'Files/PaxHeaders.0/dir',
        typeflag: 'x',
        mode: 0,
        size: 155,
        mtime: 0,
        pax: [ct, 'MSWINDOWS.fileattr=18', ...times],
      },
      { name: 'Files/dir', typeflag: '5', mode: 0o755, size: 0, mtime: 1677606423 },
      {
        name: 'Files/dir/PaxHeaders.0/a.txt',
        typeflag: 'x',
        mode: 0,
        size: 155,
        mtime: 0,
        pax: [ct, 'MSWINDOWS.fileattr=32', ...times],
      },
      { name: 'Files/dir/a.txt', typeflag: '0', mode: 0o644, size: 3, mtime: 1677606423 },
      {
        name: 'Files/dir/PaxHeaders.0/b.txt',
        typeflag: 'x',
        mode: 0,
        size: 155,
        mtime: 0,
        pax: [ct, 'MSWINDOWS.fileattr=32', ...times],
      },
      { name: 'Files/dir/b.txt', typeflag: '1', mode: 0o644, size: 0, mtime: 1677606423 },
      { name: 'Files/dir/.wh.c.txt', typeflag: '0', mode: 0, size: 0, mtime: 0 },
    ]);
    // two zero blocks, nothing after (like Go)
    assert.equal(bytes.length, end + 1024);
    const sha = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    assert.deepEqual(summary, {
      diffId: sha,
      digest: sha,
      size: bytes.length,
      uncompressedSize: bytes.length,
      entries: 5,
      compression: 'none',
    });
    // uid/gid 0, empty user and group names, linkname of the hard link
    let linkAt = 0;
    while (bytes[linkAt + USTAR.typeflag.at] !== 0x31) linkAt += 512;
    const link = bytes.subarray(linkAt, linkAt + 512);
    assert.equal(Buffer.from(link.subarray(USTAR.uid.at, USTAR.uid.at + 8)).toString('latin1'), '0000000\0');
    assert.equal(link[USTAR.uname.at], 0);
    assert.equal(decodeHeader(link, 0).linkname, 'Files/dir/a.txt');
  });

  it('is deterministic and identical for fd and stream outputs', async () => {
    const a = await toBytes(entries());
    const b = await toBytes(entries());
    assert.deepEqual(a.bytes, b.bytes);
    const dir = mkdtempSync(join(tmpdir(), 'winlayer-tar-'));
    try {
      const fd = openSync(join(dir, 'x.tar'), 'w');
      const s = await writeTar(entries(), fd);
      closeSync(fd);
      assert.deepEqual(readFileSync(join(dir, 'x.tar')), a.bytes);
      assert.deepEqual(s, a.summary);
      const s2 = await writeTarFile(entries(), join(dir, 'y.tar'), { compression: 'gzip' });
      assert.deepEqual(gunzipSync(readFileSync(join(dir, 'y.tar'))), a.bytes);
      assert.equal(s2.diffId, a.summary.diffId);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('hashes large tars correctly when written to a file descriptor (buffers handed to the hashing thread)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'winlayer-tar-'));
    try {
      const data = new Uint8Array(3 * 1024 * 1024 + 5).map((_, i) => (i * 7) & 0xff);
      const list = (): LayerEntry[] => [
        { kind: 'file', path: 'a', size: data.length, body: bufferBody(data), win: { lastWriteTime: T } },
        ...Array.from(
          { length: 3000 },
          (_, i): LayerEntry => ({ kind: 'directory', path: `d${i}`, win: { lastWriteTime: T } }),
        ),
      ];
      const fd = openSync(join(dir, 'x.tar'), 'w');
      const s = await writeTar(list(), fd);
      closeSync(fd);
      const bytes = readFileSync(join(dir, 'x.tar'));
      assert.equal(s.diffId, `sha256:${createHash('sha256').update(bytes).digest('hex')}`);
      assert.equal(s.size, bytes.length);
      assert.deepEqual((await toBytes(list())).bytes, bytes);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gives the event loop a turn inside one long synchronous body (signal handlers must run)', async () => {
    // A 24 MiB body pulled with read from a synchronous iterable into a file descriptor: the writer's fastest path,
    // where nothing else would ever yield. Each 1 MiB read takes ≥ 5 ms, so a 20 ms budget must run out mid-body.
    const dir = mkdtempSync(join(tmpdir(), 'winlayer-tar-'));
    try {
      const size = 24 * 1024 * 1024;
      let left = size;
      let readsBeforeTurn = -1;
      let reads = 0;
      const body: EntryBody = {
        read(b: Uint8Array, offset: number, length: number): number {
          const n = Math.min(length, left);
          const until = performance.now() + 5;
          while (performance.now() < until) {
            // busy: a slow disk
          }
          b.fill(0x5a, offset, offset + n);
          left -= n;
          reads++;
          return n;
        },
        [Symbol.asyncIterator]() {
          throw new Error('pulled with read');
        },
      };
      setImmediate(() => {
        readsBeforeTurn = reads;
      });
      const fd = openSync(join(dir, 'x.tar'), 'w');
      try {
        const s = await writeTar([{ kind: 'file', path: 'big', size, body, win: { lastWriteTime: T } }], fd);
        assert.equal(s.entries, 1);
      } finally {
        closeSync(fd);
      }
      assert.ok(readsBeforeTurn > 0 && readsBeforeTurn < reads - 4, `turn after ${readsBeforeTurn} of ${reads} reads`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('puts long or non-ASCII names and link targets in PAX path/linkpath, huge sizes in PAX size', async () => {
    const long = `Files/${'x'.repeat(120)}`;
    const { bytes } = await toBytes([
      { kind: 'file', path: 'Files/é.txt', size: 0, body: bufferBody(new Uint8Array(0)), win: { lastWriteTime: T } },
      { kind: 'symlink', path: long, linkTarget: `..\\${'y'.repeat(120)}`, win: { lastWriteTime: T } },
      {
        kind: 'whiteout',
        path: `Files/.wh.${'z'.repeat(100)}`,
        target: `Files/${'z'.repeat(100)}`,
        win: { lastWriteTime: 0n },
      },
    ]);
    const { list } = headers(bytes);
    assert.equal(list[1]!.name, 'Files/.txt');
    assert.ok(list[0]!.pax!.includes('path=Files/é.txt'));
    assert.equal(list[3]!.name, long.slice(0, 100));
    assert.ok(list[2]!.pax!.includes(`path=${long}`));
    assert.ok(list[2]!.pax!.includes(`linkpath=..\\${'y'.repeat(120)}`));
    assert.deepEqual(list[4]!.pax, [`path=Files/.wh.${'z'.repeat(100)}`]);
    const back = await collect(readTar(chunks(bytes, 'whole')));
    assert.deepEqual(
      back.map((e) => e.path),
      ['Files/é.txt', long, `Files/.wh.${'z'.repeat(100)}`],
    );
  });

  it('names the x header like Go (dir/PaxHeaders.0/base, ASCII, ≤ 100 bytes)', () => {
    assert.equal(paxHeaderName('Files'), 'PaxHeaders.0/Files');
    assert.equal(paxHeaderName('Files/a/b.txt'), 'Files/a/PaxHeaders.0/b.txt');
    assert.equal(paxHeaderName(`Files/${'é'.repeat(3)}`), 'Files/PaxHeaders.0');
    assert.equal(paxHeaderName(`Files/${'a'.repeat(200)}`).length, 100);
  });

  it('writes gzip with a fixed header (no name, mtime 0, OS 255) and zstd that decompress to the plain tar', async () => {
    const plain = (await toBytes(entries())).bytes;
    for (const [level, xfl] of [
      [1, 4],
      [6, 0],
      [9, 2],
    ] as const) {
      const { bytes, summary } = await toBytes(entries(), { compression: 'gzip', level });
      assert.deepEqual([...bytes.subarray(0, 10)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255]);
      assert.deepEqual(gunzipSync(bytes), plain);
      assert.equal(summary.digest, `sha256:${createHash('sha256').update(bytes).digest('hex')}`);
      assert.equal(summary.size, bytes.length);
      assert.equal(summary.uncompressedSize, plain.length);
    }
    const z = await toBytes(entries(), { compression: 'zstd', level: 3 });
    assert.deepEqual(zstdDecompress(z.bytes), plain);
    assert.deepEqual((await toBytes(entries(), { compression: 'zstd', level: 3 })).bytes, z.bytes);
    await assert.rejects(toBytes(entries(), { compression: 'gzip', level: 12 }), /USAGE/);
  });

  it('streams large bodies through a slow stream with backpressure, via read or iteration', async () => {
    const size = 5 * 1024 * 1024 + 7;
    const syncBody = (): EntryBody => {
      let pos = 0;
      return {
        [Symbol.asyncIterator]() {
          throw new Error('not used');
        },
        read(buf, offset, length) {
          const n = Math.min(length, size - pos);
          buf.fill(pos % 251, offset, offset + n);
          pos += n;
          return n;
        },
      };
    };
    const iterBody = (): EntryBody => ({
      async *[Symbol.asyncIterator]() {
        for (let pos = 0; pos < size; pos += 65536) yield new Uint8Array(Math.min(65536, size - pos)).fill(7);
      },
    });
    const hash = createHash('sha256');
    let bytes = 0;
    let pending = 0;
    const slow = new Writable({
      highWaterMark: 64 * 1024,
      write(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        bytes += chunk.length;
        pending++;
        setImmediate(() => {
          pending--;
          cb();
        });
      },
    });
    const s = await writeTar(
      [
        { kind: 'file', path: 'a', size, body: syncBody(), win: { lastWriteTime: T } },
        { kind: 'file', path: 'b', size, body: iterBody(), win: { lastWriteTime: T } },
      ],
      slow,
      { compression: 'gzip', level: 1 },
    );
    assert.equal(pending, 0);
    assert.equal(s.size, bytes);
    assert.equal(s.digest, `sha256:${hash.digest('hex')}`);
    assert.ok(s.uncompressedSize > 2 * size);
  });

  it('refuses what a Windows layer cannot hold, bad paths and bodies that change size', async () => {
    const bad: [LayerEntry[], RegExp][] = [
      [
        [{ kind: 'special', path: 'dev', typeflag: '3', description: 'character device', win: { lastWriteTime: 0n } }],
        /character device/,
      ],
      [[{ kind: 'opaqueWhiteout', path: 'd/.wh..wh..opq', directory: 'd', win: { lastWriteTime: 0n } }], /opaque/],
      [[{ kind: 'directory', path: './Files', win: { lastWriteTime: 0n } }], /"\." component/],
      [[{ kind: 'directory', path: 'Files/', win: { lastWriteTime: 0n } }], /component/],
      [[{ kind: 'directory', path: '/abs', win: { lastWriteTime: 0n } }], /absolute/],
      [[{ kind: 'directory', path: 'a/../b', win: { lastWriteTime: 0n } }], /\.\./],
      [
        [
          { kind: 'file', path: 'a', size: 0, body: bufferBody(new Uint8Array(0)), win: { lastWriteTime: 0n } },
          {
            kind: 'stream',
            path: 'b:s',
            filePath: 'b',
            streamName: 's',
            size: 0,
            body: bufferBody(new Uint8Array(0)),
            win: { lastWriteTime: 0n },
          },
        ],
        /does not directly follow/,
      ],
      [
        [{ kind: 'file', path: 'a', size: 4, body: bufferBody(enc('abc')), win: { lastWriteTime: 0n } }],
        /changed while being read: only 3 bytes, expected 4 bytes/,
      ],
      [
        [{ kind: 'file', path: 'a', size: 2, body: bufferBody(enc('abc')), win: { lastWriteTime: 0n } }],
        /changed while being read: more bytes, expected 2 bytes/,
      ],
      [
        [
          {
            kind: 'file',
            path: 'a',
            size: 2,
            body: {
              async *[Symbol.asyncIterator]() {
                yield enc('abc');
              },
            },
            win: { lastWriteTime: 0n },
          },
        ],
        /changed while being read/,
      ],
      [[{ kind: 'file', path: 'a', size: -1, body: bufferBody(enc('')), win: { lastWriteTime: 0n } }], /size/],
      [
        [{ kind: 'directory', path: 'a', win: { lastWriteTime: 0n }, extraPax: [{ key: 'path', value: 'x' }] }],
        /manages/,
      ],
      [[{ kind: 'whiteout', path: 'a/b', target: 'a/b', win: { lastWriteTime: 0n } }], /\.wh\./],
      [
        [{ kind: 'directory', path: 'a', win: { lastWriteTime: 0n, securityDescriptor: new Uint8Array(1024 * 1024) } }],
        /TAR_TOO_LARGE/,
      ],
    ];
    for (const [list, re] of bad) {
      await assert.rejects(toBytes(list), (e: unknown) => {
        assert.ok(e instanceof WinlayerError, String(e));
        assert.match(e.message, re);
        return true;
      });
    }
  });

  it('writes a size over 8 GiB as a PAX size record with a zero ustar size field', async () => {
    const { encodeWindowsPax } = await import('./windows-pax.js');
    const { encodeHeader } = await import('./header.js');
    const big = 9 * 1024 ** 3;
    const recs = encodeWindowsPax({ kind: 'file', path: 'a', win: { lastWriteTime: 0n }, bigSize: big });
    assert.deepEqual(recs.at(-1), { key: 'size', value: String(big) });
    const b = new Uint8Array(512);
    encodeHeader(b, { name: 'a', mode: 0o644, size: big, mtime: 0, typeflag: '0' });
    assert.equal(decodeHeader(b, 0).size, 0);
  });
});

describe('writeTar (slow: set SLOW=1)', () => {
  it('streams a file over 8 GiB with a PAX size record and a zero ustar size field', {
    skip: !process.env.SLOW,
  }, async () => {
    const size = 8 * 1024 ** 3 + 3;
    let pos = 0;
    const body: EntryBody = {
      [Symbol.asyncIterator]() {
        throw new Error('not used');
      },
      read(_buf, _offset, length) {
        const n = Math.min(length, size - pos);
        pos += n;
        return n; // the buffer's bytes are whatever it holds: content does not matter here
      },
    };
    const head: Buffer[] = [];
    let seen = 0;
    const sink = new Writable({
      highWaterMark: 8 * 1024 * 1024,
      write(c: Buffer, _e, cb) {
        if (seen < 4096) head.push(c.subarray(0, 4096 - seen));
        seen += c.length;
        cb();
      },
    });
    const s = await writeTar([{ kind: 'file', path: 'Files/big.vhdx', size, body, win: { lastWriteTime: T } }], sink);
    assert.equal(s.uncompressedSize, 512 * 3 + Math.ceil(size / 512) * 512 + 1024);
    assert.equal(seen, s.size);
    const bytes = Buffer.concat(head);
    const { list } = headers(bytes.subarray(0, 1024 + 512));
    assert.ok(list[0]!.pax!.includes(`size=${size}`));
    assert.equal(list[1]!.size, 0);
  });
});

describe('writeTar: PAX data larger than the output buffer', () => {
  it('streams the records (a 785 KB extended attribute) and reads back the same value', async () => {
    const value = new Uint8Array(785_300).map((_, i) => (i * 31) & 0xff);
    const entry: LayerEntry = {
      kind: 'file',
      path: 'Files/a.txt',
      size: 3,
      body: bufferBody(enc('abc')),
      win: { lastWriteTime: T, extendedAttributes: [{ name: 'EA', value }] },
    };
    const { bytes } = await toBytes([{ kind: 'directory', path: 'Files', win: { lastWriteTime: T } }, entry]);
    const back = await collect(readTar(chunks(bytes, 'whole')));
    const file = back.find((e) => e.path === 'Files/a.txt');
    assert.ok(file !== undefined && file.kind === 'file');
    const ea = file.win.extendedAttributes?.[0];
    assert.equal(ea?.name, 'EA');
    assert.ok(Buffer.from(ea!.value).equals(Buffer.from(value)));
    assert.equal(bytes.length % 512, 0);
  });
});

describe('writeTar: the direct PAX encoding', () => {
  /** The tar of `entries` as the record path builds it: `encodeWindowsPax` → `encodePax`, `encodeHeader`. */
  function reference(list: LayerEntry[], bodies: Map<LayerEntry, Uint8Array>): Buffer {
    const modes = { directory: 0o755, file: 0o644, link: 0o644 };
    const parts: Uint8Array[] = [];
    const pad = (n: number) => new Uint8Array((BLOCK_SIZE - (n % BLOCK_SIZE)) % BLOCK_SIZE);
    for (const e of list) {
      const link = e.kind === 'hardlink' || e.kind === 'symlink' ? e.linkTarget : undefined;
      const size = e.kind === 'file' || e.kind === 'stream' ? e.size : 0;
      const pathFits = fitsField(e.path, 100);
      const linkFits = link === undefined || fitsField(link, 100);
      const data = encodePax(
        encodeWindowsPax({
          kind: e.kind,
          path: e.path,
          win: e.win,
          extraPax: e.extraPax,
          longPath: pathFits ? undefined : e.path,
          longLinkpath: linkFits ? undefined : link,
        }),
      );
      const x = new Uint8Array(BLOCK_SIZE);
      encodeHeader(x, { name: paxHeaderName(e.path), mode: 0, size: data.length, mtime: 0, typeflag: 'x' });
      const h = new Uint8Array(BLOCK_SIZE);
      const typeflag = { directory: '5', file: '0', stream: '0', hardlink: '1', symlink: '2' }[e.kind as 'file'];
      const mode =
        e.kind === 'directory' ? modes.directory : e.kind === 'file' || e.kind === 'stream' ? modes.file : modes.link;
      encodeHeader(h, {
        name: pathFits ? e.path : asciiField(e.path, 100),
        mode,
        size,
        mtime: Number(unixSeconds(e.win.lastWriteTime)),
        typeflag,
        linkname: link === undefined || linkFits ? link : asciiField(link, 100),
      });
      const body = bodies.get(e) ?? new Uint8Array(0);
      parts.push(x, data, pad(data.length), h, body, pad(body.length));
    }
    parts.push(new Uint8Array(2 * BLOCK_SIZE));
    return Buffer.concat(parts);
  }

  it('gives the bytes of encodeWindowsPax + encodePax for every kind of metadata, name and time', async () => {
    let seed = 7;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const pick = <V>(a: readonly V[]): V => a[rnd(a.length)]!;
    const names = ['a', 'Windows', 'é', '日本語', 'x'.repeat(90), 'y'.repeat(40), '\u{1F600}', 'b c', 'PaxHeaders.0'];
    const times = [0n, 1n, 999_999_999n, 1_000_000_000n, T, 1677606423000000000n, -5n, -1_500_000_000n, 10n ** 20n];
    const sds = [new Uint8Array([1, 0, 4, 128, 20, 0, 0, 0]), new Uint8Array(300).map((_, i) => i)];
    const path = (): string => ['Files', ...Array.from({ length: 1 + rnd(4) }, () => pick(names))].join('/');
    const win = () => {
      const w: Record<string, unknown> = { lastWriteTime: pick(times) };
      if (rnd(2) === 0) w.creationTime = pick(times);
      if (rnd(3) === 0) w.lastAccessTime = pick(times);
      if (rnd(3) === 0) w.changeTime = pick(times);
      if (rnd(2) === 0) w.attributes = pick([0, 0x20, 0x10, 0x400, 0xffffffff, 0x80000000, 7]);
      if (rnd(2) === 0) w.securityDescriptor = pick(sds);
      if (rnd(6) === 0) w.mountPoint = true;
      if (rnd(8) === 0) w.extendedAttributes = [{ name: 'EA', value: new Uint8Array([1, 2]) }];
      if (rnd(8) === 0) w.extendedAttributes = [];
      return w as unknown as LayerEntry['win'];
    };
    const list: LayerEntry[] = [];
    const bodies = new Map<LayerEntry, Uint8Array>();
    for (let i = 0; i < 600; i++) {
      const kind = pick(['directory', 'file', 'file', 'hardlink', 'symlink'] as const);
      const extra = rnd(8) === 0 ? { extraPax: rnd(2) === 0 ? [{ key: 'my.key', value: 'vé' }] : [] } : {};
      const p = path();
      if (kind === 'file') {
        const bytes = new Uint8Array(pick([0, 1, 511, 512, 513, 3000])).fill(i & 0xff);
        const e: LayerEntry = { kind, path: p, size: bytes.length, body: bufferBody(bytes), win: win(), ...extra };
        bodies.set(e, bytes);
        list.push(e);
        if (rnd(4) === 0) {
          const s = new Uint8Array(700).fill(1);
          const se: LayerEntry = {
            kind: 'stream',
            path: `${p}:s${i}`,
            filePath: p,
            streamName: `s${i}`,
            size: s.length,
            body: bufferBody(s),
            win: win(),
          };
          bodies.set(se, s);
          list.push(se);
        }
      } else if (kind === 'directory') {
        list.push({ kind, path: p, win: win(), ...extra });
      } else {
        const linkTarget = rnd(2) === 0 ? path() : `C:\\${pick(names)}`;
        list.push({ kind, path: p, linkTarget, win: win(), ...extra });
      }
    }
    const expected = reference(list, bodies);
    // `reference` took the bytes from `bodies`: the bodies themselves are still unread.
    const { bytes } = await toBytes(list);
    assert.equal(bytes.length, expected.length);
    assert.ok(bytes.equals(expected));
  });
});
