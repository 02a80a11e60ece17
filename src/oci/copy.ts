/**
 * Writing an opened image somewhere: an OCI layout, a docker archive or a registry. `writeImage` is the one sink
 * every image command ends in; `pullImage` is `openRegistryImage` + `writeImage` into a layout.
 */
import { mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { AtomicTarget } from '../atomic.js';
import { WinlayerError } from '../errors.js';
import { checkSourceDateEpoch } from '../internal/layer.js';
import { writeDockerArchive } from './docker-archive.js';
import { mapLimit } from './files.js';
import { type ImageHandle, isIndex, type ResolvedImage, reachableBlobs, resolveImage } from './image.js';
import { checkLayoutDestination, LayoutWriter, REF_NAME } from './layout.js';
import { formatPlatform } from './platform.js';
import type { Reference } from './reference.js';
import { openRegistryImage, type PushResult, pushImage, type Registries } from './registry/remote.js';
import { type Destination, formatDestination, parseDestination } from './source.js';
import { configPlatform, type Descriptor, descriptorOf, type Platform } from './spec.js';
import { DirBlobStore } from './store.js';

/** Options of `writeImage`. */
export interface WriteImageOptions {
  /** Write only this platform's image of an index. */
  readonly platform?: Platform | string;
  /** Keep a whole index (default for OCI layouts and registries when no platform is asked). */
  readonly allPlatforms?: boolean;
  /** Tag to record (layout `ref.name`, archive `RepoTags`); the destination's own tag wins. */
  readonly tag?: string;
  /** Needed for registry destinations. */
  readonly registries?: Registries;
  /** Replace an existing docker-archive file (refused without it: an archive holds one image, so it would be lost). */
  readonly force?: boolean;
  /**
   * Seconds since 1970 stamped on a docker archive's members (the `SOURCE_DATE_EPOCH` convention); default 0. The
   * library reads no environment variable: the CLI passes what it read (`parseSourceDateEpoch`).
   */
  readonly sourceDateEpoch?: number;
}

/** The layer an image build added (create, append, squash), as their results report it. */
export interface BuiltLayer {
  readonly digest: string;
  readonly diffId: string;
  readonly size: number;
  readonly entries: number;
}

/**
 * Writes an image that create, append or squash just built, with the options they share (registries, tag), and
 * returns the write result with the new layer's digests.
 */
export async function writeBuiltImage(
  h: ImageHandle,
  dest: Destination,
  opts: Pick<WriteImageOptions, 'registries' | 'tag' | 'force' | 'sourceDateEpoch'>,
  layer: BuiltLayer,
): Promise<WriteImageResult & { readonly layer: BuiltLayer }> {
  const r = await writeImage(h, dest, {
    ...(opts.registries === undefined ? {} : { registries: opts.registries }),
    ...(opts.tag === undefined ? {} : { tag: opts.tag }),
    ...(opts.force === undefined ? {} : { force: opts.force }),
    ...(opts.sourceDateEpoch === undefined ? {} : { sourceDateEpoch: opts.sourceDateEpoch }),
  });
  return { ...r, layer: { digest: layer.digest, diffId: layer.diffId, size: layer.size, entries: layer.entries } };
}

/** What `writeImage` wrote, and what is worth a warning. */
export interface WriteImageResult {
  readonly destination: string;
  /** The descriptor of the manifest or index written at the top. */
  readonly descriptor: Descriptor;
  readonly push?: PushResult;
  /** Things worth telling the user (e.g. a Windows image without os.version). */
  readonly warnings: readonly string[];
}

/** A handle whose root is one resolved image's manifest (drops the index around it). */
function imageOnly(img: ResolvedImage): ImageHandle {
  return {
    ...img.handle,
    root: {
      descriptor: descriptorOf({ ...img.manifestDescriptor, platform: configPlatform(img.config) }),
      bytes: img.manifestBytes,
    },
  };
}

/** Warnings about an image's config that matter to Windows runtimes. */
function configWarnings(img: ResolvedImage): string[] {
  const w: string[] = [];
  if (img.config.os === 'windows' && img.config['os.version'] === undefined) {
    w.push(
      `${img.handle.name}: the config has no os.version; containerd matches Windows images by it (set it with: winlayer image platform --platform windows/${img.config.architecture}:10.0.BUILD.REV)`,
    );
  }
  return w;
}

/**
 * Writes `h` to `dest`. A docker archive holds one image (an index is resolved to `platform`, default windows/amd64);
 * layouts and registries keep an index unless `platform` is given. Every blob is verified on the way. Atomic for
 * files and folders; for a registry the root manifest is put last, so the tag moves only when everything is there.
 */
export async function writeImage(
  h: ImageHandle,
  dest: Destination | string,
  opts: WriteImageOptions = {},
): Promise<WriteImageResult> {
  const d = typeof dest === 'string' ? parseDestination(dest) : dest;
  const mtime = opts.sourceDateEpoch === undefined ? 0 : checkSourceDateEpoch(opts.sourceDateEpoch);
  const single =
    opts.platform !== undefined || d.kind === 'docker-archive' || (isIndex(h) && opts.allPlatforms === false);
  let src = h;
  const warnings: string[] = [];
  let resolved: ResolvedImage | undefined;
  if (single || !isIndex(h)) {
    resolved = await resolveImage(h, opts.platform);
    warnings.push(...configWarnings(resolved));
    if (single) src = imageOnly(resolved);
  }
  if (d.kind === 'docker-archive') {
    checkDestination(d, opts);
    const tag =
      d.tag ?? opts.tag ?? (h.remote !== undefined ? h.name.replace(/^docker:\/\//, '').replace(/@.*$/, '') : h.tag);
    await writeDockerArchive(resolved!, d.path, { ...(tag === undefined ? {} : { tag }), mtime });
    return { destination: formatDestination(d), descriptor: src.root.descriptor, warnings };
  }
  if (d.kind === 'registry') {
    if (opts.registries === undefined) throw new WinlayerError('INTERNAL', 'writeImage to a registry needs registries');
    const push = await pushImage(src, d.reference, opts.registries);
    return { destination: formatDestination(d), descriptor: src.root.descriptor, push, warnings };
  }
  const tag = d.tag ?? opts.tag ?? h.tag;
  const root = await writeLayout(src, d.path, tag, resolved);
  return { destination: formatDestination(d), descriptor: root, warnings };
}

/**
 * Refuses a destination that would lose data: a docker archive holds one image, so writing over an existing file would
 * lose the image in it; that takes `force` (an OCI layout needs none: the new image is added to it, and what is there
 * must be a readable layout or an empty folder: `checkLayoutDestination`). Devices and pipes (`/dev/stdout`) are
 * written as always. The image commands call it before they build anything. Throws `LAYER_EXISTS`, `INVALID_IMAGE`.
 */
export function checkDestination(d: Destination, opts: { readonly force?: boolean }): void {
  if (d.kind === 'oci-layout') {
    checkLayoutDestination(d.path);
    return;
  }
  if (d.kind !== 'docker-archive' || opts.force === true) return;
  const path = d.path;
  const st = statSync(path, { throwIfNoEntry: false });
  if (st?.isFile() !== true) return; // a folder there is the archive writer's USAGE error; a device is written to
  throw new WinlayerError('LAYER_EXISTS', 'the docker archive exists: it would be replaced, and the image in it lost', {
    path,
    hint: 'pass --force to replace it, or write an OCI layout (oci:DIR:TAG), which keeps the images it holds',
  });
}

/**
 * A temporary folder (removed by `target.abort()`) for the blobs an image command builds, `store` holding them in
 * `sha256/`: beside a local destination, so they are renamed into place on one filesystem, or in the temp folder for
 * a registry. A local destination whose folder does not exist is `NOT_FOUND` naming the destination (the check
 * `AtomicTarget` makes, said here so the message names the path the user gave, not the staging folder's).
 */
export function stagingFolder(
  d: Destination,
  stem: string,
): { readonly target: AtomicTarget; readonly store: DirBlobStore } {
  const near = d.kind === 'registry' ? tmpdir() : dirname(resolve(d.path));
  if (d.kind !== 'registry' && statSync(near, { throwIfNoEntry: false })?.isDirectory() !== true) {
    throw new WinlayerError('NOT_FOUND', 'the destination folder does not exist', {
      path: d.path,
      hint: 'create the folder first, or write somewhere else',
    });
  }
  const target = new AtomicTarget(join(near, stem), { kind: 'folder' });
  mkdirSync(join(target.tempPath, 'sha256'), { recursive: true });
  return { target, store: new DirBlobStore(target.tempPath) };
}

/**
 * Adds `h` to the OCI layout `dir` (created when missing): blobs first (each written once, verified; blobs the
 * layout holds intact are kept), then the index entry, tagged `tag` when given (the tag moves from the image that had
 * it). Returns the entry written.
 */
async function writeLayout(
  h: ImageHandle,
  dir: string,
  tag: string | undefined,
  img: ResolvedImage | undefined,
): Promise<Descriptor> {
  const w = new LayoutWriter(dir);
  try {
    const all = await reachableBlobs(h);
    for (const b of all) if (b.bytes !== undefined) w.putBytes(b.bytes, b.descriptor.mediaType, b.descriptor);
    const big = all.filter((b) => b.bytes === undefined);
    await mapLimit(big, 3, (b) => w.putBlob(b.descriptor, () => h.blobs.open(b.descriptor)));
    const platform =
      h.root.descriptor.platform ??
      (img !== undefined && img.manifestDescriptor.digest === h.root.descriptor.digest
        ? configPlatform(img.config)
        : undefined);
    const root = descriptorOf({
      ...h.root.descriptor,
      ...(platform === undefined ? {} : { platform }),
      ...(tag === undefined ? {} : { annotations: { ...(h.root.descriptor.annotations ?? {}), [REF_NAME]: tag } }),
    });
    w.commit([root]);
    return root;
  } catch (e) {
    w.abort();
    throw e;
  }
}

/** Options of `pullImage`. */
export interface PullOptions {
  readonly platform?: Platform | string;
  /** Keep the whole index instead of one platform. */
  readonly allPlatforms?: boolean;
  readonly registries: Registries;
}

/**
 * Pulls `ref` into the OCI layout `dir`. From an index, one platform (`platform`, default windows/amd64; `os.version`
 * matched by prefix, the newest match wins) unless `allPlatforms`. Every blob is verified before the layout is moved
 * into place. Returns the written root descriptor.
 */
export async function pullImage(
  ref: Reference | string,
  dir: string,
  opts: PullOptions,
): Promise<WriteImageResult & { platform?: string }> {
  const h = await openRegistryImage(ref, opts.registries);
  const r = await writeImage(
    h,
    { kind: 'oci-layout', path: dir },
    {
      registries: opts.registries,
      allPlatforms: opts.allPlatforms ?? false,
      ...(opts.platform === undefined ? {} : { platform: opts.platform }),
    },
  );
  const p = r.descriptor.platform;
  return { ...r, ...(p === undefined ? {} : { platform: formatPlatform(p) }) };
}
