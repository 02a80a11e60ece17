/**
 * Interop: every hive we write is read back by tools we did not write — hivex's Python binding (/usr/bin/python3,
 * Debian python3-hivex), `hivexml`, `reglookup`, and (for all-Latin-1 hives) chntpw's `reged -x` — and must show
 * exactly the keys, values and data we wrote. Our reading of every fixture agrees with reglookup's listing. Also the
 * `winlayer hive` commands end to end. Fixtures: test/fixtures/hives (see its PROVENANCE.md) and the hives
 * test/helpers/hives.ts makes; the yarp and hivex files in ../shared/fixtures only in an extra check.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import {
  applyRegChanges,
  buildHive,
  checkHive,
  createHiveBuilder,
  findKey,
  type Hive,
  type HiveBuilder,
  keyName,
  keyPath,
  openHive,
  parseRegText,
  REG,
  toRegFile,
  value,
  valueData,
  valueName,
  values,
  valueType,
  walkKeys,
} from '../src/hive/index.js';
import { runCli } from './helpers/cli.js';
import { madeInvalidHives, madeValidHives } from './helpers/hives.js';
import { EXTRA_FIXTURES, EXTRA_SKIP, extraFixtureFiles, FIXTURES, requireTool, run, tempDir } from './helpers/tools.js';

const PY = '/usr/bin/python3';
const HIVES = `${FIXTURES}hives/`;

interface Listing {
  path: string[];
  values: Array<{ name: string; type: number; data: string }>;
}

/** What we wrote (read back with our reader, which the unit tests tie to the builder). */
function ours(h: Hive): Listing[] {
  return [...walkKeys(h)].map((k) => ({
    path: keyPath(k) === '' ? [] : keyPath(k).split('\\'),
    values: values(k).map((v) => ({
      name: valueName(v),
      type: valueType(v),
      data: Buffer.from(valueData(v)).toString('hex'),
    })),
  }));
}

const HIVEX_PY = `
import hivex, json, sys
h = hivex.Hivex(sys.argv[1])
out = []
def walk(n, path):
    vals = []
    for v in h.node_values(n):
        t, d = h.value_value(v)
        vals.append({"name": h.value_key(v), "type": t, "data": d.hex()})
    out.append({"path": path, "values": vals})
    for c in h.node_children(n):
        walk(c, path + [h.node_name(c)])
walk(h.root(), [])
print(json.dumps(out))
`;

function hivexPython(file: string): Listing[] {
  return JSON.parse(run(PY, ['-c', HIVEX_PY, file]).toString('utf8')) as Listing[];
}

function hasHivexPython(): boolean {
  try {
    run(PY, ['-c', 'import hivex']);
    return true;
  } catch {
    return false;
  }
}

function requireHivexPython(t: TestContext): boolean {
  if (hasHivexPython()) return true;
  if (process.env.CI === 'true') throw new Error('python3-hivex is required in CI');
  t.skip('python3-hivex not installed');
  return false;
}

