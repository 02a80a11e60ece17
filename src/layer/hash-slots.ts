/**
 * An open-addressing hash table of (32-bit hash, 32-bit locator) pairs, for indexes whose keys live elsewhere — a
 * file, a record log — so that memory holds 8 bytes a slot (kept at most 3/4 full, doubled when fuller) instead of
 * the keys. A hash is never trusted: the caller checks every candidate against its real key, so a collision costs one
 * look at the key, never a wrong answer.
 */

const FIRST_CAPACITY = 1 << 12;

/** See the module comment. Locators are any integers from 0 to 2^32 − 2. */
export class HashSlots {
  /** Per slot: [hash, locator + 1]; 0 in the locator word marks an empty slot. */
  #slots = new Uint32Array(2 * FIRST_CAPACITY);
  #mask = FIRST_CAPACITY - 1;
  #size = 0;

  /** The number of pairs. */
  get size(): number {
    return this.#size;
  }

  /** The first locator stored with `hash` for which `matches` is true, or -1. Probes in insertion order. */
  find(hash: number, matches: (locator: number) => boolean): number {
    const h = hash >>> 0;
    const slots = this.#slots;
    for (let i = h & this.#mask; ; i = (i + 1) & this.#mask) {
      const loc = slots[2 * i + 1]!;
      if (loc === 0) return -1;
      if (slots[2 * i] === h && matches(loc - 1)) return loc - 1;
    }
  }

  /** Adds a pair. It does not look for an equal key: call {@link find} first when keys must be unique. */
  add(hash: number, locator: number): void {
    if (!Number.isInteger(locator) || locator < 0 || locator >= 0xffff_ffff) {
      throw new RangeError(`locator ${locator} is out of range`);
    }
    const h = hash >>> 0;
    const slots = this.#slots;
    let i = h & this.#mask;
    while (slots[2 * i + 1] !== 0) i = (i + 1) & this.#mask;
    slots[2 * i] = h;
    slots[2 * i + 1] = locator + 1;
    this.#size++;
    if (this.#size * 4 > (this.#mask + 1) * 3) this.#grow();
  }

  /** Doubles the table; the stored hashes place every pair again without looking at a key. */
  #grow(): void {
    const old = this.#slots;
    const capacity = 2 * (this.#mask + 1);
    const slots = new Uint32Array(2 * capacity);
    const mask = capacity - 1;
    for (let j = 0; j < old.length; j += 2) {
      const loc = old[j + 1]!;
      if (loc === 0) continue;
      const h = old[j]!;
      let i = h & mask;
      while (slots[2 * i + 1] !== 0) i = (i + 1) & mask;
      slots[2 * i] = h;
      slots[2 * i + 1] = loc;
    }
    this.#slots = slots;
    this.#mask = mask;
  }
}

/** The FNV-1a offset basis: where a {@link fnvStep} chain starts. */
export const FNV_BASIS = 0x811c9dc5;

/** One FNV-1a step over a 16-bit unit. */
export function fnvStep(h: number, unit: number): number {
  return Math.imul(h ^ unit, 0x01000193);
}

/** FNV-1a over the UTF-16 units of `s`, then {@link finishHash}. Case-sensitive. */
export function stringHash(s: string): number {
  let h = FNV_BASIS;
  for (let i = 0; i < s.length; i++) h = fnvStep(h, s.charCodeAt(i));
  return finishHash(h);
}

/** The final mix of an FNV chain (murmur3's): the table indexes by the low bits, which FNV alone spreads poorly. */
export function finishHash(hash: number): number {
  let h = hash;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
