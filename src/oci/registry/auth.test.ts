import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseWwwAuthenticate } from './auth.js';

test('parses a Bearer challenge with a quoted scope holding commas', () => {
  const h = 'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"';
  assert.deepEqual(parseWwwAuthenticate(h), [
    {
      scheme: 'bearer',
      params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' },
    },
  ]);
});

test('parses Basic and two challenges in one header, with escapes and token values', () => {
  assert.deepEqual(parseWwwAuthenticate('Basic realm="a \\"b\\"", Bearer realm=x,error=insufficient_scope'), [
    { scheme: 'basic', params: { realm: 'a "b"' } },
    { scheme: 'bearer', params: { realm: 'x', error: 'insufficient_scope' } },
  ]);
});

test('an empty header has no challenge', () => {
  assert.deepEqual(parseWwwAuthenticate(''), []);
});

test('any header text parses without throwing or hanging', async () => {
  const fc = (await import('fast-check')).default;
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), (s) => {
      const out = parseWwwAuthenticate(s);
      assert.ok(Array.isArray(out) && out.length <= s.length);
    }),
    { numRuns: 2000 },
  );
});