const xmlUnescape = (s: string): string =>
  s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCodePoint(Number(n)))
    .replace(/&#x([0-9a-f]+);/gi, (_, n: string) => String.fromCodePoint(Number.parseInt(n, 16)))
    .replace(/&amp;/g, '&');

/** hivexml's view: key paths, and per value its name and the bytes (base64 ones) or the text / number it shows. */
function hivexml(file: string): Array<{ path: string; values: Array<{ name: string; shown: string }> }> {
  // hivexml writes through /dev/stdout, which a pipe may refuse (ENXIO): let the shell redirect into a file
  run('sh', ['-c', 'hivexml "$0" > "$1"', file, `${file}.xml`]);
  const xml = readFileSync(`${file}.xml`, 'utf8').replace(/<byte_runs>.*?<\/byte_runs>/gs, '');
  const out: Array<{ path: string; values: Array<{ name: string; shown: string }> }> = [];
  const stack: string[] = [];
  const re = /<node name="([^"]*)"[^>]*>|<\/node>|<value ([^>]*)>((?:<string>[^<]*<\/string>)*)/gs;
  for (const m of xml.matchAll(re)) {
    if (m[1] !== undefined) {
      stack.push(xmlUnescape(m[1]));
      out.push({ path: stack.slice(1).join('\\'), values: [] });
    } else if (m[0] === '</node>') {
      stack.pop();
    } else {
      const attrs = Object.fromEntries([...m[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((a) => [a[1]!, xmlUnescape(a[2]!)]));
      const strings = [...(m[3] ?? '').matchAll(/<string>([^<]*)<\/string>/g)].map((s) => xmlUnescape(s[1]!));
      const shown =
        attrs.encoding === 'base64'
          ? Buffer.from(attrs.value!.replace(/\s/g, ''), 'base64').toString('hex')
          : strings.length > 0
            ? JSON.stringify(strings)
            : attrs.value!;
      out.at(-1)!.values.push({ name: attrs.default === '1' ? '' : attrs.key!, shown });
    }
  }
  return out;
}

/** What hivexml should show for one of our values. */
function hivexmlShown(type: number, data: Uint8Array): string {
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const text = (d: Uint8Array) => Buffer.from(d).toString('utf16le');
  if ((type === REG.SZ || type === REG.EXPAND_SZ || type === REG.LINK) && data.length % 2 === 0 && data.length > 0) {
    const s = text(data);
    const nul = s.indexOf('\0');
    return nul < 0 ? s : s.slice(0, nul);
  }
  if (type === REG.MULTI_SZ && data.length % 2 === 0) {
    const parts = text(data).split('\0');
    parts.pop();
    return JSON.stringify(parts);
  }
  if ((type === REG.DWORD || type === REG.DWORD_BIG_ENDIAN) && data.length === 4)
    return String(v.getInt32(0, type === REG.DWORD));
  if (type === REG.QWORD && data.length === 8) return String(v.getBigInt64(0, true));
  return Buffer.from(data).toString('hex');
}

/** reglookup's listing, %XX un-escaped to raw bytes (Latin-1 names stay Latin-1 bytes, UTF-16 names are UTF-16LE). */
function reglookup(file: string): Array<{ path: string; type: string; value: string }> {
  const text = run('reglookup', ['-H', file]).toString('latin1');
  const unpercent = (s: string) =>
    s.replace(/%([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const [path, type, val] = l.split(',');
      return { path: path!.split('/').map(unpercent).join('/'), type: type!, value: unpercent(val ?? '') };
    });
}

/**
 * A stored name as reglookup prints it: the stored bytes, Latin-1 or UTF-16LE, one char per byte. reglookup handles
 * Latin-1 names as C strings, so it cuts them at the first NUL (the made special-names hive has such names).
 */
function storedName(name: string): string {
  const latin = [...name].every((c) => c.length === 1 && c.charCodeAt(0) <= 0xff);
  return latin ? name.split('\0')[0]! : Buffer.from(name, 'utf16le').toString('latin1');
}

const RL_TYPES: Record<number, string> = {
  0: 'NONE',
  1: 'SZ',
  2: 'EXPAND_SZ',
  3: 'BINARY',
  4: 'DWORD',
  5: 'DWORD_BE',
  6: 'LINK',
  7: 'MULTI_SZ',
  8: 'RSRC_LIST',
  9: 'RSRC_DESC',
  10: 'RSRC_REQ_LIST',
  11: 'QWORD',
};

/** What reglookup should list for a hive we read: keys, and values with type and (for raw and number types) data. */
function expectedReglookup(h: Hive): Array<{ path: string; type: string; value: string }> {
  const out: Array<{ path: string; type: string; value: string }> = [];
  for (const k of walkKeys(h)) {
    const path = `/${keyPath(k) === '' ? '' : keyPath(k).split('\\').map(storedName).join('/')}`;
    out.push({ path, type: 'KEY', value: '' });
    for (const v of values(k)) {
      const t = valueType(v);
      const d = valueData(v);
      const view = new DataView(d.buffer, d.byteOffset, d.byteLength);
      const type = RL_TYPES[t] ?? `0x${t.toString(16).toUpperCase().padStart(8, '0')}`;
      let shown: string | undefined;
      if ((t === 3 || t === 0 || RL_TYPES[t] === undefined) && d.length > 0) shown = Buffer.from(d).toString('latin1');
      if (t === 4 && d.length === 4) shown = `0x${view.getUint32(0, true).toString(16).toUpperCase().padStart(8, '0')}`;
      if (t === 11 && d.length === 8)
        shown = `0x${view.getBigUint64(0, true).toString(16).toUpperCase().padStart(16, '0')}`;
      out.push({ path: `${path === '/' ? '' : path}/${storedName(valueName(v))}`, type, value: shown ?? '*' });
    }
  }
  return out;
}

function compareReglookup(
  got: Array<{ path: string; type: string; value: string }>,
  want: Array<{ path: string; type: string; value: string }>,
): void {
  const norm = (l: typeof got) => l.map((e) => `${e.path}\u0001${e.type}`).sort();
  assert.deepEqual(norm(got), norm(want));
  const byPath = new Map(got.map((e) => [`${e.path}\u0001${e.type}`, e.value]));
  for (const w of want)
    if (w.value !== '*' && w.value !== '') assert.equal(byPath.get(`${w.path}\u0001${w.type}`), w.value, w.path);
}

// ── the hives we write ───────────────────────────────────────────────────────────────────────────────────────────────

function sample(kind: string): HiveBuilder {
  const b = createHiveBuilder();
  switch (kind) {
    case 'empty':
      break;
    case 'latin1': {
      const k = b.key('Software\\Café\\Ünïcödé ß');
      k.setString('Grüße', 'straße');
      k.setString('', 'default');
      b.key('Software\\Other').setDword('n', 7);
      break;
    }
    case 'utf16': {
      const k = b.key('Ｕｎｉｃｏｄｅ\\名前\\\u{10410}x');
      k.setString('値', 'データ');
      k.setString('emoji😀', 'x');
      b.key('ascii').setString('a', 'b');
      break;
    }
    case 'many-subkeys': {
      const m = b.key('Many');
      for (let i = 0; i < 620; i++) m.subkey(`Key${i}`).setDword('i', i);
      break;
    }
    case 'value-types': {
      const k = b.key('Types');
      k.setValue('none', REG.NONE, Uint8Array.of(1, 2, 3));
      k.setString('sz', 'text');
      k.setString('expand', '%SystemRoot%\\x', REG.EXPAND_SZ);
      k.setValue('binary', REG.BINARY, Uint8Array.of(0, 255, 37, 44, 124));
      k.setDword('dword', 0xdeadbeef);
      k.setValue('dword-be', REG.DWORD_BIG_ENDIAN, Uint8Array.of(0, 0, 0, 42));
      k.setString('link', '\\Registry\\Machine\\x', REG.LINK);
      k.setMultiString('multi', ['a', 'bc', '']);
      k.setValue('rsrc', REG.RESOURCE_LIST, Uint8Array.of(1, 0, 0, 0));
      k.setQword('qword', 0x0123456789abcdefn);
      k.setValue('raw-type', 0x4000, Uint8Array.of(9, 8, 7, 6, 5));
      k.setValue('empty-binary', REG.BINARY, new Uint8Array(0));
      break;
    }
    case 'big-data': {
      const k = b.key('Big');
      for (const n of [16344, 16345, 50_000, 200_000]) {
        k.setValue(
          `b${n}`,
          REG.BINARY,
          Uint8Array.from({ length: n }, (_, i) => (i * 31 + n) & 0xff),
        );
      }
      break;
    }
    case 'security': {
      b.key('A').setSecurity('O:BAG:SYD:(A;;KA;;;SY)(A;CI;KR;;;BU)');
      b.key('A\\Inherits');
      b.key('B').setSecurity('O:SYG:SYD:P(A;CI;KA;;;BA)');
      b.key('C').setSecurity('O:BAG:SYD:(A;;KA;;;SY)(A;CI;KR;;;BU)');
      break;
    }
  }
  return b;
}

const KINDS = ['empty', 'latin1', 'utf16', 'many-subkeys', 'value-types', 'big-data', 'security'];
const LATIN1_KINDS = new Set(['empty', 'latin1', 'many-subkeys', 'value-types', 'big-data', 'security']);
const sdReady = (() => {
  try {
    return buildHive(sample('security')).length > 0;
  } catch {
    return false; // the SDDL codec is another engineer's work in progress
  }
})();

function written(t: TestContext, kind: string, version: '1.5' | '1.3' = '1.5'): { file: string; hive: Hive } {
  const dir = tempDir(t);
  const bytes = buildHive(sample(kind), { version, timestamp: 133_500_000_000_000_000n });
  assert.deepEqual(checkHive(bytes).errors, []);
  const file = join(dir, `${kind}-${version}.hive`);
  writeFileSync(file, bytes);
  return { file, hive: openHive(bytes) };
}

describe('hives we write, read back by other tools', () => {
  for (const kind of KINDS) {
    for (const version of ['1.5', '1.3'] as const) {
      const skip = kind === 'security' && !sdReady ? 'SDDL codec not available yet' : false;
      it(`${kind} (v${version}): hivex (Python) shows exactly what we wrote`, { skip }, (t) => {
        if (!requireHivexPython(t)) return;
        const { file, hive } = written(t, kind, version);
        assert.deepEqual(hivexPython(file), ours(hive));
      });
      it(`${kind} (v${version}): hivexml`, { skip }, (t) => {
        if (!requireTool(t, 'hivexml')) return;
        const { file, hive } = written(t, kind, version);
        const want = [...walkKeys(hive)].map((k) => ({
          path: keyPath(k),
          values: values(k).map((v) => ({ name: valueName(v), shown: hivexmlShown(valueType(v), valueData(v)) })),
        }));
        assert.deepEqual(hivexml(file), want);
      });
      it(`${kind} (v${version}): reglookup`, { skip }, (t) => {
        if (!requireTool(t, 'reglookup')) return;
        if (version === '1.3' && kind === 'big-data') return; // reglookup reads only 1.5 db records, and 1.3 has none
        const { file, hive } = written(t, kind, version);
        compareReglookup(reglookup(file), expectedReglookup(hive));
      });
      if (LATIN1_KINDS.has(kind)) {
        it(`${kind} (v${version}): chntpw reged -x`, { skip }, (t) => {
          if (!requireTool(t, 'reged')) return;
          const { file, hive } = written(t, kind, version);
          const out = join(tempDir(t), 'out.reg');
          try {
            run('reged', ['-x', file, 'HKEY_LOCAL_MACHINE\\X', '\\', out]);
          } catch {
            // reged exits non-zero even on success; the output file is what counts
          }
          // reged writes names as their stored Latin-1 bytes but REG_SZ text as UTF-8: read the file as Latin-1,
          // then decode each quoted string's bytes as UTF-8
          const changes = parseRegText(readFileSync(out).toString('latin1')).map((c) => {
            if (c.kind !== 'value' || c.type !== REG.SZ) return c;
            const latin = Buffer.from(c.data.subarray(0, -2)).toString('utf16le');
            const text = Buffer.from(latin, 'latin1').toString('utf8');
            return { ...c, data: Uint8Array.from(Buffer.from(`${text}\0`, 'utf16le')) };
          });
          const back = openHive(
            buildHive(applyRegChanges(createHiveBuilder(), changes, { prefix: 'HKEY_LOCAL_MACHINE\\X' })),
          );
          // chntpw does not implement big-data (db) records: it shows the db cell instead of the data, so values
          // above 16,344 bytes in a 1.5 hive are left out of this comparison (hivex and reglookup check them)
          const fit = (l: Listing[]) =>
            l.map((k) => ({ ...k, values: k.values.filter((v) => version === '1.3' || v.data.length / 2 <= 16344) }));
          assert.deepEqual(fit(ours(back)), fit(ours(hive)));
        });
      }
    }
  }
});

/** Our reading of the hive file at `file` shows what reglookup lists. */
function agreesWithReglookup(file: string): void {
  compareReglookup(reglookup(file), expectedReglookup(openHive(readFileSync(file))));
}

describe('our reading of every fixture agrees with reglookup', () => {
  for (const dir of ['valid', 'dirty']) {
    for (const name of readdirSync(`${HIVES}${dir}`).sort()) {
      it(`${dir}/${name}`, (t) => {
        if (!requireTool(t, 'reglookup')) return;
        agreesWithReglookup(`${HIVES}${dir}/${name}`);
      });
    }
  }
  for (const [name, bytes] of madeValidHives()) {
    it(`made ${name}`, (t) => {
      if (!requireTool(t, 'reglookup')) return;
      const file = join(tempDir(t), name);
      writeFileSync(file, bytes);
      agreesWithReglookup(file);
    });
  }
  it('extra: the valid yarp and hivex hives in ../shared/fixtures', { skip: EXTRA_SKIP }, async (t) => {
    if (!requireTool(t, 'reglookup')) return;
    for (const name of extraFixtureFiles('hives/valid')) {
      await t.test(`valid/${name}`, () => agreesWithReglookup(join(EXTRA_FIXTURES, 'hives/valid', name)));
    }
  });
});

describe('winlayer hive (CLI)', () => {
  it('new, check, dump --json/--reg, merge', async (t) => {
    const dir = tempDir(t);
    const file = join(dir, 'a.hive');
    assert.equal((await runCli(['hive', 'new', file, '--root-name', 'SOFTWARE'])).code, 0);
    const c = await runCli(['hive', 'check', file, '--json']);
    assert.equal(c.code, 0);
    assert.deepEqual(JSON.parse(c.stdout), { file, errors: [], warnings: [], dirty: false });
    const reg = join(dir, 'c.reg');
    writeFileSync(
      reg,
      'Windows Registry Editor Version 5.00\r\n\r\n[SOFTWARE\\Foo]\r\n"Bar"=dword:00000002\r\n"S"="x"\r\n\r\n[SOFTWARE\\Gone]\r\n',
    );
    assert.equal((await runCli(['hive', 'merge', file, reg])).code, 0);
    writeFileSync(reg, 'Windows Registry Editor Version 5.00\r\n\r\n[-SOFTWARE\\Gone]\r\n[SOFTWARE\\Foo]\r\n"S"=-\r\n');
    assert.equal((await runCli(['hive', 'merge', file, reg])).code, 0);
    const h = openHive(readFileSync(file));
    assert.equal(keyName(findKey(h, '')!), 'SOFTWARE');
    assert.equal(findKey(h, 'Gone'), undefined);
    assert.deepEqual(values(findKey(h, 'Foo')!).map(valueName), ['Bar']);
    assert.deepEqual(checkHive(readFileSync(file)).errors, []);
    const j = await runCli(['hive', 'dump', file, '--json']);
    assert.equal(j.code, 0);
    const lines = j.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { path: string; values: Array<{ name: string; type: number; data: string }> });
    assert.deepEqual(
      lines.map((l) => l.path),
      ['\\', '\\Foo'],
    );
    assert.deepEqual(lines[1]!.values, [{ name: 'Bar', type: 4, data: Buffer.from([2, 0, 0, 0]).toString('base64') }]);
    const r = await runCli(['hive', 'dump', file, '--reg', '--prefix', 'HKEY_LOCAL_MACHINE\\SOFTWARE']);
    assert.deepEqual(r.stdoutBytes, Buffer.from(toRegFile(h, { prefix: 'HKEY_LOCAL_MACHINE\\SOFTWARE' })));
    // .reg → hive → .reg is byte for byte
    const regFile = join(dir, 'rt.reg');
    writeFileSync(regFile, r.stdoutBytes);
    const file2 = join(dir, 'b.hive');
    assert.equal(
      (
        await runCli([
          'hive',
          'new',
          file2,
          '--from',
          regFile,
          '--prefix',
          'HKEY_LOCAL_MACHINE\\SOFTWARE',
          '--root-name',
          'SOFTWARE',
        ])
      ).code,
      0,
    );
    assert.deepEqual(
      (await runCli(['hive', 'dump', file2, '--reg', '--prefix', 'HKEY_LOCAL_MACHINE\\SOFTWARE'])).stdoutBytes,
      r.stdoutBytes,
    );
    const text = await runCli(['hive', 'dump', file]);
    assert.match(text.stdout, /"Bar" REG_DWORD 0x00000002/);
    assert.equal(value(findKey(h, 'Foo')!, 'bar') !== undefined, true);
  });

  it('check exit codes: 0 valid (warnings allowed), 1 dirty/invalid, 2 unreadable', async (t) => {
    assert.equal((await runCli(['hive', 'check', `${HIVES}valid/offreg-testhive`])).code, 0);
    const d = await runCli(['hive', 'check', `${HIVES}dirty/regipy-SECURITY`]);
    assert.equal(d.code, 1);
    assert.match(d.stdout, /DIRTY/);
    const dir = tempDir(t);
    for (const [name, bytes] of madeInvalidHives()) {
      writeFileSync(join(dir, name), bytes);
      assert.equal((await runCli(['hive', 'check', join(dir, name)])).code, 1, name);
    }
    assert.equal((await runCli(['hive', 'check', '/nonexistent/hive'])).code, 2);
    // --strict refuses a corrupt header; a plain dump reads on and says why on stderr
    const bad = await runCli(['hive', 'dump', '--strict', join(dir, 'garbage')]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /HIVE_HEADER/);
    const lenient = await runCli(['hive', 'dump', join(dir, 'garbage')]);
    assert.match(lenient.stderr, /warning: HEADER_CHECKSUM/);
  });

  it('new --version 1.3 and --root-flags 0x20', async (t) => {
    const dir = tempDir(t);
    const file = join(dir, 'v13.hive');
    assert.equal((await runCli(['hive', 'new', file, '--version', '1.3', '--root-flags', '0x20'])).code, 0);
    const h = openHive(readFileSync(file));
    assert.equal(h.version.minor, 3);
    assert.equal(h.rootFlags, 0x20);
    assert.equal((await runCli(['hive', 'new', file, '--version', '2.0'])).code, 2);
  });
});
