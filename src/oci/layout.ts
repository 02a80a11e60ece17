/**
 * OCI image layouts (image-spec `image-layout.md`): `oci-layout`, `index.json`, `blobs/sha256/<hex>`. The reader
 * opens a layout (optionally one tag or one digest of it) as an `ImageHandle`. The writer adds an image to a layout
 * as skopeo's `oci:DIR[:TAG]` does: a new layout is built in a temporary sibling and renamed into place; into an
 * existing layout blobs are written in place (each to a temporary sibling, then renamed: content-addressed, so a blob
 * already there and intact is kept) and `index.json` is replaced last, atomically. Other images stay.
 */
import { createHash } from 'node:crypto';
import {
  createReadStream,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { AtomicTarget, removeStaleTemps, tempSiblingPath, writeFileAtomic } from '../atomic.js';
import { WinlayerError } from '../errors.js';
import { type Digest, Digester, sha256Digest, splitDigest, verifyBytes } from './digest.js';
import { fsyncFile, streamToFile } from './files.js';
import type { ImageHandle } from './image.js';
import { MEDIA } from './media-types.js';
import { type Descriptor, descriptorOf, parseIndex } from './spec.js';
import { DirBlobStore, readSmallBlob } from './store.js';
import { invalidImage, OCI_LAYOUT, parseDocument } from './validate.js';

/** The annotation that names a tag inside a layout's `index.json`. */
export const REF_NAME = 'org.opencontainers.image.ref.name';

/** The name every staged blob file is a temporary sibling of (`blobs/sha256/.staging.winlayer-tmp-…`). */
const STAGING = 'staging';

/** What `oci-layout` holds in every layout winlayer writes. */
const LAYOUT_FILE = '{"imageLayoutVersion":"1.0.0"}';

/** True when `dir` looks like an OCI layout (`oci-layout` or `index.json` present). */
export function isOciLayout(dir: string): boolean {
  return exists(join(dir, 'index.json')) || exists(join(dir, 'oci-layout'));
}

function exists(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false }) !== undefined;
}

/** Checks `oci-layout` (present, JSON, version 1.x). Throws `SOURCE_UNREADABLE` when absent, `INVALID_IMAGE`. */
function checkLayoutFile(dir: string): void {
  const file = join(dir, 'oci-layout');
  if (!exists(file)) {
    throw new WinlayerError('SOURCE_UNREADABLE', 'not an OCI image layout (no oci-layout file)', { path: dir });
  }
  const v = parseDocument<{ imageLayoutVersion: string }>(readFileSync(file), OCI_LAYOUT, file).imageLayoutVersion;
  if (!v.startsWith('1.')) throw invalidImage(`imageLayoutVersion: ${JSON.stringify(v)} is not 1.x`, file);
}

/** The entries of a layout's `index.json`, checked (an absent file is an empty index). */
function readIndexEntries(dir: string): Descriptor[] {
  const file = join(dir, 'index.json');
  if (!exists(file)) return [];
  return [...parseIndex(readFileSync(file), file).manifests];
}

/**
 * Opens an OCI layout. With `select.tag`, the manifest whose `org.opencontainers.image.ref.name` is the tag; with
 * `select.digest`, the entry of `index.json` with that digest (and that tag, when both are given: `oci:DIR:TAG@DIGEST`,
 * as the image commands print what they wrote); without either, the only entry of `index.json`, or (when every entry
 * carries a platform and no two the same) `index.json` itself as an index. Reads only `index.json` and the root
 * manifest; throws `INVALID_IMAGE` / `NOT_FOUND` / `OCI_DIGEST` / `SOURCE_UNREADABLE`.
 */
