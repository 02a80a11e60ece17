/**
 * The entry model: one Windows layer is a stream of `LayerEntry` values. Every source (tar reader, layer-folder walk,
 * plain rootfs walk) yields them; every sink (tar writer, layer-folder writer, reports, image writers) consumes them.
 *
 * Paths are layer-relative and `/`-separated exactly as a canonical tar holds them: `Files/Windows/System32`,
 * `UtilityVM/Files/EFI/...`, `Hives/System_Delta`. Never a leading `./`, never a trailing `/`.
 */
import { WinlayerError } from './errors.js';
import type { UnixNanos } from './windows/filetime.js';

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
 * The content of a `file` or `stream` entry. It can be iterated at most once. When the consumer moves on to the next
 * entry, unread bytes are skipped; iterating a body after that throws `BODY_STALE`. Nothing hangs because a caller did
 * not drain a body.
 */
export interface EntryBody extends AsyncIterable<Uint8Array> {
  /**
   * A synchronous pull, offered by sources that can (local files): fills `buffer` from its start and returns the
   * number of bytes read, 0 at the end. Sinks may use it instead of iterating; a body is read one way only.
   */
  readonly readSync?: (buffer: Uint8Array) => number;
}

interface EntryBase {
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

/** A body over bytes already in memory (tests, hives, generated files). Read one way only, once. */
export function bufferBody(bytes: Uint8Array): EntryBody {
  let readBy: 'nobody' | 'iterator' | 'readSync' = 'nobody';
  let pos = 0;
  const claim = (way: 'iterator' | 'readSync'): void => {
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
    readSync(buffer: Uint8Array): number {
      claim('readSync');
      const n = Math.min(buffer.length, bytes.length - pos);
      buffer.set(bytes.subarray(pos, pos + n));
      pos += n;
      return n;
    },
  };
}
