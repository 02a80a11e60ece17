import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { isWinlayerError } from '../../errors.js';
import { RegistryClient } from './client.js';
import { RegistryError } from './registry-error.js';
import { backoffDelay, type RetryPolicy, retry } from './retry.js';

function policy(over: Partial<RetryPolicy> = {}): RetryPolicy & { waits: number[] } {
  const waits: number[] = [];
  return {
    attempts: 4,
    backoffMs: 100,
    maxBackoffMs: 350,
    temporary: (e) => e instanceof RegistryError && e.temporary(),
    retryAfter: (e) => (e instanceof RegistryError ? e.retryAfter : undefined),
    sleep: async (ms) => {
      waits.push(ms);
    },
    ...over,
    waits,
  };
}

const busy = (): RegistryError => new RegistryError('REGISTRY', 'busy', { status: 503 });

test('retry calls fn until it succeeds, waiting a doubling backoff capped at maxBackoffMs', async () => {
  const p = policy();
  let calls = 0;
  const v = await retry(p, async (attempt) => {
    calls++;
    assert.equal(attempt, calls);
    if (calls < 4) throw busy();
    return 'ok';
  });
  assert.equal(v, 'ok');
  assert.equal(calls, 4);
  assert.deepEqual(p.waits, [100, 200, 350]);
});

test('retry gives up after `attempts` calls and throws the last error', async () => {
  const p = policy({ attempts: 3 });
  let calls = 0;
  await assert.rejects(
    retry(p, async () => {
      calls++;
      throw new RegistryError('REGISTRY', `busy ${calls}`, { status: 500 });
    }),
    /busy 3/,
  );
  assert.equal(calls, 3);
  assert.equal(p.waits.length, 2);
});

test('retry does not retry an error the policy does not call temporary', async () => {
  const p = policy();
  let calls = 0;
  await assert.rejects(
    retry(p, async () => {
      calls++;
      throw new RegistryError('REGISTRY', 'no such manifest', { status: 404 });
    }),
    /no such manifest/,
  );
  assert.equal(calls, 1);
  assert.deepEqual(p.waits, []);
});

test('a Retry-After longer than the backoff wins, capped at maxRetryAfterMs', () => {
  const p = policy({ maxRetryAfterMs: 5000 });
  assert.equal(backoffDelay(p, 1, new RegistryError('REGISTRY', 'slow down', { status: 429, retryAfter: 2 })), 2000);
  assert.equal(backoffDelay(p, 1, new RegistryError('REGISTRY', 'slow down', { status: 429, retryAfter: 60 })), 5000);
  assert.equal(backoffDelay(p, 2, new RegistryError('REGISTRY', 'slow down', { status: 429, retryAfter: 0 })), 200);
});

/** A registry that answers every request with `status`, counting requests per method and path. */
async function alwaysFailing(
  status: number,
): Promise<{ host: string; hits: Map<string, number>; close(): Promise<void> }> {
  const hits = new Map<string, number>();
  const server = http.createServer((req, res) => {
    req.resume();
    const key = `${req.method} ${(req.url ?? '').split('?')[0]}`;
    hits.set(key, (hits.get(key) ?? 0) + 1);
    res
      .writeHead(status, { 'Content-Type': 'application/json' })
      .end('{"errors":[{"code":"UNAVAILABLE","message":"down"}]}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    host: `127.0.0.1:${port}`,
    hits,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

test('retries do not nest: a failing ping, request or upload is tried maxAttempts times in all', async (t) => {
  const reg = await alwaysFailing(503);
  t.after(() => reg.close());
  const client = new RegistryClient({ registry: reg.host, insecure: true, maxAttempts: 3, backoffMs: 1 });
  t.after(() => client.close());
  // the https probe of an insecure registry fails at once (it speaks plain HTTP); then three pings, nothing more
  await assert.rejects(client.getManifest('a/b', 'v1'), (e: unknown) => {
    assert.ok(e instanceof RegistryError);
    assert.equal(e.status, 503);
    assert.match(e.message, /503/);
    return true;
  });
  assert.equal(reg.hits.get('GET /v2/'), 3);
  assert.equal(reg.hits.size, 1);
  reg.hits.clear();
  await assert.rejects(
    client.uploadBlob(
      'a/b',
      { digest: `sha256:${'0'.repeat(64)}`, size: 0 },
      { size: 0, open: () => Readable.from([]) },
    ),
    (e: unknown) => isWinlayerError(e, 'REGISTRY'),
  );
  assert.deepEqual(
    [...reg.hits.values()].reduce((a, b) => a + b, 0),
    3,
  );
});

// a registry that lets the ping pass, keeps the session, and answers every PATCH with 500
test('a chunked upload whose chunks keep failing stops after maxAttempts tries (not tries × tries)', async (t) => {
  let patches = 0;
  let posts = 0;
  let statuses = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    const path = (req.url ?? '').split('?')[0]!;
    if (path === '/v2/') return void res.writeHead(200).end();
    if (req.method === 'POST') {
      posts++;
      return void res.writeHead(202, { Location: `/v2/a/b/blobs/uploads/s${posts}` }).end();
    }
    if (req.method === 'GET') {
      statuses++;
      return void res.writeHead(204, { Location: path, Range: '0-0' }).end();
    }
    patches++;
    res.writeHead(500).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new RegistryClient({
    registry: host,
    insecure: true,
    maxAttempts: 4,
    backoffMs: 1,
    monolithicMax: 0,
    chunkSize: 4,
  });
  t.after(() => client.close());
  const bytes = Buffer.from('0123456789');
  await assert.rejects(
    client.uploadBlob(
      'a/b',
      { digest: `sha256:${'1'.repeat(64)}`, size: bytes.length },
      { size: bytes.length, open: (s, e) => Readable.from([bytes.subarray(s, e)]) },
    ),
    (e: unknown) => e instanceof RegistryError && e.status === 500 && e.method === 'PATCH',
  );
  assert.equal(patches, 4, 'one PATCH per try');
  assert.equal(posts, 1, 'one session, resumed by the later tries');
  assert.equal(statuses, 3, 'each later try asks where the session stands');
});
