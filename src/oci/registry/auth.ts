/**
 * Auth with one registry: the challenge learnt from `GET /v2/` (`WWW-Authenticate`, RFC 7235: `Basic realm="…"`,
 * `Bearer realm="https://auth/token",service="registry",scope="repository:app:pull"`), the credentials, and Bearer
 * tokens per scope set (the token flow, with a refresh token when the credentials hold one). Credentials and tokens
 * go to the registry's own host only. Each exchange here is made once: a temporary failure (a `RegistryError` whose
 * `temporary()` is true) fails the operation's attempt, and the operation's `retry` tries again.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { WinlayerError } from '../../errors.js';
import type { CredentialSource, Credentials } from './credentials.js';
import { isTemporaryStatus, parseRetryAfter, RegistryError } from './registry-error.js';
import { drain, header, type Transport } from './transport.js';

const MAX_TOKEN_RESPONSE = 64 * 1024;

/** One challenge of a `WWW-Authenticate` header. */
export interface Challenge {
  /** Lower-case scheme: `basic`, `bearer`, … */
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

/** Parses every challenge of a `WWW-Authenticate` header value (quoted strings with `\` escapes, commas inside). */
export function parseWwwAuthenticate(header: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const n = header.length;
  const skipWs = (): void => {
    while (i < n && (header[i] === ' ' || header[i] === '\t' || header[i] === ',')) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < n && /[!#$%&'*+.^_`|~0-9A-Za-z-]/.test(header[i]!)) i++;
    return header.slice(start, i);
  };
  while (i < n) {
    skipWs();
    const scheme = token();
    if (scheme === '') break;
    const params: Record<string, string> = {};
    for (;;) {
      while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
      const save = i;
      if (header[i] === ',') i++;
      while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
      const key = token();
      while (i < n && header[i] === ' ') i++;
      if (key === '' || header[i] !== '=') {
        i = save;
        break;
      }
      i++;
      while (i < n && header[i] === ' ') i++;
      let value = '';
      if (header[i] === '"') {
        i++;
        while (i < n && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < n) i++;
          value += header[i];
          i++;
        }
        i++;
      } else {
        value = token();
      }
      params[key.toLowerCase()] = value;
    }
    out.push({ scheme: scheme.toLowerCase(), params });
    // a following token that is a new scheme starts the next challenge
    while (i < n && header[i] !== ',' && !/[A-Za-z]/.test(header[i]!)) i++;
  }
  return out;
}

/** The auth state of one registry client. */
export class RegistryAuth {
  readonly #transport: Transport;
  readonly #source: CredentialSource | undefined;
  #pingP: Promise<void> | undefined;
  #challenge: Challenge | undefined;
  #credentials: Credentials | undefined | null = null;
  readonly #tokens = new Map<string, { token: string; expires: number }>();

  constructor(transport: Transport, credentials: CredentialSource | undefined) {
    this.#transport = transport;
    this.#source = credentials;
  }

  get #registry(): string {
    return this.#transport.registry;
  }

