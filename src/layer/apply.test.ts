import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bufferBody, type LayerEntry } from '../entry.js';
import type { WinlayerError } from '../errors.js';
import {
  applyDeltaHives,
  asDword,
  buildHive,
  checkHive,
  createHiveBuilder,
  findKey,
  openHive,
  value,
} from '../hive/index.js';
import { type ApplyLayersOptions, applyLayers, type OpenLayer, planLayers } from './apply.js';

const dir = (path: string, t = 0n): LayerEntry => ({ kind: 'directory', path, win: { lastWriteTime: t } });
const file = (path: string, text: string): LayerEntry => ({
  kind: 'file',
  path,
  size: text.length,
  body: bufferBody(Buffer.from(text)),
  win: { lastWriteTime: 0n },
});
const ads = (filePath: string, name: string, text: string): LayerEntry => ({
  kind: 'stream',
  path: `${filePath}:${name}`,
  filePath,
  streamName: name,
  size: text.length,
  body: bufferBody(Buffer.from(text)),
  win: { lastWriteTime: 0n },
});
const link = (path: string, linkTarget: string): LayerEntry => ({
  kind: 'hardlink',
  path,
  linkTarget,
  win: { lastWriteTime: 0n },
});
const wh = (target: string): LayerEntry => {
  const at = target.lastIndexOf('/');
  return {
    kind: 'whiteout',
    path: `${target.slice(0, at)}/.wh.${target.slice(at + 1)}`,
    target,
    win: { lastWriteTime: 0n },
  };
};
const opq = (directory: string): LayerEntry => ({
  kind: 'opaqueWhiteout',
  path: `${directory}/.wh..wh..opq`,
  directory,
  win: { lastWriteTime: 0n },
});

/** Openers that give fresh bodies on every pass, as a real source reads the layer again; counts the opens. */
function layers(...ls: LayerEntry[][]): { open: OpenLayer[]; opens: number[] } {
  const opens = ls.map(() => 0);
  const open = ls.map(
    (entries, i): OpenLayer =>
      () => {
        opens[i]!++;
        return (async function* () {
          for (const e of entries) {
            if (e.kind !== 'file' && e.kind !== 'stream') yield e;
            else {
              const text = bodies.get(e)!;
              yield { ...e, body: bufferBody(typeof text === 'string' ? Buffer.from(text) : text) };
            }
          }
        })();
      },
  );
  return { open, opens };
}
const bodies = new WeakMap<LayerEntry, string | Uint8Array>();
function withText(e: LayerEntry, text: string | Uint8Array): LayerEntry {
  bodies.set(e, text);
  return e;
}
const f = (path: string, text: string): LayerEntry => withText(file(path, text), text);
/** A file of bytes (a hive). */
const fb = (path: string, bytes: Uint8Array): LayerEntry =>
  withText({ kind: 'file', path, size: bytes.length, body: bufferBody(bytes), win: { lastWriteTime: 0n } }, bytes);
const s = (filePath: string, name: string, text: string): LayerEntry => withText(ads(filePath, name, text), text);

const HONOUR: ApplyLayersOptions = { opaqueWhiteouts: 'honour', hiveDeltas: 'drop', lowerHardLinks: 'repoint' };

/** Each entry as `path` plus what tells entries apart: a folder's time, a file's text, a link's target. */
async function show(entries: AsyncIterable<LayerEntry>): Promise<string[]> {
  const out: string[] = [];
  for await (const e of entries) {
    if (e.kind === 'directory') out.push(`${e.path}/@${e.win.lastWriteTime}`);
    else if (e.kind === 'file' || e.kind === 'stream') {
      const chunks: Uint8Array[] = [];
      for await (const c of e.body) chunks.push(c);
      out.push(`${e.path}=${Buffer.concat(chunks).toString()}`);
    } else if (e.kind === 'hardlink' || e.kind === 'symlink') out.push(`${e.path}->${e.linkTarget}`);
    else out.push(`${e.path} (${e.kind})`);
  }
  return out;
}

