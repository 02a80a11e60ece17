/**
 * Our own registry client (distribution-spec v1.1 over node:http/https): blob HEAD, cross-repository mount,
 * monolithic and chunked uploads (PATCH with Content-Range, honouring `OCI-Chunk-Min-Length`, resuming from the
 * registry's `Range` after a broken chunk, else restarting the session), manifest GET/PUT, blob GET with digest
 * verification. Auth: anonymous, Basic, and the Bearer token flow from `WWW-Authenticate`. TLS uses the system roots
 * plus `caFiles`. `insecure` allows plain HTTP (and unverified TLS) to the one registry this client names, never to
 * another host (token realms and redirects included). Retries with exponential backoff on 5xx, 429 and broken
 * connections, bounded by `maxAttempts`.
 */
import { readFileSync } from 'node:fs';
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { PassThrough, type Readable, Transform } from 'node:stream';
import { rootCertificates } from 'node:tls';
import { WinlayerError } from '../../errors.js';
import { type Digest, sha256Digest, splitDigest, verifyBytes, verifyStream } from '../digest.js';
import { MEDIA } from '../media-types.js';
import { formatTarget } from '../reference.js';
import type { Descriptor } from '../spec.js';
import { object, parseDocument } from '../validate.js';
import { type Challenge, parseWwwAuthenticate } from './auth.js';
import type { CredentialSource, Credentials } from './credentials.js';

/** Progress of one blob transfer (upload or download), for a terminal progress bar. */
export interface TransferProgress {
  readonly digest: Digest;
  readonly phase: 'upload' | 'download' | 'exists' | 'mounted';
  readonly done: number;
  readonly total: number;
}

/** Options of `RegistryClient`. */
export interface RegistryClientOptions {
  /** The registry this client talks to (`localhost:5000`, `docker.io`). */
  readonly registry: string;
  /** Allow plain HTTP and unverified TLS to this registry only. */
  readonly insecure?: boolean;
  /** PEM files of extra certificate authorities, trusted beside the system roots. */
  readonly caFiles?: readonly string[];
  /** Where credentials come from; anonymous when absent or when it returns undefined. */
  readonly credentials?: CredentialSource;
  /** Tries per request (and per upload session) before giving up. Default 5. */
  readonly maxAttempts?: number;
  /** First backoff delay in ms, doubled per retry (capped at 8 s). Default 200. */
  readonly backoffMs?: number;
  /** Blobs up to this size go up in one PUT; larger ones in PATCH chunks. Default 64 MiB. */
  readonly monolithicMax?: number;
  /** PATCH chunk size (raised to the registry's `OCI-Chunk-Min-Length`). Default 32 MiB. */
  readonly chunkSize?: number;
  /** Socket idle timeout in ms. Default 120 s. */
  readonly timeoutMs?: number;
  readonly onProgress?: (p: TransferProgress) => void;
  readonly userAgent?: string;
}

/** A request body: bytes in memory, or a stream factory the client may call again to retry. */
export type Body = Uint8Array | { readonly length: number; open(): Readable };

/** A blob to upload: its size and a way to read any byte range of it again (for retries and resumes). */
export interface BlobSource {
  readonly size: number;
  /** Opens bytes [start, end) of the blob. */
  open(start: number, end: number): Readable;
}

interface Request {
  readonly method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly url: string | URL;
  readonly headers?: Record<string, string>;
  readonly body?: Body;
  /** Token scopes this request needs (`repository:app:pull,push`). */
  readonly scopes: readonly string[];
  /** Statuses that are a success for this request. */
  readonly ok: readonly number[];
  /** Retry on 5xx/429/broken connections (false for steps whose retry the caller handles). Default true. */
  readonly retry?: boolean;
}

interface Response {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly url: URL;
  readonly body: IncomingMessage;
}

/** A broken connection or an unusable answer: worth another try. */
class TransientError extends Error {}

const ACCEPT_MANIFESTS = [MEDIA.ociIndex, MEDIA.ociManifest, MEDIA.dockerManifestList, MEDIA.dockerManifest].join(', ');
const MAX_REDIRECTS = 5;
const MAX_ERROR_BODY = 64 * 1024;
const MAX_MANIFEST = 8 * 1024 * 1024;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function readAll(body: Readable, limit: number, what: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of body as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > limit) {
      body.destroy();
      throw new WinlayerError('REGISTRY', `${what} is larger than ${limit} bytes`);
    }
    parts.push(c);
  }
  return Buffer.concat(parts);
}