  /** The credentials of the registry (asked of the source once), or `undefined` for anonymous access. */
  async credentials(): Promise<Credentials | undefined> {
    if (this.#credentials === null) this.#credentials = (await this.#source?.(this.#registry)) ?? undefined;
    return this.#credentials;
  }

  /** Learns the registry's auth scheme from `GET /v2/`: once, or again after a failed try. */
  ping(): Promise<void> {
    this.#pingP ??= this.#doPing().catch((e: unknown) => {
      this.#pingP = undefined;
      throw e;
    });
    return this.#pingP;
  }

  async #doPing(): Promise<void> {
    const url = await this.#transport.url('/v2/');
    const res = await this.#transport.exchange('GET', url, {}, undefined);
    await drain(res);
    if (res.status === 401) this.learn(res.headers);
    else if (res.status !== 200) {
      throw new RegistryError('REGISTRY', `${this.#registry} does not answer GET /v2/ as a registry (${res.status})`, {
        status: res.status,
        method: 'GET',
        url: url.href,
        ...retryAfterOf(res.headers),
      });
    }
  }

  /** Takes the challenge of a 401 answer (Bearer before Basic). */
  learn(h: IncomingHttpHeaders): void {
    const v = h['www-authenticate'];
    const all = (Array.isArray(v) ? v : v === undefined ? [] : [v]).flatMap(parseWwwAuthenticate);
    const pick = all.find((c) => c.scheme === 'bearer') ?? all.find((c) => c.scheme === 'basic');
    if (pick === undefined) {
      throw new WinlayerError(
        'REGISTRY_AUTH',
        `${this.#registry} asks for authentication with no scheme winlayer knows`,
      );
    }
    this.#challenge = pick;
  }

  /**
   * The `Authorization` value for a request to `url` needing `scopes`: none for another host or a registry that asked
   * for nothing; a cached token unless `fresh`.
   */
  async authorization(url: URL, scopes: readonly string[], fresh: boolean): Promise<string | undefined> {
    if (!this.#transport.isOwnHost(url) || this.#challenge === undefined) return undefined;
    const creds = await this.credentials();
    if (this.#challenge.scheme === 'basic') {
      if (creds?.username === undefined) return undefined;
      return `Basic ${basic(creds)}`;
    }
    if (this.#challenge.scheme === 'bearer') {
      const wanted = [...new Set([...scopes, ...(this.#challenge.params.scope?.split(' ') ?? [])])].sort();
      const key = wanted.join(' ');
      const cached = this.#tokens.get(key);
      if (!fresh && cached !== undefined && cached.expires > Date.now()) return `Bearer ${cached.token}`;
      const token = await this.#fetchToken(this.#challenge, wanted, creds);
      this.#tokens.set(key, token);
      return `Bearer ${token.token}`;
    }
    return undefined;
  }

  /** One token request at the realm of a Bearer challenge. */
  async #fetchToken(
    ch: Challenge,
    scopes: readonly string[],
    creds: Credentials | undefined,
  ): Promise<{ token: string; expires: number }> {
    const realm = ch.params.realm;
    if (realm === undefined)
      throw new WinlayerError('REGISTRY_AUTH', `${this.#registry} sent a Bearer challenge without a realm`);
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new WinlayerError('REGISTRY_AUTH', `${this.#registry} sent a token realm that is not a URL: ${realm}`);
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
      if (creds?.username !== undefined) headers.Authorization = `Basic ${basic(creds)}`;
    }
    const res = await this.#transport.exchange(method, url, headers, body);
    const text = (await this.#transport.readBody(res, MAX_TOKEN_RESPONSE, 'token response')).toString('utf8');
    const at = { status: res.status, method, url: url.origin + url.pathname };
    if (res.status === 401 || res.status === 403) {
      throw new RegistryError(
        'REGISTRY_AUTH',
        `${url.host} refused the credentials for ${this.#registry} (${res.status})`,
        {
          ...at,
          hint: creds === undefined ? `run: winlayer login ${this.#registry}` : 'check the user name and password',
        },
      );
    }
    if (res.status !== 200) {
      throw new RegistryError(
        'REGISTRY_AUTH',
        `token request to ${url.host} failed: ${res.status} ${text.slice(0, 200)}`,
        {
          ...at,
          temporary: isTemporaryStatus(res.status),
          ...retryAfterOf(res.headers),
        },
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

  /**
   * Checks the credentials once: Basic on `GET /v2/`, or a token from the Bearer realm. Throws `REGISTRY_AUTH` when the
   * registry refuses them.
   */
  async checkLogin(): Promise<void> {
    await this.ping();
    const ch = this.#challenge;
    if (ch === undefined) return;
    if (ch.scheme === 'bearer') {
      await this.#fetchToken(ch, [], await this.credentials());
      return;
    }
    const url = await this.#transport.url('/v2/');
    const auth = await this.authorization(url, [], false);
    const res = await this.#transport.exchange(
      'GET',
      url,
      auth === undefined ? {} : { Authorization: auth },
      undefined,
    );
    await drain(res);
    const at = { status: res.status, method: 'GET', url: url.href };
    if (res.status === 401 || res.status === 403) {
      throw new RegistryError('REGISTRY_AUTH', `${this.#registry} refused the credentials (${res.status})`, {
        ...at,
        hint: 'check the user name and password',
      });
    }
    if (res.status !== 200)
      throw new RegistryError('REGISTRY', `${this.#registry}: GET /v2/ → ${res.status}`, {
        ...at,
        ...retryAfterOf(res.headers),
      });
  }
}

function basic(creds: Credentials): string {
  return Buffer.from(`${creds.username ?? ''}:${creds.password ?? ''}`).toString('base64');
}

/** `{ retryAfter }` when the answer carries a `Retry-After` in seconds. */
export function retryAfterOf(h: IncomingHttpHeaders): { retryAfter?: number } {
  const s = parseRetryAfter(header(h, 'retry-after'));
  return s === undefined ? {} : { retryAfter: s };
}
