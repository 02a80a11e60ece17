/**
 * The work `writeLayerDir` leaves for the end, in archive order, spilled to a file (`RecordLog`) so memory stays flat:
 * folder times (set last, when nothing more is created inside), and the sidecar records whose disk mtime is read back
 * once everything exists (a folder on a disk that rounds times; a hard link, which shares its file's mtime).
 */
import type { UnixNanos } from '../windows/index.js';
import { RecordLog } from './record-log.js';
import { decodeRecord, encodeRecord, type SidecarRecord } from './sidecar.js';

/** One piece of deferred work. */
export type Deferred =
  /** Set a folder's times; `readBack`: its record, to be completed with the disk mtime and added. */
  | {
      readonly kind: 'folder';
      readonly path: string;
      readonly lastWriteTime: UnixNanos;
      readonly lastAccessTime: UnixNanos | undefined;
      readonly readBack: SidecarRecord | undefined;
    }
  /** A hard link's record, to be completed with the disk mtime and added. */
  | { readonly kind: 'link'; readonly path: string; readonly record: SidecarRecord };

/** Log tags, and how each keeps its fields in the log's two strings (the path, then the rest). */
const FOLDER = 0; // "mtime" or "mtime atime", in nanoseconds
const FOLDER_READ_BACK = 1; // the record's JSON (its times are the folder's)
const LINK = 2; // the record's JSON

/** The deferred-work log; see the module comment. */
export class DeferredTimes {
  readonly #log: RecordLog;

  /** A log in the spill file `spillFile` (created exclusively, unlinked at once). */
  constructor(spillFile: string) {
    this.#log = new RecordLog(spillFile);
  }

  /** A folder's times, to be set at the end; with `readBack`, its record waits for the disk mtime. */
  folder(
    path: string,
    lastWriteTime: UnixNanos,
    lastAccessTime: UnixNanos | undefined,
    readBack?: SidecarRecord,
  ): void {
    if (readBack !== undefined) {
      this.#log.append(FOLDER_READ_BACK, path, encodeRecord(readBack));
      return;
    }
    const access = lastAccessTime === undefined || lastAccessTime === lastWriteTime ? '' : ` ${lastAccessTime}`;
    this.#log.append(FOLDER, path, `${lastWriteTime}${access}`);
  }

  /** A hard link's record, completed with the disk mtime at the end. */
  link(path: string, record: SidecarRecord): void {
    this.#log.append(LINK, path, encodeRecord(record));
  }

  /** Calls `fn` with everything deferred, in the order given. */
  forEach(fn: (d: Deferred) => void): void {
    this.#log.forEach(({ tag, first: path, second = '' }) => {
      if (tag === LINK) {
        fn({ kind: 'link', path, record: decodeRecord(second) });
      } else if (tag === FOLDER_READ_BACK) {
        const r = decodeRecord(second);
        fn({ kind: 'folder', path, lastWriteTime: r.lastWriteTime!, lastAccessTime: r.lastAccessTime, readBack: r });
      } else {
        const space = second.indexOf(' ');
        const mtime = BigInt(space < 0 ? second : second.slice(0, space));
        fn({
          kind: 'folder',
          path,
          lastWriteTime: mtime,
          lastAccessTime: space < 0 ? undefined : BigInt(second.slice(space + 1)),
          readBack: undefined,
        });
      }
    });
  }

  /** Closes (and removes) the spill file. Safe more than once. */
  close(): void {
    this.#log.close();
  }
}