export async function readOciLayout(
  dir: string,
  select: { readonly tag?: string; readonly digest?: Digest } = {},
): Promise<ImageHandle> {
  const { tag, digest } = select;
  const name = `oci:${dir}${tag === undefined ? '' : `:${tag}`}${digest === undefined ? '' : `@${digest}`}`;
  checkLayoutFile(dir);
  const manifests = readIndexEntries(dir);
  const blobs = new DirBlobStore(join(dir, 'blobs'));
  let pick: Descriptor | undefined;
  if (digest !== undefined) {
    pick = manifests.find((m) => m.digest === digest && (tag === undefined || m.annotations?.[REF_NAME] === tag));
    if (pick === undefined) {
      const what = tag === undefined ? digest : `${digest} tagged ${JSON.stringify(tag)}`;
      throw new WinlayerError('NOT_FOUND', `index.json has no entry ${what}`, {
        path: dir,
        hint: namesHint(manifests),
      });
    }
  } else if (tag !== undefined) {
    const hits = manifests.filter((m) => m.annotations?.[REF_NAME] === tag);
    if (hits.length === 0) {
      throw new WinlayerError('NOT_FOUND', `no image tagged ${JSON.stringify(tag)}`, {
        path: dir,
        hint: namesHint(manifests),
      });
    }
    if (hits.length > 1) {
      return indexRoot(name, blobs, hits, tag);
    }
    pick = hits[0]!;
  } else if (manifests.length === 1) {
    pick = manifests[0]!;
  } else if (manifests.length > 1 && distinctPlatforms(manifests)) {
    return indexRoot(name, blobs, manifests, undefined);
  } else {
    throw new WinlayerError('SOURCE_UNREADABLE', `the layout holds ${manifests.length} images: name one`, {
      path: dir,
      hint: `write oci:${dir}:TAG or oci:${dir}@DIGEST; ${namesHint(manifests)}`,
    });
  }
  const bytes = await readSmallBlob(blobs, pick);
  const t = tag ?? pick.annotations?.[REF_NAME];
  return { name, root: { descriptor: descriptorOf(pick), bytes }, blobs, ...(t === undefined ? {} : { tag: t }) };
}

/** True when every entry has a platform and no two the same (so a platform picks exactly one). */
function distinctPlatforms(ms: readonly Descriptor[]): boolean {
  const keys = ms.map((m) => (m.platform === undefined ? undefined : JSON.stringify(m.platform)));
  return keys.every((k) => k !== undefined) && new Set(keys).size === keys.length;
}

/** "tags: v1, v2; untagged: sha256:…" — how the entries of a layout can be named. */
function namesHint(ms: readonly Descriptor[]): string {
  const tags = ms.map((m) => m.annotations?.[REF_NAME]).filter((t): t is string => t !== undefined);
  const untagged = ms.filter((m) => m.annotations?.[REF_NAME] === undefined).map((m) => m.digest);
  const parts = [
    tags.length === 0 ? 'the layout has no tagged images' : `tags: ${tags.join(', ')}`,
    ...(untagged.length === 0
      ? []
      : [
          `untagged: ${untagged.slice(0, 5).join(', ')}${untagged.length > 5 ? ` and ${untagged.length - 5} more` : ''}`,
        ]),
  ];
  return parts.join('; ');
}

function indexRoot(name: string, blobs: DirBlobStore, manifests: readonly Descriptor[], tag?: string): ImageHandle {
  const idx = { schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: manifests.map(withoutTag) };
  const bytes = Buffer.from(JSON.stringify(idx));
  const descriptor: Descriptor = { mediaType: MEDIA.ociIndex, digest: sha256Digest(bytes), size: bytes.length };
  // the synthesised index is not a blob of the layout: serve it from memory
  const store = {
    has: (d: Digest) => d === descriptor.digest || blobs.has(d),
    locate: (d: Pick<Descriptor, 'digest' | 'size'>) => (d.digest === descriptor.digest ? undefined : blobs.locate(d)),
    open: async (d: Pick<Descriptor, 'digest' | 'size'>): Promise<Readable> => {
      if (d.digest !== descriptor.digest) return blobs.open(d);
      const { Readable } = await import('node:stream');
      return Readable.from([bytes]);
    },
  };
  return { name, root: { descriptor, bytes }, blobs: store, ...(tag === undefined ? {} : { tag }) };
}

/** The descriptor without its `ref.name` annotation (and without `annotations` when that was the only one). */
function withoutTag(d: Descriptor): Descriptor {
  if (d.annotations === undefined || !(REF_NAME in d.annotations)) return d;
  const { [REF_NAME]: _drop, ...rest } = d.annotations;
  return descriptorOf({
    ...d,
    annotations: rest,
    ...(Object.keys(rest).length === 0 ? { annotations: undefined } : {}),
  });
}