function drain(res: Response): Promise<void> {
  return new Promise((resolve) => {
    res.body.on('end', resolve);
    res.body.on('error', () => resolve());
    res.body.on('close', resolve);
    res.body.resume();
  });
}

function header(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * True for the OpenSSL errors of a TLS client whose server answered in plain HTTP: the first bytes of "HTTP/1.1 400"
 * read as a TLS record give "wrong version number" (OpenSSL 1.1 and 3) or "packet length too long".
 */
function answeredInPlainHttp(e: NodeJS.ErrnoException): boolean {
  return /wrong version number|packet length too long|ERR_SSL_WRONG_VERSION_NUMBER/i.test(
    `${e.code ?? ''} ${e.message}`,
  );
}

/** `repository:NAME:ACTIONS`. */
export function repoScope(repository: string, actions: 'pull' | 'pull,push'): string {
  return `repository:${repository}:${actions}`;
}

/** A client for one registry. Cheap to create; keeps connections, the auth challenge and tokens per scope. */
export class RegistryClient {
  readonly registry: string;
  readonly #opts: RegistryClientOptions;
  readonly #host: string;
  readonly #agents: { https: https.Agent; httpsInsecure: https.Agent; http: http.Agent };
  #baseP: Promise<string> | undefined;
  #pingP: Promise<void> | undefined;
  #challenge: Challenge | undefined;
  #credentials: Credentials | undefined | null = null;
  readonly #tokens = new Map<string, { token: string; expires: number }>();

  constructor(opts: RegistryClientOptions) {
    this.#opts = opts;
    this.registry = opts.registry;
    this.#host = opts.registry === 'docker.io' ? 'registry-1.docker.io' : opts.registry;
    const extra = (opts.caFiles ?? []).map((f) => {
      try {
        return readFileSync(f, 'utf8');
      } catch (e) {
        throw new WinlayerError('NOT_FOUND', `cannot read the CA file: ${(e as Error).message}`, { path: f });
      }
    });
    const ca = extra.length > 0 ? [...rootCertificates, ...extra] : undefined;
    this.#agents = {
      https: new https.Agent({ keepAlive: true, maxSockets: 8, ...(ca === undefined ? {} : { ca }) }),
      httpsInsecure: new https.Agent({ keepAlive: true, maxSockets: 8, rejectUnauthorized: false }),
      http: new http.Agent({ keepAlive: true, maxSockets: 8 }),
    };
  }

  /** Closes idle connections. */
  close(): void {
    this.#agents.https.destroy();
    this.#agents.httpsInsecure.destroy();
    this.#agents.http.destroy();
  }

  get #attempts(): number {
    return Math.max(1, this.#opts.maxAttempts ?? 5);
  }

  #backoff(attempt: number, retryAfter?: string): Promise<void> {
    const base = this.#opts.backoffMs ?? 200;
    let ms = Math.min(8000, base * 2 ** (attempt - 1));
    const ra = retryAfter === undefined ? Number.NaN : Number(retryAfter);
    if (Number.isFinite(ra) && ra >= 0) ms = Math.min(30_000, Math.max(ms, ra * 1000));
    return sleep(ms);
  }

  /** Is this URL the registry this client names (the one host `insecure` applies to)? */
  #isOwnHost(url: URL): boolean {
    return url.host === this.#host || url.host === this.#host.replace(/:443$/, '');
  }

  #base(): Promise<string> {
    this.#baseP ??= this.#detectScheme();
    return this.#baseP;
  }

  async #detectScheme(): Promise<string> {
    let scheme = 'https';
    if (this.#opts.insecure === true) {
      try {
        const res = await this.#raw('GET', new URL(`https://${this.#host}/v2/`), {}, undefined);
        await drain(res);
      } catch {
        scheme = 'http';
      }
    }
    return `${scheme}://${this.#host}`;
  }

  async #url(pathOrUrl: string | URL): Promise<URL> {
    if (pathOrUrl instanceof URL) return pathOrUrl;
    return new URL(pathOrUrl, await this.#base());
  }

  /** One HTTP exchange, no retries, no auth. Rejects with TransientError on a broken connection. */
  #raw(method: string, url: URL, headers: Record<string, string>, body: Body | undefined): Promise<Response> {
    const own = this.#isOwnHost(url);
    if (url.protocol === 'http:' && !(own && this.#opts.insecure === true)) {
      throw new WinlayerError('REGISTRY', `refusing plain HTTP to ${url.host}`, {
        hint: own
          ? 'pass --insecure to allow plain HTTP to this registry'
          : 'only the registry named by the command may use plain HTTP',
      });
    }
    const agent =
      url.protocol === 'http:'
        ? this.#agents.http
        : own && this.#opts.insecure === true
          ? this.#agents.httpsInsecure
          : this.#agents.https;
    const lib = url.protocol === 'http:' ? http : https;
    const h: Record<string, string> = { 'User-Agent': this.#opts.userAgent ?? 'winlayer', ...headers };
    if (body !== undefined) h['Content-Length'] = String(body.length);
    return new Promise<Response>((resolve, reject) => {
      let settled = false;
      let sourceError: Error | undefined;
      const req = lib.request(url, { method, headers: h, agent }, (res) => {
        settled = true;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, url, body: res });
      });
      req.setTimeout(this.#opts.timeoutMs ?? 120_000, () => req.destroy(new Error('timed out')));
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (settled) return;
        settled = true;
        if (sourceError !== undefined) reject(sourceError);
        else if (e instanceof WinlayerError) reject(e);
        else if (url.protocol === 'https:' && answeredInPlainHttp(e)) reject(this.#plainHttpError(url));
        else reject(new TransientError(`${method} ${url.host}${url.pathname}: ${e.code ?? ''} ${e.message}`.trim()));
      });
      if (body === undefined) {
        req.end();
      } else if (body instanceof Uint8Array) {
        req.end(body);
      } else {
        const src = body.open();
        src.on('error', (e) => {
          sourceError = e;
          req.destroy(e);
        });
        src.pipe(req);
      }
    });
  }

  /** A TLS handshake that got an HTTP answer: the server speaks plain HTTP. Not retried: it will not change. */
  #plainHttpError(url: URL): WinlayerError {
    const own = this.#isOwnHost(url);
    return new WinlayerError('REGISTRY', `the registry at ${url.host} answers in plain HTTP, not HTTPS`, {
      hint: own
        ? 'pass --insecure to allow plain HTTP to this registry (only on a network you trust)'
        : 'only the registry named by the command may use plain HTTP',
    });
  }

  async #authorization(url: URL, scopes: readonly string[], force: boolean): Promise<string | undefined> {
    if (!this.#isOwnHost(url) || this.#challenge === undefined) return undefined;
    const creds = await this.#creds();
    if (this.#challenge.scheme === 'basic') {
      if (creds?.username === undefined) return undefined;
      return `Basic ${Buffer.from(`${creds.username}:${creds.password ?? ''}`).toString('base64')}`;
    }
    if (this.#challenge.scheme === 'bearer') {
      const wanted = [...new Set([...scopes, ...(this.#challenge.params.scope?.split(' ') ?? [])])].sort();
      const key = wanted.join(' ');
      const cached = this.#tokens.get(key);
      if (!force && cached !== undefined && cached.expires > Date.now()) return `Bearer ${cached.token}`;
      const token = await this.#fetchToken(this.#challenge, wanted, creds);
      this.#tokens.set(key, token);
      return `Bearer ${token.token}`;
    }
    return undefined;
  }

  async #creds(): Promise<Credentials | undefined> {
    if (this.#credentials === null) this.#credentials = (await this.#opts.credentials?.(this.registry)) ?? undefined;
    return this.#credentials;
  }

  async #fetchToken(
    ch: Challenge,
    scopes: readonly string[],
    creds: Credentials | undefined,
  ): Promise<{ token: string; expires: number }> {
    const realm = ch.params.realm;
    if (realm === undefined)
      throw new WinlayerError('REGISTRY_AUTH', `${this.registry} sent a Bearer challenge without a realm`);
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new WinlayerError('REGISTRY_AUTH', `${this.registry} sent a token realm that is not a URL: ${realm}`);
    }
    const headers: Record<string, string> = { Accept: 'application/json' };
    let body: Uint8Array | undefined;
    let method: 'GET' | 'POST' = 'GET';
    if (creds?.identityToken !== undefined) {
      method = 'POST';
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: creds.identityToken,
        client_id: 'winlayer',
      });
      if (ch.params.service !== undefined) form.set('service', ch.params.service);
      if (scopes.length > 0) form.set('scope', scopes.join(' '));
      body = Buffer.from(form.toString());
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
    } else {
      if (ch.params.service !== undefined) url.searchParams.set('service', ch.params.service);
      for (const s of scopes) url.searchParams.append('scope', s);
      if (creds?.username !== undefined) {
        headers.Authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password ?? ''}`).toString('base64')}`;
      }
    }
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      try {
        res = await this.#raw(method, url, headers, body);
      } catch (e) {
        if (e instanceof TransientError && attempt < this.#attempts) {
          await this.#backoff(attempt);
          continue;
        }
        throw this.#wrap(e, 'token request');
      }
      if ((res.status >= 500 || res.status === 429) && attempt < this.#attempts) {
        await drain(res);
        await this.#backoff(attempt, header(res.headers, 'retry-after'));
        continue;
      }
      const text = (await readAll(res.body, MAX_ERROR_BODY, 'token response')).toString('utf8');
      if (res.status === 401 || res.status === 403) {
        throw new WinlayerError(
          'REGISTRY_AUTH',
          `${url.host} refused the credentials for ${this.registry} (${res.status})`,
          {
            hint: creds === undefined ? `run: winlayer login ${this.registry}` : 'check the user name and password',
          },
        );
      }
      if (res.status !== 200) {
        throw new WinlayerError(
          'REGISTRY_AUTH',
          `token request to ${url.host} failed: ${res.status} ${text.slice(0, 200)}`,
        );
      }
      let v: { token?: unknown; access_token?: unknown; expires_in?: unknown } | null;
      try {
        v = JSON.parse(text) as typeof v;
      } catch {
        throw new WinlayerError('REGISTRY_AUTH', `token response from ${url.host} is not JSON`);
      }
      if (typeof v !== 'object' || v === null) {
        throw new WinlayerError('REGISTRY_AUTH', `token response from ${url.host} is not a JSON object`);
      }
      const token = v.token ?? v.access_token;
      if (typeof token !== 'string' || token === '') {
        throw new WinlayerError('REGISTRY_AUTH', `token response from ${url.host} holds no token`);
      }
      const life = typeof v.expires_in === 'number' && v.expires_in > 0 ? v.expires_in : 60;
      return { token, expires: Date.now() + Math.max(1, life - 10) * 1000 };
    }
  }

  #wrap(e: unknown, what: string): Error {
    if (e instanceof WinlayerError) return e;
    return new WinlayerError('REGISTRY', `${this.registry}: ${what}: ${(e as Error).message}`, {
      hint: 'the connection kept failing; check the registry address and the network',
      cause: e,
    });
  }

  /** Learns the registry's auth scheme from `GET /v2/` (once). */
  #ping(): Promise<void> {
    this.#pingP ??= this.#doPing().catch((e: unknown) => {
      this.#pingP = undefined;
      throw e;
    });
    return this.#pingP;
  }

  async #doPing(): Promise<void> {
    const url = await this.#url('/v2/');
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      try {
        res = await this.#raw('GET', url, {}, undefined);
      } catch (e) {
        if (e instanceof TransientError && attempt < this.#attempts) {
          await this.#backoff(attempt);
          continue;
        }
        throw this.#wrap(e, 'GET /v2/');
      }
      await drain(res);
      if ((res.status >= 500 || res.status === 429) && attempt < this.#attempts) {
        await this.#backoff(attempt, header(res.headers, 'retry-after'));
        continue;
      }
      if (res.status === 401) this.#learnChallenge(res.headers);
      else if (res.status !== 200) {
        throw new WinlayerError('REGISTRY', `${this.registry} does not answer GET /v2/ as a registry (${res.status})`);
      }
      return;
    }
  }

  #learnChallenge(h: IncomingHttpHeaders): void {
    const v = h['www-authenticate'];
    const all = (Array.isArray(v) ? v : v === undefined ? [] : [v]).flatMap(parseWwwAuthenticate);
    const pick = all.find((c) => c.scheme === 'bearer') ?? all.find((c) => c.scheme === 'basic');
    if (pick === undefined) {
      throw new WinlayerError(
        'REGISTRY_AUTH',
        `${this.registry} asks for authentication with no scheme winlayer knows`,
      );
    }
    this.#challenge = pick;
  }

  /**
   * Sends a request with auth, redirects and bounded retries. Returns the response with an unread body on one of
   * `req.ok`; throws `REGISTRY` / `REGISTRY_AUTH` otherwise.
   */
  async #send(req: Request): Promise<Response> {
    await this.#ping();
    let url = await this.#url(req.url);
    let redirects = 0;
    let reauthed = false;
    for (let attempt = 1; ; ) {
      const headers: Record<string, string> = { ...(req.headers ?? {}) };
      const auth = await this.#authorization(url, req.scopes, false);
      if (auth !== undefined) headers.Authorization = auth;
      let res: Response;
      try {
        res = await this.#raw(req.method, url, headers, req.body);
      } catch (e) {
        if (e instanceof TransientError && req.retry === false) throw e;
        if (e instanceof TransientError && attempt < this.#attempts) {
          await this.#backoff(attempt++);
          continue;
        }
        throw this.#wrap(e, `${req.method} ${url.pathname}`);
      }
      const s = res.status;
      if (s === 401 && this.#isOwnHost(url) && !reauthed) {
        await drain(res);
        reauthed = true;
        this.#learnChallenge(res.headers);
        await this.#authorization(url, req.scopes, true);
        continue;
      }
      if (
        [301, 302, 303, 307, 308].includes(s) &&
        (req.method === 'GET' || req.method === 'HEAD') &&
        !req.ok.includes(s)
      ) {
        await drain(res);
        const loc = header(res.headers, 'location');
        if (loc === undefined || ++redirects > MAX_REDIRECTS) {
          throw new WinlayerError('REGISTRY', `${this.registry}: too many or empty redirects for ${url.pathname}`);
        }
        url = new URL(loc, url);
        continue;
      }
      if (req.ok.includes(s)) return res;
      if ((s >= 500 || s === 429) && req.retry !== false && attempt < this.#attempts) {
        await drain(res);
        await this.#backoff(attempt++, header(res.headers, 'retry-after'));
        continue;
      }
      throw await this.#statusError(req, url, res);
    }
  }

  async #statusError(req: Request, url: URL, res: Response): Promise<WinlayerError> {
    let detail = '';
    if (req.method !== 'HEAD') {
      try {
        const text = (await readAll(res.body, MAX_ERROR_BODY, 'error body')).toString('utf8');
        const v = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
        detail = (v.errors ?? []).map((e) => `${e.code ?? ''}: ${e.message ?? ''}`).join('; ');
      } catch {
        /* a non-JSON error body: the status says enough */
      }
    } else {
      await drain(res);
    }
    const what = `${req.method} ${url.pathname} → ${res.status}${detail === '' ? '' : ` (${detail})`}`;
    if (res.status === 401 || res.status === 403) {
      return new WinlayerError('REGISTRY_AUTH', `${this.registry} denied ${what}`, {
        hint:
          (await this.#creds()) === undefined ? `run: winlayer login ${this.registry}` : 'the account may lack access',
      });
    }
    return new WinlayerError('REGISTRY', `${this.registry}: ${what}`);
  }

  /**
   * Checks that the credentials work: Basic is tried on `GET /v2/`, a Bearer realm must issue a token. Resolves when
   * the registry accepts them (or needs none); throws `REGISTRY_AUTH` when it refuses.
   */
  async checkLogin(): Promise<void> {
    await this.#ping();
    const ch = this.#challenge;
    if (ch === undefined) return;
    const creds = await this.#creds();
    if (ch.scheme === 'bearer') {
      await this.#fetchToken(ch, [], creds);
      return;
    }
    const url = await this.#url('/v2/');
    const auth = await this.#authorization(url, [], false);
    const res = await this.#raw('GET', url, auth === undefined ? {} : { Authorization: auth }, undefined).catch(
      (e: unknown) => {
        throw this.#wrap(e, 'GET /v2/');
      },
    );
    await drain(res);
    if (res.status === 401 || res.status === 403) {
      throw new WinlayerError('REGISTRY_AUTH', `${this.registry} refused the credentials (${res.status})`, {
        hint: 'check the user name and password',
      });
    }
    if (res.status !== 200) throw new WinlayerError('REGISTRY', `${this.registry}: GET /v2/ → ${res.status}`);
  }

  // ── blobs ──────────────────────────────────────────────────────────────────────────────────────────────────────

  /** The size the registry reports for a blob, or `undefined` when it does not have it. */
  async blobSize(repository: string, digest: Digest): Promise<number | undefined> {
    const res = await this.#send({
      method: 'HEAD',
      url: `/v2/${repository}/blobs/${digest}`,
      scopes: [repoScope(repository, 'pull')],
      ok: [200, 404],
    });
    await drain(res);
    if (res.status === 404) return undefined;
    const len = Number(header(res.headers, 'content-length'));
    return Number.isFinite(len) ? len : -1;
  }

  /**
   * Opens a blob as a stream that fails with `OCI_DIGEST` unless the bytes match `desc` (size and digest). Consumers
   * must only commit what they wrote after the stream ended cleanly.
   */
  async openBlob(repository: string, desc: Pick<Descriptor, 'digest' | 'size'>): Promise<Readable> {
    const res = await this.#send({
      method: 'GET',
      url: `/v2/${repository}/blobs/${desc.digest}`,
      scopes: [repoScope(repository, 'pull')],
      ok: [200],
    });
    const verify = verifyStream(desc, `${this.registry}/${repository}@${desc.digest}`);
    const progress = this.#counter(desc.digest, 'download', desc.size);
    res.body.on('error', (e) =>
      verify.destroy(new WinlayerError('REGISTRY', `download of ${desc.digest} broke: ${e.message}`)),
    );
    res.body.on('aborted', () => verify.destroy(new WinlayerError('REGISTRY', `download of ${desc.digest} broke`)));
    return res.body.pipe(progress).pipe(verify);
  }

  #counter(digest: Digest, phase: 'upload' | 'download', total: number, start = 0): Transform {
    let done = start;
    const on = this.#opts.onProgress;
    let last = 0;
    return new Transform({
      transform(chunk: Buffer, _e, cb) {
        done += chunk.length;
        const now = Date.now();
        if (on !== undefined && (now - last > 100 || done === total)) {
          last = now;
          on({ digest, phase, done, total });
        }
        cb(null, chunk);
      },
    });
  }

  /** Mounts a blob from another repository of this registry. True when the registry mounted it. */
  async mountBlob(repository: string, digest: Digest, from: string): Promise<boolean> {
    const q = new URLSearchParams({ mount: digest, from });
    const res = await this.#send({
      method: 'POST',
      url: `/v2/${repository}/blobs/uploads/?${q}`,
      scopes: [repoScope(repository, 'pull,push'), repoScope(from, 'pull')],
      ok: [201, 202],
      body: new Uint8Array(0),
    });
    await drain(res);
    if (res.status === 201) {
      this.#opts.onProgress?.({ digest, phase: 'mounted', done: 0, total: 0 });
      return true;
    }
    // 202: the registry opened an upload session instead; leave it to expire (cancelling is optional in the spec)
    const loc = header(res.headers, 'location');
    if (loc !== undefined) await this.#cancel(repository, new URL(loc, res.url));
    return false;
  }

  async #cancel(repository: string, location: URL): Promise<void> {
    try {
      const res = await this.#send({
        method: 'DELETE',
        url: location,
        scopes: [repoScope(repository, 'pull,push')],
        ok: [200, 202, 204, 404],
        retry: false,
      });
      await drain(res);
    } catch {
      /* best effort: an abandoned session expires on the registry */
    }
  }

  /**
   * Uploads a blob: monolithic PUT up to `monolithicMax`, else chunked PATCHes. Each session that breaks is resumed
   * from the registry's reported offset when it can say, else restarted; at most `maxAttempts` sessions. The registry
   * checks the digest on the closing PUT; nothing is committed under a wrong digest.
   */
  async uploadBlob(repository: string, desc: Pick<Descriptor, 'digest' | 'size'>, source: BlobSource): Promise<void> {
    if (source.size !== desc.size)
      throw new WinlayerError('INTERNAL', `blob source size ${source.size} ≠ ${desc.size}`);
    const scopes = [repoScope(repository, 'pull,push')];
    let lastError: unknown;
    for (let session = 1; session <= this.#attempts; session++) {
      try {
        const start = await this.#send({
          method: 'POST',
          url: `/v2/${repository}/blobs/uploads/`,
          scopes,
          ok: [202],
          body: new Uint8Array(0),
        });
        await drain(start);
        const loc = header(start.headers, 'location');
        if (loc === undefined) throw new WinlayerError('REGISTRY', `${this.registry}: upload session has no Location`);
        const minChunk = Number(header(start.headers, 'oci-chunk-min-length') ?? 0);
        const location = new URL(loc, start.url);
        if (desc.size <= (this.#opts.monolithicMax ?? 64 * 1024 * 1024)) {
          await this.#putMonolithic(repository, location, desc, source);
        } else {
          const chunk = Math.max(this.#opts.chunkSize ?? 32 * 1024 * 1024, Number.isFinite(minChunk) ? minChunk : 0, 1);
          await this.#putChunked(repository, location, desc, source, chunk);
        }
        return;
      } catch (e) {
        lastError = e;
        if (!(e instanceof TransientError) && !(e instanceof WinlayerError && e.code === 'REGISTRY' && isRetryable(e)))
          throw e;
        if (session < this.#attempts) await this.#backoff(session);
      }
    }
    throw this.#wrap(lastError, `upload of ${desc.digest} failed ${this.#attempts} times`);
  }

  async #putMonolithic(
    repository: string,
    location: URL,
    desc: Pick<Descriptor, 'digest' | 'size'>,
    source: BlobSource,
  ): Promise<void> {
    const url = new URL(location);
    url.searchParams.set('digest', desc.digest);
    const res = await this.#send({
      method: 'PUT',
      url,
      scopes: [repoScope(repository, 'pull,push')],
      headers: { 'Content-Type': 'application/octet-stream' },
      body: {
        length: desc.size,
        open: () => source.open(0, desc.size).pipe(this.#counter(desc.digest, 'upload', desc.size)),
      },
      ok: [201],
      retry: false,
    }).catch(asSessionError);
    await drain(res);
  }

  async #putChunked(
    repository: string,
    first: URL,
    desc: Pick<Descriptor, 'digest' | 'size'>,
    source: BlobSource,
    chunk: number,
  ): Promise<void> {
    const scopes = [repoScope(repository, 'pull,push')];
    let location = first;
    let offset = 0;
    let failures = 0;
    let resumed = false;
    while (offset < desc.size) {
      const end = Math.min(desc.size, offset + chunk);
      const from = offset;
      try {
        const res = await this.#send({
          method: 'PATCH',
          url: location,
          scopes,
          headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${from}-${end - 1}` },
          body: {
            length: end - from,
            open: () => source.open(from, end).pipe(this.#counter(desc.digest, 'upload', desc.size, from)),
          },
          ok: [202],
          retry: false,
        });
        await drain(res);
        location = new URL(header(res.headers, 'location') ?? location.href, res.url);
        const range = parseRange(header(res.headers, 'range'));
        offset = range === undefined ? end : range + 1;
        if (offset !== end) throw new TransientError(`registry holds ${offset} bytes after a chunk ending at ${end}`);
      } catch (e) {
        if (!(e instanceof TransientError) && !(e instanceof WinlayerError && isRetryable(e))) throw e;
        if (++failures >= this.#attempts) throw asSessionError(e);
        await this.#backoff(failures);
        // ask the registry where the session stands; if it cannot say, restart the whole session
        const status = await this.#send({ method: 'GET', url: location, scopes, ok: [204], retry: false }).catch(
          asSessionError,
        );
        await drain(status);
        location = new URL(header(status.headers, 'location') ?? location.href, status.url);
        // distribution answers `0-0` for an empty session as well as for one byte: take it as empty (a wrong guess
        // only costs a digest failure at the close, which restarts the session)
        const range = parseRange(header(status.headers, 'range'));
        offset = range === undefined || range === 0 ? 0 : range + 1;
        resumed = true;
        if (offset > desc.size) throw new TransientError('registry reports more bytes than the blob has');
      }
    }
    const url = new URL(location);
    url.searchParams.set('digest', desc.digest);
    const res = await this.#send({
      method: 'PUT',
      url,
      scopes,
      body: new Uint8Array(0),
      headers: { 'Content-Type': 'application/octet-stream' },
      ok: [201],
      retry: false,
    }).catch((e: unknown) => {
      // after a resume the registry may hold bytes we could not see; a digest failure means: start again
      if (resumed && e instanceof WinlayerError && /DIGEST_INVALID|→ 400/.test(e.message))
        throw new TransientError(e.message);
      return asSessionError(e);
    });
    await drain(res);
  }

  // ── manifests ──────────────────────────────────────────────────────────────────────────────────────────────────

  /**
   * Fetches a manifest or index by tag or digest. The bytes are verified: against the digest when `reference` is one,
   * else against `Docker-Content-Digest` when the registry sends it. Returns its descriptor (sha256 of the bytes).
   */
  async getManifest(repository: string, reference: string): Promise<{ bytes: Buffer; descriptor: Descriptor }> {
    const res = await this.#send({
      method: 'GET',
      url: `/v2/${repository}/manifests/${reference}`,
      scopes: [repoScope(repository, 'pull')],
      headers: { Accept: ACCEPT_MANIFESTS },
      ok: [200],
    });
    const what = formatTarget(this.registry, repository, reference);
    const bytes = await readAll(res.body, MAX_MANIFEST, `manifest ${what}`);
    const mediaType = (header(res.headers, 'content-type') ?? '').split(';')[0]!.trim();
    if (reference.includes(':')) {
      verifyBytes(bytes, { digest: reference, size: bytes.length }, what);
    }
    const dcd = header(res.headers, 'docker-content-digest');
    if (dcd !== undefined && splitDigest(dcd)[0] === 'sha256')
      verifyBytes(bytes, { digest: dcd, size: bytes.length }, what);
    const inner = parseDocument<{ mediaType?: unknown }>(bytes, object({}), what).mediaType;
    const mt = typeof inner === 'string' ? inner : mediaType;
    const digest = reference.includes(':') ? reference : sha256Digest(bytes);
    return { bytes, descriptor: { mediaType: mt, digest, size: bytes.length } };
  }

  /** True when the registry has a manifest with this digest in `repository`. */
  async hasManifest(repository: string, digest: Digest): Promise<boolean> {
    const res = await this.#send({
      method: 'HEAD',
      url: `/v2/${repository}/manifests/${digest}`,
      scopes: [repoScope(repository, 'pull')],
      headers: { Accept: ACCEPT_MANIFESTS },
      ok: [200, 404],
    });
    await drain(res);
    return res.status === 200;
  }

  /** Stores a manifest or index under a tag or its digest. Returns the digest the registry reports (checked). */
  async putManifest(repository: string, reference: string, bytes: Uint8Array, mediaType: string): Promise<Digest> {
    const digest = sha256Digest(bytes);
    const res = await this.#send({
      method: 'PUT',
      url: `/v2/${repository}/manifests/${reference}`,
      scopes: [repoScope(repository, 'pull,push')],
      headers: { 'Content-Type': mediaType },
      body: bytes,
      ok: [201],
    });
    await drain(res);
    const got = header(res.headers, 'docker-content-digest');
    if (got !== undefined && got !== digest) {
      throw new WinlayerError(
        'OCI_DIGEST',
        `${this.registry}/${repository}: registry stored the manifest as ${got}, we sent ${digest}`,
      );
    }
    return digest;
  }
}

function parseRange(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const m = /^(?:bytes=)?0-(\d+)$/.exec(v.trim());
  return m === null ? undefined : Number(m[1]);
}

function isRetryable(e: WinlayerError): boolean {
  return /→ (5\d\d|429|416|404)\b/.test(e.message);
}

function asSessionError(e: unknown): never {
  if (e instanceof TransientError) throw e;
  if (e instanceof WinlayerError && e.code === 'REGISTRY' && isRetryable(e)) throw new TransientError(e.message);
  throw e;
}

/** A readable that ends at once (for uploads of empty blobs). */
export function emptyReadable(): Readable {
  const p = new PassThrough();
  p.end();
  return p;
}
