/**
 * Manifests and indexes in a registry: GET (verified against the digest asked for, else `Docker-Content-Digest`),
 * HEAD, PUT (the digest the registry reports is checked). Each call is one `retry` of one request.
 */
import { WinlayerError } from '../../errors.js';
import { type Digest, sha256Digest, splitDigest, verifyBytes } from '../digest.js';
import { MEDIA } from '../media-types.js';
import { formatTarget } from '../reference.js';
import type { Descriptor } from '../spec.js';
import { object, parseDocument } from '../validate.js';
import { type RegistryCalls, repoScope } from './request.js';
import { retry } from './retry.js';
import { drain, header } from './transport.js';

const ACCEPT_MANIFESTS = [MEDIA.ociIndex, MEDIA.ociManifest, MEDIA.dockerManifestList, MEDIA.dockerManifest].join(', ');
const MAX_MANIFEST = 8 * 1024 * 1024;

/**
 * Fetches a manifest or index by tag or digest. The bytes are verified: against the digest when `reference` is one,
 * else against `Docker-Content-Digest` when the registry sends it. Returns its descriptor (sha256 of the bytes).
 */
export async function getManifest(
  c: RegistryCalls,
  repository: string,
  reference: string,
): Promise<{ bytes: Buffer; descriptor: Descriptor }> {
  const what = formatTarget(c.registry, repository, reference);
  const { bytes, headers } = await retry(c.policy, async () => {
    const res = await c.send({
      method: 'GET',
      url: `/v2/${repository}/manifests/${reference}`,
      scopes: [repoScope(repository, 'pull')],
      headers: { Accept: ACCEPT_MANIFESTS },
      ok: [200],
    });
    return { bytes: await c.readBody(res, MAX_MANIFEST, `manifest ${what}`), headers: res.headers };
  });
  const mediaType = (header(headers, 'content-type') ?? '').split(';')[0]!.trim();
  if (reference.includes(':')) {
    verifyBytes(bytes, { digest: reference, size: bytes.length }, what);
  }
  const dcd = header(headers, 'docker-content-digest');
  if (dcd !== undefined && splitDigest(dcd)[0] === 'sha256')
    verifyBytes(bytes, { digest: dcd, size: bytes.length }, what);
  const inner = parseDocument<{ mediaType?: unknown }>(bytes, object({}), what).mediaType;
  const mt = typeof inner === 'string' ? inner : mediaType;
  const digest = reference.includes(':') ? reference : sha256Digest(bytes);
  return { bytes, descriptor: { mediaType: mt, digest, size: bytes.length } };
}

/** True when the registry has a manifest with this digest in `repository`. */
export function hasManifest(c: RegistryCalls, repository: string, digest: Digest): Promise<boolean> {
  return retry(c.policy, async () => {
    const res = await c.send({
      method: 'HEAD',
      url: `/v2/${repository}/manifests/${digest}`,
      scopes: [repoScope(repository, 'pull')],
      headers: { Accept: ACCEPT_MANIFESTS },
      ok: [200, 404],
    });
    await drain(res);
    return res.status === 200;
  });
}

/** Stores a manifest or index under a tag or its digest. Returns the digest the registry reports (checked). */
export async function putManifest(
  c: RegistryCalls,
  repository: string,
  reference: string,
  bytes: Uint8Array,
  mediaType: string,
): Promise<Digest> {
  const digest = sha256Digest(bytes);
  const res = await retry(c.policy, async () => {
    const r = await c.send({
      method: 'PUT',
      url: `/v2/${repository}/manifests/${reference}`,
      scopes: [repoScope(repository, 'pull,push')],
      headers: { 'Content-Type': mediaType },
      body: bytes,
      ok: [201],
    });
    await drain(r);
    return r;
  });
  const got = header(res.headers, 'docker-content-digest');
  if (got !== undefined && got !== digest) {
    throw new WinlayerError(
      'OCI_DIGEST',
      `${c.registry}/${repository}: registry stored the manifest as ${got}, we sent ${digest}`,
    );
  }
  return digest;
}
