/**
 * HTTP to one registry over node:http/https: connection pools (agents), one exchange at a time (`exchange`),
 * redirects (`request`), TLS with the system roots plus `caFiles`, and `insecure`, which allows plain HTTP (and
 * unverified TLS) to the one registry the transport names, never to another host (token realms and redirects
 * included). No auth, no retries: a connection that breaks or never answers is a `RegistryError` without a status,
 * which `temporary()` calls temporary; the caller's retry decides.
 */
import { readFileSync } from 'node:fs';
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { rootCertificates } from 'node:tls';
import { WinlayerError } from '../../errors.js';
import { apiHost } from '../reference.js';
import { RegistryError } from './registry-error.js';

/** A request body: bytes in memory, or a stream factory the client may call again to retry. */
export type Body = Uint8Array | { readonly length: number; open(): Readable };

export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** An answer whose body is not read yet: read it (`readBody`) or `drain` it, else the connection is not reused. */
export interface Response {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The URL that answered (after redirects): relative `Location`s resolve against it. */
  readonly url: URL;
  readonly body: IncomingMessage;
}

/** Options of `Transport`. */
export interface TransportOptions {
  /** The registry (`localhost:5000`, `docker.io`); the one host `insecure` applies to. */
  readonly registry: string;
  readonly insecure?: boolean;
  /** PEM files of extra certificate authorities, trusted beside the system roots. */
  readonly caFiles?: readonly string[];
  /** Socket idle timeout in ms. Default 120 s. */
  readonly timeoutMs?: number;
  readonly userAgent?: string;
}

const REDIRECTS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

/** Reads the rest of a response body to let its connection go back to the pool. */
export function drain(res: Response): Promise<void> {
  return new Promise((resolve) => {
    res.body.on('end', resolve);
    res.body.on('error', () => resolve());
    res.body.on('close', resolve);
    res.body.resume();
  });
}

/** The first value of a response header. */
export function header(h: IncomingHttpHeaders, name: string): string | undefined {
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

/** The connections to one registry (and the hosts it sends us to). Cheap to create; `close()` at the end. */
export class Transport {
  readonly registry: string;
  /** `registry`, with Docker Hub's API host for `docker.io`. */
  readonly host: string;
  readonly #opts: TransportOptions;
  readonly #agents: { https: https.Agent; httpsInsecure: https.Agent; http: http.Agent };
  #baseP: Promise<string> | undefined;

  constructor(opts: TransportOptions) {
    this.#opts = opts;
    this.registry = opts.registry;
    this.host = apiHost(opts.registry);
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

  /** Is this URL the registry this transport names (the one host `insecure` and credentials apply to)? */
  isOwnHost(url: URL): boolean {
    return url.host === this.host || url.host === this.host.replace(/:443$/, '');
  }

  /** A path on the registry (`/v2/…`) as a URL; a URL is kept as it is. */
  async url(pathOrUrl: string | URL): Promise<URL> {
    if (pathOrUrl instanceof URL) return pathOrUrl;
    return new URL(pathOrUrl, await this.#base());
  }

  #base(): Promise<string> {
    this.#baseP ??= this.#detectScheme();
    return this.#baseP;
  }

  /** `https`, or with `insecure`, `http` when the registry does not answer in TLS. Asked once. */
  async #detectScheme(): Promise<string> {
    let scheme = 'https';
    if (this.#opts.insecure === true) {
      try {
        const res = await this.exchange('GET', new URL(`https://${this.host}/v2/`), {}, undefined);
        await drain(res);
      } catch {
        scheme = 'http';
      }
    }
    return `${scheme}://${this.host}`;
  }

  /**
   * One request; for GET and HEAD, redirects are followed (a body is never sent twice), each hop with the headers
   * `headersFor` gives for its URL (so credentials go to the registry only). Returns the first answer that is not a
   * redirect followed.
   */
  async request(
    method: Method,
    url: URL,
    opts: {
      readonly headersFor: (url: URL) => Promise<Record<string, string>>;
      readonly body?: Body | undefined;
    },
  ): Promise<Response> {
    const follow = method === 'GET' || method === 'HEAD';
    for (let redirects = 0; ; ) {
      const res = await this.exchange(method, url, await opts.headersFor(url), opts.body);
      if (!follow || !REDIRECTS.has(res.status)) return res;
      await drain(res);
      const loc = header(res.headers, 'location');
      if (loc === undefined || ++redirects > MAX_REDIRECTS) {
        throw new RegistryError('REGISTRY', `${this.registry}: too many or empty redirects for ${url.pathname}`, {
          status: res.status,
          method,
          url: url.origin + url.pathname,
        });
      }
      url = new URL(loc, url);
    }
  }

  /**
   * One HTTP exchange: no redirects, no auth, no retries. Rejects with a temporary `RegistryError` (no status) when
   * the connection breaks, with the source's own error when a request body stream fails.
   */
  exchange(method: string, url: URL, headers: Record<string, string>, body: Body | undefined): Promise<Response> {
    const own = this.isOwnHost(url);
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
        else reject(this.#brokenError(method, url, e));
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

  /** A connection that broke or never answered: temporary. */
  #brokenError(method: string, url: URL, e: NodeJS.ErrnoException): RegistryError {
    const where = this.isOwnHost(url) ? url.pathname : `${url.host}${url.pathname}`;
    return new RegistryError('REGISTRY', `${this.registry}: ${method} ${where}: ${e.code ?? ''} ${e.message}`.trim(), {
      method,
      url: url.origin + url.pathname,
      hint: 'the connection failed; check the registry address and the network',
      cause: e,
    });
  }

  /** A TLS handshake that got an HTTP answer: the server speaks plain HTTP. Not temporary: it will not change. */
  #plainHttpError(url: URL): WinlayerError {
    const own = this.isOwnHost(url);
    return new WinlayerError('REGISTRY', `the registry at ${url.host} answers in plain HTTP, not HTTPS`, {
      hint: own
        ? 'pass --insecure to allow plain HTTP to this registry (only on a network you trust)'
        : 'only the registry named by the command may use plain HTTP',
    });
  }

  /**
   * Reads a response body up to `limit` bytes. A body that breaks is a temporary `RegistryError`; one over the
   * limit is not.
   */
  async readBody(res: Response, limit: number, what: string): Promise<Buffer> {
    const parts: Buffer[] = [];
    let n = 0;
    try {
      for await (const c of res.body as AsyncIterable<Buffer>) {
        n += c.length;
        if (n > limit) {
          res.body.destroy();
          throw new WinlayerError('REGISTRY', `${what} is larger than ${limit} bytes`);
        }
        parts.push(c);
      }
    } catch (e) {
      if (e instanceof WinlayerError) throw e;
      throw new RegistryError('REGISTRY', `${this.registry}: ${what} broke: ${(e as Error).message}`, {
        url: res.url.origin + res.url.pathname,
        temporary: true,
        cause: e,
      });
    }
    return Buffer.concat(parts);
  }
}
