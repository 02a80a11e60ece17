/**
 * The entry model: one Windows layer is a stream of `LayerEntry` values. Every source (tar reader, layer-folder walk,
 * plain rootfs walk) yields them; every sink (tar writer, layer-folder writer, reports, image writers) consumes them.
 *
 * The body contract is here, whole ({@link EntryBody}: iterate it, or `read` into a buffer, or take a `view`;
 * {@link copyBody} copies a body whichever way it offers): no other module defines a way to read a body.
 *
 * Paths are layer-relative and `/`-separated exactly as a canonical tar holds them: `Files/Windows/System32`,
 * `UtilityVM/Files/EFI/...`, `Hives/System_Delta`. Never a leading `./`, never a trailing `/`.
 */
import { WinlayerError } from './errors.js';
import type { UnixNanos } from './windows/index.js';

/** What an entry is. `stream` is an alternate data stream (`file:name`) and always directly follows its file. */
export type EntryKind =
  | 'directory'
  | 'file'
  | 'hardlink'
  | 'symlink'
  | 'whiteout'
  | 'opaqueWhiteout'
  | 'stream'
  | 'special';

/** One extended attribute (`MSWINDOWS.xattr.<name>`): the name as given and its raw value. */
export interface ExtendedAttribute {
  readonly name: string;
  readonly value: Uint8Array;
}

/**
 * The Windows metadata of an entry: the decoded `MSWINDOWS.*` / `LIBARCHIVE.*` / time PAX records. A field that is
 * `undefined` was not given by the source; sinks apply the documented default (attributes by kind; creation, access
 * and change time = last write time).
 */
export interface WindowsMetadata {
  /** `FILE_ATTRIBUTE_*` bits (`MSWINDOWS.fileattr`). */
  readonly attributes?: number;
  /**
   * Self-relative security descriptor (`MSWINDOWS.rawsd`, or the legacy SDDL `MSWINDOWS.sd` converted). Sources share
   * one array between entries with the same SD; sinks may cache by the array, so never change its bytes once given.
   */
  readonly securityDescriptor?: Uint8Array;
  /** `LIBARCHIVE.creationtime`. */
  readonly creationTime?: UnixNanos;
  /** The modification time (`mtime`): always present. */
  readonly lastWriteTime: UnixNanos;
  /** `atime`. */
  readonly lastAccessTime?: UnixNanos;
  /** `ctime` (Windows' ChangeTime). */
  readonly changeTime?: UnixNanos;
  /** `MSWINDOWS.mountpoint`: a symlink entry that is a junction (mount point) rather than a symbolic link. */
  readonly mountPoint?: boolean;
  /** `MSWINDOWS.xattr.*`, in the order given. */
  readonly extendedAttributes?: readonly ExtendedAttribute[];
}

/** One PAX record, key and value as UTF-8 text. */
export interface PaxRecord {
  readonly key: string;
  readonly value: string;
}

/** The header as it was stored: filled by tar sources for lint and diff; writers never copy it. */
export interface RawTarInfo {
  /** The name exactly as stored (after PAX `path` / GNU long names are applied), before normalisation. */
  readonly name: string;
  /** The link name exactly as stored. */
  readonly linkName: string;
  /** The one-character typeflag (`'0'`, `'\0'`, `'5'`, …). */
  readonly typeflag: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly uname: string;
  readonly gname: string;
  /** How the header was written: PAX (an `x` record preceded it), plain ustar, GNU (`ustar  ` magic) or v7. */
  readonly format: 'pax' | 'ustar' | 'gnu' | 'v7';
  /** The PAX records that applied to this entry (global first, then per-entry), in their original order. */
  readonly pax: readonly PaxRecord[];
  /** Byte offset of the entry's first header block in the uncompressed archive. */
  readonly offset: number;
}

/**
 * The content of a `file` or `stream` entry: exactly `size` bytes (the entry's), pulled one of three ways.
 *
 * - Iterating (every body): the bytes as chunks.
 * - `read` (sources that can pull without waiting: local files, a tar entry lying whole in the reader's current
 *   input chunk): fills `buffer[offset, offset + length)` from the body's current position and returns the number of
 *   bytes written there, 0 at the end; it writes no byte past what it returns. Call it as a method (`body.read(…)`).
 * - `view` (only where `read` exists): the next at most `max` bytes as a view, empty at the end, valid only until
 *   the next call on the body or the next entry (a sink that writes each piece at once uses it to avoid a copy).
 *   `read` and `view` share one position.
 *
 * A body is read at most once and one way only (iteration, or the synchronous pair). When the consumer moves on to
 * the next entry, unread bytes are skipped; reading a body after that, or a second time, throws `BODY_STALE`.
 * Nothing hangs because a caller did not drain a body. A body does not check its length against `size`: the sink
 * does, through {@link copyBody}, which every sink uses.
 */
