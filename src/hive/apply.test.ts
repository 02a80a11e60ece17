/**
 * Issue 19 §3: `applyDeltaHives`, offreg's ORMergeHives (delta-hives.md §4). Every delta is made by our writer (a
 * `layered` builder); the property checks random change sets applied through a delta against the same changes applied
 * to a plain model of the base.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import fc from 'fast-check';
import { runCli } from '../../test/helpers/cli.js';
import { DELTA_SERVICES, deltaHive } from '../../test/helpers/delta-hives.js';
import { isWinlayerError } from '../errors.js';
import { upcase } from '../windows/index.js';
import { applyDeltaHives } from './apply.js';
import {
  asDword,
  buildHive,
  checkHive,
  children,
  createHiveBuilder,
  findKey,
  type HiveKey,
  type HiveKeyBuilder,
  keyAccessBits,
  keyClass,
  keyFlags,
  keyName,
  keyPath,
  keySddl,
  keyTimestamp,
  openHive,
  REG,
  root,
  value,
  valueData,
  valueFlags,
  valueName,
  values,
  valueType,
  walkKeys,
} from './index.js';

const S = DELTA_SERVICES;
const USER_SD = 'O:BAG:BAD:(A;;KA;;;SY)(A;;KR;;;BU)';
const OTHER_SD = 'O:SYG:SYD:(A;;KA;;;SY)';

function clean(bytes: Uint8Array): void {
  assert.deepEqual(checkHive(bytes), { errors: [], warnings: [], dirty: false });
}

/** The base `deltaHive()` changes: every kind of key and value the delta touches, and some it does not. */
function serviceBase(): Uint8Array {
  const base = createHiveBuilder({ rootName: 'SYSTEM' });
  const s = base.key(S).setClass('ServicesClass').setSecurity(USER_SD).setTimestamp(5n);
  s.setDword('Gone', 1).setDword('Changed', 1).setValue('Kept', REG.BINARY, Uint8Array.of(1, 2), 0x100);
  base.key(`${S}\\Old\\Deep`).setDword('x', 1);
  base.key(`${S}\\New\\Stale`).setDword('x', 1);
  base.key(`${S}\\New`).setDword('Start', 1).setDword('Stale', 1).setClass('NewClass');
  base.key(`${S}\\Local`).setDword('Only', 0).setDword('Other', 0).setClass('LocalClass');
  base.key(`${S}\\Local\\Sub`).setDword('y', 1);
  base.key('Untouched').setClass('U').setFlags(0x1000).setSecurity(OTHER_SD);
  base.key('Untouched').userFlags = 0x3;
  return buildHive(base, { timestamp: 7n });
}

