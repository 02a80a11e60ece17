/**
 * Blobs in a registry: HEAD, GET (verified while streaming), cross-repository mount, and upload — one PUT up to
 * `monolithicMax`, else PATCH chunks with `Content-Range` (at least the registry's `OCI-Chunk-Min-Length`).
 *
 * An upload is one operation with one retry budget. Its attempts share the session: after a failure the next attempt
 * asks the registry where the session stands (`GET` its `Location`, the `Range` it holds; also after a 416, out of
 * step) and sends the rest; when the session is gone (404) or its bytes fail the digest check after a resume, the
 * next attempt opens a new session. Requests inside an attempt are sent once. The registry checks the digest on the
 * closing PUT: nothing is committed under a wrong digest.
 */
import { type Readable, Transform } from 'node:stream';
import { WinlayerError } from '../../errors.js';
import { type Digest, verifyStream } from '../digest.js';
import type { Descriptor } from '../spec.js';
import { RegistryError } from './registry-error.js';
import { type RegistryCalls, repoScope, type TransferProgress } from './request.js';
import { retry } from './retry.js';
import { drain, header } from './transport.js';

/** A blob to upload: its size and a way to read any byte range of it again (for retries and resumes). */
export interface BlobSource {
  readonly size: number;
  /** Opens bytes [start, end) of the blob. */
  open(start: number, end: number): Readable;
}

/** How uploads are cut. */
export interface UploadTuning {
  /** Blobs up to this size go up in one PUT; larger ones in PATCH chunks. */
  readonly monolithicMax: number;
  /** PATCH chunk size (raised to the registry's `OCI-Chunk-Min-Length`). */
  readonly chunkSize: number;
}

type BlobRef = Pick<Descriptor, 'digest' | 'size'>;

/** The size the registry reports for a blob, or `undefined` when it does not have it. */
export function blobSize(c: RegistryCalls, repository: string, digest: Digest): Promise<number | undefined> {
  return retry(c.policy, async () => {
    const res = await c.send({
      method: 'HEAD',
      url: `/v2/${repository}/blobs/${digest}`,
      scopes: [repoScope(repository, 'pull')],
      ok: [200, 404],
    });
    await drain(res);
    if (res.status === 404) return undefined;
    const len = Number(header(res.headers, 'content-length'));
    return Number.isFinite(len) ? len : -1;
  });
}

/**
 * Opens a blob as a stream that fails with `OCI_DIGEST` unless the bytes match `desc` (size and digest). The request
 * is retried until the registry answers; a body that breaks later fails the stream (the consumer decides).
 */
export async function openBlob(c: RegistryCalls, repository: string, desc: BlobRef): Promise<Readable> {
  const res = await retry(c.policy, () =>
    c.send({
      method: 'GET',
      url: `/v2/${repository}/blobs/${desc.digest}`,
      scopes: [repoScope(repository, 'pull')],
      ok: [200],
    }),
  );
  const verify = verifyStream(desc, `${c.registry}/${repository}@${desc.digest}`);
  const progress = counter(c, desc.digest, 'download', desc.size);
  res.body.on('error', (e) =>
    verify.destroy(new WinlayerError('REGISTRY', `download of ${desc.digest} broke: ${e.message}`)),
  );
  res.body.on('aborted', () => verify.destroy(new WinlayerError('REGISTRY', `download of ${desc.digest} broke`)));
  return res.body.pipe(progress).pipe(verify);
}

/** Counts bytes through it for `onProgress` (at most every 100 ms, and at the end). */
function counter(c: RegistryCalls, digest: Digest, phase: 'upload' | 'download', total: number, start = 0): Transform {
  let done = start;
  const on = c.onProgress;
  let last = 0;
  return new Transform({
    transform(chunk: Buffer, _e, cb) {
      done += chunk.length;
      const now = Date.now();
      if (on !== undefined && (now - last > 100 || done === total)) {
        last = now;
        on({ digest, phase, done, total } satisfies TransferProgress);
      }
      cb(null, chunk);
    },
  });
}

