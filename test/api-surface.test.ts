/**
 * The public API is chosen on purpose (docs/architecture.md, "Public API and internals"): a few headline values at the
 * root, one namespace per folder, explicit export lists, and no internals or test hooks anywhere a user can reach.
 * The full list is the API report (`etc/winlayer.api.md`, `npm run api:check`); this test guards the rules.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, test } from 'node:test';
import * as hiveIndex from '../src/hive/index.js';
import * as api from '../src/index.js';
import * as inspectIndex from '../src/inspect/index.js';
import * as layerIndex from '../src/layer/index.js';
import * as ociIndex from '../src/oci/index.js';
import * as tarIndex from '../src/tar/index.js';
import * as windowsIndex from '../src/windows/index.js';

const ROOT = resolve(import.meta.dirname, '..');
const MAX_ROOT_VALUES = 40;

const NAMESPACES = {
  hive: hiveIndex,
  inspect: inspectIndex,
  layer: layerIndex,
  oci: ociIndex,
  tar: tarIndex,
  windows: windowsIndex,
} as const;

/** Internals and test hooks the review found on the public surface; none may be reachable again. */
const INTERNALS = [
  'AtomicTarget',
  'removeStaleTemps',
  'tempSiblingPath',
  'writeFileAtomic',
  'removeTree',
  'USTAR',
  'encodeHeader',
  'decodeHeader',
  'isZeroBlock',
  'parseNumeric',
  'asciiField',
  'fitsField',
  'headerChecksum',
  'encodeRecord',
  'decodeRecord',
  'SidecarWriter',
  'ImportGuard',
  'nameKey',
  'trimName',
  'inFileTree',
  'HostFileBody',
  'PackedNames',
  'utimeSeconds',
  'walkLayerAsync',
  'walkLayerSync',
  'squarify',
  'esc',
  'readHead',
  'openRange',
  'openLocation',
  'Digester',
  'MISSING_BCD_MESSAGE',
  'ACE_LAYOUT',
  'SD_HEADER',
  'ACL_HEADER',
  'sniffCompression',
  'upcaseHash',
  'inputFileError',
  'escapeControls',
];

/** Names that mean nothing without their folder: only in their namespace, never at the root. */
const NAMESPACED_ONLY = ['root', 'child', 'children', 'parent', 'value', 'values', 'keyName', 'openHive', 'checkHive'];

const HEADLINE = [
  'readTar',
  'writeTar',
  'writeTarFile',
  'walkLayer',
  'exportLayer',
  'importLayer',
  'makeBaseLayer',
  'compareLayers',
  'openImage',
  'writeImage',
  'lintSource',
  'WinlayerError',
];

describe('public API surface', () => {
  test(`the root exports at most ${MAX_ROOT_VALUES} values`, () => {
    const values = Object.keys(api);
    assert.ok(values.length <= MAX_ROOT_VALUES, `${values.length} root values: ${values.join(', ')}`);
  });

  test('the headline verbs are at the root, and are the ones of their folder', () => {
    for (const name of HEADLINE) assert.equal(typeof (api as Record<string, unknown>)[name], 'function', name);
    assert.equal(api.readTar, api.tar.readTar);
    assert.equal(api.walkLayer, api.layer.walkLayer);
    assert.equal(api.openImage, api.oci.openImage);
    assert.equal(api.lintSource, api.inspect.lintSource);
  });

  test('each folder is a namespace at the root, equal to its index', () => {
    for (const [name, index] of Object.entries(NAMESPACES)) {
      const ns = (api as Record<string, unknown>)[name];
      assert.deepEqual(Object.keys(ns as object).sort(), Object.keys(index).sort(), name);
    }
    assert.equal(typeof api.hive.root, 'function');
    assert.equal(typeof api.windows.sddlToBytes, 'function');
  });

  test('generic hive names live only in the hive namespace', () => {
    for (const name of NAMESPACED_ONLY) {
      assert.ok(!(name in api), `${name} is at the root`);
      assert.ok(name in api.hive, `${name} is in hive`);
    }
  });

  test('internals and test hooks are not reachable from the package', () => {
    const reachable: string[] = [];
    for (const name of INTERNALS) {
      if (name in api) reachable.push(name);
      for (const [ns, index] of Object.entries(NAMESPACES)) if (name in index) reachable.push(`${ns}.${name}`);
    }
    assert.deepEqual(reachable, []);
  });

  test('every index lists its exports explicitly (no `export *` except a namespace)', () => {
    const indexes = [join(ROOT, 'src', 'index.ts'), ...indexFiles(join(ROOT, 'src'))];
    const stars = indexes.flatMap((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .filter((l) => /^\s*export\s+(type\s+)?\*\s+from\b/.test(l))
        .map((l) => `${relative(ROOT, f)}: ${l.trim()}`),
    );
    assert.deepEqual(stars, []);
    assert.ok(indexes.length >= 7, 'found the folder indexes');
  });
});

function indexFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    if (!d.isDirectory()) return [];
    const sub = join(dir, d.name);
    const here = readdirSync(sub).includes('index.ts') ? [join(sub, 'index.ts')] : [];
    return [...here, ...indexFiles(sub)];
  });
}