describe('applyDeltaHives (delta-hives.md §4)', () => {
  it('applies each kind of key and value and writes a normal hive that checks clean', () => {
    const out = applyDeltaHives(serviceBase(), [deltaHive()]);
    clean(out);
    const h = openHive(out);
    assert.equal(h.layered, false);
    assert.deepEqual(h.version, { major: 1, minor: 5 });
    assert.deepEqual(
      [...walkKeys(h)].map(keyPath).sort(),
      [
        '',
        'ControlSet001',
        'Untouched',
        S,
        `${S}\\Local`,
        `${S}\\Local\\Sub`,
        `${S}\\New`,
        `${S}\\New\\Parameters`,
      ].sort(),
    );
    assert.equal(findKey(h, `${S}\\Old`), undefined);
    const names = (p: string): string[] => values(findKey(h, p)!).map(valueName);
    // a merge node: B's order, D's value replaces in place, the tombstone value deletes
    assert.deepEqual(names(S), ['Changed', 'Kept']);
    assert.equal(asDword(value(findKey(h, S)!, 'Changed')!), 2);
    // supersede-tree: D's values and subkeys only; D's class (none, InheritClass clear)
    assert.deepEqual(names(`${S}\\New`), ['Start']);
    assert.equal(asDword(value(findKey(h, `${S}\\New`)!, 'Start')!), 3);
    assert.equal(findKey(h, `${S}\\New\\Stale`), undefined);
    assert.equal(keyClass(findKey(h, `${S}\\New`)!), undefined);
    // supersede-local: D's values replace all of B's; its class too (none); subkeys merge
    assert.deepEqual(names(`${S}\\Local`), ['Only']);
    assert.equal(asDword(value(findKey(h, `${S}\\Local`)!, 'Only')!), 1);
    assert.equal(keyClass(findKey(h, `${S}\\Local`)!), undefined);
    assert.deepEqual(names(`${S}\\Local\\Sub`), ['y']);
  });

  it('loses nothing of the base: classes, descriptors, key and value flags, user flags, timestamps', () => {
    const out = applyDeltaHives(serviceBase(), [deltaHive()]);
    const h = openHive(out);
    const s = findKey(h, S)!;
    assert.equal(keyClass(s), 'ServicesClass'); // InheritClass
    assert.equal(keySddl(s), USER_SD);
    assert.equal(valueFlags(value(s, 'Kept')!) & ~1, 0x100);
    assert.deepEqual([...valueData(value(s, 'Kept')!)], [1, 2]);
    const u = findKey(h, 'Untouched')!;
    assert.deepEqual([keyClass(u), keySddl(u), keyFlags(u) & 0x1000], ['U', OTHER_SD, 0x1000]);
    // the later of the two timestamps: the delta's (133…) over B's 5
    assert.equal(keyTimestamp(s), 133_500_000_000_000_000n);
    // no layer byte left on any key
    for (const k of walkKeys(h)) assert.equal((keyAccessBits(k) >>> 8) & 0xff, 0);
    // deterministic: the same inputs give the same bytes
    assert.deepEqual(applyDeltaHives(serviceBase(), [deltaHive()]), out);
  });

  it('class: a merge node with its own class replaces; InheritClass keeps; a re-created key may inherit', () => {
    const base = createHiveBuilder();
    base.key('A').setClass('a');
    base.key('B').setClass('b');
    base.key('C').setClass('c').setDword('old', 1);
    const d = createHiveBuilder({ layered: true });
    d.key('A').setLayer('merge').setClass('own');
    d.key('B').setLayer('merge');
    d.key('C').setLayer('supersede-tree', { inheritClass: true }).setDword('new', 1);
    d.key('N').setLayer('merge').setClass('n').setSecurity(OTHER_SD);
    const h = openHive(applyDeltaHives(buildHive(base), [buildHive(d)]));
    assert.deepEqual(
      ['A', 'B', 'C', 'N'].map((p) => keyClass(findKey(h, p)!)),
      ['own', 'b', 'c', 'n'],
    );
    assert.deepEqual(values(findKey(h, 'C')!).map(valueName), ['new']);
    // a key the delta creates carries the delta's descriptor
    assert.equal(keySddl(findKey(h, 'N')!), OTHER_SD);
  });

  it('applies several deltas in order; an empty delta changes nothing but the layout', () => {
    const base = createHiveBuilder();
    base.key('K').setDword('v', 1);
    const d1 = createHiveBuilder({ layered: true });
    d1.key('K').setLayer('tombstone');
    const d2 = createHiveBuilder({ layered: true });
    d2.key('K').setLayer('supersede-tree').setDword('v', 2);
    const baseBytes = buildHive(base);
    const h = openHive(applyDeltaHives(baseBytes, [buildHive(d1), buildHive(d2)]));
    assert.equal(asDword(value(findKey(h, 'K')!, 'v')!), 2);
    const h2 = openHive(applyDeltaHives(baseBytes, [buildHive(d2), buildHive(d1)]));
    assert.equal(findKey(h2, 'K'), undefined);
    assert.deepEqual(applyDeltaHives(baseBytes, [buildHive(createHiveBuilder({ layered: true }))]), baseBytes);
  });

  it('keeps big values (big data records) of base and delta', () => {
    const big = Uint8Array.from({ length: 40_000 }, (_, i) => i & 0xff);
    const base = createHiveBuilder();
    base.key('K').setValue('big', REG.BINARY, big);
    const d = createHiveBuilder({ layered: true });
    d.key('K').setValue('big2', REG.BINARY, big.subarray(1));
    const out = applyDeltaHives(buildHive(base), [buildHive(d)]);
    clean(out);
    const k = findKey(openHive(out), 'K')!;
    assert.deepEqual(valueData(value(k, 'big')!), big);
    assert.deepEqual(valueData(value(k, 'big2')!), big.subarray(1));
  });

  it('refuses a differencing base and a delta that is not one, naming the file and the rule', () => {
    const normal = buildHive(createHiveBuilder());
    const delta = buildHive(createHiveBuilder({ layered: true }));
    assert.throws(
      () => applyDeltaHives(delta, [delta], { basePath: 'SYSTEM' }),
      (e) => isWinlayerError(e) && e.code === 'HIVE_HEADER' && e.path === 'SYSTEM' && /differencing/.test(e.message),
    );
    assert.throws(
      () => applyDeltaHives(normal, [delta, normal], { deltaPaths: ['a', 'System_Delta'] }),
      (e) =>
        isWinlayerError(e) && e.code === 'HIVE_HEADER' && e.path === 'System_Delta' && /layered-keys/.test(e.message),
    );
  });
});

