/**
 * What `blobs.ts` and `manifests.ts` get from the client: one authenticated exchange (`send`) and the retry policy
 * they wrap each operation in.
 */
import type { Digest } from '../digest.js';
import type { RetryPolicy } from './retry.js';
import type { Body, Method, Response } from './transport.js';

/** One request to the registry. */
export interface Request {
  readonly method: Method;
  /** A path on the registry (`/v2/…`) or an absolute URL (an upload session's `Location`). */
  readonly url: string | URL;
  readonly headers?: Record<string, string>;
  readonly body?: Body;
  /** Token scopes this request needs (`repository:app:pull,push`). */
  readonly scopes: readonly string[];
  /** Statuses that are a success for this request; any other is a `RegistryError`. */
  readonly ok: readonly number[];
}

/** Progress of one blob transfer (upload or download), for a terminal progress bar. */
export interface TransferProgress {
  readonly digest: Digest;
  readonly phase: 'upload' | 'download' | 'exists' | 'mounted';
  readonly done: number;
  readonly total: number;
}

/** The client as the blob and manifest operations see it. */
export interface RegistryCalls {
  readonly registry: string;
  /**
   * One exchange with auth and redirects, never retried: the response (body unread) on one of `req.ok`, else a
   * `RegistryError`. Temporary failures are for the caller's `retry(policy, …)`.
   */
  send(req: Request): Promise<Response>;
  /** Reads a response body up to `limit` bytes (a broken body is a temporary `RegistryError`). */
  readBody(res: Response, limit: number, what: string): Promise<Buffer>;
  readonly policy: RetryPolicy;
  readonly onProgress: ((p: TransferProgress) => void) | undefined;
}

/** `repository:NAME:ACTIONS`. */
export function repoScope(repository: string, actions: 'pull' | 'pull,push'): string {
  return `repository:${repository}:${actions}`;
}
