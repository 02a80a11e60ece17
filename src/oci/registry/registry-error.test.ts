import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WinlayerError } from '../../errors.js';
import { isTemporary, parseDiagnostics, parseRetryAfter, RegistryError } from './registry-error.js';

test('parseDiagnostics reads the errors of a distribution error body, and nothing else', () => {
  const body =
    '{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"v9"}},{"code":"DENIED","message":"no"}]}';
  assert.deepEqual(parseDiagnostics(body), [
    { code: 'MANIFEST_UNKNOWN', message: 'manifest unknown', detail: { Tag: 'v9' } },
    { code: 'DENIED', message: 'no' },
  ]);
  assert.deepEqual(parseDiagnostics('<html>502 Bad Gateway</html>'), []);
  assert.deepEqual(parseDiagnostics(''), []);
  assert.deepEqual(parseDiagnostics('{"errors":"nope"}'), []);
  assert.deepEqual(parseDiagnostics('{"errors":[null,{"message":7}]}'), [{ code: '', message: '' }]);
});

test('temporary(): no answer, 408, 429 and 5xx are; 4xx are not; auth never is', () => {
  const t = (d: ConstructorParameters<typeof RegistryError>[2], code: 'REGISTRY' | 'REGISTRY_AUTH' = 'REGISTRY') =>
    new RegistryError(code, 'x', d).temporary();
  assert.equal(t({}), true, 'a broken connection');
  for (const s of [408, 429, 500, 502, 503, 504]) assert.equal(t({ status: s }), true, String(s));
  for (const s of [400, 404, 405, 409, 416]) assert.equal(t({ status: s }), false, String(s));
  assert.equal(t({ status: 401 }, 'REGISTRY_AUTH'), false);
  assert.equal(t({}, 'REGISTRY_AUTH'), false);
});

test('temporary(): a 4xx whose error codes are all temporary ones is temporary (go-containerregistry rule)', () => {
  const d = (code: string) => ({ code, message: '' });
  assert.equal(
    new RegistryError('REGISTRY', 'x', { status: 400, diagnostics: [d('BLOB_UPLOAD_INVALID')] }).temporary(),
    true,
  );
  assert.equal(
    new RegistryError('REGISTRY', 'x', { status: 400, diagnostics: [d('toomanyrequests')] }).temporary(),
    true,
  );
  assert.equal(
    new RegistryError('REGISTRY', 'x', { status: 400, diagnostics: [d('UNKNOWN'), d('DIGEST_INVALID')] }).temporary(),
    false,
  );
  assert.equal(new RegistryError('REGISTRY', 'x', { status: 503, diagnostics: [d('DENIED')] }).temporary(), true);
  assert.equal(new RegistryError('REGISTRY', 'x', { status: 503, temporary: false }).temporary(), false);
  assert.equal(new RegistryError('REGISTRY', 'x', { status: 400, temporary: true }).temporary(), true);
});

test('a RegistryError is a WinlayerError with the status, codes and message of a registry failure', () => {
  const e = new RegistryError(
    'REGISTRY',
    'localhost:5000: GET /v2/a/manifests/v9 → 404 (MANIFEST_UNKNOWN: manifest unknown)',
    {
      status: 404,
      method: 'GET',
      url: 'http://localhost:5000/v2/a/manifests/v9',
      diagnostics: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }],
    },
  );
  assert.ok(e instanceof WinlayerError);
  assert.equal(e.code, 'REGISTRY');
  assert.equal(e.exitCode, 1);
  assert.equal(
    e.message,
    'localhost:5000: GET /v2/a/manifests/v9 → 404 (MANIFEST_UNKNOWN: manifest unknown) (REGISTRY)',
  );
  assert.equal(e.hasCode('MANIFEST_UNKNOWN'), true);
  assert.equal(e.hasCode('BLOB_UNKNOWN'), false);
  assert.equal(isTemporary(e), false);
  assert.equal(isTemporary(new Error('503')), false, 'only a RegistryError says it is temporary');
  assert.deepEqual(e.toJSON(), {
    code: 'REGISTRY',
    message: e.message,
    status: 404,
    errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }],
  });
});

test('parseRetryAfter takes seconds, not dates or garbage', () => {
  assert.equal(parseRetryAfter('3'), 3);
  assert.equal(parseRetryAfter(' 0 '), 0);
  assert.equal(parseRetryAfter(''), undefined);
  assert.equal(parseRetryAfter('-1'), undefined);
  assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT'), undefined);
  assert.equal(parseRetryAfter(undefined), undefined);
});
