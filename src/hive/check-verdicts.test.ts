/**
 * Issue 17 §1 and issue 16's hive diagnostics: verdicts that match Windows (errors only where Windows refuses the hive
 * or a reader must guess), one catalogue of finding codes shared with the docs, findings at the key they are about
 * with file offsets, and `hive dump` reading a hive with errors. Every hive is made by our writer, then damaged.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import fc from 'fast-check';
import { runCli } from '../../test/helpers/cli.js';
import { decodeHive, fixChecksum } from '../../test/helpers/regf-decoder.js';
import { isWinlayerError } from '../errors.js';
import {
  buildHive,
  checkHive,
  children,
  createHiveBuilder,
  findingsTable,
  HIVE_FINDINGS,
  type Hive,
  keyAccessBits,
  keyClass,
  keyFlags,
  keyName,
  keyPath,
  keySecurity,
  keyTimestamp,
  keyUserFlags,
  openHive,
  toRegText,
  valueData,
  valueFlags,
  valueName,
  values,
  valueType,
  walkKeys,
} from './index.js';

const TIMESTAMP = 133_500_000_000_000_000n;

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'winlayer-verdicts-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Root, `A` (own security descriptor), `A\Bcdef`, `C` with a value: two security cells in the list. */
function sample(): Uint8Array {
  const b = createHiveBuilder();
  b.key('A').setSecurity('O:BAG:BAD:(A;CI;KA;;;SY)');
  b.key('A\\Bcdef').setDword('v', 1);
  b.key('C').setString('s', 'text');
  return buildHive(b, { timestamp: TIMESTAMP });
}

const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);
const codes = (fs: ReadonlyArray<{ code: string }>): string[] => fs.map((f) => f.code);
/** File offset of a security cell's reference count (cell size field, then "sk", reserved, flink, blink). */
const refCountAt = (skCell: number): number => skCell + 4 + 12;

describe('hive check verdicts: an error where Windows refuses the hive, a warning where it loads it', () => {
  it('a security cell whose count is above its users is a warning; the hive opens', () => {
    const b = sample();
    const root = decodeHive(b).get('')!;
    const v = view(b);
    v.setUint32(refCountAt(root.skCell), v.getUint32(refCountAt(root.skCell), true) + 5, true);
    const r = checkHive(b);
    assert.deepEqual(codes(r.errors), []);
    assert.deepEqual(codes(r.warnings), ['SECURITY_REFCOUNT_HIGH']);
    assert.equal(r.warnings[0]!.offset, root.skCell);
    openHive(b);
  });

  it('a count below its users, or 0, stays an error', () => {
    for (const count of [1, 0]) {
      const b = sample();
      const root = decodeHive(b).get('')!;
      view(b).setUint32(refCountAt(root.skCell), count, true);
      const r = checkHive(b);
      assert.deepEqual(codes(r.errors), ['SECURITY_REFCOUNT'], `count ${count}`);
      assert.throws(() => openHive(b), /reference count/);
    }
  });

  it('a security cell in the list that no key uses is a warning (a kernel-healed hive has them)', () => {
    const b = sample();
    const keys = decodeHive(b);
    const a = keys.get('A')!;
    const root = keys.get('')!;
    const v = view(b);
    // A and A\Bcdef move to the root's security cell; A's own cell stays in the list, used by no key
    for (const path of ['A', 'A\\Bcdef']) v.setUint32(keys.get(path)!.cell + 4 + 44, root.skCell - 4096, true);
    v.setUint32(refCountAt(root.skCell), keys.size, true);
    const r = checkHive(b);
    assert.deepEqual(codes(r.errors), []);
    assert.deepEqual(codes(r.warnings), ['SECURITY_UNUSED']);
    assert.equal(r.warnings[0]!.offset, a.skCell);
  });

  it('a dirty hive stays an error, and its message names the reason once', async (t) => {
    const b = sample();
    view(b).setUint32(8, 2, true); // secondary sequence number
    fixChecksum(b);
    const r = checkHive(b);
    assert.deepEqual(codes(r.errors), ['DIRTY']);
    assert.doesNotMatch(r.errors[0]!.message, /dirty/); // the code and its callers say "dirty"
    const dir = tempDir(t);
    const config = join(dir, 'Files', 'Windows', 'System32', 'config');
    mkdirSync(config, { recursive: true });
    writeFileSync(join(config, 'SYSTEM'), b);
    const out = await runCli(['makebaselayer', dir]);
    assert.equal(out.code, 1);
    assert.equal(out.stderr.match(/dirty/g)?.length, 1, out.stderr);
  });

  it('a cut-off key name is reported at that key, at its file offset, without a false reference-count finding', () => {
    const b = sample();
    const key = decodeHive(b).get('A\\Bcdef')!;
    view(b).setUint16(key.cell + 4 + 72, 200, true); // name length past the 88-byte cell
    const r = checkHive(b);
    const f = r.errors.find((e) => e.code === 'KEY_NAME');
    assert.ok(f !== undefined, JSON.stringify(r.errors));
    assert.ok(f.keyPath?.startsWith('A\\Bcdef'), f.keyPath);
    assert.equal(f.offset, key.cell);
    assert.deepEqual(
      [...r.errors, ...r.warnings].filter((e) => e.code.startsWith('SECURITY_')),
      [],
    );
  });

  it('every offset in a finding is a file offset, header and cells alike', () => {
    const b = sample();
    view(b).setUint32(144, 1, true); // base block flags
    fixChecksum(b);
    const c = decodeHive(b).get('C')!;
    view(b).setUint32(c.cell + 4 + 60, 0, true); // longest-value-name field below the value "s"'s name
    const r = checkHive(b);
    assert.deepEqual(
      [...r.errors, ...r.warnings].map((f) => [f.code, f.offset]),
      [
        ['KEY_MAX_VALUE_NAME', c.cell],
        ['HEADER_FLAGS', 144],
      ],
    );
    assert.match(r.errors[0]!.message + r.warnings[0]!.message, /flags are 0x1/);
  });
});

