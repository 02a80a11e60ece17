/**
 * Reparse data (`REPARSE_DATA_BUFFER`) of the two kinds a Windows layer can hold: symbolic links (tag 0xA000000C) and
 * mount points / junctions (tag 0xA0000003). In a layer tar they are typeflag `2` with the link name = the *print
 * name* (native form, backslashes) and PAX `MSWINDOWS.mountpoint=1` for junctions; hcsshim rebuilds the buffer on
 * import exactly as `encodeReparsePoint` does (go-winio `EncodeReparsePoint`). Any other tag (WCI, dedup,
 * `LX_SYMLINK`, AppExecLink, …) is refused, as go-winio refuses it on export.
 */
import { WinlayerError } from '../errors.js';

/** Reparse tags. */
export const REPARSE_TAG = {
  MOUNT_POINT: 0xa0000003,
  SYMLINK: 0xa000000c,
  LX_SYMLINK: 0xa000001d,
} as const;

/** `SYMLINK_FLAG_RELATIVE`: the symlink's substitute name is relative to the link's folder. */
export const SYMLINK_FLAG_RELATIVE = 0x1;

/** `MAXIMUM_REPARSE_DATA_BUFFER_SIZE`: 16 KiB. */
const MAX_REPARSE_SIZE = 16 * 1024;

/** A decoded symlink or mount point. */
export interface ReparsePoint {
  kind: 'symlink' | 'mountPoint';
  /** The print name: what a user sees and what a layer tar stores as the link name (`C:\x`, `..\y`). */
  target: string;
  /** The NT substitute name (`\??\C:\x`), or the relative path for a relative symlink. */
  substituteName: string;
  /** Symlinks only: `SYMLINK_FLAG_RELATIVE` is set. Always false for mount points. */
  relative: boolean;
}

/** The buffer header and the fixed part of the name block. */
const LAYOUT = {
  tag: { at: 0, len: 4 },
  dataLength: { at: 4, len: 2 },
  reserved: { at: 6, len: 2 },
  substituteNameOffset: { at: 8, len: 2 },
  substituteNameLength: { at: 10, len: 2 },
  printNameOffset: { at: 12, len: 2 },
  printNameLength: { at: 14, len: 2 },
  /** Symlinks only. */
  flags: { at: 16, len: 4 },
} as const;
const HEADER_SIZE = 8;

function invalid(rule: string, offset?: number): WinlayerError {
  return new WinlayerError('REPARSE_INVALID', rule, offset === undefined ? {} : { offset });
}

/**
 * The NT substitute name hcsshim derives from a link target, and whether the link is relative: `\\?\X` → `\??\X`;
 * `\\server\share` → `\??\UNC\server\share`; `C:…` → `\??\C:…`; anything else is relative and kept as it is.
 */
export function ntSubstituteName(target: string): { name: string; relative: boolean } {
  if (target.startsWith('\\\\?\\')) return { name: `\\??\\${target.slice(4)}`, relative: false };
  if (target.startsWith('\\\\')) return { name: `\\??\\UNC\\${target.slice(2)}`, relative: false };
  if (/^[A-Za-z]:/.test(target)) return { name: `\\??\\${target}`, relative: false };
  return { name: target, relative: true };
}

/**
 * Encodes a symlink or junction to `target` (a Windows path, as a layer tar's link name holds it) as hcsshim's import
 * does: substitute name first, then print name, each NUL-terminated; `SYMLINK_FLAG_RELATIVE` for relative symlinks.
 * Throws `REPARSE_INVALID` for an empty target, a relative junction, a NUL in the target or a buffer over 16 KiB.
 */
