/**
 * The tar container of a docker archive: a handful of blobs (`manifest.json`, a config, layer files), not a layer.
 * Layers are streams of `LayerEntry` and go through `src/tar/`; a docker archive needs two things that codec does not
 * offer: an index of member offsets (so `manifest.json`, stored last by `docker save`, is found without reading the
 * layers) and members copied byte for byte. Reading scans headers only (ustar, PAX `path`/`size`, GNU long names);
 * writing emits plain ustar headers with fixed owner, mode and time (deterministic).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { WinlayerError } from '../errors.js';
import {
  BLOCK_SIZE,
  decodeHeader,
  decodePax,
  headerChecksum,
  isZeroBlock,
  MAX_OCTAL_SIZE,
  putOctal,
  type TarHeader,
  USTAR,
} from '../internal/tar.js';

/** One member of an indexed tar: its name, typeflag, and where its data sits in the file. */
export interface ArchiveMember {
  readonly name: string;
  readonly type: string;
  /** Offset of the member's data in the file. */
  readonly offset: number;
  readonly size: number;
}

/** Largest extended header (PAX `x`/`g`, GNU long name) the index reads. */
const MAX_EXTENDED = 1 << 20;

/** `decodeHeader` of the block at `offset` of the file `path`; its errors name the file. */
function headerAt(block: Uint8Array, offset: number, path: string): TarHeader {
  try {
    return decodeHeader(block, offset);
  } catch (e) {
    if (!(e instanceof WinlayerError)) throw e;
    throw new WinlayerError(e.code, e.rule, { path, entry: e.entry, offset: e.offset, hint: e.hint, cause: e });
  }
}

/**
 * Lists the members of an uncompressed tar file by reading its headers only (the tar codec's `decodeHeader` and
 * `decodePax`). `stop` may end the scan early (for sniffing). Throws `TAR_HEADER` / `TAR_CHECKSUM` / `TAR_PAX` /
 * `TAR_TRUNCATED` / `TAR_TOO_LARGE` on a malformed archive.
 */
export function indexTar(path: string, stop?: (m: ArchiveMember) => boolean): ArchiveMember[] {
  const fd = openSync(path, 'r');
  const out: ArchiveMember[] = [];
  try {
    const h = Buffer.alloc(BLOCK_SIZE);
    let pos = 0;
    let longName: string | undefined;
    let paxPath: string | undefined;
    let paxSize: number | undefined;
    for (let guard = 0; guard < 100_000_000; guard++) {
      const n = readSync(fd, h, 0, BLOCK_SIZE, pos);
      if (n === 0) break;
      if (n < BLOCK_SIZE)
        throw new WinlayerError('TAR_TRUNCATED', 'the archive ends inside a header', { path, offset: pos });
      if (isZeroBlock(h)) break;
      const header = headerAt(h, pos, path);
      const type = header.typeflag === '\0' ? '0' : header.typeflag;
      const size = paxSize ?? header.size;
      const dataAt = pos + BLOCK_SIZE;
      if (type === 'L' || type === 'x' || type === 'g') {
        if (size > MAX_EXTENDED)
          throw new WinlayerError('TAR_TOO_LARGE', 'extended header over 1 MiB', { path, offset: pos });
        const body = Buffer.alloc(size);
        if (readSync(fd, body, 0, size, dataAt) !== size) {
          throw new WinlayerError('TAR_TRUNCATED', 'the archive ends inside an extended header', { path, offset: pos });
        }
        if (type === 'L') longName = body.toString('utf8').replace(/\0+$/, '');
        if (type === 'x') {
          for (const r of decodePax(body, { entry: header.name, offset: dataAt })) {
            if (r.key === 'path') paxPath = r.value;
            if (r.key === 'size') paxSize = Number(r.value);
          }
        }
      } else {
        const name = paxPath ?? longName ?? header.name;
        const m: ArchiveMember = { name: name.replace(/^\.\//, ''), type, offset: dataAt, size };
        out.push(m);
        longName = undefined;
        paxPath = undefined;
        paxSize = undefined;
        if (stop?.(m) === true) break;
      }
      pos = dataAt + Math.ceil(size / BLOCK_SIZE) * BLOCK_SIZE;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

/**
 * A ustar header for a regular file or folder: the name as UTF-8, mode 0644/0755, owner 0, the given mtime (seconds),
 * no user or group names and no device numbers; a size over 8 GiB − 1 in GNU base-256 (a docker archive has no PAX).
 */
export function ustarHeader(name: string, size: number, kind: 'file' | 'dir', mtime: number): Buffer {
  const h = Buffer.alloc(BLOCK_SIZE);
  if (Buffer.byteLength(name) > USTAR.name.len) {
    throw new WinlayerError('INTERNAL', `archive member name too long: ${name}`);
  }
  h.write(name, USTAR.name.at, USTAR.name.len, 'utf8');
  putOctal(h, 'mode', kind === 'dir' ? 0o755 : 0o644);
  putOctal(h, 'uid', 0);
  putOctal(h, 'gid', 0);
  if (size > MAX_OCTAL_SIZE) putBase256(h, USTAR.size, size);
  else putOctal(h, 'size', size);
  putOctal(h, 'mtime', mtime);
  h.write(kind === 'dir' ? '5' : '0', USTAR.typeflag.at, USTAR.typeflag.len, 'ascii');
  h.write('ustar\0', USTAR.magic.at, USTAR.magic.len, 'ascii');
  h.write('00', USTAR.version.at, USTAR.version.len, 'ascii');
  // Six octal digits, NUL, space (as GNU tar and Go write it).
  const sum = headerChecksum(h).unsigned;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, USTAR.chksum.at, USTAR.chksum.len, 'ascii');
  return h;
}

/** GNU base-256: the marker byte 0x80, then the value big-endian in the rest of the field. */
function putBase256(h: Buffer, field: { readonly at: number; readonly len: number }, value: number): void {
  h[field.at] = 0x80;
  let v = BigInt(value);
  for (let i = field.at + field.len - 1; i > field.at; i--) {
    h[i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

/** Zero bytes that pad `size` bytes of data to a whole block. */
export function padding(size: number): Buffer {
  return Buffer.alloc((BLOCK_SIZE - (size % BLOCK_SIZE)) % BLOCK_SIZE);
}

/** The two zero blocks that end an archive. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK_SIZE);