/**
 * The entries of `index.json` after adding `added`, as skopeo's `oci:DIR[:TAG]` does: a tagged entry takes its tag
 * from whichever entry had it (that image stays, untagged); an entry replaces an untagged entry of the same digest
 * (no duplicates when the same image is written again); anything else is appended. Untagged entries are added too:
 * they are named `oci:DIR@DIGEST`.
 */
export function addToIndex(existing: readonly Descriptor[], added: readonly Descriptor[]): Descriptor[] {
  const out = existing.map(descriptorOf);
  for (const d of added.map(descriptorOf)) {
    const tag = d.annotations?.[REF_NAME];
    if (tag !== undefined) {
      for (const [i, e] of out.entries()) if (e.annotations?.[REF_NAME] === tag) out[i] = withoutTag(e);
    }
    const same = out.findIndex((e) => e.digest === d.digest && e.annotations?.[REF_NAME] === undefined);
    if (same >= 0) out[same] = d;
    else out.push(d);
  }
  return out;
}

/** True when the file at `path` holds exactly the blob `desc` (size, then digest). */
async function blobIntact(path: string, desc: Pick<Descriptor, 'digest' | 'size'>): Promise<boolean> {
  if (statSync(path, { throwIfNoEntry: false })?.size !== desc.size) return false;
  const d = new Digester(splitDigest(desc.digest)[0]);
  for await (const c of createReadStream(path, { highWaterMark: 1 << 20 })) d.update(c as Buffer);
  return d.digest() === desc.digest;
}

function bytesIntact(path: string, desc: Pick<Descriptor, 'digest' | 'size'>): boolean {
  if (statSync(path, { throwIfNoEntry: false })?.size !== desc.size) return false;
  const [alg, hex] = splitDigest(desc.digest);
  return createHash(alg).update(readFileSync(path)).digest('hex') === hex;
}

/**
 * Checks where `LayoutWriter` would write, before anything is written: true for an existing OCI layout (its
 * `oci-layout` and `index.json` read and checked, so a layout that could not be updated is refused untouched), false
 * for a missing path or an empty folder (a new layout). Anything else is `LAYER_EXISTS`; a bad layout `INVALID_IMAGE`.
 */
export function checkLayoutDestination(dir: string): boolean {
  const st = statSync(dir, { throwIfNoEntry: false });
  if (st === undefined) return false;
  if (st.isDirectory() && isOciLayout(dir)) {
    if (exists(join(dir, 'oci-layout'))) checkLayoutFile(dir);
    readIndexEntries(dir);
    return true;
  }
  if (!st.isDirectory() || readdirSync(dir).length > 0) {
    throw new WinlayerError('LAYER_EXISTS', 'the destination exists and is not an OCI layout', {
      path: dir,
      hint: 'choose a new path or remove it; winlayer adds images to an OCI layout only',
    });
  }
  return false;
}

/**
 * Adds images to the OCI layout at `finalDir`. When there is none yet (or an empty folder), the layout is built in a
 * temporary sibling and renamed into place by `commit`. Into an existing layout, blobs are written in place — each
 * into a temporary sibling, fsynced and renamed to its digest name; a blob already there is kept when its bytes
 * match, replaced when they do not — and `commit` replaces `index.json` atomically, last: until then readers see the
 * layout as it was. `abort` removes what is not committed (blobs already in place stay: nothing names them, and they
 * are the same bytes a retry writes). A destination that exists and is not an OCI layout is refused (`LAYER_EXISTS`).
 */
export class LayoutWriter {
  readonly finalDir: string;
  /** Where blobs are written: the temporary new layout, or the existing layout itself. */
  readonly blobs: DirBlobStore;
  /** Set while a new layout is built beside `finalDir`; undefined when writing into an existing one. */
  readonly #target: AtomicTarget | undefined;
  readonly #root: string;
  readonly #staged = new Set<string>();