describe('applyLayers', () => {
  it('applies replacements, whiteouts, re-created folders and case-insensitive names; reads each layer twice', async () => {
    const l = layers(
      [dir('Files'), dir('Files/a'), f('Files/a/x', '1'), f('Files/a/y', '1'), dir('Files/b'), f('Files/b/z', '1')],
      [dir('Files', 5n), dir('Hives'), f('Hives/Software_Delta', 'h'), wh('Files/b'), f('Files/A/X', '2')],
      [dir('Files/B', 7n), f('Files/b/new', '3'), wh('Files/a/y')],
    );
    const it = applyLayers(l.open, HONOUR);
    assert.deepEqual(l.opens, [0, 0, 0], 'nothing is read before iteration');
    // names follow their folder's final spelling (the import refuses a folder spelled two ways)
    assert.deepEqual(await show(it), ['Files/@5', 'Files/a/@0', 'Files/B/@7', 'Files/a/X=2', 'Files/B/new=3']);
    assert.deepEqual(l.opens, [2, 2, 2]);
  });

  it('a folder replaced by a file loses its lower children, also when a later layer makes it a folder again', async () => {
    const l = layers(
      [dir('Files'), dir('Files/d'), f('Files/d/x', '1')],
      [f('Files/d', 'now a file')],
      [dir('Files/d', 9n), f('Files/d/y', '2')],
    );
    assert.deepEqual(await show(applyLayers(l.open, HONOUR)), ['Files/@0', 'Files/d/@9', 'Files/d/y=2']);
  });

  it('a replaced or deleted file takes its alternate data streams with it', async () => {
    const l = layers(
      [dir('Files'), f('Files/a', '1'), s('Files/a', 'zone', 'z'), f('Files/b', '1'), s('Files/b', 'zone', 'z')],
      [f('Files/A', '2'), wh('Files/b')],
    );
    assert.deepEqual(await show(applyLayers(l.open, HONOUR)), ['Files/@0', 'Files/A=2']);
  });

  it('honours an opaque whiteout for earlier content only, or refuses it', async () => {
    const mk = () =>
      layers(
        [dir('Files'), dir('Files/d'), f('Files/d/old', '1'), f('Files/keep', '1')],
        [dir('Files/D', 3n), opq('Files/D'), f('Files/d/new', '2')],
      );
    assert.deepEqual(await show(applyLayers(mk().open, HONOUR)), [
      'Files/@0',
      'Files/D/@3',
      'Files/keep=1',
      'Files/D/new=2',
    ]);
    await assert.rejects(planLayers(mk().open, { ...HONOUR, opaqueWhiteouts: 'refuse' }), (e: WinlayerError) => {
      assert.equal(e.code, 'LAYER_INVALID');
      assert.match(e.message, /layer 2 holds an opaque whiteout/);
      return true;
    });
  });

  it('re-points a hard link whose target a later layer replaced, or refuses it', async () => {
    const mk = () =>
      layers(
        [dir('Files'), f('Files/t', 'old'), link('Files/l1', 'Files/t'), link('Files/l2', 'Files/T')],
        [f('Files/t', 'new')],
      );
    // the first link receives the old content, the second links to it; the new file stands alone
    assert.deepEqual(await show(applyLayers(mk().open, HONOUR)), [
      'Files/@0',
      'Files/l1=old',
      'Files/l2->Files/l1',
      'Files/t=new',
    ]);
    await assert.rejects(planLayers(mk().open, { ...HONOUR, lowerHardLinks: 'refuse' }), /a later layer replaced/);
  });

  it('a hard link to content no layer holds is refused', async () => {
    const l = layers([dir('Files'), link('Files/l', 'Files/none')]);
    await assert.rejects(planLayers(l.open, HONOUR), /no layer holds the content it names/);
  });

  it('Hives/ deltas: dropped (the hook sees each), refused, or kept as content', async () => {
    const mk = () =>
      layers(
        [dir('Files'), f('Files/a', '1')],
        [dir('Hives'), f('Hives/Software_Delta', 'h1')],
        [dir('Hives'), f('Hives/software_delta', 'h2'), f('Hives/System_Delta', 's')],
      );
    const seen: string[] = [];
    const dropped = applyLayers(mk().open, {
      ...HONOUR,
      onHiveDelta: async (e, i) => {
        assert.equal(e.kind, 'file');
        const chunks: Uint8Array[] = [];
        if (e.kind === 'file') for await (const c of e.body) chunks.push(c);
        seen.push(`${i}:${e.path}=${Buffer.concat(chunks).toString()}`);
      },
    });
    assert.deepEqual(await show(dropped), ['Files/@0', 'Files/a=1']);
    assert.deepEqual(seen, ['1:Hives/Software_Delta=h1', '2:Hives/software_delta=h2', '2:Hives/System_Delta=s']);
    await assert.rejects(
      planLayers(mk().open, { ...HONOUR, hiveDeltas: 'refuse' }),
      /layer 2 carries registry changes \(Hives\/Software_Delta\)/,
    );
    assert.deepEqual(await show(applyLayers(mk().open, { ...HONOUR, hiveDeltas: 'keep' })), [
      'Files/@0',
      'Files/a=1',
      'Hives/@0',
      'Hives/software_delta=h2',
      'Hives/System_Delta=s',
    ]);
  });

  it('refuses special files on request, and says which layer holds them', async () => {
    const fifo: LayerEntry = {
      kind: 'special',
      path: 'Files/p',
      typeflag: '6',
      description: 'FIFO',
      win: { lastWriteTime: 0n },
    };
    const l = layers([dir('Files')], [fifo]);
    assert.deepEqual(await show(applyLayers(l.open, HONOUR)), ['Files/@0', 'Files/p (special)']);
    await assert.rejects(planLayers(l.open, { ...HONOUR, specialFiles: 'refuse' }), (e: WinlayerError) => {
      assert.equal(e.code, 'LAYER_SPECIAL_FILE');
      assert.match(e.message, /layer 2: a FIFO/);
      return true;
    });
  });

  it('finalPath gives the surviving spelling', async () => {
    const l = layers(
      [dir('Files'), dir('Files/windows')],
      [dir('Files/WINDOWS', 1n), f('Files/x', '1')],
      [wh('Files/x')],
    );
    const plan = await planLayers(l.open, HONOUR);
    assert.equal(plan.finalPath('Files/Windows'), 'Files/WINDOWS');
    assert.equal(plan.finalPath('files/x'), undefined);
    assert.equal(plan.count, 3);
  });
});

