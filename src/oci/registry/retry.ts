/**
 * The one retry loop of the registry client: `retry(policy, fn)` calls `fn` until it succeeds, throws an error the
 * policy does not call temporary, or has been tried `policy.attempts` times; between tries it waits an exponential
 * backoff (at least what the registry asked for with `Retry-After`). Where each retry lives, so that none nests
 * inside another, is written down in `client.ts`.
 */

/** How often and how patiently to try, and which failures are worth another try. */
export interface RetryPolicy {
  /** Tries in all, the first included (at least 1). */
  readonly attempts: number;
  /** The wait after the first failure, doubled after each further one. */
  readonly backoffMs: number;
  /** The longest backoff wait. */
  readonly maxBackoffMs: number;
  /** True when the failure may go away if `fn` is called again. */
  readonly temporary: (e: unknown) => boolean;
  /** Seconds the failure asks to wait at least (`Retry-After`), capped at `maxRetryAfterMs`. */
  readonly retryAfter?: (e: unknown) => number | undefined;
  readonly maxRetryAfterMs?: number;
  /** Waits; tests pass a fake clock. Default `setTimeout`. */
  readonly sleep?: (ms: number) => Promise<void>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The wait after failure number `failure` (1-based) with error `e`. */
export function backoffDelay(policy: RetryPolicy, failure: number, e: unknown): number {
  const ms = Math.min(policy.maxBackoffMs, policy.backoffMs * 2 ** (failure - 1));
  const ra = policy.retryAfter?.(e);
  if (ra === undefined) return ms;
  return Math.min(policy.maxRetryAfterMs ?? 30_000, Math.max(ms, ra * 1000));
}

/**
 * Calls `fn(attempt)` (attempt 1, 2, …) until it resolves; rethrows the last error when it is not temporary or the
 * attempts are used up. `fn` must not retry on its own: one loop, one budget.
 */
export async function retry<T>(policy: RetryPolicy, fn: (attempt: number) => Promise<T>): Promise<T> {
  const attempts = Math.max(1, policy.attempts);
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      if (attempt >= attempts || !policy.temporary(e)) throw e;
      await (policy.sleep ?? sleep)(backoffDelay(policy, attempt, e));
    }
  }
}
