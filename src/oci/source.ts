/**
 * Source and destination names (architecture.md "Sources and their names"): `oci:DIR[:TAG]` (as a source also
 * `oci:DIR@DIGEST`), `docker-archive:FILE`, `docker://REF`, `layer:FILE`, `dir:DIR`, and bare paths detected by what
 * they hold. `openSource` is the one place that parses and detects; `openImage` opens the image kinds;
 * `parseDestination` names where an image is written.
 */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { WinlayerError } from '../errors.js';
import { isDigest } from './digest.js';
import { isDockerArchive, readDockerArchive } from './docker-archive.js';
import type { ImageHandle } from './image.js';
import { readOciLayout } from './layout.js';
import { formatReference, parseReference, type Reference } from './reference.js';
import { openRegistryImage, type Registries } from './registry/remote.js';

/** What a source name names, after detection. The image kinds open with `openImage`; layers go to `src/layer`. */
export type Source =
  | { readonly kind: 'oci-layout'; readonly path: string; readonly tag?: string; readonly digest?: string }
  | { readonly kind: 'docker-archive'; readonly path: string; readonly tag?: string }
  | { readonly kind: 'registry'; readonly reference: Reference }
  | { readonly kind: 'layer-tar'; readonly path: string }
  | { readonly kind: 'layer-dir'; readonly path: string };

/** Where an image is written. */
export type Destination =
  | { readonly kind: 'oci-layout'; readonly path: string; readonly tag?: string }
  | { readonly kind: 'docker-archive'; readonly path: string; readonly tag?: string }
  | { readonly kind: 'registry'; readonly reference: Reference };

/** `DIR`, `DIR:TAG`, `DIR@sha256:HEX` or `DIR:TAG@sha256:HEX` (what `image create` and friends print). */
function splitLayoutName(rest: string): { path: string; tag?: string; digest?: string } {
  const at = rest.lastIndexOf('@');
  if (at > 0 && isDigest(rest.slice(at + 1))) return { ...splitTag(rest.slice(0, at)), digest: rest.slice(at + 1) };
  return splitTag(rest);
}

function splitTag(rest: string): { path: string; tag?: string } {
  const colon = rest.lastIndexOf(':');
  if (colon > 0 && colon > rest.lastIndexOf('/') && colon < rest.length - 1) {
    return { path: rest.slice(0, colon), tag: rest.slice(colon + 1) };
  }
  return { path: rest };
}

function splitArchive(rest: string): { path: string; tag?: string } {
  const m = /^(.*?\.tar):(.+)$/.exec(rest);
  return m === null ? { path: rest } : { path: m[1]!, tag: m[2]! };
}

function mustExist(path: string, name: string): void {
  if (!existsSync(path)) throw new WinlayerError('NOT_FOUND', `${name}: does not exist`, { path });
}

/**
 * Parses a source name and, for a bare path, detects what it is: a folder with `index.json` → OCI layout; a folder
 * with `Files/` → layer folder; a tar holding `manifest.json` → docker archive; any other file → layer tar.
 * Reads at most the tar headers of a file. Throws `NOT_FOUND`, `OCI_REF` or `SOURCE_UNREADABLE`.
 */
export async function openSource(name: string): Promise<Source> {
  if (name.startsWith('oci:')) {
    const s = splitLayoutName(name.slice(4));
    mustExist(s.path, name);
    return { kind: 'oci-layout', ...s };
  }
  if (name.startsWith('docker-archive:')) {
    const s = splitArchive(name.slice('docker-archive:'.length));
    mustExist(s.path, name);
    return { kind: 'docker-archive', ...s };
  }
  if (name.startsWith('docker://'))
    return { kind: 'registry', reference: parseReference(name.slice('docker://'.length)) };
  if (name.startsWith('layer:')) {
    const path = name.slice('layer:'.length);
    mustExist(path, name);
    return { kind: 'layer-tar', path };
  }
  if (name.startsWith('dir:')) {
    const path = name.slice('dir:'.length);
    mustExist(path, name);
    return { kind: 'layer-dir', path };
  }
  if (!existsSync(name)) {
    throw new WinlayerError('NOT_FOUND', 'no such file or folder', {
      path: name,
      ...(looksLikeReference(name) ? { hint: `to read from a registry write docker://${name}` } : {}),
    });
  }
  const st = statSync(name);
  if (st.isDirectory()) {
    if (existsSync(join(name, 'index.json'))) return { kind: 'oci-layout', path: name };
    if (existsSync(join(name, 'Files')) || existsSync(join(name, '.winlayer')))
      return { kind: 'layer-dir', path: name };
    throw new WinlayerError(
      'SOURCE_UNREADABLE',
      'the folder is neither an OCI layout (index.json) nor a layer folder (Files/)',
      {
        path: name,
        hint: 'name it dir:PATH to read it as a layer folder anyway',
      },
    );
  }
  if (!st.isFile()) throw new WinlayerError('SOURCE_UNREADABLE', 'not a file or folder', { path: name });
  if (isDockerArchive(name)) return { kind: 'docker-archive', path: name };
  return { kind: 'layer-tar', path: name };
}