describe('the finding catalogue', () => {
  it('gives every finding its severity', () => {
    const b = sample();
    view(b).setUint32(refCountAt(decodeHive(b).get('')!.skCell), 99, true);
    view(b).setUint16(decodeHive(b).get('C')!.cell + 4 + 72, 0, true);
    const r = checkHive(b);
    assert.ok(r.errors.length > 0 && r.warnings.length > 0);
    for (const f of [...r.errors, ...r.warnings]) assert.equal(f.severity, HIVE_FINDINGS[f.code].severity, f.code);
  });

  it('docs/hive-findings.md holds the catalogue exactly (regenerate the table with findingsTable())', () => {
    const doc = readFileSync(new URL('../../docs/hive-findings.md', import.meta.url), 'utf8');
    const start = doc.indexOf('\n', doc.indexOf('<!-- findings:start')) + 1;
    const end = doc.indexOf('<!-- findings:end -->');
    assert.ok(start > 0 && end > start, 'the markers around the table');
    assert.equal(doc.slice(start, end).trim(), findingsTable());
  });
});

describe('hive dump of a hive with errors', () => {
  it('reads what can be walked, one warning per error on stderr; --strict refuses', async (t) => {
    const b = sample();
    const keys = decodeHive(b);
    view(b).setUint16(keys.get('A\\Bcdef')!.cell + 4 + 72, 200, true);
    const file = join(tempDir(t), 'damaged.hive');
    writeFileSync(file, b);
    const errors = checkHive(b).errors;
    assert.ok(errors.length >= 1);
    const out = await runCli(['hive', 'dump', file]);
    assert.equal(out.code, 0, out.stderr);
    assert.deepEqual(
      out.stderr
        .trimEnd()
        .split('\n')
        .map((l) => /warning: ([A-Z_]+):/.exec(l)?.[1]),
      codes(errors),
    );
    assert.match(out.stdout, /^\[\\A\]$/m);
    assert.match(out.stdout, /^\[\\C\]$/m);
    assert.match(out.stdout, /"s" REG_SZ "text"/);
    const strict = await runCli(['hive', 'dump', file, '--strict']);
    assert.equal(strict.code, 1);
    assert.equal(strict.stdout, '');
  });

  it('every accessor works on what a lenient read gives, whatever the damage (fast-check)', () => {
    const base = sample();
    const damage = fc.array(
      fc.tuple(fc.integer({ min: 4096, max: base.length - 1 }), fc.integer({ min: 0, max: 255 })),
      {
        minLength: 1,
        maxLength: 8,
      },
    );
    fc.assert(
      fc.property(damage, fc.boolean(), (bytesAt, fix) => {
        const b = Uint8Array.from(base);
        for (const [at, value] of bytesAt) b[at] = value;
        if (fix) fixChecksum(b);
        let hive: Hive;
        try {
          hive = openHive(b, { onError: () => {} });
        } catch (e) {
          assert.ok(isWinlayerError(e) && e.code.startsWith('HIVE_'), String(e));
          return;
        }
        for (const k of walkKeys(hive)) {
          keyName(k);
          keyPath(k);
          keyTimestamp(k);
          keyFlags(k);
          keyAccessBits(k);
          keyUserFlags(k);
          keyClass(k);
          keySecurity(k);
          children(k);
          for (const v of values(k)) [valueName(v), valueType(v), valueFlags(v), valueData(v)];
        }
        toRegText(hive);
      }),
      { numRuns: 1500, seed: 17 },
    );
  });

  it('a file that is no hive at all gives one error with one code', async (t) => {
    const file = join(tempDir(t), 'text.txt');
    writeFileSync(file, 'this is not a hive\n');
    for (const cmd of ['dump', 'merge']) {
      const out = await runCli(['hive', cmd, file, ...(cmd === 'merge' ? [file] : [])]);
      assert.equal(out.code, 1);
      assert.equal(out.stderr.match(/\b[A-Z]+_[A-Z_]+\b/g)?.length, 1, out.stderr);
      assert.match(out.stderr, /shorter than the 4096-byte base block at offset 0x0 \(HIVE_HEADER\)/);
    }
  });
});