export interface EntryBody extends AsyncIterable<Uint8Array> {
  read?(buffer: Uint8Array, offset: number, length: number): number;
  view?(max: number): Uint8Array;
}

/**
 * Where {@link copyBody} puts a body's bytes: a buffer it fills from `pos` (with `read`, straight into it), emptied
 * by `flush` when full.
 */
export interface BodySink {
  /** The buffer, filled from `pos` to its end; `flush` may replace it. */
  readonly buf: Uint8Array;
  pos: number;
  /** Empties the buffer (writes `buf[0, pos)` out, sets `pos` to 0): a promise when the caller must wait. */
  flush(): Promise<void> | undefined;
  /**
   * Optional: takes a piece as is (a `view` or an iterated chunk, valid only during the call) instead of having it
   * copied into `buf`. With it, a body that offers `view` reaches the sink without being copied.
   */
  readonly take?: (piece: Uint8Array) => Promise<void> | undefined;
  /** The error for a body whose length is not `size`: it gave `got` bytes, or more than `size` (`'more'`). */
  mismatch(entry: string, size: number, got: number | 'more'): Error;
}

/** The one byte a probe past the end reads into. */
const PROBE = new Uint8Array(1);

/**
 * Copies the body of the entry `entry` (exactly `size` bytes) into `sink`: with `read` when the body offers it (then
 * synchronously, unless `flush` returns a promise: the result is undefined when nothing had to wait), else by
 * iterating. The one place that checks a body's length: a body that ends early or holds more than `size` bytes throws
 * `sink.mismatch(…)`. Each read asks for one byte past the expected end when there is room, so a body that grew shows
 * without an extra read.
 */
export function copyBody(body: EntryBody, size: number, entry: string, sink: BodySink): Promise<void> | undefined {
  if (body.read === undefined) return copyIterated(body, size, entry, sink);
  if (sink.take !== undefined && body.view !== undefined) return copyViews(body, size, entry, sink, sink.take, 0);
  return copyRead(body, size, entry, sink, size);
}

/** {@link copyBody} with `read`, `remaining` bytes still to come. */
function copyRead(
  body: EntryBody,
  size: number,
  entry: string,
  sink: BodySink,
  remaining: number,
): Promise<void> | undefined {
  let probed = false;
  while (remaining > 0) {
    const pos = sink.pos;
    const room = sink.buf.length - pos;
    if (room === 0) {
      const p = sink.flush();
      if (p !== undefined) {
        const left = remaining;
        return p.then(() => copyRead(body, size, entry, sink, left));
      }
      continue;
    }
    const want = remaining < room ? remaining + 1 : room;
    const n = body.read!(sink.buf, pos, want);
    if (n === 0) throw sink.mismatch(entry, size, size - remaining);
    if (n > remaining) throw sink.mismatch(entry, size, 'more');
    sink.pos = pos + n;
    remaining -= n;
    probed = want > n;
  }
  if (!probed && body.read!(PROBE, 0, 1) !== 0) throw sink.mismatch(entry, size, 'more');
  return undefined;
}

/** {@link copyBody} with `view` into `take`, `got` bytes already taken. */
function copyViews(
  body: EntryBody,
  size: number,
  entry: string,
  sink: BodySink,
  take: (piece: Uint8Array) => Promise<void> | undefined,
  got: number,
): Promise<void> | undefined {
  for (;;) {
    const v = body.view!(size - got + 1);
    if (v.length === 0) break;
    got += v.length;
    if (got > size) throw sink.mismatch(entry, size, 'more');
    const p = take(v);
    if (p !== undefined) {
      const now = got;
      return p.then(() => copyViews(body, size, entry, sink, take, now));
    }
  }
  if (got !== size) throw sink.mismatch(entry, size, got);
  return undefined;
}

