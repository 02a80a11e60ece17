/**
 * Helpers for tests that run tools we did not write (GNU tar, bsdtar, Python, hivex, reglookup, skopeo, a registry).
 * Locally a missing tool skips the test; in CI (`CI=true`) a missing tool is a failure, never a skip.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

export function hasTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Returns true when `name` is on PATH. Otherwise: in CI throws (the test fails); locally skips the test and returns
 * false, so the caller can `if (!requireTool(t, 'hivexml')) return;`.
 */
export function requireTool(t: TestContext, name: string): boolean {
  if (hasTool(name)) return true;
  if (process.env.CI === 'true') throw new Error(`${name} is required in CI but is not installed (see .ci/run)`);
  t.skip(`${name} not installed`);
  return false;
}

/** Runs a tool and returns stdout; throws with stderr on a non-zero exit. */
export function run(cmd: string, args: string[], opts: { input?: Buffer | string; cwd?: string } = {}): Buffer {
  return execFileSync(cmd, args, {
    input: opts.input,
    cwd: opts.cwd,
    maxBuffer: 1 << 30,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** A fresh temporary folder, removed when the test ends. */
export function tempDir(t: TestContext, prefix = 'winlayer-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The project's test data (`test/fixtures/`; who made each file, and its licence: `test/fixtures/PROVENANCE.md`). */
export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

/**
 * Optional real files beside the clone (`../shared/fixtures`), some under licences the project does not ship. Tests
 * of them are extra checks: they run when the folder exists and are skipped, with {@link EXTRA_SKIP}, when it does
 * not; the project's own tests never need it.
 */
export const EXTRA_FIXTURES = fileURLToPath(new URL('../../../shared/fixtures/', import.meta.url));

/** The `skip` option of an extra check: false when `../shared/fixtures` is there, else the reason. */
export const EXTRA_SKIP: string | false = existsSync(EXTRA_FIXTURES) ? false : 'no ../shared/fixtures beside the clone';

/**
 * The files of `dir` in the extra fixtures that the project does not hold itself (`hives/valid`: the yarp and hivex
 * hives), sorted; none when the folder is absent.
 */
export function extraFixtureFiles(dir: string): string[] {
  if (!existsSync(join(EXTRA_FIXTURES, dir))) return [];
  const ours = existsSync(join(FIXTURES, dir)) ? new Set(readdirSync(join(FIXTURES, dir))) : new Set<string>();
  return readdirSync(join(EXTRA_FIXTURES, dir))
    .filter((name) => !ours.has(name))
    .sort();
}
