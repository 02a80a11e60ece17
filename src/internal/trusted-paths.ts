/**
 * Trusted paths: a capability an entry source may offer its sink. A source that builds every path itself from names
 * it has checked (the folder walkers: non-empty Windows names, none `.` or `..`, no NUL, joined by `/`) has a method
 * under {@link TRUSTED_PATHS}: `source[TRUSTED_PATHS](e)` is true only for the entry it has just handed out, with its
 * path as built. The tar writer then skips its own path check for that entry (one pass over every path of a layer);
 * any other entry, and every entry of any other source, is checked. Internal: a user's source is always checked.
 */
import type { LayerEntry } from '../entry.js';

/** The key of the method; see the module comment. */
export const TRUSTED_PATHS: unique symbol = Symbol('winlayer.trustedPaths');

/** The method under {@link TRUSTED_PATHS}: true when the source vouches for `e`'s path. */
export type PathWitness = (e: LayerEntry) => boolean;

/** The bound {@link PathWitness} of an entry source, or undefined when it vouches for nothing. */
export function pathWitness(source: object): PathWitness | undefined {
  const witness = (source as { readonly [TRUSTED_PATHS]?: PathWitness })[TRUSTED_PATHS];
  return witness?.bind(source);
}