describe('applyLayersToFolder', () => {
  /** Three layers with every rule: replacements, whiteouts, an opaque whiteout, case-different names, hard links. */
  const stack = () =>
    layers(
      [
        dir('Files'),
        dir('Files/a'),
        f('Files/a/x', '1'),
        f('Files/a/y', '1'),
        f('Files/a/keep', 'k'),
        dir('Files/b'),
        f('Files/b/z', '1'),
        f('Files/t', 'old'),
        s('Files/t', 'zone', 'z'),
        dir('Files/d'),
        f('Files/d/old', '1'),
        f('Files/q', 'q'),
        link('Files/ql', 'Files/q'),
        f('Files/w', 'w'),
        s('Files/w', 'zone', 'w-zone'),
      ],
      [
        dir('Files', 5n),
        dir('Files/A', 3n),
        f('Files/A/X', '2'),
        wh('Files/b'),
        link('Files/l1', 'Files/t'),
        link('Files/l2', 'Files/t'),
        dir('Hives'),
        f('Hives/Software_Delta', 'h'),
      ],
      [
        dir('Files', 5n),
        dir('Files/a', 3n),
        dir('Files/B', 7n),
        f('Files/B/new', '3'),
        wh('Files/a/y'),
        f('Files/t', 'new'),
        dir('Files/D', 9n),
        opq('Files/D'),
        f('Files/D/new', 'n'),
        wh('Files/Q'),
      ],
    );

  it('gives the entries the plan-then-emit engine gives, reading each layer once', async (t) => {
    const { applyLayersToFolder } = await import('./apply-folder.js');
    const { compareLayers } = await import('./compare.js');
    const { writeLayerDir } = await import('./dir-writer.js');
    const { walkLayer } = await import('./walk.js');
    const { tempDir } = await import('../../test/helpers/tools.js');
    const root = tempDir(t);
    const seen: string[] = [];
    const opts: ApplyLayersOptions = { ...HONOUR, onHiveDelta: (e, i) => void seen.push(`${i}:${e.path}`) };
    const once = stack();
    const r = await applyLayersToFolder(once.open, `${root}/one-pass`, { ...opts, sync: false });
    assert.deepEqual(once.opens, [1, 1, 1]);
    assert.equal(r.kind, 'base');
    assert.deepEqual(seen, ['1:Hives/Software_Delta']);
    await writeLayerDir(applyLayers(stack().open, opts), `${root}/planned`, { sync: false });
    const cmp = await compareLayers(walkLayer(`${root}/planned`), walkLayer(`${root}/one-pass`));
    assert.deepEqual(
      { added: cmp.added, removed: cmp.removed, changed: cmp.changed },
      { added: [], removed: [], changed: [] },
    );
    assert.equal(cmp.equal, true);
    assert.deepEqual(await show(walkLayer(`${root}/one-pass`)), [
      'Files/@5',
      'Files/B/@7',
      'Files/B/new=3',
      'Files/D/@9', // the opaque whiteout emptied it of Files/d/old
      'Files/D/new=n',
      'Files/a/@3', // spelled as the last layer that wrote it; its children follow
      'Files/a/X=2',
      'Files/a/keep=k',
      'Files/l1=old',
      'Files/l2->Files/l1',
      'Files/ql=q',
      'Files/t=new',
      'Files/w=w',
      'Files/w:zone=w-zone',
    ]);
  });

  it('keeps Hives/ deltas as content on request: the result is then a non-base layer', async (t) => {
    const { applyLayersToFolder } = await import('./apply-folder.js');
    const { walkLayer } = await import('./walk.js');
    const { tempDir } = await import('../../test/helpers/tools.js');
    const root = tempDir(t);
    const l = layers(
      [dir('Files'), f('Files/a', '1')],
      [dir('Files'), dir('Hives'), f('Hives/Software_Delta', 'h1')],
      [dir('Files'), dir('Hives'), f('Hives/software_delta', 'h2')],
    );
    const r = await applyLayersToFolder(l.open, `${root}/kept`, { ...HONOUR, hiveDeltas: 'keep', sync: false });
    assert.equal(r.kind, 'non-base');
    assert.deepEqual(await show(walkLayer(`${root}/kept`)), [
      'Files/@0',
      'Files/a=1',
      'Hives/@0',
      'Hives/software_delta=h2',
    ]);
  });

  it('refuses what the options refuse, and leaves no folder behind', async (t) => {
    const { applyLayersToFolder } = await import('./apply-folder.js');
    const { tempDir } = await import('../../test/helpers/tools.js');
    const { readdirSync } = await import('node:fs');
    const root = tempDir(t);
    await assert.rejects(
      applyLayersToFolder(stack().open, `${root}/x`, { ...HONOUR, opaqueWhiteouts: 'refuse', sync: false }),
      /layer 3 holds an opaque whiteout/,
    );
    await assert.rejects(
      applyLayersToFolder(stack().open, `${root}/x`, { ...HONOUR, lowerHardLinks: 'refuse', sync: false }),
      /a later layer replaced the content it names/,
    );
    assert.deepEqual(readdirSync(root), []);
    // an existing layer folder is replaced only with force
    const small = () => layers([dir('Files'), f('Files/one', '1')], [dir('Files'), f('Files/two', '2')]);
    await applyLayersToFolder(small().open, `${root}/x`, { ...HONOUR, sync: false });
    await assert.rejects(
      applyLayersToFolder(small().open, `${root}/x`, { ...HONOUR, sync: false }),
      (e: WinlayerError) => {
        assert.equal(e.code, 'LAYER_EXISTS');
        return true;
      },
    );
    const again = layers([dir('Files'), f('Files/three', '3')]);
    await applyLayersToFolder(again.open, `${root}/x`, { ...HONOUR, sync: false, force: true });
    const { walkLayer } = await import('./walk.js');
    assert.deepEqual(await show(walkLayer(`${root}/x`)), ['Files/@0', 'Files/three=3']);
    assert.deepEqual(readdirSync(root), ['x']);
  });
});

