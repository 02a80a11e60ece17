/**
 * Our own registry client (distribution-spec v1.1 over node:http/https). The work is split by job:
 * - `transport.ts`: connections, one exchange, redirects, TLS and `insecure` (plain HTTP to the named registry only);
 * - `auth.ts`: the challenge from `GET /v2/`, credentials, Basic and the Bearer token flow;
 * - `blobs.ts`: HEAD, verified GET, mount, monolithic and chunked resumable upload;
 * - `manifests.ts`: GET (verified), HEAD, PUT;
 * - `registry-error.ts`: `RegistryError` (status, method, URL, the registry's error codes, `temporary()`);
 * - `retry.ts`: `retry(policy, fn)`, the one retry loop.
 * This class ties them together: it sends one authenticated request (`#send`) and owns the retry policy.
 *
 * Where retries live — one level, so they never multiply:
 * - every exchange (a request, the ping, a token fetch, a redirect hop) is made once; a failure that may pass is a
 *   `RegistryError` whose `temporary()` is true (no answer, 408, 429, 5xx, or only temporary error codes);
 * - every public operation (`blobSize`, `openBlob`, `mountBlob`, `getManifest`, `hasManifest`, `putManifest`,
 *   `checkLogin`) is one `retry(policy, …)` around its request, ping and token fetch included: `maxAttempts` tries
 *   in all;
 * - `uploadBlob` is one `retry` around the whole upload: `maxAttempts` tries per blob, each resuming the session
 *   the previous try left (see `blobs.ts`).
 * A 401 is not a retry: the request is sent once more with a fresh token after learning the new challenge.
 */
import type { Readable } from 'node:stream';
import type { Digest } from '../digest.js';
import type { Descriptor } from '../spec.js';
import { RegistryAuth, retryAfterOf } from './auth.js';
import type { BlobSource } from './blobs.js';
import * as blobs from './blobs.js';
import type { CredentialSource } from './credentials.js';
import * as manifests from './manifests.js';
import {
  formatDiagnostics,
  isTemporary,
  parseDiagnostics,
  type RegistryDiagnostic,
  RegistryError,
} from './registry-error.js';
import type { RegistryCalls, Request, TransferProgress } from './request.js';
import { type RetryPolicy, retry } from './retry.js';
import { drain, type Response, Transport } from './transport.js';

export { repoScope, type TransferProgress } from './request.js';
export type { Body } from './transport.js';
export type { BlobSource };

/** Options of `RegistryClient`. */
export interface RegistryClientOptions extends RegistryTuning {
  /** The registry this client talks to (`localhost:5000`, `docker.io`). */
  readonly registry: string;
  /** Allow plain HTTP and unverified TLS to this registry only. */
  readonly insecure?: boolean;
  /** PEM files of extra certificate authorities, trusted beside the system roots. */
  readonly caFiles?: readonly string[];
  /** Where credentials come from; anonymous when absent or when it returns undefined. */
  readonly credentials?: CredentialSource;
  readonly onProgress?: (p: TransferProgress) => void;
  readonly userAgent?: string;
}

/** How a registry client retries, uploads and waits (the defaults suit real registries; tests make them small). */
export interface RegistryTuning {
  /** Tries per operation (an upload of one blob is one operation) before giving up. Default 5. */
  readonly maxAttempts?: number;
  /**
   * First backoff delay in ms, doubled per retry, capped at 8 s (a longer `Retry-After` wins, up to 30 s). Default
   * 200.
   */
  readonly backoffMs?: number;
  /** Blobs up to this size go up in one PUT; larger ones in PATCH chunks. Default 64 MiB. */
  readonly monolithicMax?: number;
  /** PATCH chunk size (raised to the registry's `OCI-Chunk-Min-Length`). Default 32 MiB. */
  readonly chunkSize?: number;
  /** Socket idle timeout in ms. Default 120 s. */
  readonly timeoutMs?: number;
}

const MAX_ERROR_BODY = 64 * 1024;

/** A client for one registry. Cheap to create; keeps connections, the auth challenge and tokens per scope. */
export class RegistryClient {
  readonly registry: string;
  readonly #transport: Transport;
  readonly #auth: RegistryAuth;
  readonly #calls: RegistryCalls;
  readonly #upload: blobs.UploadTuning;