/** {@link copyBody} by iteration. */
async function copyIterated(body: EntryBody, size: number, entry: string, sink: BodySink): Promise<void> {
  let got = 0;
  const take = sink.take;
  for await (const chunk of body) {
    got += chunk.length;
    if (got > size) throw sink.mismatch(entry, size, 'more');
    if (take !== undefined) {
      await take(chunk);
      continue;
    }
    for (let off = 0; off < chunk.length; ) {
      if (sink.pos === sink.buf.length) await sink.flush();
      const k = Math.min(chunk.length - off, sink.buf.length - sink.pos);
      sink.buf.set(off === 0 && k === chunk.length ? chunk : chunk.subarray(off, off + k), sink.pos);
      sink.pos += k;
      off += k;
    }
  }
  if (got !== size) throw sink.mismatch(entry, size, got);
}

export interface EntryBase {
  /** Layer-relative path (see the module comment). */
  readonly path: string;
  readonly win: WindowsMetadata;
  /** Well-formed PAX records winlayer does not know: kept from the source and written back unchanged. */
  readonly extraPax?: readonly PaxRecord[];
  /** How a tar source stored the entry (absent for other sources). */
  readonly raw?: RawTarInfo;
}

export interface DirectoryEntry extends EntryBase {
  readonly kind: 'directory';
}

export interface FileEntry extends EntryBase {
  readonly kind: 'file';
  readonly size: number;
  readonly body: EntryBody;
}

/** An alternate data stream of the file `filePath`; `path` is `filePath + ':' + streamName`. */
export interface StreamEntry extends EntryBase {
  readonly kind: 'stream';
  readonly filePath: string;
  /** The stream name without a `:$DATA` suffix. */
  readonly streamName: string;
  readonly size: number;
  readonly body: EntryBody;
}

/** A second name for the file first written at `linkTarget` (a layer path such as `Files/a/b.dll`). */
export interface HardlinkEntry extends EntryBase {
  readonly kind: 'hardlink';
  readonly linkTarget: string;
}

/**
 * A reparse point: a symbolic link (or, with `win.mountPoint`, a junction). `linkTarget` is the Windows target as
 * written (backslashes; relative or absolute). Whether it points at a folder is in the DIRECTORY attribute.
 */
export interface SymlinkEntry extends EntryBase {
  readonly kind: 'symlink';
  readonly linkTarget: string;
}

/** A `.wh.<name>` tombstone: `path` is the marker's own path, `target` the layer path it deletes. */
export interface WhiteoutEntry extends EntryBase {
  readonly kind: 'whiteout';
  readonly target: string;
}

/** A `.wh..wh..opq` marker (overlay semantics, unknown to Windows): `directory` is the folder it would empty. */
export interface OpaqueWhiteoutEntry extends EntryBase {
  readonly kind: 'opaqueWhiteout';
  readonly directory: string;
}

/** A tar entry of a type a Windows layer cannot hold (device, FIFO, unknown typeflag): reported, never written. */
export interface SpecialEntry extends EntryBase {
  readonly kind: 'special';
  readonly typeflag: string;
  /** What it is, in words: `character device`, `block device`, `FIFO`, `typeflag 'V'`. */
  readonly description: string;
}

export type LayerEntry =
  | DirectoryEntry
  | FileEntry
  | StreamEntry
  | HardlinkEntry
  | SymlinkEntry
  | WhiteoutEntry
  | OpaqueWhiteoutEntry
  | SpecialEntry;

/** A body over bytes already in memory (tests, hives, generated files): iterated, or `read` / `view`; once. */
export function bufferBody(bytes: Uint8Array): EntryBody {
  let readBy: 'nobody' | 'iterator' | 'sync' = 'nobody';
  let pos = 0;
  const claim = (way: 'iterator' | 'sync'): void => {
    if (readBy !== 'nobody' && (readBy !== way || way === 'iterator')) {
      throw new WinlayerError('BODY_STALE', 'an entry body can be read only once, and one way only');
    }
    readBy = way;
  };
  return {
    async *[Symbol.asyncIterator]() {
      claim('iterator');
      if (bytes.length > 0) yield bytes;
    },
    read(buffer: Uint8Array, offset: number, length: number): number {
      claim('sync');
      const n = Math.min(length, bytes.length - pos);
      buffer.set(bytes.subarray(pos, pos + n), offset);
      pos += n;
      return n;
    },
    view(max: number): Uint8Array {
      claim('sync');
      const n = Math.min(max, bytes.length - pos);
      pos += n;
      return bytes.subarray(pos - n, pos);
    },
  };
}
