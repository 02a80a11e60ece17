/**
 * `image squash`: all layers of an image applied in order into one base layer. The layers are applied by the one
 * engine of `layer/apply.ts` (`planLayers`: an index pass over headers, then a streaming pass of the survivors; the
 * same engine as `--flatten`, with the options `squashOptions` chooses and explains). The merged stream then goes
 * through a temporary layer folder (`writeLayerDir`, then `exportLayer`), so the squashed layer has the canonical
 * order of everything winlayer writes. Every layer's registry deltas (`Hives/*_Delta`) are merged into the base hives,
 * as Windows merges them on import; missing base hives are added (empty, valid).
 */
import { createReadStream, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { LayerEntry } from '../entry.js';
import { WinlayerError } from '../errors.js';
import { baseHiveEntries, resolvePolicy } from '../internal/layer.js';
import {
  type ApplyLayersOptions,
  exportLayer,
  type LayerPlan,
  type MetadataPolicy,
  type OpenLayer,
  type PolicyOptions,
  planLayers,
  writeLayerDir,
} from '../layer/index.js';
import { readTar } from '../tar/index.js';
import { type BuiltLayer, checkDestination, stagingFolder, type WriteImageResult, writeBuiltImage } from './copy.js';
import { streamToFile } from './files.js';
import { type ImageHandle, type ResolvedImage, resolveImage } from './image.js';
import { type Compression, MEDIA, ociLayerType } from './media-types.js';
import type { Registries } from './registry/remote.js';
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
  readonly compression?: Compression;
  readonly tag?: string;
  /** Replace an existing docker-archive destination (refused without it). */
  readonly force?: boolean;
  readonly registries?: Registries;
}

/** What `squashImage` wrote. */
export interface SquashResult extends WriteImageResult {
  readonly layer: BuiltLayer;
  readonly squashedLayers: number;
  /** The registry deltas merged into the base hives (`layer 2: Hives/System_Delta`), in layer order. */
  readonly mergedHiveDeltas: readonly string[];
  readonly hivesAdded: readonly string[];
}

/**
 * Squashes the image `h` (one platform) into a single base layer and writes the result to `dest`. Streams: memory
 * holds the path index and the registry hives only. Throws `LAYER_INVALID` for opaque whiteouts, registry deltas
 * without a base hive, and hard links whose target a later layer replaced; the hive errors of a delta that cannot be
 * merged (`HIVE_*`); the tar reader's errors; `OCI_*`; the destination's.
 */
export async function squashImage(
  h: ImageHandle,
  dest: Destination | string,
  opts: SquashOptions = {},
): Promise<SquashResult> {
  const d = typeof dest === 'string' ? parseDestination(dest) : dest;
  const policy = resolvePolicy(opts);
  checkDestination(d, opts);
  const img = await resolveImage(h, opts.platform);
  const { target: staging, store } = stagingFolder(d, 'winlayer-squash');
  try {
    const flat = await flattenLayers(img, { policy, spoolDir: staging.tempPath });
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
    const created = createdTime(opts.sourceDateEpoch);
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
      ...(await writeBuiltImage(out, d, opts, summary)),
      squashedLayers: layers.length,
      mergedHiveDeltas: flat.mergedHiveDeltas,
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
  /** Registry deltas merged into the base hives (filled by the time `flattenLayers` returns). */
  readonly mergedHiveDeltas: readonly string[];
  /** Hive files added because no layer had them (filled while `entries` is iterated). */
  readonly hivesAdded: readonly string[];
}

/**
 * How `image squash` applies layers. The result is a Windows base layer that must run as the original layers run on
 * Windows: opaque whiteouts, which Windows does not know, are refused rather than given a meaning Windows would not;
 * registry deltas are merged into the base hives as Windows merges them on import (`ORMergeHives`); a hard link
 * whose target a later layer replaced keeps the content it names (Windows stacks layers the same way); special files
 * cannot go into a Windows layer, and are refused with the layer that holds them before anything is written.
 */
function squashOptions(merged: string[]): ApplyLayersOptions {
  return {
    opaqueWhiteouts: 'refuse',
    hiveDeltas: 'merge',
    onHiveDelta: (e, i) => {
      merged.push(`layer ${i + 1}: ${e.path}`);
    },
    lowerHardLinks: 'repoint',
    specialFiles: 'refuse',
  };
}

/**
 * Applies the layers of a resolved image in order (`planLayers`, `layer/apply.ts`, with the options above) and
 * returns the result as one stream of base-layer entries, with the base hives added when no layer had them: what
 * `image squash` writes. Reads each layer twice (the plan now, a streaming pass while `entries` is iterated); layers
 * without a local file (a registry) are first landed, verified, in `spoolDir`. Memory: the path index only. Throws
 * `LAYER_INVALID` (opaque whiteouts, registry deltas without a base hive, links to content no layer holds),
 * `LAYER_SPECIAL_FILE` and the tar reader's errors.
 */
export async function flattenLayers(
  img: ResolvedImage,
  opts: { readonly policy?: MetadataPolicy; readonly spoolDir?: string } = {},
): Promise<FlatLayers> {
  const h = img.handle;
  const layers = img.manifest.layers;
  const open: OpenLayer[] = [];
  for (const [i, l] of layers.entries()) {
    if (h.blobs.locate?.(l) !== undefined) open[i] = async () => readTar(await h.blobs.open(l));
    else {
      if (opts.spoolDir === undefined) {
        throw new WinlayerError('INTERNAL', 'flattenLayers needs a spool folder for layers that are not local files');
      }
      const path = join(opts.spoolDir, `layer-${i}`);
      await streamToFile(await h.blobs.open(l), path);
      open[i] = () => readTar(createReadStream(path));
    }
  }
  const merged: string[] = [];
  const plan = await planLayers(open, squashOptions(merged));
  const hivesAdded: string[] = [];
  const policy = opts.policy ?? resolvePolicy({});
  return { entries: withMissingHives(plan, policy, hivesAdded), mergedHiveDeltas: merged, hivesAdded };
}

/** The plan's entries (raw tar headers left out), then the hives a base layer needs when no layer had them. */
async function* withMissingHives(
  plan: LayerPlan,
  policy: MetadataPolicy,
  hivesAdded: string[],
): AsyncGenerator<LayerEntry> {
  for await (const e of plan.entries()) yield stripRaw(e);
  // an added name follows the layers' spelling of its folders
  const spelling = (p: string): string => {
    const at = p.lastIndexOf('/');
    return plan.finalPath(p) ?? (at < 0 ? p : `${spelling(p.slice(0, at))}/${p.slice(at + 1)}`);
  };
  for (const e of baseHiveEntries(policy, spelling)) {
    if (plan.finalPath(e.path) !== undefined) continue;
    if (e.kind === 'file') hivesAdded.push(e.path);
    yield e;
  }
}

function stripRaw(e: LayerEntry): LayerEntry {
  if (e.raw === undefined) return e;
  const { raw: _raw, ...rest } = e;
  return rest as LayerEntry;
}
