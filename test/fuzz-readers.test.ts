/**
 * Every reader of untrusted bytes, fed mutations of valid input the project makes itself: the tar reader (plain,
 * gzip, zstd), the hive reader and checker, the `.reg` parser, the SDDL parser and the binary security-descriptor
 * decoder. Whatever the input, each one ends in a result or a `WinlayerError` whose code is not `INTERNAL`; never a
 * TypeError, a RangeError or a hang. Seeded (the same runs every time) and bounded in runs and time per reader.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { compress as zstdCompress } from 'zstd-napi';
import { isWinlayerError } from '../src/errors.js';
import {
  applyRegChanges,
  buildHive,
  checkHive,
  createHiveBuilder,
  keySddl,
  openHive,
  parseRegText,
  REG,
  toRegText,
  valueData,
  values,
  walkKeys,
} from '../src/hive/index.js';
import { readTar } from '../src/tar/index.js';
import { chunks, fixChecksum, sampleLayer, tarOf } from '../src/tar/testing.js';
import { bytesToSddl, decodeSecurityDescriptor, sddlToBytes } from '../src/windows/index.js';

/** Per reader: at most this much time (runs past it are cut, not failed: a slow machine runs fewer). */
const TIME_LIMIT_MS = 4000;
const SDDL_SAMPLES = [
  'O:BAG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)',
  'O:S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464G:SYD:P(A;CIIO;GA;;;CO)(A;;FA;;;SY)',
  'D:(D;;FA;;;WD)(A;ID;FR;;;AU)(OA;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;WD)S:(AU;FA;FA;;;WD)(ML;;NW;;;HI)',
  'O:BUG:BUD:AI(A;;KA;;;S-1-15-2-1)(A;CI;KR;;;AC)(A;NP;0x10000000;;;S-1-5-21-1-2-3-500)',
];

/** A failure that is not a WinlayerError, or one that says it is a bug: the property fails. */
function expectHonest(e: unknown): void {
  if (!isWinlayerError(e)) throw e;
  assert.notEqual(e.code, 'INTERNAL', e.message);
}

/** Random edits of a valid input: byte changes, a cut, a run of bytes dropped or repeated. */
const mutation = fc.record({
  sets: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 0, maxLength: 8 }),
  cut: fc.option(fc.nat(), { nil: undefined }),
  splice: fc.option(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 600 }), fc.boolean()), { nil: undefined }),
});
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(base: Uint8Array, m: Mutation): Uint8Array {
  let b = Buffer.from(base);
  if (m.splice !== undefined && b.length > 0) {
    const [at, n, repeat] = m.splice;
    const p = at % b.length;
    const run = b.subarray(p, p + n);
    b = repeat
      ? Buffer.concat([b.subarray(0, p), run, run, b.subarray(p + n)])
      : Buffer.concat([b.subarray(0, p), b.subarray(p + n)]);
  }
  if (b.length > 0) for (const [at, v] of m.sets) b[at % b.length] = v;
  if (m.cut !== undefined) b = b.subarray(0, m.cut % (b.length + 1));
  return new Uint8Array(b);
}

/** Gives the mutated tar's headers valid checksums again, so the mutations reach what lies behind the checksum. */
function fixHeaders(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(b);
  for (let at = 0; at + 512 <= out.length; at += 512) {
    if (out[at + 257] === 0x75 && out[at + 258] === 0x73) fixChecksum(out.subarray(at, at + 512));
  }
  return out;
}

/** Reads every entry and body; returns nothing, throws what the reader throws. */
async function readWhole(bytes: Uint8Array, seed: number): Promise<void> {
  for await (const e of readTar(chunks(bytes, 'random', seed))) {
    if (e.kind === 'file' || e.kind === 'stream') for await (const _ of e.body) void _;
  }
}

function sampleHive(): Uint8Array {
  const b = createHiveBuilder();
  const k = b.key('Software\\Winlayer\\Test');
  k.setString('sz', 'text')
    .setMultiString('multi', ['a', 'b'])
    .setDword('dword', 42)
    .setQword('qword', 1n << 40n);
  k.setValue('bin', REG.BINARY, new Uint8Array(5000).fill(7)); // a big-data value
  k.setSecurity(SDDL_SAMPLES[1]);
  for (let i = 0; i < 30; i++) b.key(`Many\\k${i}`).setDword('i', i); // an index over a long subkey list
  b.key('Software\\Empty');
  return buildHive(b);
}

