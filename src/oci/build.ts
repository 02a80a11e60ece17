/**
 * `image create` and `image append`: new layers streamed from plain content straight into a staging blob folder
 * (digests computed on the way, never a layer in memory), then a config and manifest, then `writeImage` to the
 * destination. Appending onto a registry image never downloads its layers: a push to the same registry skips or
 * mounts them.
 */
import { createReadStream, existsSync, renameSync, statSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import type { AtomicTarget } from '../atomic.js';
import type { LayerEntry } from '../entry.js';
import { WinlayerError } from '../errors.js';
import {
  asWindowsLayer,
  hiveFolderSpelling,
  type PlainOptions,
  plainFolderLayer,
  resolvePolicy,
  walkPlainFolderSync,
  withBaseHives,
} from '../internal/layer.js';
import { type PolicyOptions, walkLayer } from '../layer/index.js';
import { readTar, type TarSummary, writeTarFile } from '../tar/index.js';
import { type BuiltLayer, checkDestination, stagingFolder, type WriteImageResult, writeBuiltImage } from './copy.js';
import { type ImageHandle, resolveImage } from './image.js';
import { type Compression, MEDIA, ociLayerType } from './media-types.js';
import { formatPlatform, parsePlatform } from './platform.js';
import {
  readBaseHives,
  readRegistryChanges,
  registryDeltas,
  withRegistryDeltas,
  withRegistryInHives,
} from './reg-layer.js';
import type { Registries } from './registry/remote.js';
import { type Destination, parseDestination } from './source.js';
import {
  buildManifest,
  type ContainerConfig,
  configPlatform,
  createdTime,
  type Descriptor,
  descriptorOf,
  type HistoryEntry,
  type ImageConfig,
  jsonBlob,
  type Platform,
} from './spec.js';
import { type DirBlobStore, RoutedBlobStore } from './store.js';

/** The runtime settings `image create` writes into the config (`--entrypoint`, `--cmd`, `--env`, …). */
export interface RuntimeSettings {
  readonly entrypoint?: readonly string[];
  readonly cmd?: readonly string[];
  /** `K=V` strings. */
  readonly env?: readonly string[];
  readonly workdir?: string;
  readonly user?: string;
  readonly labels?: Readonly<Record<string, string>>;
}

/** Options shared by `createImage` and `appendImage` (the metadata policy of new entries, compression, where to). */
export interface BuildImageOptions extends PolicyOptions {
  /** Layer compression; default gzip (every Windows runtime reads it). */
  readonly compression?: Compression;
  /** Absolute or escaping symlink targets: refuse (default) or leave the link out. */
  readonly symlinks?: 'error' | 'skip';
  /** Tag recorded at the destination. */
  readonly tag?: string;
  /** Replace an existing docker-archive destination (refused without it). */
  readonly force?: boolean;
  /** Needed when the base or the destination is a registry. */
  readonly registries?: Registries;
  /** Called for each symlink left out under `symlinks: 'skip'`. */
  readonly onSkip?: (path: string, reason: string) => void;
  /**
   * `.reg` files whose changes the new layer carries, applied in order (docs/registry-changes.md): create writes them
   * into the base layer's hives, append as the layer's differencing hives (`Hives/*_Delta`).
   */
  readonly reg?: readonly string[];
}

/** Options of `createImage`. */
export interface CreateImageOptions extends BuildImageOptions {
  /** `windows/amd64[:OS_VERSION]`; default windows/amd64 (without os.version: a warning). */
  readonly platform?: Platform | string;
  readonly runtime?: RuntimeSettings;
}

/** Options of `appendImage`. */
export interface AppendImageOptions extends BuildImageOptions {
  /** Which image of a base index to append to. */
  readonly platform?: Platform | string;
  /** Text for the new history entry. */
  readonly createdBy?: string;
  /**
   * With `reg`: a folder holding the five base hives (SYSTEM, SOFTWARE, SAM, SECURITY, DEFAULT by name, or a base
   * layer folder's `Files/Windows/System32/config`), which the deltas are written against (`writeDeltaHive`'s
   * `base`). Without it nothing is downloaded: the deltas are written without a base.
   */
  readonly regBase?: string;
}

/** What `createImage` / `appendImage` wrote: the destination result plus the new layer. */
export interface BuildResult extends WriteImageResult {
  /** The layer written. */
  readonly layer: BuiltLayer;
  /** Hive files added (create). */
  readonly hivesAdded?: readonly string[];
  /** Symlinks left out under `--symlinks skip`. */
  readonly skipped: readonly { path: string; reason: string }[];
  /** With `reg`: what the `.reg` reader mapped or assumed (`CurrentControlSet` → `ControlSet001`), in words. */
  readonly registryNotes?: readonly string[];
}

/** A staging folder for new blobs, beside a local destination (same filesystem) or in the temp folder. */
class Staging {
  readonly #target: AtomicTarget;
  readonly store: DirBlobStore;
  #n = 0;
  constructor(dest: Destination) {
    const { target, store } = stagingFolder(dest, 'winlayer-staging');
    this.#target = target;
    this.store = store;
  }

  /** Writes a layer stream as a blob; returns the tar writer's summary. */
  async writeLayer(
    entries: AsyncIterable<LayerEntry> | Iterable<LayerEntry>,
    compression: Compression,
  ): Promise<TarSummary> {
    const tmp = join(this.#target.tempPath, `layer-${this.#n++}.tar`);
    const summary = await writeTarFile(entries, tmp, { compression });
    renameSync(tmp, this.store.path(summary.digest));
    return summary;
  }

  dispose(): void {
    this.#target.abort();
  }
}

/** A local destination inside the folder being read would read itself: refused. */
function refuseInside(d: Destination, folder: string): void {
  if (d.kind === 'registry') return;
  const out = resolve(d.path);
  const root = resolve(folder);
  if (out === root || out.startsWith(`${root}${sep}`)) {
    throw new WinlayerError('USAGE', 'the output would be inside the folder being read', {
      path: out,
      hint: 'write the image outside the source folder',
    });
  }
}

function runtimeConfig(r: RuntimeSettings | undefined): ContainerConfig | undefined {
  if (r === undefined) return undefined;
  for (const e of r.env ?? []) {
    if (!/^[^=]+=/.test(e)) throw new WinlayerError('USAGE', `--env ${JSON.stringify(e)} is not NAME=VALUE`);
  }
  const c: Record<string, unknown> = {};
  if (r.user !== undefined) c.User = r.user;
  if (r.env !== undefined && r.env.length > 0) c.Env = [...r.env];
  if (r.entrypoint !== undefined) c.Entrypoint = [...r.entrypoint];
  if (r.cmd !== undefined) c.Cmd = [...r.cmd];
  if (r.workdir !== undefined) c.WorkingDir = r.workdir;
  if (r.labels !== undefined && Object.keys(r.labels).length > 0) {
    c.Labels = Object.fromEntries(Object.entries(r.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
  return Object.keys(c).length === 0 ? undefined : (c as ContainerConfig);
}

/** A handle over new blobs (staging), in-memory config/manifest, and the base's layers. */
function assemble(
  name: string,
  staging: Staging,
  base: ImageHandle | undefined,
  baseLayers: readonly Descriptor[],
  newLayer: Descriptor,
  config: ImageConfig,
  annotations?: Record<string, string>,
): ImageHandle {
  const cfg = jsonBlob(config, MEDIA.ociConfig);
  const m = buildManifest(cfg.descriptor, [...baseLayers, newLayer], annotations);
  const store = new RoutedBlobStore().addBytes(cfg.descriptor.digest, cfg.bytes).addBytes(m.descriptor.digest, m.bytes);
  store.route(newLayer.digest, staging.store);
  if (base !== undefined) for (const l of baseLayers) store.route(l.digest, base.blobs);
  return {
    name,
    root: { descriptor: descriptorOf({ ...m.descriptor, platform: configPlatform(config) }), bytes: m.bytes },
    blobs: store,
    ...(base?.remote === undefined ? {} : { remote: base.remote }),
  };
}

/**
 * `image create`: the plain folder `rootfs` (what becomes `C:\`) as the base layer of a new image, under `Files/`,
 * with the five empty hives added by a stream transform (the folder is never copied or changed); with `reg`, the
 * `.reg` changes merged into those hives as they stream by (`reg-layer.ts`). With empty hives the image runs as a
 * HostProcess container or serves as a base for other layers; it is not a bootable process-isolated Windows
 * container. Throws the walk's errors (`NAME_INVALID`, `LAYER_SYMLINK`, …), `USAGE`, `REG_SYNTAX`, `HIVE_*`, and the
 * destination's (`IO`, `REGISTRY*`).
 */
export async function createImage(
  rootfs: string,
  dest: Destination | string,
  opts: CreateImageOptions = {},
): Promise<BuildResult> {
  const d = typeof dest === 'string' ? parseDestination(dest) : dest;
  const policy = resolvePolicy(opts);
  const platform =
    typeof opts.platform === 'string'
      ? parsePlatform(opts.platform)
      : (opts.platform ?? { os: 'windows', architecture: 'amd64' });
  if (platform.os !== 'windows') {
    throw new WinlayerError('USAGE', `image create makes Windows images; ${formatPlatform(platform)} is not windows`, {
      hint: 'write --platform windows/amd64[:OS_VERSION], e.g. windows/amd64:10.0.20348.2113',
    });
  }
  const st = statSync(rootfs, { throwIfNoEntry: false });
  if (st === undefined)
    throw new WinlayerError('NOT_FOUND', 'the root file system folder does not exist', { path: rootfs });
  if (!st.isDirectory()) {
    throw new WinlayerError('USAGE', 'the root file system must be a folder (it becomes C:\\)', {
      path: rootfs,
      hint: 'to build on a layer or an image, use winlayer image append',
    });
  }
  refuseInside(d, rootfs);
  checkDestination(d, opts);
  const reg = opts.reg === undefined || opts.reg.length === 0 ? undefined : readRegistryChanges(opts.reg, policy);
  const staging = new Staging(d);
  try {
    const skipped: { path: string; reason: string }[] = [];
    const plain = plainOptions(policy, opts, skipped);
    const hivesAdded: string[] = [];
    const compression = opts.compression ?? 'gzip';
    const withHives = withBaseHives(walkPlainFolderSync(rootfs, plain), {
      policy,
      spelling: hiveFolderSpelling(rootfs),
      onHiveAdded: (p) => hivesAdded.push(p),
    });
    const layer = await staging.writeLayer(
      reg === undefined ? withHives : withRegistryInHives(withHives, reg),
      compression,
    );
    const created = createdTime(opts.sourceDateEpoch);
    const runtime = runtimeConfig(opts.runtime);
    const config: ImageConfig = {
      architecture: platform.architecture,
      os: platform.os,
      ...(platform['os.version'] === undefined ? {} : { 'os.version': platform['os.version'] }),
      ...(platform.variant === undefined ? {} : { variant: platform.variant }),
      created,
      ...(runtime === undefined ? {} : { config: runtime }),
      rootfs: { type: 'layers', diff_ids: [layer.diffId] },
      history: [{ created, created_by: 'winlayer image create' }],
    };
    const newLayer: Descriptor = { mediaType: ociLayerType(compression), digest: layer.digest, size: layer.size };
    const h = assemble(`image from ${rootfs}`, staging, undefined, [], newLayer, config);
    return {
      ...(await writeBuiltImage(h, d, opts, layer)),
      hivesAdded,
      skipped,
      ...(reg === undefined ? {} : { registryNotes: reg.notes }),
    };
  } finally {
    staging.dispose();
  }
}

/** Opens what `image append` adds: a layer folder, a Windows layer tar (passed through), a plain folder or a Linux tar. */
async function appendEntries(
  source: string,
  plain: PlainOptions,
  policyOptions: PolicyOptions,
): Promise<{ entries: AsyncIterable<LayerEntry>; kind: string }> {
  let path = source;
  let forced: 'layer' | 'dir' | undefined;
  if (source.startsWith('layer:')) [forced, path] = ['layer', source.slice(6)];
  else if (source.startsWith('dir:')) [forced, path] = ['dir', source.slice(4)];
  const st = statSync(path, { throwIfNoEntry: false });
  if (st === undefined) throw new WinlayerError('NOT_FOUND', 'the layer source does not exist', { path });
  if (st.isDirectory()) {
    if (forced === 'dir' || existsSync(join(path, 'Files'))) {
      const walk = walkLayer(path, {
        ...policyOptions,
        kind: 'non-base',
        ...(plain.symlinks === undefined ? {} : { symlinks: plain.symlinks }),
      });
      return { entries: walk, kind: 'layer folder' };
    }
    return { entries: plainFolderLayer(path, plain), kind: 'plain folder' };
  }
  const entries = readTar(createReadStream(path));
  const it = entries[Symbol.asyncIterator]();
  const first = await it.next();
  const rest: AsyncIterable<LayerEntry> = {
    [Symbol.asyncIterator]: () => {
      let sentFirst = false;
      return {
        next: async () => {
          if (!sentFirst) {
            sentFirst = true;
            return first;
          }
          return it.next();
        },
      };
    },
  };
  const head = first.done === true ? '' : first.value.path;
  const windows = forced === 'layer' || /^(Files|Hives|UtilityVM)(\/|$)/.test(head);
  return windows
    ? { entries: rest, kind: 'Windows layer tar' }
    : { entries: asWindowsLayer(rest, plain), kind: 'Linux tar' };
}

/**
 * `image append`: one new layer on top of `base` (any image source, opened), built from a plain folder or a
 * Linux-style tar (names and hard-link targets get `Files/`, symlink targets do not; `Files` and `Hives` folder
 * entries; parents first; the `--sd` presets; deterministic times; opaque whiteouts refused) or taken as is from a
 * Windows layer folder or tar. With `reg`, the layer also carries the changes as the five differencing hives
 * (`layerSource` may then be undefined: a layer of registry changes only). The base's layers are referenced, never
 * rewritten: same digests. Throws `USAGE` (no source and no `reg`, or a source with deltas of its own and `reg`), the
 * source's errors, `REG_SYNTAX`, the base hives' (`NOT_FOUND`, `HIVE_*`), `OCI_*`, and the destination's.
 */
export async function appendImage(
  base: ImageHandle,
  layerSource: string | undefined,
  dest: Destination | string,
  opts: AppendImageOptions = {},
): Promise<BuildResult> {
  const d = typeof dest === 'string' ? parseDestination(dest) : dest;
  const policy = resolvePolicy(opts);
  const regs = opts.reg ?? [];
  if (layerSource === undefined && regs.length === 0) {
    throw new WinlayerError('USAGE', 'nothing to append: give a layer source, or registry changes (reg)');
  }
  if (opts.regBase !== undefined && regs.length === 0) {
    throw new WinlayerError('USAGE', 'a base for registry changes (regBase) without any changes (reg)');
  }
  checkDestination(d, opts);
  const bases = opts.regBase === undefined ? undefined : readBaseHives(opts.regBase);
  const reg = regs.length === 0 ? undefined : readRegistryChanges(regs, policy, bases?.system);
  const deltas = reg === undefined ? undefined : registryDeltas(reg, bases);
  const img = await resolveImage(base, opts.platform);
  const folder = layerSource?.replace(/^(dir|layer):/, '');
  if (folder !== undefined && statSync(folder, { throwIfNoEntry: false })?.isDirectory() === true) {
    refuseInside(d, folder);
  }
  const staging = new Staging(d);
  try {
    const skipped: { path: string; reason: string }[] = [];
    const plain = plainOptions(policy, opts, skipped);
    const src = layerSource === undefined ? undefined : await appendEntries(layerSource, plain, opts);
    const compression = opts.compression ?? 'gzip';
    const entries = deltas === undefined ? src!.entries : withRegistryDeltas(src?.entries, deltas, policy);
    const layer = await staging.writeLayer(entries, compression);
    const kind =
      src === undefined ? 'registry changes' : reg === undefined ? src.kind : `${src.kind}, registry changes`;
    const created = createdTime(opts.sourceDateEpoch);
    const history: HistoryEntry[] = [
      ...(img.config.history ?? []),
      { created, created_by: opts.createdBy ?? `winlayer image append (${kind})` },
    ];
    const config: ImageConfig = {
      ...img.config,
      created,
      rootfs: { type: 'layers', diff_ids: [...img.config.rootfs.diff_ids, layer.diffId] },
      history,
    };
    const newLayer: Descriptor = { mediaType: ociLayerType(compression), digest: layer.digest, size: layer.size };
    const annotations: Record<string, string> = {
      ...((img.manifest.annotations as Record<string, string> | undefined) ?? {}),
      'org.opencontainers.image.base.digest': img.manifestDescriptor.digest,
      ...(base.remote === undefined
        ? {}
        : { 'org.opencontainers.image.base.name': base.name.replace(/^docker:\/\//, '') }),
    };
    const h = assemble(
      `${base.name} + ${layerSource ?? regs.join(' + ')}`,
      staging,
      base,
      img.manifest.layers,
      newLayer,
      config,
      annotations,
    );
    return {
      ...(await writeBuiltImage(h, d, opts, layer)),
      skipped,
      ...(reg === undefined ? {} : { registryNotes: reg.notes }),
    };
  } finally {
    staging.dispose();
  }
}

/** The walk options of create and append: the policy, the symlink rule, and skipped entries collected and passed on. */
function plainOptions(
  policy: PlainOptions['policy'],
  opts: { readonly symlinks?: PlainOptions['symlinks']; readonly onSkip?: (path: string, reason: string) => void },
  skipped: { path: string; reason: string }[],
): PlainOptions {
  return {
    policy,
    ...(opts.symlinks === undefined ? {} : { symlinks: opts.symlinks }),
    onSkip: (path, reason) => {
      skipped.push({ path, reason });
      opts.onSkip?.(path, reason);
    },
  };
}
