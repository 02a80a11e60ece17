import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { type TestContext, test } from 'node:test';
import { RegistryClient } from './client.js';
import { RegistryError } from './registry-error.js';

/**
 * A registry of upload sessions that keeps the bytes it is sent. `script(method, n)` may answer the n-th request of a
 * method (1-based) itself: a status, or 'drop' (the connection is cut after the body).
 */
async function fakeRegistry(
  t: TestContext,
  script: (method: string, n: number) => number | 'drop' | undefined,
): Promise<{ host: string; log: string[]; stored: Map<string, Buffer> }> {
  const sessions = new Map<string, Buffer>();
  const stored = new Map<string, Buffer>();
  const counts = new Map<string, number>();
  const log: string[] = [];
  const server = http.createServer(async (req, res) => {
    const parts: Buffer[] = [];
    for await (const c of req) parts.push(c as Buffer);
    const body = Buffer.concat(parts);
    const url = new URL(req.url ?? '/', 'http://x');
    const method = req.method ?? 'GET';
    if (url.pathname === '/v2/') return void res.writeHead(200).end();
    const n = (counts.get(method) ?? 0) + 1;
    counts.set(method, n);
    log.push(`${method} ${url.pathname.split('/').filter(Boolean).pop()}`);
    const forced = script(method, n);
    if (forced === 'drop') return void req.socket.destroy();
    if (forced !== undefined) {
      const code = forced === 400 ? 'DIGEST_INVALID' : 'UNKNOWN';
      return void res.writeHead(forced).end(JSON.stringify({ errors: [{ code, message: 'scripted' }] }));
    }
    const id = url.pathname.split('/').pop()!;
    const held = sessions.get(id) ?? Buffer.alloc(0);
    const range = (b: Buffer) => `0-${Math.max(0, b.length - 1)}`;
    if (method === 'POST') {
      const sid = `s${n}`;
      sessions.set(sid, Buffer.alloc(0));
      return void res.writeHead(202, { Location: `/v2/a/b/blobs/uploads/${sid}`, Range: '0-0' }).end();
    }
    if (!sessions.has(id)) return void res.writeHead(404).end('{"errors":[{"code":"BLOB_UPLOAD_UNKNOWN"}]}');
    if (method === 'GET') return void res.writeHead(204, { Location: url.pathname, Range: range(held) }).end();
    if (method === 'PATCH') {
      const [from] = (req.headers['content-range'] ?? '').split('-').map(Number);
      if (from !== held.length) return void res.writeHead(416).end();
      const now = Buffer.concat([held, body]);
      sessions.set(id, now);
      return void res.writeHead(202, { Location: url.pathname, Range: range(now) }).end();
    }
    // PUT: close with the digest
    const all = Buffer.concat([held, body]);
    sessions.delete(id);
    const digest = `sha256:${createHash('sha256').update(all).digest('hex')}`;
    if (digest !== url.searchParams.get('digest')) {
      return void res.writeHead(400).end('{"errors":[{"code":"DIGEST_INVALID","message":"digest did not match"}]}');
    }
    stored.set(digest, all);
    res.writeHead(201).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return { host: `127.0.0.1:${(server.address() as AddressInfo).port}`, log, stored };
}

function blob(text: string): {
  desc: { digest: string; size: number };
  source: { size: number; open: (s: number, e: number) => Readable };
} {
  const bytes = Buffer.from(text);
  return {
    desc: { digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`, size: bytes.length },
    source: { size: bytes.length, open: (s, e) => Readable.from([bytes.subarray(s, e)]) },
  };
}

function client(t: TestContext, host: string, maxAttempts = 5): RegistryClient {
  const c = new RegistryClient({
    registry: host,
    insecure: true,
    maxAttempts,
    backoffMs: 1,
    monolithicMax: 0,
    chunkSize: 4,
  });
  t.after(() => c.close());
  return c;
}

test('a chunk that fails is resumed in the same session from the offset the registry holds', async (t) => {
  const reg = await fakeRegistry(t, (m, n) => (m === 'PATCH' && n === 2 ? 503 : undefined));
  const b = blob('0123456789');
  await client(t, reg.host).uploadBlob('a/b', b.desc, b.source);
  assert.deepEqual(reg.stored.get(b.desc.digest)?.toString(), '0123456789');
  assert.deepEqual(reg.log, ['POST uploads', 'PATCH s1', 'PATCH s1', 'GET s1', 'PATCH s1', 'PATCH s1', 'PUT s1']);
});

test('a digest failure at the close after a resume starts a new session; without a resume it is final', async (t) => {
  // a PATCH fails and the upload resumes; then the close fails DIGEST_INVALID once, as when the registry held bytes
  // the resume could not see
  const reg = await fakeRegistry(t, (m, n) =>
    m === 'PATCH' && n === 2 ? 503 : m === 'PUT' && n === 1 ? 400 : undefined,
  );
  const b = blob('abcdefghij');
  await client(t, reg.host).uploadBlob('a/b', b.desc, b.source);
  assert.equal(reg.stored.get(b.desc.digest)?.toString(), 'abcdefghij');
  assert.deepEqual(
    reg.log.filter((l) => l.startsWith('POST') || l.startsWith('PUT')),
    ['POST uploads', 'PUT s1', 'POST uploads', 'PUT s2'],
  );

  const plain = await fakeRegistry(t, (m) => (m === 'PUT' ? 400 : undefined));
  await assert.rejects(client(t, plain.host).uploadBlob('a/b', b.desc, b.source), (e: unknown) => {
    assert.ok(e instanceof RegistryError);
    assert.equal(e.status, 400);
    assert.equal(e.hasCode('DIGEST_INVALID'), true);
    assert.match(e.message, /PUT \/v2\/a\/b\/blobs\/uploads\/s1 → 400 \(DIGEST_INVALID: scripted\) \(REGISTRY\)/);
    return true;
  });
  assert.equal(plain.log.filter((l) => l.startsWith('PUT')).length, 1, 'not retried');
});

test('a cut connection makes the next try ask the registry; a session it lost (404) is replaced by a new one', async (t) => {
  const reg = await fakeRegistry(t, (m, n) =>
    m === 'PATCH' && n === 1 ? 'drop' : m === 'GET' && n === 1 ? 404 : undefined,
  );
  const b = blob('0123456789');
  await client(t, reg.host).uploadBlob('a/b', b.desc, b.source);
  assert.equal(reg.stored.get(b.desc.digest)?.toString(), '0123456789');
  assert.deepEqual(reg.log.slice(0, 4), ['POST uploads', 'PATCH s1', 'GET s1', 'POST uploads']);
});
