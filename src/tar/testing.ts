/**
 * Test helpers for the tar codec (used by `src/tar/*.test.ts` and `test/tar-interop.test.ts`; not part of the public
 * surface): raw block builders for hand-made (and broken) archives, chunked feeding, and entry collection.
 */
import { PassThrough } from 'node:stream';
import { bufferBody, type LayerEntry } from '../entry.js';
import { BLOCK_SIZE, encodeHeader, type HeaderFields, headerChecksum, USTAR } from './header.js';
import { encodePax } from './pax.js';
import { writeTar } from './write.js';

/** One header block (ustar magic) with the given fields; `patch` can overwrite bytes before the checksum is set. */
export function headerBlock(fields: HeaderFields, patch?: (block: Uint8Array) => void): Uint8Array {
  const b = new Uint8Array(BLOCK_SIZE);
  encodeHeader(b, fields);
  if (patch !== undefined) {
    patch(b);
    fixChecksum(b);
  }
  return b;
}

/** Recomputes the checksum field after a patch. */
export function fixChecksum(b: Uint8Array): void {
  const sum = headerChecksum(b).unsigned.toString(8).padStart(6, '0');
  const { at } = USTAR.chksum;
  for (let i = 0; i < 6; i++) b[at + i] = sum.charCodeAt(i);
  b[at + 6] = 0;
  b[at + 7] = 0x20;
}

/** Data padded to a whole number of blocks. */
export function padBlocks(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(data.length / BLOCK_SIZE) * BLOCK_SIZE);
  out.set(data);
  return out;
}

/** A header + data member. */
export function member(
  fields: Omit<HeaderFields, 'size'> & { size?: number },
  data: Uint8Array = new Uint8Array(0),
): Uint8Array {
  return concat([headerBlock({ ...fields, size: fields.size ?? data.length }), padBlocks(data)]);
}

/** A PAX `x` (or `g`) member for the given records. */
export function paxMember(records: { key: string; value: string }[], typeflag: 'x' | 'g' = 'x'): Uint8Array {
  const data = encodePax(records);
  return member({ name: 'PaxHeaders.0/x', mode: 0, mtime: 0, typeflag }, data);
}

/** The end-of-archive marker. */
export const END = new Uint8Array(2 * BLOCK_SIZE);

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

/** Feeds bytes as one chunk, 1-byte chunks, or random splits (seeded, reproducible). */
export async function* chunks(
  bytes: Uint8Array,
  mode: 'whole' | 'bytes' | 'random',
  seed = 1,
): AsyncGenerator<Uint8Array> {
  if (mode === 'whole') {
    yield bytes;
    return;
  }
  let s = seed;
  let pos = 0;
  while (pos < bytes.length) {
    let n = 1;
    if (mode === 'random') {
      s = (s * 1103515245 + 12345) & 0x7fffffff;
      n = 1 + (s % 1500);
    }
    yield bytes.slice(pos, pos + n);
    pos += n;
  }
}

/** An entry with its body read into `data` (and `body` removed), for whole-object comparison. */
export type CollectedEntry = LayerEntry extends unknown ? DistOmit<LayerEntry, 'body'> & { data?: string } : never;
type DistOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Reads every entry and its body (as latin1 text, for readable diffs). */
export async function collect(entries: AsyncIterable<LayerEntry>): Promise<CollectedEntry[]> {
  const out: CollectedEntry[] = [];
  for await (const e of entries) {
    if (e.kind === 'file' || e.kind === 'stream') {
      const parts: Buffer[] = [];
      for await (const c of e.body) parts.push(Buffer.from(c));
      const { body: _b, ...rest } = e;
      out.push({ ...rest, data: Buffer.concat(parts).toString('latin1') } as CollectedEntry);
    } else {
      out.push(e);
    }
  }
  return out;
}

/** Collects an async iterable of chunks into one buffer. */
export async function drain(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

/** The whole tar `writeTar` makes of `entries`, as bytes. */
export async function tarOf(entries: AsyncIterable<LayerEntry> | Iterable<LayerEntry>): Promise<Uint8Array> {
  const parts: Buffer[] = [];
  const out = new PassThrough();
  out.on('data', (c: Buffer) => parts.push(c));
  await writeTar(entries, out);
  return new Uint8Array(Buffer.concat(parts));
}

/** The last-write time of most `sampleLayer` entries (nanoseconds since 1970). */
export const SAMPLE_TIME = 1677606423123456700n;
/** The security descriptor of `sampleLayer`'s file (`O:BUG:BU`, no ACLs). */
export const SAMPLE_SD = Buffer.from(
  'AQAAgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAhAgAAAQIAAAAAAAUgAAAAIQIAAA==',
  'base64',
);
const enc = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));

/**
 * A small valid layer with one entry of every kind (a folder, a file with every piece of Windows metadata and an
 * unknown PAX record, a stream, a hard link, a junction, a whiteout, a long non-ASCII name, a time before 1970): what
 * the reader's tests read back field by field and the fuzz tests mutate.
 */
export function sampleLayer(): LayerEntry[] {
  return [
    { kind: 'directory', path: 'Files', win: { lastWriteTime: SAMPLE_TIME, attributes: 0x10 } },
    {
      kind: 'file',
      path: 'Files/hello.txt',
      size: 5,
      body: bufferBody(enc('hello')),
      win: {
        lastWriteTime: SAMPLE_TIME,
        creationTime: SAMPLE_TIME - 10_000_000n,
        lastAccessTime: SAMPLE_TIME + 100n,
        changeTime: SAMPLE_TIME + 200n,
        attributes: 0x21,
        securityDescriptor: new Uint8Array(SAMPLE_SD),
        extendedAttributes: [{ name: 'user.x', value: enc('ea') }],
      },
      extraPax: [{ key: 'MSWINDOWS.future', value: 'keep me' }],
    },
    {
      kind: 'stream',
      path: 'Files/hello.txt:Zone.Identifier',
      filePath: 'Files/hello.txt',
      streamName: 'Zone.Identifier',
      size: 600,
      body: bufferBody(enc('z'.repeat(600))),
      win: { lastWriteTime: SAMPLE_TIME },
    },
    { kind: 'hardlink', path: 'Files/link.txt', linkTarget: 'Files/hello.txt', win: { lastWriteTime: SAMPLE_TIME } },
    {
      kind: 'symlink',
      path: 'Files/junction',
      linkTarget: 'C:\\Windows',
      win: { lastWriteTime: SAMPLE_TIME, mountPoint: true, attributes: 0x410 },
    },
    { kind: 'whiteout', path: 'Files/.wh.gone', target: 'Files/gone', win: { lastWriteTime: 0n } },
    {
      kind: 'file',
      path: `Files/${'long-'.repeat(30)}ü.txt`,
      size: 1,
      body: bufferBody(enc('x')),
      win: { lastWriteTime: -1_500_000_000n },
    },
  ];
}