describe("hiveDeltas: 'merge' (issue 19 §3)", () => {
  const CONFIG = 'Files/Windows/System32/config';
  const base = (): Uint8Array => {
    const b = createHiveBuilder({ rootName: 'SYSTEM' });
    b.key('K').setDword('v', 0).setDword('gone', 1);
    b.key('Old\\Deep').setDword('x', 1);
    return buildHive(b);
  };
  const delta = (v: number, tombstoneOld: boolean): Uint8Array => {
    const d = createHiveBuilder({ layered: true });
    d.key('K').setLayer('merge', { inheritClass: true }).setDword('v', v).setTombstoneValue('gone');
    if (tombstoneOld) d.key('Old').setLayer('tombstone');
    return buildHive(d);
  };
  const stack = () =>
    layers(
      [
        dir('Files'),
        fb(`${CONFIG}/SYSTEM`, base()),
        f(`${CONFIG}/SYSTEM.LOG1`, 'stale'),
        f(`${CONFIG}/system.log2`, 'stale'),
        f(`${CONFIG}/SOFTWARE`, 'software'),
        f(`${CONFIG}/SOFTWARE.LOG1`, 'kept'),
      ],
      [dir('Hives'), fb('Hives/System_Delta', delta(1, true))],
      [dir('Hives'), fb('Hives/SYSTEM_DELTA', delta(2, false))],
    );

  it('folds each layer’s delta into the base hive in layer order, and drops its stale .LOG files', async () => {
    const merged: string[] = [];
    const out = new Map<string, Uint8Array>();
    for await (const e of applyLayers(stack().open, {
      ...HONOUR,
      hiveDeltas: 'merge',
      onHiveDelta: (e, i) => {
        merged.push(`${i}:${e.path}`);
      },
    })) {
      const chunks: Uint8Array[] = [];
      if (e.kind === 'file') for await (const c of e.body) chunks.push(c);
      out.set(e.path, Buffer.concat(chunks));
    }
    assert.deepEqual(merged, ['1:Hives/System_Delta', '2:Hives/SYSTEM_DELTA']);
    assert.deepEqual([...out.keys()], ['Files', `${CONFIG}/SYSTEM`, `${CONFIG}/SOFTWARE`, `${CONFIG}/SOFTWARE.LOG1`]);
    const hive = out.get(`${CONFIG}/SYSTEM`)!;
    assert.deepEqual(hive, Buffer.from(applyDeltaHives(base(), [delta(1, true), delta(2, false)])));
    const h = openHive(hive);
    assert.equal(asDword(value(findKey(h, 'K')!, 'v')!), 2);
    assert.equal(value(findKey(h, 'K')!, 'gone'), undefined);
    assert.equal(findKey(h, 'Old'), undefined);
    assert.deepEqual(checkHive(hive).errors, []);
  });

  it('refuses other files under Hives/, deltas no base hive takes, and the one-pass folder form', async (t) => {
    const merge: ApplyLayersOptions = { ...HONOUR, hiveDeltas: 'merge' };
    await assert.rejects(
      planLayers(layers([dir('Files')], [dir('Hives'), f('Hives/x.txt', 'x')]).open, merge),
      (e: WinlayerError) => e.code === 'LAYER_INVALID' && /Hives\/x\.txt is not one of the five/.test(e.message),
    );
    await assert.rejects(
      planLayers(layers([dir('Files')], [dir('Hives'), fb('Hives/Sam_Delta', delta(1, false))]).open, merge),
      (e: WinlayerError) => e.code === 'LAYER_INVALID' && /no layer holds the hive .*config\/SAM/.test(e.message),
    );
    const bad = layers([fb(`${CONFIG}/SYSTEM`, base())], [fb('Hives/System_Delta', base())]);
    await assert.rejects(show(applyLayers(bad.open, merge)), (e: WinlayerError) => e.code === 'HIVE_HEADER');
    const { applyLayersToFolder } = await import('./apply-folder.js');
    const { tempDir } = await import('../../test/helpers/tools.js');
    await assert.rejects(
      applyLayersToFolder(stack().open, `${tempDir(t)}/x`, { ...merge, sync: false }),
      (e: WinlayerError) => e.code === 'USAGE',
    );
  });
});
