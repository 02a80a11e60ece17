/**
 * The layout of the hashing ring, shared by `hash.ts` (the producer) and `hash.thread.ts`: {@link SLOTS} slots of
 * {@link SLOT_SIZE} bytes; a slot's published length is its byte count, or {@link END} for the end of the stream; the
 * digest (32 bytes) comes back in the ring's reply area.
 */

/** Bytes per ring slot: the tar writer's buffer size. */
export const SLOT_SIZE = 1024 * 1024;
/** Slots in the ring. */
export const SLOTS = 8;
/** The published length that ends the stream. */
export const END = -1;
