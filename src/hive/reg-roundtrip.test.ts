/**
 * Issue 17 §2: `hive dump --reg` writes only what `hive new` and `hive merge` read back, whatever the names hold
 * (CR, LF, other controls, lone surrogates: escaped as README.md says); one rule for the `.reg` root in both; a note
 * of what `.reg` cannot carry; UTF-8 to a terminal.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import fc from 'fast-check';
import { runCli } from '../../test/helpers/cli.js';
import { main } from '../cli/main.js';
import { upcase } from '../windows/index.js';
import {
  applyRegText,
  buildHive,
  createEmptyHive,
  createHiveBuilder,
  type Hive,
  type HiveKeyBuilder,
  keyPath,
  mergeReg,
  openHive,
  REG,
  toRegFile,
  toRegText,
  valueData,
  valueName,
  values,
  valueType,
  walkKeys,
} from './index.js';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'winlayer-reg-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** What a `.reg` file carries: every key path, and every value's name, type and bytes. */
function contents(h: Hive): unknown[] {
  return [...walkKeys(h)].map((k) => [
    keyPath(k),
    values(k).map((v) => [valueName(v), valueType(v), Buffer.from(valueData(v)).toString('hex')]),
  ]);
}

// ── random hives ─────────────────────────────────────────────────────────────────────────────────────────────────

/** Any UTF-16 unit: controls, lone surrogates, quotes, backslashes, brackets… */
const anyUnit = fc.oneof(
  fc.integer({ min: 0, max: 0xffff }),
  fc.constantFrom(0x0a, 0x0d, 0x00, 0x1b, 0x22, 0x5c, 0x5b, 0x5d, 0x2d, 0x3d, 0x40, 0x3b, 0x20, 0xd800, 0xdc00, 0x202e),
  fc.integer({ min: 0x20, max: 0x7e }),
);
const units = (min: number, max: number) =>
  fc.array(anyUnit, { minLength: min, maxLength: max }).map((us) => String.fromCharCode(...us));
/** A key name: 1 to 255 units, any but a backslash (the only unit a key name cannot hold). */
const keyName = units(1, 12).filter((s) => !s.includes('\\'));

const TYPES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x12345678, 0xffffffff];
const valueArb = fc.record({
  name: units(0, 12),
  type: fc.constantFrom(...TYPES),
  data: fc.oneof(
    fc.uint8Array({ maxLength: 40 }),
    // text that may go out as "text": UTF-16 with one trailing NUL
    units(0, 12).map((s) => Buffer.from(`${s}\0`, 'utf16le')),
    fc.constant(Uint8Array.of(1, 2, 3, 4)),
  ),
});

interface KeySpec {
  readonly name: string;
  readonly values: ReadonlyArray<{ name: string; type: number; data: Uint8Array }>;
  readonly children: readonly KeySpec[];
}
const keySpec: fc.Memo<KeySpec> = fc.memo((depth) =>
  fc.record({
    name: keyName,
    values: fc.array(valueArb, { maxLength: 4 }),
    children: depth > 1 ? fc.array(keySpec(depth - 1), { maxLength: 3 }) : fc.constant([]),
  }),
);

/** Adds a spec under `parent`; names equal case-insensitively to a sibling's are skipped (Windows' rule). */
function add(parent: HiveKeyBuilder, spec: KeySpec): void {
  if (parent.getSubkey(spec.name) !== undefined) return;
  const k = parent.subkey(spec.name);
  const seen = new Set<string>();
  for (const v of spec.values) {
    if (seen.has(upcase(v.name))) continue;
    seen.add(upcase(v.name));
    k.setValue(v.name, v.type, v.data);
  }
  for (const c of spec.children) add(k, c);
}

function hiveOf(specs: readonly KeySpec[]): Hive {
  const b = createHiveBuilder();
  for (const s of specs) add(b.root, s);
  return openHive(buildHive(b));
}

function readBack(reg: Uint8Array | string): Hive {
  return openHive(buildHive(applyRegText(createHiveBuilder(), reg)));
}

