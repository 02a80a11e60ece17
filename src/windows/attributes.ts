/**
 * Windows file attributes (`FILE_ATTRIBUTE_*`, winnt.h) ↔ names, and the strict parser of the PAX
 * `MSWINDOWS.fileattr` value.
 */
import { WinlayerError } from '../errors.js';

/**
 * Attribute name → bit, as winnt.h defines them (without the `FILE_ATTRIBUTE_` prefix). `EA` and `RECALL_ON_OPEN`
 * share 0x40000 (winnt.h defines both); names are written as `RECALL_ON_OPEN`, the documented meaning on disk.
 * 0x8 (the old DOS volume label bit) has no name.
 */
export const FILE_ATTRIBUTE = {
  READONLY: 0x1,
  HIDDEN: 0x2,
  SYSTEM: 0x4,
  DIRECTORY: 0x10,
  ARCHIVE: 0x20,
  DEVICE: 0x40,
  NORMAL: 0x80,
  TEMPORARY: 0x100,
  SPARSE_FILE: 0x200,
  REPARSE_POINT: 0x400,
  COMPRESSED: 0x800,
  OFFLINE: 0x1000,
  NOT_CONTENT_INDEXED: 0x2000,
  ENCRYPTED: 0x4000,
  INTEGRITY_STREAM: 0x8000,
  VIRTUAL: 0x10000,
  NO_SCRUB_DATA: 0x20000,
  EA: 0x40000,
  RECALL_ON_OPEN: 0x40000,
  PINNED: 0x80000,
  UNPINNED: 0x100000,
  RECALL_ON_DATA_ACCESS: 0x400000,
  STRICTLY_SEQUENTIAL: 0x20000000,
} as const;

/** What {@link defaultAttributes} needs to know about a link. */
export interface DefaultAttributesOptions {
  /** A junction (`MSWINDOWS.mountpoint`): a link to a folder. */
  readonly mountPoint?: boolean;
  /** A symbolic link whose target is a folder. */
  readonly toDirectory?: boolean;
}

/**
 * The attributes of an object that has none recorded (no sidecar record, no `MSWINDOWS.fileattr`), by entry kind:
 * `DIRECTORY` (0x10) for a folder; `REPARSE_POINT|DIRECTORY` (0x410) for a junction or a symbolic link to a folder;
 * `REPARSE_POINT|ARCHIVE` (0x420) for a symbolic link to a file; `ARCHIVE` (0x20) for anything else (files, hard
 * links, streams). The one definition: the tar writer, the default metadata policy and the layer comparison use it.
 *
 * Why a file symlink gets ARCHIVE: Windows sets ARCHIVE on every file it creates, a file symlink included
 * (`CreateSymbolicLink` without `SYMBOLIC_LINK_FLAG_DIRECTORY`), and never on a folder, so an NTFS file symlink
 * reads 0x420 and a folder link 0x410; go-winio (`backuptar`) writes what it reads, so these are the values a layer
 * exported on Windows holds.
 */
export function defaultAttributes(kind: string, link?: DefaultAttributesOptions): number {
  if (kind === 'directory') return FILE_ATTRIBUTE.DIRECTORY;
  if (kind !== 'symlink') return FILE_ATTRIBUTE.ARCHIVE;
  const toFolder = link !== undefined && (link.mountPoint === true || link.toDirectory === true);
  return FILE_ATTRIBUTE.REPARSE_POINT | (toFolder ? FILE_ATTRIBUTE.DIRECTORY : FILE_ATTRIBUTE.ARCHIVE);
}

/** One name of `FILE_ATTRIBUTE`. */
export type FileAttributeName = keyof typeof FILE_ATTRIBUTE;

/** The names written for each bit, in bit order (one name per bit). */
const WRITTEN: ReadonlyArray<readonly [string, number]> = Object.entries(FILE_ATTRIBUTE)
  .filter(([name]) => name !== 'EA')
  .sort((a, b) => a[1] - b[1]);
const KNOWN_BITS = WRITTEN.reduce((acc, [, bit]) => acc | bit, 0);

/**
 * The names of the bits set in `bits`, in bit order; the bits without a name are appended as one lower-case `0x…`.
 * `0` gives `[]`.
 */
export function attributeNames(bits: number): string[] {
  const v = checkUint32(bits);
  const names: string[] = [];
  for (const [name, bit] of WRITTEN) if ((v & bit) !== 0) names.push(name);
  const unknown = (v & ~KNOWN_BITS) >>> 0;
  if (unknown !== 0) names.push(`0x${unknown.toString(16)}`);
  return names;
}

/** `DIRECTORY|ARCHIVE`, or `-` for 0. Round-trips through `parseAttributes`. */
export function formatAttributes(bits: number): string {
  const names = attributeNames(bits);
  return names.length === 0 ? '-' : names.join('|');
}

/**
 * Parses attributes written by a person or by `formatAttributes`: names (any case, with or without the
 * `FILE_ATTRIBUTE_` prefix) and numbers (decimal or `0x` hex) separated by `|`, `,`, `+` or spaces; `-` or `0` is
 * no attribute. Throws `ATTR_INVALID` naming the token it does not know.
 */
export function parseAttributes(text: string): number {
  const trimmed = text.trim();
  if (trimmed === '-' || trimmed === '') {
    if (trimmed === '') throw new WinlayerError('ATTR_INVALID', 'attributes are empty', { hint: 'use - for none' });
    return 0;
  }
  let bits = 0;
  const tokens = trimmed.split(/[|,+\s]+/).filter((t) => t !== '');
  if (tokens.length === 0) throw new WinlayerError('ATTR_INVALID', `"${short(text)}" names no attribute`);
  for (const raw of tokens) {
    let tok = raw.toUpperCase();
    if (tok.startsWith('FILE_ATTRIBUTE_')) tok = tok.slice('FILE_ATTRIBUTE_'.length);
    let bit: number | undefined;
    if (/^0X[0-9A-F]{1,8}$/.test(tok)) bit = Number.parseInt(tok.slice(2), 16);
    else if (/^\d+$/.test(tok)) bit = Number(tok) <= 0xffffffff ? Number(tok) : undefined;
    else bit = (FILE_ATTRIBUTE as Record<string, number>)[tok];
    if (bit === undefined) {
      throw new WinlayerError('ATTR_INVALID', `"${raw}" is not a file attribute name or number`, {
        hint: `use names such as ${WRITTEN.slice(0, 6)
          .map(([n]) => n)
          .join(', ')} or a number`,
      });
    }
    bits = (bits | bit) >>> 0;
  }
  return bits;
}

function checkUint32(bits: number): number {
  if (!Number.isInteger(bits) || bits < 0 || bits > 0xffffffff) {
    throw new WinlayerError('ATTR_INVALID', `attribute value ${bits} is not a uint32`);
  }
  return bits;
}

function short(s: string): string {
  return s.length > 32 ? `${s.slice(0, 32)}…` : s;
}