/** Reads everything a hive holds through the public accessors. */
function readHiveWhole(bytes: Uint8Array): void {
  const hive = openHive(bytes);
  for (const key of walkKeys(hive)) {
    keySddl(key);
    for (const v of values(key)) valueData(v);
  }
}

/** fast-check's options: `runs` mutations from a fixed seed (the same inputs every time), bounded in time. */
const options = (seed: number, runs: number) => ({ numRuns: runs, seed, interruptAfterTimeLimit: TIME_LIMIT_MS });

describe('fuzz: no reader input ends in a non-WinlayerError or INTERNAL', () => {
  it('tar, plain (raw mutations and mutations behind valid checksums)', async () => {
    const base = await tarOf(sampleLayer());
    await fc.assert(
      fc.asyncProperty(mutation, fc.boolean(), fc.nat(), async (m, fix, seed) => {
        const bytes = fix ? fixHeaders(mutate(base, m)) : mutate(base, m);
        await readWhole(bytes, seed).catch(expectHonest);
      }),
      options(16, 1500),
    );
  });

  it('tar, gzip and zstd (the compressed bytes mutated, or a mutated tar compressed)', async () => {
    const base = await tarOf(sampleLayer());
    const packers = [gzipSync, (b: Uint8Array) => zstdCompress(b)];
    const packed = packers.map((p) => new Uint8Array(p(base)));
    await fc.assert(
      fc.asyncProperty(mutation, fc.integer({ min: 0, max: 1 }), fc.boolean(), fc.nat(), async (m, k, inner, seed) => {
        const bytes = inner ? new Uint8Array(packers[k]!(fixHeaders(mutate(base, m)))) : mutate(packed[k]!, m);
        await readWhole(bytes, seed).catch(expectHonest);
      }),
      options(17, 1000),
    );
  });

  it('hive reader and checker', () => {
    const base = sampleHive();
    readHiveWhole(base); // the seed itself reads
    fc.assert(
      fc.property(mutation, (m) => {
        const bytes = mutate(base, m);
        try {
          readHiveWhole(bytes);
        } catch (e) {
          expectHonest(e);
        }
        const report = checkHive(bytes); // never throws
        for (const f of report.errors) assert.doesNotMatch(f.message, /a bug in winlayer/);
      }),
      options(18, 3000),
    );
  });

  it('.reg parser (and applying what it parsed)', () => {
    const text = toRegText(openHive(sampleHive()));
    const base = new Uint8Array(Buffer.from(text, 'utf8'));
    parseRegText(base); // the seed itself parses
    fc.assert(
      fc.property(mutation, fc.boolean(), (m, utf16) => {
        const mutated = mutate(base, m);
        const input = utf16
          ? new Uint8Array(Buffer.from(`\ufeff${Buffer.from(mutated).toString('latin1')}`, 'utf16le'))
          : mutated;
        try {
          applyRegChanges(createHiveBuilder(), parseRegText(input));
        } catch (e) {
          expectHonest(e);
        }
      }),
      options(19, 3000),
    );
  });

  it('SDDL parser and binary security-descriptor decoder', () => {
    const binaries = SDDL_SAMPLES.map((s) => sddlToBytes(s));
    fc.assert(
      fc.property(mutation, fc.integer({ min: 0, max: SDDL_SAMPLES.length - 1 }), (m, i) => {
        // Mutate the text within printable ASCII, so the parser sees near-misses rather than noise.
        const text = Buffer.from(mutate(new Uint8Array(Buffer.from(SDDL_SAMPLES[i]!)), m))
          .toString('latin1')
          .replace(/[^\x20-\x7e]/g, (c) => String.fromCharCode(0x20 + (c.charCodeAt(0) % 95)));
        try {
          bytesToSddl(sddlToBytes(text));
        } catch (e) {
          expectHonest(e);
        }
        const bytes = mutate(binaries[i]!, m);
        try {
          decodeSecurityDescriptor(bytes);
          bytesToSddl(bytes);
        } catch (e) {
          expectHonest(e);
        }
      }),
      options(20, 5000),
    );
  });
});
