/**
 * The dependency rule of `docs/architecture.md` ("Public API and internals"), checked on every import of every
 * non-test module under `src/`:
 * (a) no import from a folder above in the documented order (read from the doc, so the doc and this test agree);
 * (b) no import of another folder's module other than its `index.ts`, except the modules beneath everything
 *     (`src/entry.ts`, `src/errors.ts`, `src/atomic.ts`, `src/terminal-text.ts`) and `src/internal/*`.
 * A module of `src/internal/` is a façade: it may import any folder's modules, and an import of it counts as an import
 * of what it imports (so `windows/` cannot reach `tar/` through `internal/tar.ts`). Test files are not part of the rule.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, test } from 'node:test';
import ts from 'typescript';

const ROOT = resolve(import.meta.dirname, '..');
const SRC = join(ROOT, 'src');
const DOC = join(ROOT, 'docs', 'architecture.md');

/** Modules directly under `src/` that sit beneath the folders and may be imported by path from anywhere. */
const ROOT_MODULES = new Set(['entry', 'errors', 'atomic', 'terminal-text']);

/**
 * The order from the doc: the line after the marker, `a → b, c → …`, top first. Returns each unit's level (0 = top);
 * units on one level (`tar, hive`) may not import each other.
 */
function documentedOrder(): Map<string, number> {
  const lines = readFileSync(DOC, 'utf8').split('\n');
  const at = lines.findIndex((l) => l.includes('Dependency order (checked by test/dependency-rule.test.ts)'));
  assert.ok(at >= 0, 'docs/architecture.md states the dependency order after the marker line');
  const line = lines.slice(at + 1).find((l) => l.includes('→'));
  assert.ok(line !== undefined, 'the order line follows the marker');
  const level = new Map<string, number>();
  line
    .replace(/`/g, '')
    .split('→')
    .forEach((group, i) => {
      for (const unit of group.split(',')) level.set(unit.trim(), i);
    });
  return level;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const path = join(dir, d.name);
    if (d.isDirectory()) return sourceFiles(path);
    return d.name.endsWith('.ts') && !d.name.endsWith('.test.ts') ? [path] : [];
  });
}

/** `src/tar/write.ts` → `tar`; `src/entry.ts` → `entry`; `src/index.ts` → `index` (the package root). */
function unitOf(file: string): string {
  const parts = relative(SRC, file).split('/');
  return parts.length === 1 ? parts[0]!.replace(/\.ts$/, '') : parts[0]!;
}

interface Import {
  readonly from: string;
  readonly to: string;
  readonly spec: string;
}

/** Every relative import (static, `export … from`, `import type`, dynamic `import('…')`) of a module. */
function importsOf(file: string): Import[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return info.importedFiles
    .map((f) => f.fileName)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => ({ from: file, spec, to: resolve(dirname(file), spec).replace(/\.js$/, '.ts') }));
}

const files = sourceFiles(SRC);
const imports = new Map(files.map((f) => [f, importsOf(f)]));
const isInternal = (file: string): boolean => unitOf(file) === 'internal';

/** The units a module of `src/internal/` stands for: what it imports, through other internal modules too. */
function internalTargets(file: string, seen = new Set<string>()): string[] {
  if (seen.has(file)) return [];
  seen.add(file);
  return (imports.get(file) ?? []).flatMap((i) => (isInternal(i.to) ? internalTargets(i.to, seen) : [unitOf(i.to)]));
}

function where(i: Import): string {
  return `${relative(ROOT, i.from)} imports '${i.spec}'`;
}

const level = documentedOrder();

function levelOf(unit: string): number {
  const l = level.get(unit);
  if (l === undefined) throw new Error(`src/${unit} has no place in the dependency order of docs/architecture.md`);
  return l;
}

/** Rule (a) over a set of imports: one message per import of a unit above or beside the importer. */
function orderProblems(all: ReadonlyMap<string, readonly Import[]>): string[] {
  const problems: string[] = [];
  for (const [file, list] of all) {
    const from = unitOf(file);
    if (from === 'index' || from === 'internal') continue;
    for (const i of list) {
      const to = unitOf(i.to);
      const targets = to === 'internal' ? new Set(internalTargets(i.to)) : [to];
      for (const t of targets) {
        if (t === from || t === 'internal') continue;
        if (levelOf(t) <= levelOf(from)) {
          problems.push(`${where(i)}: ${from} may not depend on ${t}${to === 'internal' ? ' (through it)' : ''}`);
        }
      }
    }
  }
  return problems;
}

/** Rule (b) over a set of imports: one message per import of another folder's private module. */
function pathProblems(all: ReadonlyMap<string, readonly Import[]>): string[] {
  const problems: string[] = [];
  for (const [file, list] of all) {
    const from = unitOf(file);
    if (from === 'internal') continue;
    for (const i of list) {
      const to = unitOf(i.to);
      if (to === from || to === 'internal' || ROOT_MODULES.has(to)) continue;
      if (i.to !== join(SRC, to, 'index.ts')) problems.push(`${where(i)}: go through src/${to}/index.ts`);
    }
  }
  return problems;
}

/** One fake import, for the tests that show the checker finds what it should. */
function fake(from: string, spec: string): Map<string, Import[]> {
  const file = join(SRC, from);
  return new Map([[file, [{ from: file, spec, to: resolve(dirname(file), spec).replace(/\.js$/, '.ts') }]]]);
}

describe('dependency rule (docs/architecture.md, "Public API and internals")', () => {
  test('the documented order names every folder and root module of src/', () => {
    const units = new Set(files.map(unitOf).filter((u) => u !== 'index'));
    for (const u of units) levelOf(u);
    assert.ok(levelOf('cli') < levelOf('inspect') && levelOf('inspect') < levelOf('oci'));
    assert.ok(levelOf('oci') < levelOf('layer') && levelOf('layer') < levelOf('tar'));
    assert.equal(levelOf('tar'), levelOf('hive'), 'tar and hive share a level: neither may import the other');
  });

  test('(a) no import from a folder above (or beside) in the documented order', () => {
    assert.deepEqual(orderProblems(imports), []);
  });

  test('(b) another folder is imported through its index.ts, src/internal/ or a root module', () => {
    assert.deepEqual(pathProblems(imports), []);
  });

  test('src/internal/ is never exported from the package, and nothing imports the package root', () => {
    const problems: string[] = [];
    for (const [file, list] of imports) {
      for (const i of list) {
        if (unitOf(file) === 'index' && unitOf(i.to) === 'internal')
          problems.push(`${where(i)}: internals stay private`);
        if (i.to === join(SRC, 'index.ts')) problems.push(`${where(i)}: import the folder, not the package root`);
      }
    }
    assert.deepEqual(problems, []);
  });

  test('the checker finds violations', () => {
    assert.equal(orderProblems(fake('windows/x.ts', '../oci/index.js')).length, 1, 'upward');
    assert.equal(orderProblems(fake('tar/x.ts', '../hive/index.js')).length, 1, 'beside');
    assert.equal(orderProblems(fake('windows/x.ts', '../internal/tar.js')).length, 1, 'upward through internal');
    assert.deepEqual(orderProblems(fake('layer/x.ts', '../internal/tar.js')), []);
    assert.equal(pathProblems(fake('layer/x.ts', '../tar/write.js')).length, 1, 'private module');
    assert.deepEqual(pathProblems(fake('layer/x.ts', '../tar/index.js')), []);
    assert.deepEqual(pathProblems(fake('layer/x.ts', '../entry.js')), []);
  });
});