/**
 * True when a name that is no file looks like an image reference (`host/repo:tag`, `repo:tag`, `repo@sha256:…`), so
 * the user probably meant a registry; a path-like name (`./x`, `/x`, `x.tar`, `a\\b`, a bare word) does not.
 */
function looksLikeReference(name: string): boolean {
  if (/^[./~]/.test(name) || name.includes('\\') || /\.(tar|tgz|gz|zst|json)$/i.test(name)) return false;
  if (name.includes('@sha256:')) return true;
  const slash = name.indexOf('/');
  if (slash > 0 && /[.:]/.test(name.slice(0, slash))) return true; // a registry host: example.com/…, host:5000/…
  return /^[a-z0-9][a-z0-9._/-]*:[\w][\w.-]*$/.test(name); // repo:tag
}

/** Opens an image source (OCI layout, docker archive, registry). Throws `SOURCE_UNREADABLE` for layer kinds. */
export async function openImage(src: Source | string, registries: Registries): Promise<ImageHandle> {
  const s = typeof src === 'string' ? await openSource(src) : src;
  switch (s.kind) {
    case 'oci-layout':
      return readOciLayout(s.path, { tag: s.tag, digest: s.digest });
    case 'docker-archive':
      return readDockerArchive(s.path, s.tag);
    case 'registry':
      return openRegistryImage(s.reference, registries);
    default:
      throw new WinlayerError('SOURCE_UNREADABLE', 'this is a single layer, not an image', {
        path: s.path,
        hint: 'wrap it into an image with winlayer image create / image append',
      });
  }
}

/**
 * Parses a destination: `oci:DIR[:TAG]`, `docker-archive:FILE[:TAG]`, `docker://REF`; a bare path ending in `.tar` is a
 * docker archive, any other bare path an OCI layout.
 */
export function parseDestination(name: string): Destination {
  if (name.startsWith('oci:')) {
    const s = splitLayoutName(name.slice(4));
    if (s.digest !== undefined) {
      throw new WinlayerError('USAGE', `${name}: a digest names an image that exists; it cannot name where to write`, {
        hint: `write oci:${s.path} or oci:${s.path}:TAG`,
      });
    }
    return { kind: 'oci-layout', ...s };
  }
  if (name.startsWith('docker-archive:'))
    return { kind: 'docker-archive', ...splitArchive(name.slice('docker-archive:'.length)) };
  if (name.startsWith('docker://'))
    return { kind: 'registry', reference: parseReference(name.slice('docker://'.length)) };
  if (name === '') throw new WinlayerError('USAGE', 'the destination is empty');
  return name.toLowerCase().endsWith('.tar')
    ? { kind: 'docker-archive', path: name }
    : { kind: 'oci-layout', path: name };
}

/** The name of a destination as a user would write it. */
export function formatDestination(d: Destination): string {
  if (d.kind === 'registry') return `docker://${formatReference(d.reference)}`;
  return `${d.kind === 'oci-layout' ? 'oci' : 'docker-archive'}:${d.path}${d.tag === undefined ? '' : `:${d.tag}`}`;
}

/** Reads the first bytes of a file (for sniffing). */
export function readHead(path: string, n: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(n);
    const got = readSync(fd, b, 0, n, 0);
    return b.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}
