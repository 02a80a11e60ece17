/**
 * A set of layer paths keyed by Windows' case rule (`upcaseUnit`, unit by unit), with a small tag and an optional
 * second path per name, whose memory does not hold the names: an open-addressing hash table of two 32-bit words per
 * slot (the hash of the upper-cased path, and where the record lies in a `RecordLog`), the records themselves in the
 * log — in a spill file when one is given. About 11–21 bytes of memory per name (the table is kept at most 3/4 full
 * and doubles), against ~180 bytes for a `Map` of two strings. With a spill file the table too is bounded: past
 * 2^20 slots (786,000 names, 8 MiB) it moves to a second spill file beside the first (`HashSlots`), so memory
 * stops growing with the names.
 *
 * A hash is never trusted: every slot whose hash matches is verified against its record (`equalUpcase`), so two names
 * whose hashes collide are told apart exactly and a collision costs one read, never a false answer.
 */
import { upcaseHash } from '../internal/windows.js';
import { equalUpcase } from '../windows/index.js';
import { HashSlots, type HashSlotsOptions } from './hash-slots.js';
import { type LogRecord, RecordLog } from './record-log.js';

/** What the set holds for one name. */
export interface NameEntry {
  /** The tag given to `claim` (0..255). */
  readonly tag: number;
  /** The path as it was claimed (exact spelling). */
  readonly path: string;
  /** The second path given to `claim`, if any. */
  readonly data: string | undefined;
}

/** A case-insensitive set of paths; see the module comment. */
export class NameSet {
  readonly #log: RecordLog;
  /** (hash of the upper-cased path, locator of its record in the log). */
  readonly #table: HashSlots;

  /**
   * An empty set; with `spillFile`, the names live in that file (see `RecordLog`), else in a memory log, and a table
   * outgrowing `table.memorySlots` moves to `<spillFile>.slots` (and `<spillFile>.slots~`; see `HashSlots`).
   * `table` is for tests: a small `memorySlots` and `cachePages` exercise the spilled table quickly.
   */
  constructor(spillFile?: string, table: Omit<HashSlotsOptions, 'spillFile'> = {}) {
    this.#log = new RecordLog(spillFile);
    this.#table = new HashSlots({ ...table, spillFile: spillFile === undefined ? undefined : `${spillFile}.slots` });
  }

  /** The number of names. */
  get size(): number {
    return this.#table.size;
  }

  /** The entry whose path equals `path` by Windows' case rule, or undefined. */
  get(path: string): NameEntry | undefined {
    return this.#find(upcaseHash(path), path);
  }

  /**
   * Adds `path` unless a name equal to it by Windows' case rule is already in the set: then returns that entry and
   * adds nothing. Returns undefined when the name was added.
   */
  claim(path: string, tag: number, data?: string): NameEntry | undefined {
    const h = upcaseHash(path);
    const known = this.#find(h, path);
    if (known !== undefined) return known;
    this.#table.add(h, this.#log.append(tag, path, data));
    return undefined;
  }

  /** True once the table has moved to its spill file. */
  get spilled(): boolean {
    return this.#table.spilled;
  }

  /** Releases the spill files. The set must not be used afterwards. Safe more than once. */
  close(): void {
    try {
      this.#table.close();
    } finally {
      this.#log.close();
    }
  }

  /** The entry with hash `h` whose record holds `path` (by Windows' case rule): each candidate costs one read. */
  #find(h: number, path: string): NameEntry | undefined {
    const table = this.#table;
    for (let slot = table.scan(h, -1); slot >= 0; slot = table.scan(h, slot)) {
      const rec = this.#log.read(table.locatorAt(slot));
      if (equalUpcase(rec.first, path)) return entryOf(rec);
    }
    return undefined;
  }
}

function entryOf(rec: LogRecord): NameEntry {
  return { tag: rec.tag, path: rec.first, data: rec.second };
}