describe('winlayer hive apply', () => {
  function tempDir(t: TestContext): string {
    const dir = mkdtempSync(join(tmpdir(), 'winlayer-hive-apply-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  }

  it('writes the base with the deltas applied; refuses an existing output without --force', async (t) => {
    const dir = tempDir(t);
    const [base, delta, out] = ['SYSTEM', 'System_Delta', 'SYSTEM.merged'].map((n) => join(dir, n)) as [
      string,
      string,
      string,
    ];
    writeFileSync(base, serviceBase());
    writeFileSync(delta, deltaHive());
    const r = await runCli(['hive', 'apply', base, delta, '-o', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /applied 1 differencing hive to .*SYSTEM: wrote .*SYSTEM\.merged/);
    assert.deepEqual(readFileSync(out), Buffer.from(applyDeltaHives(serviceBase(), [deltaHive()])));
    writeFileSync(out, 'keep');
    const refused = await runCli(['hive', 'apply', base, delta, '-o', out]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /HIVE_EXISTS/);
    assert.equal(readFileSync(out, 'utf8'), 'keep');
    const forced = await runCli(['hive', 'apply', base, delta, '-o', out, '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    clean(readFileSync(out));
  });

  it('refuses deltas in the wrong place and writes nothing; each help names the other command', async (t) => {
    const dir = tempDir(t);
    const [base, delta, out] = ['SYSTEM', 'System_Delta', 'out'].map((n) => join(dir, n)) as [string, string, string];
    writeFileSync(base, serviceBase());
    writeFileSync(delta, deltaHive());
    const swapped = await runCli(['hive', 'apply', delta, base, '-o', out]);
    assert.equal(swapped.code, 1);
    assert.match(swapped.stderr, /System_Delta.*differencing|differencing.*System_Delta/s);
    assert.equal(existsSync(out), false);
    const usage = await runCli(['hive', 'apply', base, '-o', out]);
    assert.equal(usage.code, 2);
    assert.match((await runCli(['hive', 'apply', '--help'])).stdout, /hive merge/);
    assert.match((await runCli(['hive', 'merge', '--help'])).stdout, /hive apply/);
  });
});

// ── property: apply(base, delta(changes)) equals the changes done on a model of the base ─────────────────────────

interface MValue {
  name: string;
  type: number;
  data: Uint8Array;
}
interface MKey {
  name: string;
  cls: string | undefined;
  values: Map<string, MValue>;
  kids: Map<string, MKey>;
}
type Change =
  | { op: 'set'; path: string[]; name: string; type: number; data: Uint8Array }
  | { op: 'unset'; path: string[]; name: string }
  | { op: 'create' | 'delete' | 'replace'; path: string[] };

const mkey = (name: string, cls?: string): MKey => ({ name, cls, values: new Map(), kids: new Map() });

function mEnsure(m: MKey, path: readonly string[]): MKey {
  let k = m;
  for (const p of path) {
    let c = k.kids.get(upcase(p));
    if (c === undefined) {
      c = mkey(p);
      k.kids.set(upcase(p), c);
    }
    k = c;
  }
  return k;
}

function mApply(m: MKey, c: Change): void {
  switch (c.op) {
    case 'set': {
      const k = mEnsure(m, c.path);
      const old = k.values.get(upcase(c.name));
      k.values.set(upcase(c.name), { name: old?.name ?? c.name, type: c.type, data: c.data });
      break;
    }
    case 'unset':
      mEnsure(m, c.path).values.delete(upcase(c.name));
      break;
    case 'create':
      mEnsure(m, c.path);
      break;
    case 'delete':
      mEnsure(m, c.path.slice(0, -1)).kids.delete(upcase(c.path.at(-1)!));
      break;
    case 'replace': {
      const parent = mEnsure(m, c.path.slice(0, -1));
      parent.kids.delete(upcase(c.path.at(-1)!));
      mEnsure(parent, c.path.slice(-1));
    }
  }
}

/** A differencing hive saying the changes, as `.reg` means them (issue 19 §1), written with a `layered` builder. */
function dEnsure(k: HiveKeyBuilder, path: readonly string[]): HiveKeyBuilder {
  for (const p of path) {
    const tree = k.layer.semantics === 'supersede-tree';
    let c = k.getSubkey(p);
    if (c?.layer.semantics === 'tombstone') {
      k.deleteSubkey(p);
      c = k.subkey(p).setLayer('supersede-tree');
    } else if (c === undefined) {
      c = k.subkey(p).setLayer(tree ? 'supersede-tree' : 'merge', { inheritClass: !tree });
    }
    k = c;
  }
  return k;
}

function dApply(d: HiveKeyBuilder, c: Change): void {
  switch (c.op) {
    case 'set':
      dEnsure(d, c.path).setValue(c.name, c.type, c.data);
      break;
    case 'unset': {
      const k = dEnsure(d, c.path);
      if (k.layer.semantics === 'supersede-tree') k.deleteValue(c.name);
      else k.setTombstoneValue(c.name);
      break;
    }
    case 'create':
      dEnsure(d, c.path);
      break;
    case 'delete':
    case 'replace': {
      const parent = dEnsure(d, c.path.slice(0, -1));
      const name = c.path.at(-1)!;
      parent.deleteSubkey(name);
      if (c.op === 'replace') parent.subkey(name).setLayer('supersede-tree');
      else if (parent.layer.semantics !== 'supersede-tree') parent.subkey(name).setLayer('tombstone');
    }
  }
}

function toBuilder(m: MKey, b: HiveKeyBuilder): void {
  b.setClass(m.cls);
  for (const v of m.values.values()) b.setValue(v.name, v.type, v.data);
  for (const c of m.kids.values()) toBuilder(c, b.subkey(c.name));
}

/** The hive's tree as a comparable object: spelled names, classes, values sorted by upper-cased name. */
function shapeOfHive(k: HiveKey): unknown {
  return {
    name: keyName(k),
    cls: keyClass(k),
    values: values(k)
      .map((v) => [valueName(v), valueType(v), [...valueData(v)]] as const)
      .sort((a, b) => cmp(upcase(a[0]), upcase(b[0]))),
    kids: children(k)
      .map(shapeOfHive)
      .sort((a, b) => cmp(upcase((a as MKey).name), upcase((b as MKey).name))),
  };
}

function shapeOfModel(m: MKey): unknown {
  return {
    name: m.name,
    cls: m.cls,
    values: [...m.values.values()]
      .map((v) => [v.name, v.type, [...v.data]] as const)
      .sort((a, b) => cmp(upcase(a[0]), upcase(b[0]))),
    kids: [...m.kids.values()]
      .map(shapeOfModel)
      .sort((a, b) => cmp(upcase((a as MKey).name), upcase((b as MKey).name))),
  };
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Names from a small alphabet (so changes collide, in either case) or of any UTF-16 unit but `\`. */
const unit = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('a', 'A', 'b', 'é', 'É', 'ß', 'ſ', 'K') },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }).map((n) => String.fromCharCode(n)) },
);
const keyNameArb = fc.array(unit, { minLength: 1, maxLength: 2 }).map((a) => a.join('').replaceAll('\\', 'x'));
const valueNameArb = fc.array(unit, { minLength: 0, maxLength: 2 }).map((a) => a.join(''));
const pathArb = fc.array(keyNameArb, { minLength: 1, maxLength: 3 });
const typeArb = fc.oneof(fc.integer({ min: 0, max: 11 }), fc.integer({ min: 0, max: 0xffffffff }));
const dataArb = fc.uint8Array({ maxLength: 24 });
const changeArb: fc.Arbitrary<Change> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), path: pathArb, name: valueNameArb, type: typeArb, data: dataArb }),
  fc.record({ op: fc.constant('unset' as const), path: pathArb, name: valueNameArb }),
  fc.record({ op: fc.constantFrom('create' as const, 'delete' as const, 'replace' as const), path: pathArb }),
);
const baseArb = fc.array(fc.tuple(pathArb, valueNameArb, typeArb, dataArb, fc.option(keyNameArb, { nil: undefined })), {
  maxLength: 12,
});

describe('applyDeltaHives: properties', () => {
  it('apply(base, delta(changes)) gives the tree the changes give on the base model', () => {
    fc.assert(
      fc.property(baseArb, fc.array(changeArb, { maxLength: 20 }), (baseSpec, changes) => {
        const model = mkey('ROOT');
        for (const [path, name, type, data, cls] of baseSpec) {
          const k = mEnsure(model, path);
          k.cls = cls;
          mApply(model, { op: 'set', path, name, type, data });
        }
        const base = createHiveBuilder();
        toBuilder(model, base.root);
        const d = createHiveBuilder({ layered: true });
        for (const c of changes) {
          mApply(model, c);
          dApply(d.root, c);
        }
        const out = applyDeltaHives(buildHive(base), [buildHive(d)]);
        assert.deepEqual(checkHive(out).errors, []);
        assert.deepEqual(shapeOfHive(root(openHive(out))), shapeOfModel(model));
      }),
      { numRuns: 300 },
    );
  });
});
