/**
 * The canonical Windows layer tar writer: `LayerEntry` stream → PAX tar bytes (plain, gzip or zstd), streamed through
 * a fixed 1 MiB buffer, with the sha256 of the tar and of the bytes written computed on the way.
 *
 * Every entry but a whiteout is a PAX `x` header named `<dir>/PaxHeaders.0/<base>` (as Go names it) followed by the
 * ustar header: uid/gid 0, empty user and group names, the modes of `opts.modes`. See `windows-pax.ts` for the
 * records and their order. Whiteouts are bare ustar headers (typeflag 0, mode 0, size 0, mtime 0) like hcsshim's.
 */

import { closeSync, fsyncSync, openSync } from 'node:fs';
import { AtomicTarget } from '../atomic.js';
import type { LayerEntry } from '../entry.js';
import { WinlayerError } from '../errors.js';
import { unixSeconds } from '../windows/index.js';
import { Counter, createOutputChain, type TarOutputChain } from './compress.js';
import { asciiField, BLOCK_SIZE, encodeHeader, fitsField, MAX_OCTAL_SIZE, USTAR } from './header.js';
import { splitPath } from './names.js';
import type { TarOutput, TarSummary, WriteTarOptions } from './types.js';
import { encodeWindowsPax } from './windows-pax.js';

/** PAX data larger than this is refused (readers such as Go's refuse it too). */
export const MAX_PAX_SIZE = 1024 * 1024;
const BUFFER_SIZE = 1024 * 1024;
const DEFAULT_MODES = { directory: 0o755, file: 0o644, link: 0o644 } as const;
const NAME_LEN = USTAR.name.len;

/**
 * Writes `entries` as a Windows layer tar to `out` (a file descriptor or a writable stream, which is neither closed
 * nor ended) and resolves with the digests and sizes once everything is flushed. Streams: memory stays at about one
 * 1 MiB buffer (plus the compressor's window) whatever the layer size; file bodies are read with `body.readSync`
 * when offered, else iterated. The same entries always give the same bytes.
 *
 * Throws `TAR_ENTRY` for an entry that cannot be written (a `special` or `opaqueWhiteout` entry, a stream that does
 * not follow its file, an invalid path, a body whose length differs from `size` — "changed while being read"),
 * `TAR_TOO_LARGE` for PAX data over 1 MiB, `IO` when the output fails, `USAGE` for a bad compression level. On error
 * the output holds a partial tar: write files through {@link writeTarFile} (atomic) or discard it.
 */
export async function writeTar(
  entries: AsyncIterable<LayerEntry> | Iterable<LayerEntry>,
  out: TarOutput,
  opts: WriteTarOptions = {},
): Promise<TarSummary> {
  const compression = opts.compression ?? 'none';
  const chain = createOutputChain(out, compression, opts.level);
  const w = new BlockWriter(chain);
  const modes = { ...DEFAULT_MODES, ...opts.modes };
  let count = 0;
  let owner: string | undefined; // path of the last file or directory (streams attach to it)
  for await (const e of entries as AsyncIterable<LayerEntry>) {
    checkPath(e);
    switch (e.kind) {
      case 'directory':
        await writePaxEntry(w, e, '5', modes.directory, 0);
        owner = e.path;
        break;
      case 'file':
        checkSize(e.path, e.size);
        await writePaxEntry(w, e, '0', modes.file, e.size);
        await writeBody(w, e.path, e.size, e.body);
        owner = e.path;
        break;
      case 'stream': {
        checkSize(e.path, e.size);
        if (owner === undefined || owner !== e.filePath) {
          throw new WinlayerError(
            'TAR_ENTRY',
            `alternate data stream does not directly follow its file ${e.filePath}`,
            {
              entry: e.path,
              hint: 'emit stream entries right after the file (or its other streams)',
            },
          );
        }
        const name = `${e.filePath}:${e.streamName}`;
        if (e.streamName === '' || e.streamName.includes(':') || name !== e.path) {
          throw new WinlayerError('TAR_ENTRY', `stream path must be "${name}"`, { entry: e.path });
        }
        await writePaxEntry(w, e, '0', modes.file, e.size);
        await writeBody(w, e.path, e.size, e.body);
        break;
      }
      case 'hardlink':
        await writePaxEntry(w, e, '1', modes.link, 0, e.linkTarget);
        owner = undefined;
        break;
      case 'symlink':
        await writePaxEntry(w, e, '2', modes.link, 0, e.linkTarget);
        owner = undefined;
        break;
      case 'whiteout':
        await writeWhiteout(w, e.path);
        owner = undefined;
        break;
      case 'opaqueWhiteout':
        throw new WinlayerError('TAR_ENTRY', 'an opaque whiteout (.wh..wh..opq) cannot go into a Windows layer', {
          entry: e.path,
          hint: 'Windows (hcsshim) has no opaque directories: write a whiteout for each child instead',
        });
      case 'special':
        throw new WinlayerError('TAR_ENTRY', `a ${e.description} cannot go into a Windows layer`, { entry: e.path });
      default:
        throw new WinlayerError('TAR_ENTRY', `unknown entry kind ${(e as { kind: string }).kind}`);
    }
    count++;
  }
  await w.zero(2 * BLOCK_SIZE);
  await w.flush();
  const diffId = w.counter.digest();
  const { digest, size } = await chain.finish();
  return {
    diffId,
    digest: compression === 'none' ? diffId : digest,
    size,
    uncompressedSize: w.counter.bytes,
    entries: count,
    compression,
  };
}

