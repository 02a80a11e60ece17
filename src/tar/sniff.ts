/**
 * What an input that is not a tar looks like: the reader asks only when the first block does not decode as a tar
 * header (or the input ends before one), so a real archive never pays for it. A text file, a zip, a registry hive or
 * an empty input then gets `NOT_A_TAR` ("it looks like a zip archive") instead of a checksum or truncation error that
 * sends the user to fetch it again.
 */
import { WinlayerError } from '../errors.js';
import { BLOCK_SIZE, parseNumeric, USTAR } from './header.js';

/** Leading bytes of the formats people mistake for a layer tar, and what to call each. */
const SIGNATURES: readonly { readonly bytes: readonly number[]; readonly kind: string }[] = [
  { bytes: [0x50, 0x4b, 0x03, 0x04], kind: 'a zip archive' },
  { bytes: [0x50, 0x4b, 0x05, 0x06], kind: 'a zip archive (an empty one)' },
  { bytes: [0x72, 0x65, 0x67, 0x66], kind: 'a registry hive' },
  { bytes: [0x7f, 0x45, 0x4c, 0x46], kind: 'an ELF executable' },
  { bytes: [0x4d, 0x5a], kind: 'a Windows executable' },
  { bytes: [0x1f, 0x8b], kind: 'gzip data inside the compression (compressed twice)' },
  { bytes: [0x28, 0xb5, 0x2f, 0xfd], kind: 'zstd data inside the compression (compressed twice)' },
  { bytes: [0x42, 0x5a, 0x68], kind: 'bzip2 data (layers are plain, gzip or zstd)' },
  { bytes: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], kind: 'xz data (layers are plain, gzip or zstd)' },
  { bytes: [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c], kind: 'a 7-Zip archive' },
];

const HINT = 'a layer is a tar archive, plain or compressed with gzip or zstd (.tar, .tar.gz, .tar.zst)';

/**
 * `NOT_A_TAR` for the first bytes of an input (at most one block; fewer when the input ends there) that match none of
 * the tar forms; undefined when they could be a tar (ustar or GNU magic, or the numeric checksum field of an old v7
 * header), so the caller's own error (checksum, header, truncation) stands. `stdin` only words an empty input.
 */
export function notATar(first: Uint8Array, stdin: boolean): WinlayerError | undefined {
  const kind = nonTarKind(first, stdin);
  if (kind === undefined) return undefined;
  const rule =
    kind === '' ? 'not a tar archive: it does not start with a tar header' : `not a tar archive: it looks like ${kind}`;
  return new WinlayerError('NOT_A_TAR', rule, {
    hint:
      first.length === 0 && stdin
        ? `nothing came on standard input: pipe a layer into it, or give a file (${HINT})`
        : HINT,
  });
}

/** What `first` looks like ('' for data of no kind we know); undefined when it may be a tar header. */
function nonTarKind(first: Uint8Array, stdin: boolean): string | undefined {
  if (first.length === 0) return stdin ? 'empty standard input' : 'an empty file';
  if (hasTarMagic(first)) return undefined;
  for (const s of SIGNATURES) if (startsWith(first, s.bytes)) return s.kind;
  if (isText(first)) return 'text';
  // An old (v7) header has no magic; its checksum field is still an octal number.
  const { at, len } = USTAR.chksum;
  if (first.length >= at + len && hasDigit(first, at, at + len) && parseNumeric(first, 'chksum') !== undefined) {
    return undefined;
  }
  return '';
}

/** `ustar\0` (POSIX) or `ustar ` (GNU) where a header keeps its magic. */
function hasTarMagic(b: Uint8Array): boolean {
  const m = USTAR.magic.at;
  if (b.length < m + 6) return false;
  return startsWith(b.subarray(m), [0x75, 0x73, 0x74, 0x61, 0x72]) && (b[m + 5] === 0 || b[m + 5] === 0x20);
}

function startsWith(b: Uint8Array, sig: readonly number[]): boolean {
  if (b.length < sig.length) return false;
  for (let i = 0; i < sig.length; i++) if (b[i] !== sig[i]) return false;
  return true;
}

function hasDigit(b: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (b[i]! >= 0x30 && b[i]! <= 0x37) return true;
  return false;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * True when the bytes are UTF-8 text: no NUL or other control but tab, line feed, form feed and carriage return (a
 * tar header is full of NULs). A character cut at the end of the block is allowed.
 */
function isText(b: Uint8Array): boolean {
  const n = Math.min(b.length, BLOCK_SIZE);
  for (let i = 0; i < n; i++) {
    const c = b[i]!;
    if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0c && c !== 0x0d) return false;
    if (c === 0x7f) return false;
  }
  // A block that the input continues after may cut a multi-byte character (up to 3 bytes) at its end.
  const cut = b.length >= BLOCK_SIZE ? 3 : 0;
  for (let drop = 0; drop <= cut; drop++) {
    try {
      utf8.decode(b.subarray(0, n - drop));
      return true;
    } catch {
      // try without the last byte
    }
  }
  return false;
}