/** Mounts a blob from another repository of this registry. True when the registry mounted it. */
export async function mountBlob(c: RegistryCalls, repository: string, digest: Digest, from: string): Promise<boolean> {
  const q = new URLSearchParams({ mount: digest, from });
  const res = await retry(c.policy, async () => {
    const r = await c.send({
      method: 'POST',
      url: `/v2/${repository}/blobs/uploads/?${q}`,
      scopes: [repoScope(repository, 'pull,push'), repoScope(from, 'pull')],
      ok: [201, 202],
      body: new Uint8Array(0),
    });
    await drain(r);
    return r;
  });
  if (res.status === 201) {
    c.onProgress?.({ digest, phase: 'mounted', done: 0, total: 0 });
    return true;
  }
  // 202: the registry opened an upload session instead; cancel it (best effort: an abandoned session expires)
  const loc = header(res.headers, 'location');
  if (loc !== undefined) await cancel(c, repository, new URL(loc, res.url));
  return false;
}

async function cancel(c: RegistryCalls, repository: string, location: URL): Promise<void> {
  try {
    const res = await c.send({
      method: 'DELETE',
      url: location,
      scopes: [repoScope(repository, 'pull,push')],
      ok: [200, 202, 204, 404],
    });
    await drain(res);
  } catch {
    /* best effort: an abandoned session expires on the registry */
  }
}

/** An upload session: where to send the next bytes, and how many the registry holds. */
interface Session {
  location: URL;
  offset: number;
  /** True once bytes were sent after asking the registry where it stood (it may hold bytes we could not see). */
  resumed: boolean;
  readonly minChunk: number;
}

/**
 * Uploads a blob (see the module comment): the whole upload is one `retry`, each attempt continuing the session the
 * previous one left, or a new one.
 */
export async function uploadBlob(
  c: RegistryCalls,
  tuning: UploadTuning,
  repository: string,
  desc: BlobRef,
  source: BlobSource,
): Promise<void> {
  if (source.size !== desc.size) throw new WinlayerError('INTERNAL', `blob source size ${source.size} ≠ ${desc.size}`);
  const scopes = [repoScope(repository, 'pull,push')];
  let session: Session | undefined;
  // set when a try's closing PUT failed the digest check after a resume: the registry may hold bytes we could not
  // see, so that failure is worth a new session (without a resume it means our bytes are wrong: no retry)
  let restart = false;
  await retry({ ...c.policy, temporary: (e) => restart || uploadTemporary(e) }, async (attempt) => {
    restart = false;
    if (session !== undefined && attempt > 1) session = await whereIs(c, scopes, session, desc.size);
    session ??= await openSession(c, repository, scopes);
    const s = session;
    if (desc.size <= tuning.monolithicMax) {
      // a broken PUT leaves nothing to resume: the next try opens a new session
      session = undefined;
      await put(c, scopes, s.location, desc, {
        length: desc.size,
        open: () => source.open(0, desc.size).pipe(counter(c, desc.digest, 'upload', desc.size)),
      });
      return;
    }
    await sendChunks(c, scopes, s, desc, source, Math.max(tuning.chunkSize, s.minChunk, 1));
    try {
      await put(c, scopes, s.location, desc, new Uint8Array(0));
    } catch (e) {
      if (s.resumed && e instanceof RegistryError && (e.hasCode('DIGEST_INVALID') || e.status === 400)) {
        session = undefined;
        restart = true;
      }
      throw e;
    }
  });
}

/**
 * Worth another attempt of an upload: what is temporary for any request, and a session the registry lost (404) or
 * holds other bytes of than we think (416) — the next attempt asks it, or opens a new session.
 */
