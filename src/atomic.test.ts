import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { runCli } from '../test/helpers/cli.js';
import {
  AtomicTarget,
  HOST_PATH_LIMITS,
  hostPathProblem,
  type ReplaceStep,
  removeStaleTemps,
  removeTree,
  tempSiblingPath,
  writeFileAtomic,
} from './atomic.js';

function scratch(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'winlayer-atomic-'));
  // Not `rmSync({ recursive })`: it overflows the stack on the deep trees made here.
  t.after(() => removeTree(dir));
  return dir;
}

/** Makes `levels` nested folders `d/d/…` under `dir` (each path short enough to create) and returns the deepest. */
function nest(dir: string, levels: number): string {
  let p = dir;
  for (let i = 0; i < levels; i++) {
    p = `${p}/d`;
    mkdirSync(p);
  }
  return p;
}

describe('AtomicTarget', () => {
  test('nothing sits at the final path until commit, and no temporary is left after it', (t) => {
    const dir = scratch(t);
    const final = join(dir, 'out.tar');
    const target = new AtomicTarget(final);
    writeFileSync(target.tempPath, 'data');
    assert.equal(existsSync(final), false);
    assert.match(target.tempPath, /\/\.out\.tar\.winlayer-tmp-\d+-[0-9a-f]{8}$/);
    target.commit();
    assert.equal(readFileSync(final, 'utf8'), 'data');
    assert.deepEqual(readdirSync(dir), ['out.tar']);
  });

  test('abort removes the temporary and leaves an existing final file as it was', (t) => {
    const dir = scratch(t);
    const final = join(dir, 'out.tar');
    writeFileSync(final, 'old');
    const target = new AtomicTarget(final);
    writeFileSync(target.tempPath, 'new');
    target.abort();
    assert.equal(readFileSync(final, 'utf8'), 'old');
    assert.deepEqual(readdirSync(dir), ['out.tar']);
  });

  test('a folder target replaces an existing folder whole', (t) => {
    const dir = scratch(t);
    const final = join(dir, 'layer');
    writeFileAtomic(join(dir, 'placeholder'), '');
    const first = new AtomicTarget(final, { kind: 'folder' });
    mkdirSync(join(first.tempPath, 'a'), { recursive: true });
    first.commit({ synced: true });
    const second = new AtomicTarget(final, { kind: 'folder' });
    mkdirSync(join(second.tempPath, 'b'), { recursive: true });
    second.commit({ synced: true, replaceDirectory: true });
    assert.deepEqual(readdirSync(final), ['b']);
    assert.deepEqual(readdirSync(dir).sort(), ['layer', 'placeholder']);
  });

  test('a device such as /dev/null is written in place, never renamed over', () => {
    const target = new AtomicTarget('/dev/null');
    assert.equal(target.direct, true);
    assert.equal(target.tempPath, '/dev/null');
    writeFileSync(target.tempPath, 'discarded');
    target.commit();
    assert.equal(lstatSync('/dev/null').isCharacterDevice(), true);
  });

  test('a destination whose folder is missing is NOT_FOUND, a folder is USAGE; no temporary is named', (t) => {
    const dir = scratch(t);
    assert.throws(
      () => new AtomicTarget(join(dir, 'nosuch', 'x.tar')),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'NOT_FOUND');
        assert.match(e.message, /nosuch\/x\.tar: the destination folder does not exist/);
        assert.doesNotMatch(e.message, /winlayer-tmp/);
        return true;
      },
    );
    mkdirSync(join(dir, 'emptydir'));
    assert.throws(() => writeFileAtomic(join(dir, 'emptydir'), 'x'), {
      code: 'USAGE',
      message: /emptydir: the destination is a folder/,
    });
    // A folder target may replace a folder.
    new AtomicTarget(join(dir, 'emptydir'), { kind: 'folder' }).abort();
    assert.deepEqual(readdirSync(dir), ['emptydir']);
  });

  test('temporaries of dead processes are removed by the next run; live ones are kept', (t) => {
    const dir = scratch(t);
    const final = join(dir, 'out.tar');
    const dead = join(dir, '.out.tar.winlayer-tmp-999999999-deadbeef');
    writeFileSync(dead, 'partial');
    const mine = tempSiblingPath(final);
    writeFileSync(join(dir, '.other.winlayer-tmp-1-00000000'), 'not ours');
    const removed = removeStaleTemps(final);
    assert.deepEqual(removed, [dead]);
    assert.equal(existsSync(dead), false);
    assert.equal(existsSync(join(dir, '.other.winlayer-tmp-1-00000000')), true);
    assert.notEqual(mine, dead);
  });
});

