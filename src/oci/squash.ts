/**
 * `image squash`: all layers of an image applied in order into one base layer, streamed in two passes over the
 * layers. Pass 1 reads headers only and builds an index of paths (never bytes): who owns each final path, after
 * whiteouts (which delete a path and everything under it in lower layers), replacements, and the metadata of folders.
 * Pass 2 streams each layer again and writes the entries it owns; a folder is written where it first appears, with
 * the metadata of its final owner, so parents always come first and hard links (also into lower layers) always
 * follow their target. The merged stream then goes through a temporary layer folder (`writeLayerDir`, then
 * `exportLayer`), so the squashed layer has the canonical order of everything winlayer writes. Registry deltas
 * (`Hives/*_Delta`) cannot be merged off Windows: refused, or dropped on request. Missing base hives are added (empty,
 * valid).
 */
import { createReadStream, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { bufferBody, type LayerEntry, type WindowsMetadata } from '../entry.js';
import { WinlayerError } from '../errors.js';
import { createEmptyHive } from '../hive/index.js';
import {
  defaultMetadata,
  exportLayer,
  type MetadataPolicy,
  type PolicyOptions,
  resolvePolicy,
  writeLayerDir,
} from '../layer/index.js';
import { readTar } from '../tar/index.js';
import { upcase } from '../windows/index.js';
import { type BuiltLayer, checkDestination, stagingFolder, type WriteImageResult, writeBuiltImage } from './copy.js';
import { streamToFile } from './files.js';
import { type ImageHandle, type ResolvedImage, resolveImage } from './image.js';
import { type Compression, MEDIA, ociLayerType } from './media-types.js';
import type { Registries } from './registry/remote.js';
import { BASE_HIVES } from './rootfs.js';
import { type Destination, parseDestination } from './source.js';
import {
  buildManifest,
  configPlatform,
  createdTime,
  type Descriptor,
  descriptorOf,
  type ImageConfig,
  jsonBlob,
  type Platform,
} from './spec.js';
import { type BlobStore, RoutedBlobStore } from './store.js';

/** Options of `squashImage`. */
export interface SquashOptions extends PolicyOptions {
  /** Which image of an index. */
  readonly platform?: Platform | string;
  /** Leave `Hives/*_Delta` registry deltas out (their registry changes are lost) instead of refusing. */
  readonly dropHiveDeltas?: boolean;
  readonly compression?: Compression;
  readonly tag?: string;
  /** Replace an existing docker-archive destination (refused without it). */
  readonly force?: boolean;
  readonly registries?: Registries;
  readonly env?: NodeJS.ProcessEnv;
}

/** What `squashImage` wrote. */
export interface SquashResult extends WriteImageResult {
  readonly layer: BuiltLayer;
  readonly squashedLayers: number;
  /** Delta hives left out under `dropHiveDeltas`. */
  readonly droppedHiveDeltas: readonly string[];
  readonly hivesAdded: readonly string[];
}

interface Owner {
  readonly layer: number;
  readonly kind: LayerEntry['kind'];
  /** The spelling of the owning entry. */
  readonly path: string;
  readonly win?: WindowsMetadata;
  readonly linkTarget?: string;
  /** A hard link whose target a later layer replaced: written as a file with the old content, taken from this layer. */
  readonly fromLayer?: number;
  /** The path (upper-case key) of that old content in `fromLayer`. */
  readonly fromKey?: string;
}

/** The index pass's result: final owners, and the old contents that orphaned hard links are written from. */
interface SquashIndex {
  readonly map: Map<string, Owner>;
  /** `layer:key` of an old file → the link path that receives its content. */
  readonly materialize: Map<string, string>;
}

const HIVE_DIRS = ['Files/Windows', 'Files/Windows/System32', 'Files/Windows/System32/config'] as const;

function isUnder(key: string, prefixes: readonly string[]): boolean {
  return prefixes.some((p) => key === p || key.startsWith(`${p}/`) || key.startsWith(`${p}:`));
}

/**
 * Squashes the image `h` (one platform) into a single base layer and writes the result to `dest`. Streams: memory
 * holds the path index only. Throws `LAYER_INVALID` for opaque whiteouts, registry deltas (unless `dropHiveDeltas`)
 * and hard links whose target a later layer replaced; the tar reader's errors; `OCI_*`; the destination's.
 */
export async function squashImage(
  h: ImageHandle,
  dest: Destination | string,
  opts: SquashOptions = {},
): Promise<SquashResult> {
  const d = typeof dest === 'string' ? parseDestination(dest) : dest;
  const env = opts.env ?? process.env;
  const policy = resolvePolicy(
    opts.sourceDateEpoch !== undefined || env.SOURCE_DATE_EPOCH === undefined
      ? opts
      : { ...opts, sourceDateEpoch: env.SOURCE_DATE_EPOCH },
  );
  checkDestination(d, opts);
  const img = await resolveImage(h, opts.platform);
  const { target: staging, store } = stagingFolder(d, 'winlayer-squash');
  try {
    const flat = await flattenLayers(img, {
      policy,
      dropHiveDeltas: opts.dropHiveDeltas === true,
      spoolDir: staging.tempPath,
    });
    const dropped = flat.droppedHiveDeltas;
    const hivesAdded = flat.hivesAdded;
    const layers = img.manifest.layers;
    const tmp = join(staging.tempPath, 'squashed.tar');
    const compression = opts.compression ?? 'gzip';
    // The merged stream comes out layer by layer; going through a layer folder gives the one canonical order of
    // everything we write (parents first, siblings by UTF-8 bytes), with every record kept by the sidecar.
    const folder = join(staging.tempPath, 'layer');
    await writeLayerDir(flat.entries, folder, { kind: 'base', sync: false });
    const summary = await exportLayer(folder, { output: tmp, compression });
    renameSync(tmp, store.path(summary.digest));
    const created = createdTime(env);
    const config: ImageConfig = {
      ...img.config,
      created,
      rootfs: { type: 'layers', diff_ids: [summary.diffId] },
      history: [
        {
          created,
          created_by: 'winlayer image squash',
          comment: `${layers.length} layers squashed into one base layer`,
        },
      ],
    };
    const cfg = jsonBlob(config, MEDIA.ociConfig);
    const layerDesc: Descriptor = { mediaType: ociLayerType(compression), digest: summary.digest, size: summary.size };
    const m = buildManifest(cfg.descriptor, [layerDesc]);
    const blobs: BlobStore = new RoutedBlobStore()
      .addBytes(cfg.descriptor.digest, cfg.bytes)
      .addBytes(m.descriptor.digest, m.bytes)
      .route(summary.digest, store);
    const out: ImageHandle = {
      name: `${h.name} (squashed)`,
      root: { descriptor: descriptorOf({ ...m.descriptor, platform: configPlatform(config) }), bytes: m.bytes },
      blobs,
    };
    return {
      ...(await writeBuiltImage(out, d, opts, env, summary)),
      squashedLayers: layers.length,
      droppedHiveDeltas: dropped,
      hivesAdded,
    };
  } finally {
    staging.abort();
  }
}

/** One image's layers applied in order, as one base-layer entry stream (see the module comment). */
export interface FlatLayers {
  /** The merged entries; iterable once. Parents come first, hard links after their targets. */
  readonly entries: AsyncIterable<LayerEntry>;
  /** Registry deltas left out (filled by the time `flattenLayers` returns). */
  readonly droppedHiveDeltas: readonly string[];
  /** Hive files added because no layer had them (filled while `entries` is iterated). */
  readonly hivesAdded: readonly string[];
}

/**
 * Applies the layers of a resolved image in order (whiteouts, replacements, hard links into lower layers) and returns
 * the result as one stream of base-layer entries: what `image squash` writes and what `--flatten` views list. Reads
 * each layer twice (an index pass now, a streaming pass while `entries` is iterated); layers without a local file
 * (a registry) are first landed, verified, in `spoolDir`. Memory: the path index only. Throws `LAYER_INVALID`
 * (opaque whiteouts, registry deltas unless `dropHiveDeltas`, links to content no layer holds) and the tar reader's
 * errors.
 */
export async function flattenLayers(
  img: ResolvedImage,
  opts: { readonly policy?: MetadataPolicy; readonly dropHiveDeltas?: boolean; readonly spoolDir?: string } = {},
): Promise<FlatLayers> {
  const h = img.handle;
  const layers = img.manifest.layers;
  const open: ((i: number) => Promise<Readable>)[] = [];
  for (const [i, l] of layers.entries()) {
    if (h.blobs.locate?.(l) !== undefined) open[i] = () => h.blobs.open(l);
    else {
      if (opts.spoolDir === undefined) {
        throw new WinlayerError('INTERNAL', 'flattenLayers needs a spool folder for layers that are not local files');
      }
      const path = join(opts.spoolDir, `layer-${i}`);
      await streamToFile(await h.blobs.open(l), path);
      open[i] = async () => createReadStream(path);
    }
  }
  const dropped: string[] = [];
  const index = await buildIndex(layers, open, opts.dropHiveDeltas === true, dropped);
  const hivesAdded: string[] = [];
  const policy = opts.policy ?? resolvePolicy({});
  return { entries: emit(layers.length, open, index, policy, hivesAdded), droppedHiveDeltas: dropped, hivesAdded };
}

async function buildIndex(
  layers: readonly Descriptor[],
  open: ((i: number) => Promise<Readable>)[],
  dropDeltas: boolean,
  dropped: string[],
): Promise<SquashIndex> {
  const map = new Map<string, Owner>();
  // earlier owners of paths that a later layer replaced or deleted (files only: what orphaned links may need)
  const past = new Map<string, Owner[]>();
  const remember = (k: string, o: Owner): void => {
    if (o.kind !== 'file') return;
    const list = past.get(k) ?? [];
    list.push(o);
    past.set(k, list);
  };
  for (let i = 0; i < layers.length; i++) {
    const whiteouts: string[] = [];
    const replaced: string[] = [];
    for await (const e of readTar(await open[i]!(i))) {
      if (e.path === 'Hives' || e.path.startsWith('Hives/')) {
        if (e.kind === 'directory' && e.path === 'Hives') continue;
        if (!dropDeltas) {
          throw new WinlayerError(
            'LAYER_INVALID',
            `layer ${i + 1} carries registry changes (${e.path}) that cannot be merged off Windows`,
            {
              entry: e.path,
              hint: 'Windows merges Hives/*_Delta into the base hives with offreg ORMergeHives, which winlayer does not do yet; pass --drop-hive-deltas to leave the registry changes out',
            },
          );
        }
        if (e.kind !== 'directory') dropped.push(`layer ${i + 1}: ${e.path}`);
        continue;
      }
      if (e.kind === 'opaqueWhiteout') {
        throw new WinlayerError(
          'LAYER_INVALID',
          `layer ${i + 1} holds an opaque whiteout, which Windows does not know`,
          { entry: e.path },
        );
      }
      if (e.kind === 'special')
        throw new WinlayerError('LAYER_SPECIAL_FILE', `layer ${i + 1}: a ${e.description}`, { entry: e.path });
      if (e.kind === 'whiteout') {
        whiteouts.push(upcase(e.target));
        continue;
      }
      const key = upcase(e.path);
      const prev = map.get(key);
      if (prev !== undefined && prev.layer < i) remember(key, prev);
      // a replaced object takes its lower-layer children and streams with it; folders over folders merge
      if (prev !== undefined && prev.layer < i && !(prev.kind === 'directory' && e.kind === 'directory'))
        replaced.push(key);
      map.set(key, {
        layer: i,
        kind: e.kind,
        path: e.path,
        ...(e.kind === 'directory' ? { win: e.win } : {}),
        ...(e.kind === 'hardlink' || e.kind === 'symlink' ? { linkTarget: e.linkTarget } : {}),
      });
    }
    if (whiteouts.length > 0 || replaced.length > 0) {
      // whiteouts delete a path and everything under it in lower layers (this layer may re-create them)
      for (const [k, o] of map) {
        if (o.layer < i && (isUnder(k, whiteouts) || isUnder(k, replaced))) {
          remember(k, o);
          map.delete(k);
        }
      }
    }
  }
  // hard links whose target a later layer replaced or deleted still name the old content: write the first such link
  // as a file with that content (read from the layer that held it), and the others as links to it
  const materialize = new Map<string, string>();
  for (const [k, o] of map) {
    if (o.kind !== 'hardlink') continue;
    const tkey = upcase(o.linkTarget!);
    const t = map.get(tkey);
    if (t !== undefined && t.layer <= o.layer) continue;
    const old = (past.get(tkey) ?? []).filter((p) => p.layer <= o.layer).at(-1);
    if (old === undefined) {
      throw new WinlayerError(
        'LAYER_INVALID',
        `hard link ${o.path} → ${o.linkTarget}: no layer holds the content it names`,
        {
          entry: o.path,
          hint: 'the link names a file that none of the layers below it holds; the image is broken',
        },
      );
    }
    const slot = `${old.layer}:${tkey}`;
    const first = materialize.get(slot);
    if (first === undefined) {
      materialize.set(slot, o.path);
      map.set(k, { layer: old.layer, kind: 'file', path: o.path, fromLayer: old.layer, fromKey: tkey });
    } else {
      map.set(k, { ...o, linkTarget: first });
    }
  }
  return { map, materialize };
}

async function* emit(
  count: number,
  open: ((i: number) => Promise<Readable>)[],
  idx: SquashIndex,
  policy: ReturnType<typeof resolvePolicy>,
  hivesAdded: string[],
): AsyncGenerator<LayerEntry> {
  const index = idx.map;
  const dirsDone = new Set<string>();
  // folders are written where first needed, with their final owner's metadata: parents always come first
  const parents = function* (path: string): Generator<LayerEntry> {
    const parts = path.split('/');
    for (let n = 1; n < parts.length; n++) {
      const key = upcase(parts.slice(0, n).join('/'));
      if (dirsDone.has(key)) continue;
      const o = index.get(key);
      if (o === undefined || o.kind !== 'directory' || o.win === undefined) continue;
      dirsDone.add(key);
      yield { kind: 'directory', path: o.path, win: o.win };
    }
  };
  for (let i = 0; i < count; i++) {
    for await (const e of readTar(await open[i]!(i))) {
      if (e.kind === 'whiteout' || e.path === 'Hives' || e.path.startsWith('Hives/')) continue;
      const key = upcase(e.path);
      const target = e.kind === 'file' ? idx.materialize.get(`${i}:${key}`) : undefined;
      if (target !== undefined && e.kind === 'file') {
        yield* parents(target);
        yield { ...stripRaw(e), path: target } as LayerEntry;
        continue;
      }
      const o = index.get(key);
      if (o === undefined) continue;
      if (o.kind === 'directory') {
        if (e.kind !== 'directory' || dirsDone.has(key)) continue;
        yield* parents(e.path);
        dirsDone.add(key);
        yield { kind: 'directory', path: o.path, win: o.win ?? e.win };
        continue;
      }
      if (o.layer !== i || o.kind !== e.kind || o.fromKey !== undefined) continue;
      yield* parents(e.path);
      yield e.kind === 'hardlink' && o.linkTarget !== e.linkTarget
        ? ({ ...stripRaw(e), linkTarget: o.linkTarget! } as LayerEntry)
        : stripRaw(e);
    }
  }
  // the hives a base layer needs, when no layer had them
  const t = policy.clamp ?? 0n;
  const spell = (p: string): string => index.get(upcase(p))?.path ?? p;
  for (const dir of HIVE_DIRS) {
    if (index.has(upcase(dir))) continue;
    const path = `${spell(dir.slice(0, dir.lastIndexOf('/')))}/${dir.slice(dir.lastIndexOf('/') + 1)}`;
    yield { kind: 'directory', path, win: defaultMetadata(policy, 'directory', t) };
    index.set(upcase(dir), { layer: -1, kind: 'directory', path });
  }
  for (const hive of BASE_HIVES) {
    const path = `${spell('Files/Windows/System32/config')}/${hive}`;
    if (index.has(upcase(path))) continue;
    const bytes = createEmptyHive();
    hivesAdded.push(path);
    yield { kind: 'file', path, size: bytes.length, body: bufferBody(bytes), win: defaultMetadata(policy, 'file', t) };
  }
}

function stripRaw(e: LayerEntry): LayerEntry {
  if (e.raw === undefined) return e;
  const { raw: _raw, ...rest } = e;
  return rest as LayerEntry;
}
