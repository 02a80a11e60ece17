/**
 * Small images written from their JSON documents, for tests that damage one document and read the image back: an OCI
 * layout (index.json → manifest → config, each parent holding its child's digest) and a docker archive (manifest.json,
 * config, one layer). A damaged document is written as given; its parents get its new digest and size, so the readers
 * reach the damage instead of stopping at a digest mismatch.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { END_OF_ARCHIVE, padding, ustarHeader } from '../../src/oci/archive-tar.js';
import { sha256Digest } from '../../src/oci/digest.js';

/** The documents of a one-image layout; any of them may be damaged (any JSON value, or raw text). */
export interface ImageDocs {
  index: unknown;
  manifest: unknown;
  config: unknown;
}

const LAYER = Buffer.concat([ustarHeader('Files/', 0, 'dir', 0), END_OF_ARCHIVE]);
const LAYER_GZ = gzipSync(LAYER);

/** Valid documents of a tiny Windows image (one empty layer). */
export function validDocs(): ImageDocs {
  const config = {
    architecture: 'amd64',
    os: 'windows',
    'os.version': '10.0.20348.1',
    config: { Env: ['A=1'], Cmd: ['cmd.exe'], Labels: { a: 'b' } },
    rootfs: { type: 'layers', diff_ids: [sha256Digest(LAYER)] },
    history: [{ created: '1970-01-01T00:00:00Z', created_by: 'test' }],
  };
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: '', size: 0 },
    layers: [
      {
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        digest: sha256Digest(LAYER_GZ),
        size: LAYER_GZ.length,
      },
    ],
    annotations: { x: 'y' },
  };
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: '',
        size: 0,
        platform: { architecture: 'amd64', os: 'windows' },
        annotations: { 'org.opencontainers.image.ref.name': 'v1' },
      },
    ],
  };
  return { index, manifest, config };
}

function bytesOf(doc: unknown): Buffer {
  return Buffer.from(typeof doc === 'string' ? doc : JSON.stringify(doc));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Points `parent[key]` (or `parent[key][0]`) at `bytes`, when that is still an object to point with. */
function link(parent: unknown, key: string, bytes: Buffer): void {
  if (!isObject(parent)) return;
  let d = parent[key];
  if (Array.isArray(d)) d = d[0];
  if (!isObject(d)) return;
  d.digest = sha256Digest(bytes);
  d.size = bytes.length;
}

/**
 * Writes `docs` as an OCI layout in `dir` (created). A document given as a string is written as that text. The
 * parents are linked to their children unless `keepLinks` (then the digests in `docs` are written as they are).
 */
export function writeLayoutDocs(dir: string, docs: ImageDocs, keepLinks = false): void {
  mkdirSync(join(dir, 'blobs/sha256'), { recursive: true });
  const put = (b: Buffer): void => writeFileSync(join(dir, 'blobs/sha256', sha256Digest(b).slice(7)), b);
  put(LAYER_GZ);
  const config = bytesOf(docs.config);
  put(config);
  if (!keepLinks) link(docs.manifest, 'config', config);
  const manifest = bytesOf(docs.manifest);
  put(manifest);
  if (!keepLinks) link(docs.index, 'manifests', manifest);
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(join(dir, 'index.json'), bytesOf(docs.index));
}

/** The documents of a one-image docker archive (`manifest.json` as `docker save` writes it, and the config). */
export interface ArchiveDocs {
  manifestJson: unknown;
  config: unknown;
}

export function validArchiveDocs(): ArchiveDocs {
  return {
    manifestJson: [{ Config: 'config.json', RepoTags: ['app:1'], Layers: ['layer.tar'] }],
    config: validDocs().config,
  };
}

/** Writes `docs` as a docker archive at `path` (members: manifest.json, config.json, layer.tar). */
export function writeArchiveDocs(path: string, docs: ArchiveDocs): void {
  const member = (name: string, body: Buffer): Buffer =>
    Buffer.concat([ustarHeader(name, body.length, 'file', 0), body, padding(body.length)]);
  writeFileSync(
    path,
    Buffer.concat([
      member('manifest.json', bytesOf(docs.manifestJson)),
      member('config.json', bytesOf(docs.config)),
      member('layer.tar', LAYER),
      END_OF_ARCHIVE,
    ]),
  );
}