  constructor(opts: RegistryClientOptions) {
    this.registry = opts.registry;
    this.#transport = new Transport({
      registry: opts.registry,
      ...(opts.insecure === undefined ? {} : { insecure: opts.insecure }),
      ...(opts.caFiles === undefined ? {} : { caFiles: opts.caFiles }),
      ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
      ...(opts.userAgent === undefined ? {} : { userAgent: opts.userAgent }),
    });
    this.#auth = new RegistryAuth(this.#transport, opts.credentials);
    const policy: RetryPolicy = {
      attempts: Math.max(1, opts.maxAttempts ?? 5),
      backoffMs: opts.backoffMs ?? 200,
      maxBackoffMs: 8000,
      temporary: isTemporary,
      retryAfter: (e) => (e instanceof RegistryError ? e.retryAfter : undefined),
      maxRetryAfterMs: 30_000,
    };
    this.#calls = {
      registry: opts.registry,
      send: (req) => this.#send(req),
      readBody: (res, limit, what) => this.#transport.readBody(res, limit, what),
      policy,
      onProgress: opts.onProgress,
    };
    this.#upload = {
      monolithicMax: opts.monolithicMax ?? 64 * 1024 * 1024,
      chunkSize: opts.chunkSize ?? 32 * 1024 * 1024,
    };
  }

  /** Closes idle connections. */
  close(): void {
    this.#transport.close();
  }

  /**
   * Sends a request once, with auth (and redirects for GET and HEAD). Returns the response with an unread body on
   * one of `req.ok`; throws a `RegistryError` (`REGISTRY`, or `REGISTRY_AUTH` for 401/403) otherwise.
   */
  async #send(req: Request): Promise<Response> {
    await this.#auth.ping();
    const url = await this.#transport.url(req.url);
    for (let fresh = false; ; fresh = true) {
      const res = await this.#transport.request(req.method, url, {
        headersFor: async (u) => {
          const auth = await this.#auth.authorization(u, req.scopes, fresh);
          return auth === undefined ? { ...req.headers } : { ...req.headers, Authorization: auth };
        },
        body: req.body,
      });
      if (res.status === 401 && this.#transport.isOwnHost(res.url) && !fresh) {
        // the token lacks a scope or expired early: learn the new challenge and try once with a fresh token
        await drain(res);
        this.#auth.learn(res.headers);
        continue;
      }
      if (req.ok.includes(res.status)) return res;
      throw await this.#statusError(req, res);
    }
  }

  async #statusError(req: Request, res: Response): Promise<RegistryError> {
    let diagnostics: RegistryDiagnostic[] = [];
    if (req.method === 'HEAD') await drain(res);
    else {
      // an unreadable error body leaves the status to speak
      const body = await this.#transport.readBody(res, MAX_ERROR_BODY, 'error body').catch(() => Buffer.alloc(0));
      diagnostics = parseDiagnostics(body.toString('utf8'));
    }
    const detail = formatDiagnostics(diagnostics);
    const what = `${req.method} ${res.url.pathname} → ${res.status}${detail === '' ? '' : ` (${detail})`}`;
    const fields = {
      status: res.status,
      method: req.method,
      url: res.url.origin + res.url.pathname,
      diagnostics,
      ...retryAfterOf(res.headers),
    };
    if (res.status === 401 || res.status === 403) {
      return new RegistryError('REGISTRY_AUTH', `${this.registry} denied ${what}`, {
        ...fields,
        hint:
          (await this.#auth.credentials()) === undefined
            ? `run: winlayer login ${this.registry}`
            : 'the account may lack access',
      });
    }
    return new RegistryError('REGISTRY', `${this.registry}: ${what}`, fields);
  }

  /**
   * Checks that the credentials work: Basic is tried on `GET /v2/`, a Bearer realm must issue a token. Resolves when
   * the registry accepts them (or needs none); throws `REGISTRY_AUTH` when it refuses.
   */
  checkLogin(): Promise<void> {
    return retry(this.#calls.policy, () => this.#auth.checkLogin());
  }

  /** The size the registry reports for a blob, or `undefined` when it does not have it. */
  blobSize(repository: string, digest: Digest): Promise<number | undefined> {
    return blobs.blobSize(this.#calls, repository, digest);
  }

  /**
   * Opens a blob as a stream that fails with `OCI_DIGEST` unless the bytes match `desc` (size and digest). Consumers
   * must only commit what they wrote after the stream ended cleanly.
   */
  openBlob(repository: string, desc: Pick<Descriptor, 'digest' | 'size'>): Promise<Readable> {
    return blobs.openBlob(this.#calls, repository, desc);
  }

  /** Mounts a blob from another repository of this registry. True when the registry mounted it. */
  mountBlob(repository: string, digest: Digest, from: string): Promise<boolean> {
    return blobs.mountBlob(this.#calls, repository, digest, from);
  }

  /**
   * Uploads a blob: monolithic PUT up to `monolithicMax`, else chunked PATCHes, resumed from the registry's offset
   * after a failure, in at most `maxAttempts` tries. The registry checks the digest on the closing PUT.
   */
  uploadBlob(repository: string, desc: Pick<Descriptor, 'digest' | 'size'>, source: BlobSource): Promise<void> {
    return blobs.uploadBlob(this.#calls, this.#upload, repository, desc, source);
  }

  /**
   * Fetches a manifest or index by tag or digest. The bytes are verified: against the digest when `reference` is one,
   * else against `Docker-Content-Digest` when the registry sends it. Returns its descriptor (sha256 of the bytes).
   */
  getManifest(repository: string, reference: string): Promise<{ bytes: Buffer; descriptor: Descriptor }> {
    return manifests.getManifest(this.#calls, repository, reference);
  }

  /** True when the registry has a manifest with this digest in `repository`. */
  hasManifest(repository: string, digest: Digest): Promise<boolean> {
    return manifests.hasManifest(this.#calls, repository, digest);
  }

  /** Stores a manifest or index under a tag or its digest. Returns the digest the registry reports (checked). */
  putManifest(repository: string, reference: string, bytes: Uint8Array, mediaType: string): Promise<Digest> {
    return manifests.putManifest(this.#calls, repository, reference, bytes, mediaType);
  }
}