  constructor(finalDir: string) {
    const existing = checkLayoutDestination(finalDir);
    this.finalDir = finalDir;
    if (existing) {
      this.#target = undefined;
      this.#root = finalDir;
    } else {
      this.#target = new AtomicTarget(finalDir, { kind: 'folder' });
      this.#root = this.#target.tempPath;
    }
    mkdirSync(join(this.#root, 'blobs', 'sha256'), { recursive: true });
    this.blobs = new DirBlobStore(join(this.#root, 'blobs'));
    // staged blob files that killed runs left (`.staging.winlayer-tmp-PID-…` of dead processes)
    if (this.#target === undefined) removeStaleTemps(join(this.blobs.dir, 'sha256', STAGING));
  }

  /** A fresh temporary path in the blob folder for a sink to write a blob into before `adoptFile`. */
  stagingPath(): string {
    const p = tempSiblingPath(join(this.blobs.dir, 'sha256', STAGING));
    this.#staged.add(p);
    return p;
  }

  /** Moves a finished file (from `stagingPath`, fsynced) to its digest name. */
  adoptFile(path: string, digest: Digest): void {
    const [alg] = splitDigest(digest);
    mkdirSync(join(this.blobs.dir, alg), { recursive: true });
    renameSync(path, this.blobs.path(digest));
    this.#staged.delete(path);
  }

  /** Copies a blob in from a verified stream, unless the layout holds it intact already. */
  async putBlob(desc: Pick<Descriptor, 'digest' | 'size'>, open: () => Promise<Readable>): Promise<void> {
    if (await blobIntact(this.blobs.path(desc.digest), desc)) return;
    const tmp = this.stagingPath();
    try {
      await streamToFile(await open(), tmp);
    } catch (e) {
      this.#drop(tmp);
      throw e;
    }
    this.adoptFile(tmp, desc.digest);
  }

  /** Writes a small blob from memory (verified against `desc` when given). Returns its descriptor. */
  putBytes(bytes: Uint8Array, mediaType: string, desc?: Descriptor): Descriptor {
    const d = desc ?? { mediaType, digest: sha256Digest(bytes), size: bytes.length };
    verifyBytes(bytes, d);
    if (!bytesIntact(this.blobs.path(d.digest), d)) {
      const tmp = this.stagingPath();
      try {
        writeFileSync(tmp, bytes, { mode: 0o644, flag: 'wx' });
        fsyncFile(tmp);
      } catch (e) {
        this.#drop(tmp);
        throw new WinlayerError('IO', `cannot write a blob: ${(e as Error).message}`, { path: tmp, cause: e });
      }
      this.adoptFile(tmp, d.digest);
    }
    return d;
  }

  #drop(path: string): void {
    rmSync(path, { force: true });
    this.#staged.delete(path);
  }

  /**
   * Adds `roots` to `index.json` (`addToIndex`: a tag moves to its new image, other entries stay), writes `oci-layout`
   * when missing, and makes the result visible in one step: a new layout is renamed into place, an existing one gets
   * its new `index.json` by an atomic rename. Returns the entries of the index written.
   */
  commit(roots: readonly Descriptor[]): Descriptor[] {
    try {
      fsyncFile(join(this.blobs.dir, 'sha256'));
      const entries = addToIndex(this.#target === undefined ? readIndexEntries(this.#root) : [], roots);
      const index = JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: entries });
      if (this.#target !== undefined) {
        writeFileSync(join(this.#root, 'oci-layout'), LAYOUT_FILE);
        writeFileSync(join(this.#root, 'index.json'), index);
        fsyncFile(join(this.#root, 'oci-layout'));
        fsyncFile(join(this.#root, 'index.json'));
        this.#target.commit({ replaceDirectory: true });
      } else {
        if (!exists(join(this.#root, 'oci-layout'))) writeFileAtomic(join(this.#root, 'oci-layout'), LAYOUT_FILE);
        writeFileAtomic(join(this.#root, 'index.json'), index);
      }
      this.#removeStaged();
      return entries;
    } catch (e) {
      this.abort();
      if (e instanceof WinlayerError) throw e;
      throw new WinlayerError('IO', `cannot write the layout: ${(e as Error).message}`, {
        path: this.finalDir,
        cause: e,
      });
    }
  }

  /** Removes what was not committed: the temporary new layout, or the staged blob files in an existing one. */
  abort(): void {
    this.#removeStaged();
    this.#target?.abort();
  }

  /** Staged files never adopted (a sink that failed or was left): nothing names them. */
  #removeStaged(): void {
    for (const p of this.#staged) rmSync(p, { force: true });
    this.#staged.clear();
  }
}