function uploadTemporary(e: unknown): boolean {
  if (!(e instanceof RegistryError)) return false;
  if (e.temporary()) return true;
  return (e.status === 404 || e.status === 416) && e.method !== 'POST';
}

async function openSession(c: RegistryCalls, repository: string, scopes: readonly string[]): Promise<Session> {
  const res = await c.send({
    method: 'POST',
    url: `/v2/${repository}/blobs/uploads/`,
    scopes,
    ok: [202],
    body: new Uint8Array(0),
  });
  await drain(res);
  const loc = header(res.headers, 'location');
  if (loc === undefined) throw new WinlayerError('REGISTRY', `${c.registry}: upload session has no Location`);
  const min = Number(header(res.headers, 'oci-chunk-min-length') ?? 0);
  return { location: new URL(loc, res.url), offset: 0, resumed: false, minChunk: Number.isFinite(min) ? min : 0 };
}

/** Asks the registry where a session stands; `undefined` when it no longer knows the session. */
async function whereIs(
  c: RegistryCalls,
  scopes: readonly string[],
  s: Session,
  size: number,
): Promise<Session | undefined> {
  let res: Awaited<ReturnType<RegistryCalls['send']>>;
  try {
    res = await c.send({ method: 'GET', url: s.location, scopes, ok: [204] });
  } catch (e) {
    if (e instanceof RegistryError && e.status === 404) return undefined;
    throw e;
  }
  await drain(res);
  // distribution answers `0-0` for an empty session as well as for one byte: take it as empty (a wrong guess only
  // costs a digest failure at the close, which starts a new session)
  const range = parseRange(header(res.headers, 'range'));
  const offset = range === undefined || range === 0 ? 0 : range + 1;
  if (offset > size) return undefined;
  return {
    location: new URL(header(res.headers, 'location') ?? s.location.href, res.url),
    offset,
    resumed: true,
    minChunk: s.minChunk,
  };
}

/** PATCHes the rest of the blob from `s.offset`, keeping `s` up to date after every chunk the registry took. */
async function sendChunks(
  c: RegistryCalls,
  scopes: readonly string[],
  s: Session,
  desc: BlobRef,
  source: BlobSource,
  chunk: number,
): Promise<void> {
  while (s.offset < desc.size) {
    const from = s.offset;
    const end = Math.min(desc.size, from + chunk);
    const res = await c.send({
      method: 'PATCH',
      url: s.location,
      scopes,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${from}-${end - 1}` },
      body: {
        length: end - from,
        open: () => source.open(from, end).pipe(counter(c, desc.digest, 'upload', desc.size, from)),
      },
      ok: [202],
    });
    await drain(res);
    s.location = new URL(header(res.headers, 'location') ?? s.location.href, res.url);
    const range = parseRange(header(res.headers, 'range'));
    s.offset = range === undefined ? end : range + 1;
    if (s.offset !== end) {
      throw new RegistryError(
        'REGISTRY',
        `${c.registry}: registry holds ${s.offset} bytes after a chunk ending at ${end}`,
        {
          status: res.status,
          method: 'PATCH',
          url: s.location.origin + s.location.pathname,
          temporary: true,
        },
      );
    }
  }
}

/** The closing (or monolithic) PUT of a session, with the digest the registry checks. */
async function put(
  c: RegistryCalls,
  scopes: readonly string[],
  location: URL,
  desc: BlobRef,
  body: Uint8Array | { length: number; open(): Readable },
): Promise<void> {
  const url = new URL(location);
  url.searchParams.set('digest', desc.digest);
  const res = await c.send({
    method: 'PUT',
    url,
    scopes,
    headers: { 'Content-Type': 'application/octet-stream' },
    body,
    ok: [201],
  });
  await drain(res);
}

/** The last byte offset of a `Range: 0-N` (or `bytes=0-N`) answer. */
function parseRange(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const m = /^(?:bytes=)?0-(\d+)$/.exec(v.trim());
  return m === null ? undefined : Number(m[1]);
}