export function encodeReparsePoint(target: string, opts: { mountPoint?: boolean } = {}): Uint8Array {
  const mountPoint = opts.mountPoint === true;
  if (target.length === 0) throw invalid('a reparse point target is empty');
  if (target.includes('\u0000')) throw invalid(`reparse point target "${target}" contains a NUL character`);
  const { name, relative } = ntSubstituteName(target);
  if (mountPoint && relative) {
    throw new WinlayerError('REPARSE_INVALID', `a mount point (junction) needs an absolute target, not "${target}"`, {
      hint: 'write the target as C:\\… or store the link as a symlink',
    });
  }
  const subst = name.length * 2;
  const print = target.length * 2;
  const names = subst + 2 + print + 2;
  const fixed = mountPoint ? 8 : 12;
  const dataLength = fixed + names;
  if (HEADER_SIZE + dataLength > MAX_REPARSE_SIZE) {
    throw invalid(`reparse data for "${target.slice(0, 40)}…" would be ${HEADER_SIZE + dataLength} bytes, over 16 KiB`);
  }
  const out = new Uint8Array(HEADER_SIZE + dataLength);
  const v = new DataView(out.buffer);
  v.setUint32(LAYOUT.tag.at, mountPoint ? REPARSE_TAG.MOUNT_POINT : REPARSE_TAG.SYMLINK, true);
  v.setUint16(LAYOUT.dataLength.at, dataLength, true);
  v.setUint16(LAYOUT.substituteNameOffset.at, 0, true);
  v.setUint16(LAYOUT.substituteNameLength.at, subst, true);
  v.setUint16(LAYOUT.printNameOffset.at, subst + 2, true);
  v.setUint16(LAYOUT.printNameLength.at, print, true);
  if (!mountPoint) v.setUint32(LAYOUT.flags.at, relative ? SYMLINK_FLAG_RELATIVE : 0, true);
  const base = HEADER_SIZE + fixed;
  writeUtf16(v, base, name);
  writeUtf16(v, base + subst + 2, target);
  return out;
}

function writeUtf16(v: DataView, at: number, s: string): void {
  for (let i = 0; i < s.length; i++) v.setUint16(at + 2 * i, s.charCodeAt(i), true);
}

function readUtf16(v: DataView, at: number, bytes: number): string {
  let s = '';
  for (let i = 0; i < bytes; i += 2) s += String.fromCharCode(v.getUint16(at + i, true));
  return s;
}

/**
 * Decodes a symlink or mount point reparse buffer. Strict: the data length matches the buffer, both names lie inside
 * the name block with even lengths and offsets. Throws `REPARSE_INVALID` ("unsupported reparse point 0x…" for any
 * other tag) — never another exception.
 */
export function decodeReparsePoint(bytes: Uint8Array): ReparsePoint {
  if (bytes.length < HEADER_SIZE)
    throw invalid(`reparse data is ${bytes.length} bytes, shorter than its 8-byte header`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = v.getUint32(LAYOUT.tag.at, true);
  let kind: ReparsePoint['kind'];
  if (tag === REPARSE_TAG.SYMLINK) kind = 'symlink';
  else if (tag === REPARSE_TAG.MOUNT_POINT) kind = 'mountPoint';
  else {
    throw new WinlayerError('REPARSE_INVALID', `unsupported reparse point 0x${tag.toString(16).padStart(8, '0')}`, {
      offset: 0,
      hint: 'a Windows layer holds only symbolic links (0xa000000c) and junctions (0xa0000003)',
    });
  }
  const dataLength = v.getUint16(LAYOUT.dataLength.at, true);
  if (HEADER_SIZE + dataLength !== bytes.length) {
    throw invalid(
      `reparse data length ${dataLength} does not match the ${bytes.length - HEADER_SIZE} bytes present`,
      4,
    );
  }
  const fixed = kind === 'symlink' ? 12 : 8;
  if (dataLength < fixed) throw invalid(`${kind} reparse data of ${dataLength} bytes has no room for its fields`, 4);
  const nameBlock = HEADER_SIZE + fixed;
  const name = (offField: { at: number }, lenField: { at: number }, what: string): string => {
    const off = v.getUint16(offField.at, true);
    const len = v.getUint16(lenField.at, true);
    if (off % 2 !== 0 || len % 2 !== 0) throw invalid(`${what} offset ${off} or length ${len} is odd`, offField.at);
    if (nameBlock + off + len > bytes.length)
      throw invalid(`${what} runs past the end of the reparse data`, offField.at);
    return readUtf16(v, nameBlock + off, len);
  };
  const substituteName = name(LAYOUT.substituteNameOffset, LAYOUT.substituteNameLength, 'substitute name');
  const target = name(LAYOUT.printNameOffset, LAYOUT.printNameLength, 'print name');
  const relative = kind === 'symlink' && (v.getUint32(LAYOUT.flags.at, true) & SYMLINK_FLAG_RELATIVE) !== 0;
  return { kind, target, substituteName, relative };
}
