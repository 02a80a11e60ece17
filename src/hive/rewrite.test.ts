/**
 * Issue 17 §2: a rewrite loses nothing. A hive with every key flag, access bits, user flags, classes, security
 * descriptors, timestamps and value flags set is merged with a `.reg` change; an independent decoder
 * (`test/helpers/regf-decoder.ts`) compares every field of every key and value cell before and after, except what the
 * change touched. (What the writer recomputes — cell offsets, counts, the longest-name fields — is layout, not
 * content.)
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runCli } from '../../test/helpers/cli.js';
import { type DecodedKey, decodeHive } from '../../test/helpers/regf-decoder.js';
import { isWinlayerError } from '../errors.js';
import { buildHive, checkHive, createHiveBuilder, mergeReg, REG } from './index.js';

/** Every `nk` flag bit that a file may hold, on a key of its own (0x20, compressed name, is the writer's to set). */
const KEY_BITS = [0x4, 0x8, 0x10, 0x40, 0x80, 0x100, 0x200, 0x400, 0x800, 0x1000, 0x2000, 0x4000, 0x8000];
/**
 * `vk` flag bits other than VALUE_COMP_NAME and the tombstone bit (0x2), which belongs to a differencing hive only
 * (kept by a rewrite there: `delta.test.ts`).
 */
const VALUE_BITS = [0x4, 0x100, 0x8000];

const keyName = (bit: number): string => `flag-0x${bit.toString(16)}`;

/** A hive made by our writer, then given by hand (through the decoder's offsets) what the writer did not set. */
function richHive(): Uint8Array {
  const b = createHiveBuilder();
  for (const [i, bit] of KEY_BITS.entries()) {
    const k = b.key(keyName(bit)).setTimestamp(133_000_000_000_000_000n + BigInt(i));
    if (bit === 0x10) k.setString('SymbolicLinkValue', '\\Registry\\Machine\\Software\\Target', REG.LINK);
    else k.setDword('v', i);
    if (i % 3 === 0) k.setClass(`class ${i}`);
    if (i % 4 === 1) k.setSecurity('O:BAG:SYD:(A;CI;KA;;;BA)');
  }
  const u = b.key('ünïcode-\u0416').setTimestamp(7n);
  for (const bit of VALUE_BITS) u.setValue(`value-0x${bit.toString(16)}`, REG.BINARY, Uint8Array.of(bit & 0xff));
  u.setValue('\u0416-big', REG.BINARY, new Uint8Array(20_000).fill(0x5a));
  b.key('Touched').setString('old', 'x').setString('gone', 'y');
  const bytes = buildHive(b, { timestamp: 133_500_000_000_000_000n });
  const v = new DataView(bytes.buffer);
  const keys = decodeHive(bytes);
  const nk = (path: string): number => keys.get(path)!.cell + 4;
  for (const [i, bit] of KEY_BITS.entries()) {
    const at = nk(keyName(bit));
    v.setUint16(at + 2, v.getUint16(at + 2, true) | bit, true);
    // access bits and the spare u16 (the layered-key byte between them belongs to a differencing hive: delta.test.ts)
    v.setUint32(at + 12, [0, 2, 3, 0x0001_0002, 0x0200_0003][i % 5]!, true);
    v.setUint16(at + 54, (i * 0x1111) & 0xffff, true); // user, virtualization and debug flags
  }
  v.setUint16(nk('') + 2, v.getUint16(nk('') + 2, true) | 0x1000, true); // the root too
  v.setUint32(nk('') + 12, 3, true);
  for (const value of keys.get('ünïcode-\u0416')!.values) {
    const bit = Number.parseInt(value.name.slice('value-'.length), 16);
    if (VALUE_BITS.includes(bit)) v.setUint16(value.cell + 4 + 16, value.flags | bit, true);
  }
  v.setUint16(keys.get('ünïcode-\u0416')!.values.at(-1)!.cell + 4 + 16, 0x4, true); // UTF-16 name, flags 0x4
  return bytes;
}

const CHANGE = [
  'Windows Registry Editor Version 5.00',
  '',
  '[ROOT\\Touched]',
  '"old"="new"',
  '"gone"=-',
  '',
  '[ROOT\\Added]',
  '"n"=dword:00000001',
  '',
].join('\r\n');

/** A key's cell fields without where the cells are. */
function content(k: DecodedKey): unknown {
  return { ...k, cell: undefined, skCell: undefined, values: k.values.map((v) => ({ ...v, cell: undefined })) };
}

describe('hive merge keeps every field it did not change', () => {
  it('keeps flags, access bits, user flags, class, security descriptor, timestamp, value flags', () => {
    const before = richHive();
    assert.deepEqual(checkHive(before).errors, []);
    const after = mergeReg(before, CHANGE);
    assert.deepEqual(checkHive(after).errors, []);
    const was = decodeHive(before);
    const now = decodeHive(after);
    assert.deepEqual([...now.keys()].sort(), [...was.keys(), 'Added'].sort());
    for (const [path, k] of was) {
      if (path === 'Touched') continue;
      assert.deepEqual(content(now.get(path)!), content(k), path);
    }
    // the touched key: its own fields kept, its values as the change says
    const touched = content(now.get('Touched')!) as { values: Array<{ name: string; data: string }> };
    const old = content(was.get('Touched')!) as { values: unknown[] };
    assert.deepEqual({ ...touched, values: [] }, { ...old, values: [] });
    assert.deepEqual(
      touched.values.map((v) => [v.name, v.data]),
      [['old', Buffer.from('new\0', 'utf16le').toString('hex')]],
    );
    // a sample of what the fixture holds, so the comparison above cannot pass on two empty hives
    assert.equal(now.get('flag-0x1000')!.flags & 0x1000, 0x1000);
    assert.equal(now.get('flag-0x10')!.flags & 0x10, 0x10);
    assert.equal(now.get('')!.flags, 0x102c);
    assert.deepEqual(
      now.get('ünïcode-\u0416')!.values.map((v) => v.flags),
      [0x5, 0x101, 0x8001, 0x4],
    );
  });

  it('the CLI rewrites the same bytes', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'winlayer-rewrite-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const before = richHive();
    writeFileSync(join(dir, 'h'), before);
    writeFileSync(join(dir, 'c.reg'), CHANGE);
    const out = await runCli(['hive', 'merge', join(dir, 'h'), join(dir, 'c.reg')]);
    assert.equal(out.code, 0, out.stderr);
    assert.deepEqual(readFileSync(join(dir, 'h')), Buffer.from(mergeReg(before, CHANGE)));
  });

  it('refuses a value added to a symbolic-link key, which Windows would drop', () => {
    const change = 'Windows Registry Editor Version 5.00\r\n\r\n[ROOT\\flag-0x10]\r\n"extra"=dword:00000001\r\n';
    assert.throws(
      () => mergeReg(richHive(), change),
      (e) => isWinlayerError(e, 'HIVE_BUILD') && /symbolic link/.test(e.message),
    );
  });
});
