/**
 * Issue 16's hive points at the command line: `hive new` does not replace a file without `--force`, `hive merge`
 * keeps the file's permissions, `hive dump` shows names from the hive with their control characters escaped, and the
 * help texts cite the project's own docs.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { runCli } from '../../test/helpers/cli.js';
import { buildHive, createEmptyHive, createHiveBuilder, REG } from './index.js';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'winlayer-hive-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const REG_FILE = 'Windows Registry Editor Version 5.00\r\n\r\n[ROOT\\Foo]\r\n"Bar"=dword:00000002\r\n';

describe('hive new onto an existing path', () => {
  it('refuses an existing file without --force, and replaces it with --force', async (t) => {
    const dir = tempDir(t);
    const file = join(dir, 'SOFTWARE');
    const keep = createHiveBuilder();
    keep.key('Keep').setDword('v', 1);
    const old = buildHive(keep);
    writeFileSync(file, old);
    const refused = await runCli(['hive', 'new', file]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /exists already \(HIVE_EXISTS\)/);
    assert.match(refused.stderr, /--force/);
    assert.deepEqual(readFileSync(file), Buffer.from(old));
    const forced = await runCli(['hive', 'new', file, '--force', '--root-name', 'NEW']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.notDeepEqual(readFileSync(file), Buffer.from(old));
  });

  it('refuses a folder, with or without --force, and leaves nothing behind', async (t) => {
    const dir = tempDir(t);
    const folder = join(dir, 'emptydir');
    mkdirSync(folder);
    for (const extra of [[], ['--force']]) {
      const out = await runCli(['hive', 'new', folder, ...extra]);
      assert.equal(out.code, 2);
      assert.match(out.stderr, /^error: \S*emptydir: the destination is a folder\n/);
      assert.match(out.stderr, /\nusage: winlayer hive new <file> .*\nsee 'winlayer hive new --help'\n$/);
      assert.doesNotMatch(out.stderr, /winlayer-tmp/);
    }
    assert.ok(statSync(folder).isDirectory());
  });

  it('still creates a new file', async (t) => {
    const file = join(tempDir(t), 'NEW');
    assert.equal((await runCli(['hive', 'new', file])).code, 0);
    assert.ok(existsSync(file));
  });
});

describe('hive merge', () => {
  it('keeps the permission bits of the hive file (a 0600 SAM stays 0600)', async (t) => {
    const dir = tempDir(t);
    const file = join(dir, 'SAM');
    writeFileSync(file, createEmptyHive());
    chmodSync(file, 0o600);
    const reg = join(dir, 'c.reg');
    writeFileSync(reg, REG_FILE);
    const out = await runCli(['hive', 'merge', file, reg]);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    chmodSync(file, 0o640);
    assert.equal((await runCli(['hive', 'merge', file, reg])).code, 0);
    assert.equal(statSync(file).mode & 0o777, 0o640);
  });
});

describe('hive dump text output', () => {
  it('escapes control characters in key names, value names and string data', async (t) => {
    const evil = 'evil\x1b]0;PWNED\x07\x1b[2J';
    const b = createHiveBuilder();
    b.key(`Files\\${evil}\r\nfake`)
      .setString(`name\x9b1m`, `data\x1b[31m\u202e`)
      .setValue('multi', REG.MULTI_SZ, Buffer.from('a\x1bb\0\0', 'utf16le'));
    const file = join(tempDir(t), 'evil.hive');
    writeFileSync(file, buildHive(b));
    const out = await runCli(['hive', 'dump', file]);
    assert.equal(out.code, 0, out.stderr);
    // nothing but printable text and line ends reaches the terminal
    assert.doesNotMatch(out.stdout.replace(/\n/g, ''), /[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/);
    assert.match(out.stdout, /\[\\Files\\evil\\x1b\]0;PWNED\\x07\\x1b\[2J\\r\\nfake\]/);
    assert.match(out.stdout, /name\\x9b1m/);
    assert.match(out.stdout, /\\u202e/);
  });
});

describe('help texts', () => {
  it('cite the docs of the project, not a file outside it', async () => {
    for (const cmd of ['check', 'dump', 'merge', 'new']) {
      const out = await runCli(['hive', cmd, '--help']);
      assert.doesNotMatch(out.stdout + out.stderr, /regf\.md/, cmd);
    }
    const check = await runCli(['hive', 'check', '--help']);
    assert.match(check.stdout + check.stderr, /docs\/hive-findings\.md/);
    assert.ok(existsSync(new URL('../../docs/hive-findings.md', import.meta.url)));
  });
});