/**
 * Writes `entries` to the file `path` atomically (temporary sibling, fsync, rename; removed on error) and resolves
 * with the summary. See {@link writeTar}.
 */
export async function writeTarFile(
  entries: AsyncIterable<LayerEntry> | Iterable<LayerEntry>,
  path: string,
  opts: WriteTarOptions = {},
): Promise<TarSummary> {
  const target = new AtomicTarget(path);
  let fd: number | undefined;
  try {
    fd = openSync(target.tempPath, 'w');
    const summary = await writeTar(entries, fd, opts);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    target.commit({ synced: true });
    return summary;
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    target.abort();
    throw e;
  }
}

/** The fixed-size output buffer: headers are encoded and file bodies read straight into it. */
class BlockWriter {
  buf: Buffer = Buffer.allocUnsafe(BUFFER_SIZE);
  pos = 0;
  readonly counter = new Counter();
  constructor(private readonly chain: TarOutputChain) {}

  /** Space left in the buffer. */
  get space(): number {
    return BUFFER_SIZE - this.pos;
  }

  async flush(): Promise<void> {
    if (this.pos === 0) return;
    const chunk = this.buf.subarray(0, this.pos);
    this.counter.add(chunk);
    const p = this.chain.write(chunk);
    if (!this.chain.reusesChunks) this.buf = Buffer.allocUnsafe(BUFFER_SIZE);
    this.pos = 0;
    if (p !== undefined) await p;
  }

  /** Makes room for `n` contiguous bytes (n ≤ buffer size). */
  async reserve(n: number): Promise<void> {
    if (this.space < n) await this.flush();
  }

  /** Appends `n` zero bytes. */
  async zero(n: number): Promise<void> {
    let left = n;
    while (left > 0) {
      if (this.space === 0) await this.flush();
      const k = Math.min(left, this.space);
      this.buf.fill(0, this.pos, this.pos + k);
      this.pos += k;
      left -= k;
    }
  }

  /** Appends bytes, flushing as needed. */
  async bytes(src: Uint8Array): Promise<void> {
    let off = 0;
    while (off < src.length) {
      if (this.space === 0) await this.flush();
      const k = Math.min(src.length - off, this.space);
      this.buf.set(src.subarray(off, off + k), this.pos);
      this.pos += k;
      off += k;
    }
  }

  /** Appends a header block encoded in place. */
  async header(fields: Parameters<typeof encodeHeader>[1]): Promise<void> {
    await this.reserve(BLOCK_SIZE);
    const block = this.buf.subarray(this.pos, this.pos + BLOCK_SIZE);
    block.fill(0);
    encodeHeader(block, fields);
    this.pos += BLOCK_SIZE;
  }

  /** Zero padding up to the next block boundary after `size` data bytes. */
  async pad(size: number): Promise<void> {
    const rem = size % BLOCK_SIZE;
    if (rem !== 0) await this.zero(BLOCK_SIZE - rem);
  }
}

function checkPath(e: LayerEntry): void {
  const p = e.path;
  let bad: string | undefined;
  if (typeof p !== 'string' || p === '') bad = 'an empty path';
  else if (p.includes('\0')) bad = 'a NUL byte in the path';
  else if (p.startsWith('/')) bad = 'an absolute path';
  else {
    for (const part of p.split('/')) {
      if (part === '' || part === '.' || part === '..') {
        bad = `a path with a "${part}" component (no "./", "..", "//" or trailing "/")`;
        break;
      }
    }
  }
  if (bad !== undefined) {
    throw new WinlayerError('TAR_ENTRY', `${bad} cannot be written`, {
      entry: String(p),
      hint: 'layer paths are relative and /-separated, like Files/Windows/System32',
    });
  }
}

function checkSize(path: string, size: number): void {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new WinlayerError('TAR_ENTRY', `size ${size} is not a non-negative integer`, { entry: path });
  }
}

const encoder = new TextEncoder();

