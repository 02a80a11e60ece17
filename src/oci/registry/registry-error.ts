/**
 * `RegistryError`: a failed registry exchange with what the registry said, as go-containerregistry's
 * `transport.Error` — the HTTP status, the method and URL, and the `errors: [{code, message, detail}]` of the body
 * (distribution-spec "error codes"). Code decides on these fields, never on the wording of a message: `temporary()`
 * says whether the same request may succeed later. It is a `WinlayerError` (code `REGISTRY` or `REGISTRY_AUTH`), so
 * the CLI maps it to an exit code like every other failure.
 */
import { WinlayerError } from '../../errors.js';

/** One entry of a registry's error body (`{"errors": [{"code", "message", "detail"}]}`). */
export interface RegistryDiagnostic {
  /** `BLOB_UNKNOWN`, `DIGEST_INVALID`, `UNAUTHORIZED`, `TOOMANYREQUESTS`, … as the registry sent it. */
  readonly code: string;
  readonly message: string;
  readonly detail?: unknown;
}

/** Fields of a `RegistryError` besides the message. */
export interface RegistryErrorDetails {
  /** The HTTP status; absent when no answer came (refused or broken connection, timeout). */
  readonly status?: number;
  readonly method?: string;
  /** The URL asked, without its query (which may hold upload state). */
  readonly url?: string;
  readonly diagnostics?: readonly RegistryDiagnostic[];
  /** Seconds the registry asked us to wait (`Retry-After`), when it did. */
  readonly retryAfter?: number;
  /** Decides `temporary()` instead of the status and codes (a state the caller knows is worth another try). */
  readonly temporary?: boolean;
  readonly hint?: string;
  readonly cause?: unknown;
}

/**
 * Error codes whose request may succeed when tried again (go-containerregistry's `temporaryErrorCodes`):
 * the registry is busy, rate-limited, or lost an upload session.
 */
const TEMPORARY_CODES: ReadonlySet<string> = new Set([
  'BLOB_UPLOAD_INVALID',
  'TOOMANYREQUESTS',
  'UNKNOWN',
  'UNAVAILABLE',
]);

/** Statuses whose request may succeed when tried again: 408, 429 and every 5xx. */
export function isTemporaryStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** A failed registry exchange; see the module comment. */
export class RegistryError extends WinlayerError {
  readonly status: number | undefined;
  readonly method: string | undefined;
  readonly url: string | undefined;
  readonly diagnostics: readonly RegistryDiagnostic[];
  readonly retryAfter: number | undefined;
  readonly #temporary: boolean | undefined;

  constructor(code: 'REGISTRY' | 'REGISTRY_AUTH', rule: string, details: RegistryErrorDetails = {}) {
    super(code, rule, {
      ...(details.hint === undefined ? {} : { hint: details.hint }),
      ...(details.cause === undefined ? {} : { cause: details.cause }),
    });
    this.name = 'RegistryError';
    this.status = details.status;
    this.method = details.method;
    this.url = details.url;
    this.diagnostics = details.diagnostics ?? [];
    this.retryAfter = details.retryAfter;
    this.#temporary = details.temporary;
  }

  /**
   * True when the same request may succeed later: no answer came (a broken connection), the status is 408, 429 or
   * 5xx, or every error code of the body is a temporary one. Never for 401/403.
   */
  temporary(): boolean {
    if (this.#temporary !== undefined) return this.#temporary;
    if (this.code === 'REGISTRY_AUTH') return false;
    if (this.status === undefined) return true;
    if (isTemporaryStatus(this.status)) return true;
    return this.diagnostics.length > 0 && this.diagnostics.every((d) => TEMPORARY_CODES.has(d.code.toUpperCase()));
  }

  /** True when the registry sent this error code (compared without case). */
  hasCode(code: string): boolean {
    return this.diagnostics.some((d) => d.code.toUpperCase() === code);
  }

  override toJSON(): Record<string, unknown> {
    return {
      ...super.toJSON(),
      ...(this.status === undefined ? {} : { status: this.status }),
      ...(this.diagnostics.length === 0 ? {} : { errors: this.diagnostics }),
    };
  }
}

/** True for a `RegistryError` whose request may succeed later (the default retry rule of the client). */
export function isTemporary(e: unknown): boolean {
  return e instanceof RegistryError && e.temporary();
}

/**
 * The `errors` of a registry's error body. Anything else (HTML from a proxy, an empty body, other JSON) gives `[]`:
 * the status then says enough.
 */
export function parseDiagnostics(body: string): RegistryDiagnostic[] {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    return [];
  }
  const errors = typeof v === 'object' && v !== null ? (v as { errors?: unknown }).errors : undefined;
  if (!Array.isArray(errors)) return [];
  const out: RegistryDiagnostic[] = [];
  for (const e of errors as unknown[]) {
    if (typeof e !== 'object' || e === null) continue;
    const { code, message, detail } = e as { code?: unknown; message?: unknown; detail?: unknown };
    out.push({
      code: typeof code === 'string' ? code : '',
      message: typeof message === 'string' ? message : '',
      ...(detail === undefined ? {} : { detail }),
    });
  }
  return out;
}

/** `CODE: message; CODE: message` — the diagnostics as the error message shows them. */
export function formatDiagnostics(d: readonly RegistryDiagnostic[]): string {
  return d.map((e) => `${e.code}: ${e.message}`).join('; ');
}

/** `Retry-After` in seconds (the delta form; an HTTP date is ignored). */
export function parseRetryAfter(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v.trim());
  return v.trim() !== '' && Number.isFinite(n) && n >= 0 ? n : undefined;
}