describe('.reg round trip (fast-check)', () => {
  it('random hives → .reg (UTF-16 file, UTF-8 text) → hive (new and merge): the same keys and values', () => {
    fc.assert(
      fc.property(fc.array(keySpec(3), { minLength: 1, maxLength: 4 }), (specs) => {
        const h = hiveOf(specs);
        assert.deepEqual(contents(readBack(toRegFile(h))), contents(h));
        assert.deepEqual(contents(readBack(Buffer.from(toRegText(h), 'utf8'))), contents(h));
        // hive merge reads it the same way
        assert.deepEqual(contents(openHive(mergeReg(createEmptyHive(), toRegFile(h)))), contents(h));
      }),
      { numRuns: 300 },
    );
  });

  it('escapes what would break a line or a terminal, and nothing a regedit name has', () => {
    const b = createHiveBuilder();
    b.key('Plain Name (x86)').setString('C:\\Path "quoted"', 'text with \\ and "');
    b.key('line\r\nbreak').setString('esc\x1bname', 'value\nwith newline');
    b.key('-dash').setValue('x=hex:', REG.SZ, Buffer.from('ends with \\\0', 'utf16le'));
    const text = toRegText(openHive(buildHive(b)));
    assert.match(text, /\r\n\[ROOT\\Plain Name \(x86\)\]\r\n"C:\\\\Path \\"quoted\\""="text with \\\\ and \\""\r\n/);
    assert.match(text, /\r\n\[ROOT\\line\\\\x0d\\\\x0abreak\]\r\n"esc\\x1bname"=hex\(1\):/);
    assert.match(text, /\r\n\[ROOT\\-dash\]\r\n"x=hex:"="ends with \\\\"\r\n/);
    assert.deepEqual(contents(readBack(text)), contents(openHive(buildHive(b))));
  });
});

describe('hive new --from and hive merge read a .reg the same way', () => {
  const EXPORT = [
    'Windows Registry Editor Version 5.00',
    '',
    '[HKEY_LOCAL_MACHINE\\SOFTWARE\\MyCompany\\MyApp]',
    '"InstallDir"="C:\\\\app"',
    '"Port"=dword:00001f90',
    '',
  ].join('\r\n');

  it('a regedit export of a loaded hive (HKEY_LOCAL_MACHINE\\<name>\\…) has its root at <name>', async (t) => {
    const dir = tempDir(t);
    const reg = join(dir, 'changes.reg');
    writeFileSync(reg, EXPORT);
    const made = join(dir, 'made');
    assert.equal((await runCli(['hive', 'new', made, '--from', reg])).code, 0);
    const merged = join(dir, 'merged');
    assert.equal((await runCli(['hive', 'new', merged])).code, 0);
    const m = await runCli(['hive', 'merge', merged, reg]);
    assert.equal(m.code, 0, m.stderr);
    const expected = [
      ['', []],
      ['MyCompany', []],
      [
        'MyCompany\\MyApp',
        [
          ['InstallDir', 1, Buffer.from('C:\\app\0', 'utf16le').toString('hex')],
          ['Port', 4, '901f0000'],
        ],
      ],
    ];
    assert.deepEqual(contents(openHive(readFileSync(made))), expected);
    assert.deepEqual(contents(openHive(readFileSync(merged))), expected);
  });
});

describe('what .reg cannot carry', () => {
  it('dump --reg names it in a comment, and hive new --from says so', async (t) => {
    const dir = tempDir(t);
    const b = createHiveBuilder();
    b.key('A').setClass('cls').setTimestamp(5n).setSecurity('O:BAG:BAD:(A;;KA;;;SY)');
    const src = join(dir, 'src');
    writeFileSync(src, buildHive(b));
    const dump = await runCli(['hive', 'dump', src, '--reg']);
    assert.equal(dump.code, 0);
    const text = Buffer.from(dump.stdoutBytes.subarray(2)).toString('utf16le');
    assert.match(
      text,
      /^Windows Registry Editor Version 5\.00\r\n; winlayer: not carried by \.reg: class names \(1 key\), security descriptors \(1 key\), last-write times \(1 key\)\r\n\r\n\[ROOT\]/,
    );
    const reg = join(dir, 'a.reg');
    writeFileSync(reg, dump.stdoutBytes);
    const made = await runCli(['hive', 'new', join(dir, 'made'), '--from', reg]);
    assert.equal(made.code, 0);
    assert.match(
      made.stderr,
      /note: .*a\.reg says its source hive also had class names \(1 key\), security descriptors/,
    );
    // a hive with nothing .reg cannot carry gives no comment and no note
    const plain = await runCli(['hive', 'dump', join(dir, 'made'), '--reg']);
    assert.doesNotMatch(Buffer.from(plain.stdoutBytes).toString('utf16le'), /winlayer:/);
  });
});

describe('hive dump --reg to a terminal', () => {
  it('writes UTF-8 text, not UTF-16 bytes', async (t) => {
    const file = join(tempDir(t), 'h');
    const b = createHiveBuilder();
    b.key('Ключ').setString('v', 'x');
    writeFileSync(file, buildHive(b));
    const chunks: Buffer[] = [];
    const stdout = Object.assign(new PassThrough(), { isTTY: true });
    stdout.on('data', (c: Buffer) => chunks.push(c));
    const stderr = new PassThrough();
    const code = await main(['hive', 'dump', file, '--reg'], { stdout, stderr, stdin: Readable.from([]), env: {} });
    assert.equal(code, 0);
    const out = Buffer.concat(chunks);
    assert.equal(out.toString('utf8'), toRegText(openHive(buildHive(b))));
    assert.match(out.toString('utf8'), /\[ROOT\\Ключ\]/);
  });
});
