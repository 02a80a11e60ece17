/**
 * What the inspect commands read: any source of architecture.md, seen as a list of layers, each an entry stream that
 * can be opened when needed. Images list their layers in order (the first is the base layer) with their descriptors
 * and the config; `flattenSource` (flatten.ts) applies them and shows one layer.
 */
import type { LayerEntry } from '../entry.js';
import { WinlayerError } from '../errors.js';
import { walkLayer } from '../layer/index.js';
import {
  type Descriptor,
  type ImageConfig,
  type ImageHandle,
  openImage,
  openSource,
  Registries,
  resolveImage,
} from '../oci/index.js';
import { openTarSource, readTar } from '../tar/index.js';

/** One layer of a source. */
export interface InspectLayer {
  /** A heading for listings and findings: the file name, or `layer 2/3 sha256:…` for an image. */
  readonly title: string;
  /** Whether it is known to be a base layer (an image's first layer); undefined = detect from the entries. */
  readonly base?: boolean;
  /** Opens the entry stream. Each call reads the layer again (stdin: once only). */
  readonly open: () => AsyncIterable<LayerEntry>;
  /** For image layers: the manifest's descriptor (digest of the compressed blob, media type, urls). */
  readonly descriptor?: Descriptor;
  /** For image layers: the config's `rootfs.diff_ids` entry for this layer, when there is one. */
  readonly diffId?: string;
  /** For image layers: opens the stored blob (compressed, verified against its digest while read). */
  readonly openBlob?: () => Promise<AsyncIterable<Uint8Array>>;
}

/** An opened source. */
export interface InspectSource {
  /** How the user named it. */
  readonly name: string;
  readonly kind: 'layer' | 'dir' | 'image' | 'flattened';
  readonly layers: readonly InspectLayer[];
  /** For images: the config. */
  readonly config?: ImageConfig;
  /** Releases what the source holds open (registry connections). Safe to call more than once. */
  readonly close?: () => void;
}

/** Options of `openInspectSource`. */
export interface OpenInspectOptions {
  /** Standard input, for the source `-` (a layer tar). */
  readonly stdin?: NodeJS.ReadableStream;
  /** For an index: which image (`windows/amd64[:os.version]`); default as `resolveImage` picks. */
  readonly platform?: string;
  /** Registry access (credentials, CA files, plain HTTP for one registry); default: the Docker config. */
  readonly registries?: Registries;
}

/**
 * Opens a source by name: `layer:FILE` or a tar (plain, gzip, zstd), `dir:DIR` or a folder with `Files/`,
 * `oci:DIR[:TAG]`, `docker-archive:FILE[:TAG]`, `docker://REF`, or `-` (a layer tar on stdin). Reads only what
 * names the layers (index, manifest, config); entries stream when a layer is opened. Throws `NOT_FOUND`,
 * `SOURCE_UNREADABLE`, `OCI_*` and registry errors (the CLI exits 2 on the first two).
 */
export async function openInspectSource(spec: string, opts: OpenInspectOptions = {}): Promise<InspectSource> {
  if (spec === '-') {
    const tar = openTarSource('-', opts.stdin === undefined ? {} : { stdin: opts.stdin });
    let used = false;
    const open = () => {
      if (used) throw new WinlayerError('USAGE', 'standard input can be read only once');
      used = true;
      return tar.entries;
    };
    return { name: tar.name, kind: 'layer', layers: [{ title: tar.name, open }] };
  }
  const src = await openSource(spec);
  switch (src.kind) {
    case 'layer-dir':
      return { name: src.path, kind: 'dir', layers: [{ title: src.path, open: () => walkLayer(src.path) }] };
    case 'layer-tar': {
      return {
        name: src.path,
        kind: 'layer',
        layers: [{ title: src.path, open: () => openTarSource(src.path).entries }],
      };
    }
    default: {
      const own = opts.registries === undefined;
      const registries = opts.registries ?? new Registries();
      try {
        const img = await imageSource(await openImage(src, registries), opts.platform);
        return own ? { ...img, close: () => registries.close() } : img;
      } catch (e) {
        if (own) registries.close();
        throw e;
      }
    }
  }
}

async function imageSource(handle: ImageHandle, platform: string | undefined): Promise<InspectSource> {
  const img = await resolveImage(handle, platform);
  const descs = img.manifest.layers;
  const diffIds = img.config.rootfs?.diff_ids ?? [];
  const layers = descs.map((d, i): InspectLayer => {
    const openBlob = async (): Promise<AsyncIterable<Uint8Array>> =>
      (await handle.blobs.open(d)) as unknown as AsyncIterable<Uint8Array>;
    return {
      title: `layer ${i + 1}/${descs.length} ${d.digest}`,
      base: i === 0,
      descriptor: d,
      ...(diffIds[i] === undefined ? {} : { diffId: diffIds[i] }),
      openBlob,
      open: () => lazyEntries(openBlob),
    };
  });
  return { name: handle.name, kind: 'image', layers, config: img.config };
}

/** Entries of a blob opened on first use (so listing a layer touches no other layer). */
function lazyEntries(openBlob: () => Promise<AsyncIterable<Uint8Array>>): AsyncIterable<LayerEntry> {
  return {
    async *[Symbol.asyncIterator]() {
      yield* readTar(await openBlob());
    },
  };
}
