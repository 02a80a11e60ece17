/**
 * The cell allocator of the writer, modelled on the hive cell allocator as offreg's `ORSaveHive` uses it: size-class
 * free lists (Windows' free-display index), newest free cell first, a free cell split only when enough remains, new
 * bins appended at the end. It decides offsets only; `encode.ts` writes the cells, the bins and the free cells.
 */
import { BIN_ALIGN, HBIN_HEADER_SIZE } from './layout.js';

/** A free cell or a bin: its hive-bins offset and size. */
export interface Extent {
  readonly at: number;
  readonly size: number;
}

/** Number of free lists (Windows' free-display index: 16 exact sizes, then power-of-two classes). */
const FREE_LISTS = 24;
/** Free lists below this index hold one cell size each. */
const EXACT_LISTS = 16;

/** Windows' free-display index of a cell size: exact lists below 136 bytes, then power-of-two classes. */
function freeIndex(size: number): number {
  const i = (size >> 3) - 1;
  if (i < EXACT_LISTS) return i;
  if (i > 255) return FREE_LISTS - 1;
  return 31 - Math.clz32(i) + 7;
}

/**
 * The smallest remainder offreg leaves when it splits a free cell (measured on offreg's output: a 224-byte tail is
 * not used for an 88-byte key, a 192-byte tail is used for a 16-byte list).
 */
const MIN_SPLIT_REMAINDER = 144;

/** Hands out cell offsets in the hive-bins data; keeps the bins it made and the free cells left. */
export class Allocator {
  /** End of the hive-bins data. */
  end = 0;
  readonly bins: Extent[] = [];
  /** Free cells by free-display index; within a list, newest last. */
  readonly free: Extent[][] = Array.from({ length: FREE_LISTS }, () => []);

  /** The offset of a new allocated cell of `size` bytes (size field included, a multiple of 8). */
  alloc(size: number): number {
    for (let i = freeIndex(size); i < FREE_LISTS; i++) {
      const list = this.free[i]!;
      if (list.length === 0) continue;
      // the exact lists hold one size only: one look decides the whole list
      if (i < EXACT_LISTS) {
        const rest = list[0]!.size - size;
        if (rest !== 0 && rest < MIN_SPLIT_REMAINDER) continue;
      }
      for (let j = list.length - 1; j >= 0; j--) {
        const c = list[j]!;
        const rest = c.size - size;
        if (rest === 0 || rest >= MIN_SPLIT_REMAINDER) {
          list.splice(j, 1);
          if (rest > 0) this.#addFree(c.at + size, rest);
          return c.at;
        }
      }
    }
    const binSize = Math.ceil((size + HBIN_HEADER_SIZE) / BIN_ALIGN) * BIN_ALIGN;
    const at = this.end;
    this.bins.push({ at, size: binSize });
    this.end += binSize;
    const cellAt = at + HBIN_HEADER_SIZE;
    const rest = binSize - HBIN_HEADER_SIZE - size;
    if (rest > 0) this.#addFree(cellAt + size, rest);
    return cellAt;
  }

  #addFree(at: number, size: number): void {
    this.free[freeIndex(size)]!.push({ at, size });
  }
}
