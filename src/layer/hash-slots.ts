/**
 * An open-addressing hash table of (32-bit hash, 32-bit locator) pairs, for indexes whose keys live elsewhere — a
 * file, a record log — so that memory holds 8 bytes a slot (kept at most 3/4 full, doubled when fuller) instead of
 * the keys (hash them with `upcaseHash`, Windows' case rule, or any 32-bit hash). A hash is never trusted: the caller
 * checks every candidate against its real key, so a collision costs one look at the key, never a wrong answer.
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
    for (let slot = this.scan(hash, -1); slot >= 0; slot = this.scan(hash, slot)) {
      const loc = this.locatorAt(slot);
      if (matches(loc)) return loc;
    }
    return -1;
  }

  /**
   * The probe itself, without a callback (the hot path's form of {@link find}): the next slot after `slot` (pass -1
   * to start) that holds `hash`, or -1 once an empty slot is reached; read each candidate's locator with
   * {@link locatorAt}.
   */
  scan(hash: number, slot: number): number {
    const h = hash >>> 0;
    const slots = this.#slots;
    const mask = this.#mask;
    for (let i = slot < 0 ? h & mask : (slot + 1) & mask; ; i = (i + 1) & mask) {
      const loc = slots[2 * i + 1]!;
      if (loc === 0) return -1;
      if (slots[2 * i] === h) return i;
    }
  }

  /** The locator held by a slot {@link scan} returned. */
  locatorAt(slot: number): number {
    return this.#slots[2 * slot + 1]! - 1;
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
