/**
 * The tar container of a docker archive: a handful of blobs (`manifest.json`, a config, layer files), not a layer.
 * Layers are streams of `LayerEntry` and go through `src/tar/`; a docker archive needs two things that codec does not
 * offer: an index of member offsets (so `manifest.json`, stored last by `docker save`, is found without reading the
 * layers) and members copied byte for byte. Reading scans headers only (ustar, PAX `path`/`size`, GNU long names);
 * writing emits plain ustar headers with fixed owner, mode and time (deterministic).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { WinlayerError } from '../errors.js';

/** One member of an indexed tar: its name, typeflag, and where its data sits in the file. */
export interface ArchiveMember {
  readonly name: string;
  readonly type: string;
  /** Offset of the member's data in the file. */
  readonly offset: number;
  readonly size: number;
}

const BLOCK = 512;

function field(h: Buffer, at: number, len: number): string {
  const end = h.indexOf(0, at);
  return h.toString('utf8', at, end < 0 || end > at + len ? at + len : end);
}

function octal(h: Buffer, at: number, len: number, path: string, offset: number): number {
  if ((h[at]! & 0x80) !== 0) {
    let v = 0;
    for (let i = at + 1; i < at + len; i++) v = v * 256 + h[i]!;
    return v;
  }
  const s = field(h, at, len).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s))
    throw new WinlayerError('TAR_HEADER', `bad octal field ${JSON.stringify(s)}`, { path, offset });
  return Number.parseInt(s, 8);
}

function checksumOk(h: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
  return sum === octal(h, 148, 8, '', 0);
}

/**
 * Lists the members of an uncompressed tar file by reading its headers only. `stop` may end the scan early (for
 * sniffing). Throws `TAR_HEADER` / `TAR_CHECKSUM` / `TAR_TRUNCATED` on a malformed archive.
 */
export function indexTar(path: string, stop?: (m: ArchiveMember) => boolean): ArchiveMember[] {
  const fd = openSync(path, 'r');
  const out: ArchiveMember[] = [];
  try {
    const h = Buffer.alloc(BLOCK);
    let pos = 0;
    let longName: string | undefined;
    let paxPath: string | undefined;
    let paxSize: number | undefined;
    for (let guard = 0; guard < 100_000_000; guard++) {
      const n = readSync(fd, h, 0, BLOCK, pos);
      if (n === 0) break;
      if (n < BLOCK)
        throw new WinlayerError('TAR_TRUNCATED', 'the archive ends inside a header', { path, offset: pos });
      if (h.every((b) => b === 0)) break;
      if (!checksumOk(h)) throw new WinlayerError('TAR_CHECKSUM', 'header checksum mismatch', { path, offset: pos });
      const type = String.fromCharCode(h[156]!) === '\0' ? '0' : String.fromCharCode(h[156]!);
      const size = paxSize ?? octal(h, 124, 12, path, pos);
      const dataAt = pos + BLOCK;
      if (type === 'L' || type === 'x' || type === 'g') {
        if (size > 1 << 20)
          throw new WinlayerError('TAR_TOO_LARGE', 'extended header over 1 MiB', { path, offset: pos });
        const body = Buffer.alloc(size);
        if (readSync(fd, body, 0, size, dataAt) !== size) {
          throw new WinlayerError('TAR_TRUNCATED', 'the archive ends inside an extended header', { path, offset: pos });
        }
        if (type === 'L') longName = body.toString('utf8').replace(/\0+$/, '');
        if (type === 'x') {
          for (const rec of parsePax(body)) {
            if (rec[0] === 'path') paxPath = rec[1];
            if (rec[0] === 'size') paxSize = Number(rec[1]);
          }
        }
      } else {
        const prefix = field(h, 345, 155);
        const base = field(h, 0, 100);
        const name = paxPath ?? longName ?? (prefix === '' ? base : `${prefix}/${base}`);
        const m: ArchiveMember = { name: name.replace(/^\.\//, ''), type, offset: dataAt, size };
        out.push(m);
        longName = undefined;
        paxPath = undefined;
        paxSize = undefined;
        if (stop?.(m) === true) break;
      }
      pos = dataAt + Math.ceil(size / BLOCK) * BLOCK;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

function parsePax(body: Buffer): [string, string][] {
  const out: [string, string][] = [];
  let i = 0;
  while (i < body.length && body[i] !== 0) {
    const sp = body.indexOf(0x20, i);
    const len = Number(body.toString('ascii', i, sp));
    if (sp < 0 || !Number.isInteger(len) || len <= 0 || i + len > body.length) break;
    const rec = body.toString('utf8', sp + 1, i + len - 1);
    const eq = rec.indexOf('=');
    if (eq > 0) out.push([rec.slice(0, eq), rec.slice(eq + 1)]);
    i += len;
  }
  return out;
}

/** A ustar header for a regular file or folder: mode 0644/0755, owner 0, the given mtime (seconds). */
export function ustarHeader(name: string, size: number, kind: 'file' | 'dir', mtime: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  if (Buffer.byteLength(name) > 100) throw new WinlayerError('INTERNAL', `archive member name too long: ${name}`);
  h.write(name, 0, 100, 'utf8');
  const put = (at: number, len: number, v: number): void => {
    h.write(`${v.toString(8).padStart(len - 1, '0')}\0`, at, len, 'ascii');
  };
  put(100, 8, kind === 'dir' ? 0o755 : 0o644);
  put(108, 8, 0);
  put(116, 8, 0);
  if (size >= 8 ** 11) {
    h[124] = 0x80;
    let v = BigInt(size);
    for (let i = 135; i > 124; i--) {
      h[i] = Number(v & 0xffn);
      v >>= 8n;
    }
  } else {
    put(124, 12, size);
  }
  put(136, 12, mtime);
  h[156] = (kind === 'dir' ? '5' : '0').charCodeAt(0);
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += h[i]!;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return h;
}

/** Zero bytes that pad `size` bytes of data to a whole block. */
export function padding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

/** The two zero blocks that end an archive. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);
