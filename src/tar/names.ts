/**
 * Tar names ↔ layer paths, and the layer-specific name shapes: whiteouts (`.wh.<name>`), opaque markers
 * (`.wh..wh..opq`) and alternate data streams (`file:stream[:$DATA]`). Pure.
 */

/** The whiteout prefix of a base name. */
export const WHITEOUT_PREFIX = '.wh.';
/** The opaque-directory marker's base name (overlay semantics; hcsshim does not know it). */
export const OPAQUE_WHITEOUT = '.wh..wh..opq';

/**
 * The layer path of a stored tar name: every leading `./` (and a lone `.`) removed, trailing `/` removed. Nothing
 * else changes: a leading `/`, `..` or a backslash stay for the safety checks of the sinks. The archive root (`./`)
 * becomes the empty string.
 */
export function normalizeTarName(name: string): string {
  let s = name;
  while (s.startsWith('./')) {
    s = s.slice(2);
    while (s.startsWith('/')) s = s.slice(1);
  }
  if (s === '.') return '';
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 0x2f) end--;
  return end === s.length ? s : s.slice(0, end);
}

/** Splits a layer path into its folder (without the slash; '' at top level) and base name. */
export function splitPath(path: string): { dir: string; base: string } {
  const i = path.lastIndexOf('/');
  return i === -1 ? { dir: '', base: path } : { dir: path.slice(0, i), base: path.slice(i + 1) };
}

/** The folder that holds a layer path: `''` for a top-level name (and for `''`). */
export function parentPath(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

/** `dir/name`, or `name` at top level. */
function joinPath(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

/** What a layer path says about itself: a whiteout of `target`, an opaque marker for `directory`, or plain. */
export type NameShape =
  | { readonly shape: 'whiteout'; readonly target: string }
  | { readonly shape: 'opaque'; readonly directory: string }
  | { readonly shape: 'plain' };

const PLAIN: NameShape = Object.freeze({ shape: 'plain' });

/** Classifies a (normalised) layer path by its base name. A bare `.wh.` is plain (there is nothing to delete). */
export function nameShape(path: string): NameShape {
  // Nearly every name: no whiteout prefix at the start of the base name, so nothing to split.
  if (!path.startsWith(WHITEOUT_PREFIX, path.lastIndexOf('/') + 1)) return PLAIN;
  const { dir, base } = splitPath(path);
  if (base === OPAQUE_WHITEOUT) return { shape: 'opaque', directory: dir };
  const rest = base.slice(WHITEOUT_PREFIX.length);
  if (rest === '') return PLAIN;
  return { shape: 'whiteout', target: joinPath(dir, rest) };
}

/**
 * Splits an alternate-data-stream name `path:stream` or `path:stream:$DATA` (the type suffix compared
 * case-insensitively, as Windows does) into the owner path and the stream name. Returns undefined when the base name
 * holds no `:` or the stream name is empty (`file::$DATA` is the file itself, not a stream).
 */
export function splitStreamName(path: string): { filePath: string; streamName: string } | undefined {
  const slash = path.lastIndexOf('/');
  const colon = path.indexOf(':', slash + 1);
  if (colon === -1) return undefined;
  const filePath = path.slice(0, colon);
  let streamName = path.slice(colon + 1);
  if (streamName.toUpperCase().endsWith(':$DATA')) streamName = streamName.slice(0, -':$DATA'.length);
  if (streamName === '' || streamName.includes(':') || filePath === '' || filePath.endsWith('/')) return undefined;
  return { filePath, streamName };
}