/** `dir/PaxHeaders.0/base`, ASCII and at most 100 bytes, as Go's archive/tar names the `x` header. */
export function paxHeaderName(path: string): string {
  const { dir, base } = splitPath(path);
  const name = dir === '' ? `PaxHeaders.0/${base}` : `${dir}/PaxHeaders.0/${base}`;
  return asciiField(name, NAME_LEN).replace(/\/+$/, '');
}

async function writePaxEntry(
  w: BlockWriter,
  e: LayerEntry,
  typeflag: string,
  mode: number,
  size: number,
  linkname?: string,
): Promise<void> {
  const pathFits = fitsField(e.path, NAME_LEN);
  const linkFits = linkname === undefined || fitsField(linkname, USTAR.linkname.len);
  const records = encodeWindowsPax({
    kind: e.kind,
    path: e.path,
    win: e.win,
    extraPax: e.extraPax,
    longPath: pathFits ? undefined : e.path,
    longLinkpath: linkFits ? undefined : linkname,
    bigSize: size > MAX_OCTAL_SIZE ? size : undefined,
  });
  await writePaxBlock(w, e.path, records);
  await w.header({
    name: pathFits ? e.path : asciiField(e.path, NAME_LEN),
    mode,
    size,
    mtime: unixSeconds(e.win.lastWriteTime),
    typeflag,
    linkname: linkname === undefined || linkFits ? linkname : asciiField(linkname, USTAR.linkname.len),
  });
}

async function writePaxBlock(w: BlockWriter, path: string, records: readonly { key: string; value: string }[]) {
  let text = '';
  for (const r of records) text += paxRecordText(r.key, r.value);
  const len = Buffer.byteLength(text, 'utf8');
  if (len > MAX_PAX_SIZE) {
    throw new WinlayerError('TAR_TOO_LARGE', `PAX data of ${len} bytes exceeds ${MAX_PAX_SIZE}`, { entry: path });
  }
  await w.header({ name: paxHeaderName(path), mode: 0, size: len, mtime: 0n, typeflag: 'x' });
  if (len <= w.space) {
    w.buf.write(text, w.pos, 'utf8');
    w.pos += len;
  } else {
    await w.bytes(encoder.encode(text));
  }
  await w.pad(len);
}

/** One PAX record as text (`"%d %s=%s\n"`, the length counting its own digits). */
function paxRecordText(key: string, value: string): string {
  if (key === '' || key.includes('=') || key.includes('\n') || key.includes('\0')) {
    throw new WinlayerError('TAR_ENTRY', `PAX key ${JSON.stringify(key)} is not valid`);
  }
  const body = Buffer.byteLength(key, 'utf8') + Buffer.byteLength(value, 'utf8') + 3;
  let len = body + 1;
  while (String(len).length + body !== len) len = String(len).length + body;
  return `${len} ${key}=${value}\n`;
}

async function writeWhiteout(w: BlockWriter, path: string): Promise<void> {
  const { base } = splitPath(path);
  if (!base.startsWith('.wh.') || base.length === 4) {
    throw new WinlayerError('TAR_ENTRY', 'a whiteout path must end in .wh.<name>', { entry: path });
  }
  if (!fitsField(path, NAME_LEN)) {
    await writePaxBlock(w, path, [{ key: 'path', value: path }]);
  }
  await w.header({ name: asciiField(path, NAME_LEN), mode: 0, size: 0, mtime: 0n, typeflag: '0' });
}

async function writeBody(
  w: BlockWriter,
  path: string,
  size: number,
  body: { readonly readSync?: (b: Uint8Array) => number } & AsyncIterable<Uint8Array>,
): Promise<void> {
  const changed = (got: string): WinlayerError =>
    new WinlayerError('TAR_ENTRY', `file changed while being read: ${got}, expected ${size} bytes`, {
      entry: path,
      hint: 'do not modify the layer while it is being written',
    });
  if (body.readSync !== undefined) {
    const readSync = body.readSync;
    let remaining = size;
    let probed = false;
    while (remaining > 0) {
      if (w.space === 0) await w.flush();
      const space = w.space;
      // Ask for one byte more than is left when it fits: a growing file shows without an extra read.
      const want = remaining < space ? remaining + 1 : space;
      const n = readSync(w.buf.subarray(w.pos, w.pos + want));
      if (n === 0) throw changed(`only ${size - remaining} bytes`);
      if (n > remaining) throw changed('more bytes');
      w.pos += n;
      remaining -= n;
      probed = want > n;
    }
    if (!probed && readSync(new Uint8Array(1)) !== 0) throw changed('more bytes');
  } else {
    let total = 0;
    for await (const chunk of body) {
      total += chunk.length;
      if (total > size) throw changed('more bytes');
      await w.bytes(chunk);
    }
    if (total !== size) throw changed(`only ${total} bytes`);
  }
  await w.pad(size);
}