describe('commit with replaceDirectory keeps the old folder until the new one is in place', () => {
  /** A dead process's set-aside of `final`, as a kill between the two renames leaves it. */
  const asideOf = (final: string): string =>
    join(final, '..', `.${final.split('/').pop()}.winlayer-old-999999999-0badc0de`);

  test('the next run puts back an old folder whose replacement never arrived', (t) => {
    const dir = scratch(t);
    const final = join(dir, 'layer');
    mkdirSync(join(asideOf(final), 'Files'), { recursive: true });
    writeFileSync(join(asideOf(final), 'Files', 'old'), 'old');
    mkdirSync(join(dir, '.layer.winlayer-tmp-999999999-deadbeef'));
    assert.deepEqual(removeStaleTemps(final), [join(dir, '.layer.winlayer-tmp-999999999-deadbeef')]);
    assert.equal(readFileSync(join(final, 'Files', 'old'), 'utf8'), 'old');
    assert.deepEqual(readdirSync(dir), ['layer']);
  });

  test('an empty folder made at the target since the crash does not cost the old folder: it is put back', (t) => {
    const dir = scratch(t);
    const final = join(dir, 'layer');
    mkdirSync(final);
    mkdirSync(join(asideOf(final), 'Files'), { recursive: true });
    writeFileSync(join(asideOf(final), 'Files', 'old'), 'old');
    removeStaleTemps(final);
    assert.equal(readFileSync(join(final, 'Files', 'old'), 'utf8'), 'old');
    assert.deepEqual(readdirSync(dir), ['layer']);
  });

  test('a set-aside whose replacement arrived is removed; so is one when a writer of any kind starts', (t) => {
    const dir = scratch(t);
    const final = join(dir, 'layer');
    mkdirSync(join(final, 'Files'), { recursive: true });
    mkdirSync(join(asideOf(final), 'Files'), { recursive: true });
    new AtomicTarget(final, { kind: 'folder' }).abort();
    assert.deepEqual(readdirSync(dir), ['layer']);
  });

  /** Runs a child that replaces `final` with a folder holding `new` and is killed with SIGKILL after `step`. */
  async function killedAt(step: ReplaceStep, final: string): Promise<void> {
    const script = `
      import { mkdirSync, writeFileSync } from 'node:fs';
      import { AtomicTarget } from ${JSON.stringify(new URL('./atomic.ts', import.meta.url).pathname)};
      const target = new AtomicTarget(${JSON.stringify(final)}, { kind: 'folder' });
      mkdirSync(target.tempPath);
      writeFileSync(target.tempPath + '/new', 'new');
      target.commit({ replaceDirectory: true, afterStep: (s) => s === ${JSON.stringify(step)} && process.kill(process.pid, 'SIGKILL') });
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_c, sig) => resolve(sig)));
    assert.equal(signal, 'SIGKILL');
  }

  test('killed after the old folder is set aside: no target, and the next run restores the old one', async (t) => {
    const dir = scratch(t);
    const final = join(dir, 'layer');
    mkdirSync(final);
    writeFileSync(join(final, 'old'), 'old');
    await killedAt('set-aside', final);
    assert.equal(existsSync(final), false);
    const names = readdirSync(dir).sort();
    assert.equal(names.length, 2);
    assert.match(names[0]!, /^\.layer\.winlayer-old-\d+-[0-9a-f]{8}$/);
    assert.match(names[1]!, /^\.layer\.winlayer-tmp-\d+-[0-9a-f]{8}$/);
    removeStaleTemps(final);
    assert.deepEqual(readdirSync(dir), ['layer']);
    assert.deepEqual(readdirSync(final), ['old']);
  });

  test('killed after the new folder is in place: the next run removes the old one', async (t) => {
    const dir = scratch(t);
    const final = join(dir, 'layer');
    mkdirSync(final);
    writeFileSync(join(final, 'old'), 'old');
    await killedAt('in-place', final);
    assert.deepEqual(readdirSync(final), ['new']);
    assert.equal(readdirSync(dir).length, 2);
    removeStaleTemps(final);
    assert.deepEqual(readdirSync(dir), ['layer']);
    assert.deepEqual(readdirSync(final), ['new']);
  });
});

describe('removeTree', () => {
  test("removes a tree deeper than PATH_MAX allows to name (Node's recursive rmSync overflows its stack)", (t) => {
    const dir = scratch(t);
    // Two chains of 1,500 levels, one moved into the other: 3,000 levels, ~6,000 bytes of path at the bottom.
    const a = nest(join(dir, 'tree'), 0);
    mkdirSync(a);
    const bottom = nest(a, 1500);
    writeFileSync(join(bottom, 'file'), 'x');
    const b = join(dir, 'b');
    mkdirSync(b);
    writeFileSync(join(nest(b, 1500), 'file'), 'y');
    renameSync(b, join(bottom, 'b'));
    assert.ok(Buffer.byteLength(bottom) + 3002 > HOST_PATH_LIMITS.PATH_MAX);
    removeTree(join(dir, 'tree'));
    assert.deepEqual(readdirSync(dir), []);
  });

  test('a missing path is no error; a file is unlinked; a link is removed, never followed', (t) => {
    const dir = scratch(t);
    removeTree(join(dir, 'none'));
    mkdirSync(join(dir, 'outside'));
    writeFileSync(join(dir, 'outside', 'keep'), 'k');
    mkdirSync(join(dir, 'tree'));
    symlinkSync(join(dir, 'outside'), join(dir, 'tree', 'link'));
    writeFileSync(join(dir, 'tree', 'f'), 'f');
    removeTree(join(dir, 'tree'));
    writeFileSync(join(dir, 'file'), 'x');
    removeTree(join(dir, 'file'));
    assert.deepEqual(readdirSync(dir), ['outside']);
    assert.deepEqual(readdirSync(join(dir, 'outside')), ['keep']);
  });

  test('hostPathProblem: a name over NAME_MAX bytes, a path of PATH_MAX bytes', () => {
    const max = HOST_PATH_LIMITS.PATH_MAX;
    assert.equal(hostPathProblem('/x', `Files/${'a'.repeat(255)}`), undefined);
    assert.match(
      hostPathProblem('/x', `Files/${'あ'.repeat(100)}`) ?? '',
      /the name is 300 bytes; .* 255 \(NAME_MAX\)/,
    );
    // '/x' + '/' + the rest: max - 1 bytes fit, max do not.
    assert.equal(hostPathProblem('/x', 'a/'.repeat(max).slice(0, max - 4)), undefined);
    assert.match(
      hostPathProblem('/x', 'a/'.repeat(max).slice(0, max - 3)) ?? '',
      new RegExp(`is ${max} bytes .* ${max - 1} \\(PATH_MAX\\)`),
    );
  });
});

describe('writers through AtomicTarget: a missing output folder or a folder as output', () => {
  test('export, hive new, ls --html: the destination folder does not exist (exit 2), no temporary named', async (t) => {
    const dir = scratch(t);
    const layer = join(dir, 'layer');
    mkdirSync(join(layer, 'Files'), { recursive: true });
    const cases = [
      ['export', layer, '--non-base', '-o', join(dir, 'nosuch', 'x.tar')],
      ['hive', 'new', join(dir, 'nosuch', 'x.hive')],
      ['ls', '--html', join(dir, 'nosuch', 'x.html'), layer],
    ];
    for (const args of cases) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /nosuch\/x\.\w+: the destination folder does not exist \(NOT_FOUND\)/, args.join(' '));
      assert.doesNotMatch(r.stderr, /winlayer-tmp/);
    }
    assert.deepEqual(readdirSync(dir), ['layer']);
  });

  test('ls --html onto a folder is a usage error naming it (no EISDIR, no temporary named)', async (t) => {
    const dir = scratch(t);
    mkdirSync(join(dir, 'emptydir'));
    mkdirSync(join(dir, 'layer', 'Files'), { recursive: true });
    const r = await runCli(['ls', '--html', join(dir, 'emptydir'), join(dir, 'layer')]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /emptydir: the destination is a folder/);
    assert.doesNotMatch(r.stderr, /winlayer-tmp|EISDIR/);
    assert.deepEqual(readdirSync(join(dir, 'emptydir')), []);
  });
});
