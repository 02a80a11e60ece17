import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { isWinlayerError } from '../errors.js';
import {
  type Ace,
  type Acl,
  checkEntrySecurityDescriptor,
  decodeGuid,
  decodeSecurityDescriptor,
  encodeGuid,
  encodeSecurityDescriptor,
  SD_HEADER,
  SD_HEADER_SIZE,
  SE_CONTROL,
  type SecurityDescriptor,
} from './sd.js';
import { formatSddl, parseSddl } from './sddl.js';
import { parseSid, type Sid } from './sid.js';

const b64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));
const hexBytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toB64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
const sdInvalid = (pattern?: RegExp) => (e: unknown) =>
  isWinlayerError(e, 'SD_INVALID') && (pattern === undefined || pattern.test(e.message));

/** ko / go-containerregistry / .NET SDK: `O:BUG:BU`, 52 bytes. */
const KO_RAWSD = 'AQAAgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAhAgAAAQIAAAAAAAUgAAAAIQIAAA==';

/** ORCreateHive's default key SD (../shared/spec/regf.md §3.4): DACL at 0x14, owner 0x70, group 0x80. */
const OFFREG_DEFAULT_SD = hexBytes(`
  01000480 70000000 80000000 00000000 14000000
  02005c00 04000000
  00021400 3f000f00 010100000000000512000000
  00021800 3f000f00 01020000000000052000000020020000
  00021400 19000200 010100000000000100000000
  00021400 19000200 01010000000000050c000000
  01020000000000052000000020020000
  01020000000000052000000020020000`);

const BA = parseSid('BA');
const SY = parseSid('SY');
const BU = parseSid('BU');
const WD = parseSid('WD');
const RC = parseSid('RC');

describe('published vectors', () => {
  test("ko's rawsd decodes to O:BUG:BU and re-encodes identically", () => {
    const bytes = b64(KO_RAWSD);
    const sd = decodeSecurityDescriptor(bytes);
    assert.deepEqual(sd, { revision: 1, control: 0x8000, owner: BU, group: BU });
    assert.equal(formatSddl(sd), 'O:BUG:BU');
    assert.equal(toB64(encodeSecurityDescriptor(sd)), KO_RAWSD);
    assert.equal(toB64(encodeSecurityDescriptor(parseSddl('O:BUG:BU'))), KO_RAWSD);
  });

  test('the offreg default key SD (DACL first) decodes to its SDDL', () => {
    assert.equal(OFFREG_DEFAULT_SD.length, 144);
    const sd = decodeSecurityDescriptor(OFFREG_DEFAULT_SD);
    const ace = (mask: number, sid: Sid): Ace => ({ type: 'allow', flags: 0x02, mask, sid });
    assert.deepEqual(sd, {
      revision: 1,
      control: 0x8004,
      owner: BA,
      group: BA,
      dacl: { revision: 2, aces: [ace(0xf003f, SY), ace(0xf003f, BA), ace(0x20019, WD), ace(0x20019, RC)] },
    });
    assert.equal(formatSddl(sd), 'O:BAG:BAD:(A;CI;KA;;;SY)(A;CI;KA;;;BA)(A;CI;KR;;;WD)(A;CI;KR;;;RC)');
  });

  test('the offreg SD re-encodes in the canonical layout with the same meaning', () => {
    const canonical = encodeSecurityDescriptor(decodeSecurityDescriptor(OFFREG_DEFAULT_SD));
    assert.equal(canonical.length, 144);
    const view = new DataView(canonical.buffer);
    assert.equal(view.getUint32(SD_HEADER.owner.at, true), 20);
    assert.equal(view.getUint32(SD_HEADER.group.at, true), 36);
    assert.equal(view.getUint32(SD_HEADER.sacl.at, true), 0);
    assert.equal(view.getUint32(SD_HEADER.dacl.at, true), 52);
    assert.deepEqual(decodeSecurityDescriptor(canonical), decodeSecurityDescriptor(OFFREG_DEFAULT_SD));
    assert.deepEqual(canonical, encodeSecurityDescriptor(parseSddl(formatSddl(decodeSecurityDescriptor(canonical)))));
  });
});

describe('decoding', () => {
  test("checkEntrySecurityDescriptor: the decoder's rule, reported against the entry with the byte in the SD", () => {
    const sd = b64('AQAAgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAhAgAAAQIAAAAAAAUgAAAAIQIAAA==');
    checkEntrySecurityDescriptor(sd, 'Files/a');
    sd[20] = 2; // the owner SID's revision
    assert.throws(() => decodeSecurityDescriptor(sd), sdInvalid(/owner SID revision is 2, not 1/));
    assert.throws(() => checkEntrySecurityDescriptor(sd, 'Files/a'), {
      code: 'SD_INVALID',
      entry: 'Files/a',
      message:
        'Files/a: the security descriptor (MSWINDOWS.rawsd) is not valid: owner SID revision is 2, not 1 (byte 20 of the descriptor) (SD_INVALID)',
    });
  });

  test('absent, NULL and empty DACLs are three different things', () => {
    const absent = decodeSecurityDescriptor(encodeSecurityDescriptor({ revision: 1, control: 0, owner: BA }));
    assert.deepEqual(absent, { revision: 1, control: 0x8000, owner: BA });
    const nul = decodeSecurityDescriptor(encodeSecurityDescriptor({ revision: 1, control: 0, dacl: null }));
    assert.deepEqual(nul, { revision: 1, control: 0x8004, dacl: null });
    const empty = encodeSecurityDescriptor({ revision: 1, control: 0, dacl: { revision: 2, aces: [] } });
    assert.equal(empty.length, 28);
    assert.deepEqual(decodeSecurityDescriptor(empty), {
      revision: 1,
      control: 0x8004,
      dacl: { revision: 2, aces: [] },
    });
  });

  test('an ACL offset without its presence bit is ignored, as Windows does', () => {
    const bytes = encodeSecurityDescriptor({ revision: 1, control: 0, dacl: { revision: 2, aces: [] } });
    new DataView(bytes.buffer).setUint16(2, 0x8000, true);
    assert.deepEqual(decodeSecurityDescriptor(bytes), { revision: 1, control: 0x8000 });
  });

  test('ACL revisions 2 to 4 are accepted, as RtlValidAcl does, and kept when re-encoding', () => {
    for (const revision of [2, 3, 4]) {
      const bytes = encodeSecurityDescriptor({ revision: 1, control: 0, dacl: { revision, aces: [] } });
      assert.equal(bytes[SD_HEADER_SIZE], revision);
      assert.equal(decodeSecurityDescriptor(bytes).dacl?.revision, revision);
    }
  });

  test('object ACEs decode with their GUIDs', () => {
    const sd: SecurityDescriptor = {
      revision: 1,
      control: 0,
      dacl: {
        revision: 4,
        aces: [
          {
            type: 'allowObject',
            flags: 0x12,
            mask: 0x100,
            objectType: 'bf967aba-0de6-11d0-a285-00aa003049e2',
            sid: parseSid('PS'),
          },
          {
            type: 'auditObject',
            flags: 0x40,
            mask: 0x30,
            inheritedObjectType: 'bf967a86-0de6-11d0-a285-00aa003049e2',
            sid: WD,
          },
          {
            type: 'denyObject',
            flags: 0,
            mask: 0x10,
            objectType: '00000000-0000-0000-0000-000000000001',
            inheritedObjectType: 'ffffffff-ffff-ffff-ffff-ffffffffffff',
            sid: BU,
          },
          { type: 'alarmObject', flags: 0, mask: 1, sid: BU },
        ],
      },
    };
    const bytes = encodeSecurityDescriptor(sd);
    // ACE 0 of the DACL: header (4) mask (4) object flags 1 (4) then the GUID in mixed-endian order.
    const ace0 = SD_HEADER_SIZE + 8;
    assert.equal(
      Buffer.from(bytes.subarray(ace0 + 8, ace0 + 28)).toString('hex'),
      '01000000ba7a96bfe60dd011a28500aa003049e2',
    );
    assert.deepEqual(decodeSecurityDescriptor(bytes), { ...sd, control: 0x8004 });
  });

  test('GUIDs round-trip through their binary form', () => {
    fc.assert(
      fc.property(fc.uuid(), (guid) => {
        const out = new Uint8Array(20);
        encodeGuid(guid, out, 2);
        assert.equal(decodeGuid(out, 2), guid.toLowerCase());
      }),
    );
    assert.throws(() => encodeGuid('not-a-guid', new Uint8Array(16), 0), sdInvalid(/GUID/));
  });

  test('unknown ACE types keep their bytes', () => {
    const data = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    const sd: SecurityDescriptor = {
      revision: 1,
      control: 0x8004,
      dacl: { revision: 2, aces: [{ type: 'unknown', aceType: 0x09, flags: 3, data }] },
    };
    const bytes = encodeSecurityDescriptor(sd);
    assert.deepEqual(decodeSecurityDescriptor(bytes), sd);
    assert.equal(Buffer.from(bytes.subarray(28)).toString('hex'), '0903 0c00 0102030405060708'.replace(/ /g, ''));
  });

  test('mandatory label, scoped policy and trust label ACEs use the plain layout', () => {
    const sd = parseSddl('S:(ML;;NW;;;HI)(SP;;0x1;;;WD)(TL;;0x1;;;S-1-19-512-8192)');
    const again = decodeSecurityDescriptor(encodeSecurityDescriptor(sd));
    assert.deepEqual(again, sd);
    assert.deepEqual(
      again.sacl?.aces.map((a) => a.type),
      ['mandatoryLabel', 'scopedPolicyId', 'processTrustLabel'],
    );
  });

  test('ACE slack after the SID and ACL slack after the ACEs are accepted (and dropped when re-encoding)', () => {
    const sd = parseSddl('D:(A;;FA;;;BA)');
    const tight = encodeSecurityDescriptor(sd);
    // Build: header, DACL with ACE size 24+4 and ACL size +8.
    const loose = new Uint8Array(tight.length + 12);
    loose.set(tight.subarray(0, SD_HEADER_SIZE + 8));
    loose.set(tight.subarray(SD_HEADER_SIZE + 8), SD_HEADER_SIZE + 8);
    const v = new DataView(loose.buffer);
    v.setUint16(SD_HEADER_SIZE + 2, tight.length - SD_HEADER_SIZE + 12, true); // ACL size
    v.setUint16(SD_HEADER_SIZE + 8 + 2, 24 + 4, true); // ACE size
    assert.deepEqual(decodeSecurityDescriptor(loose), decodeSecurityDescriptor(tight));
  });
});

// ── validation: one buffer per rule ────────────────────────────────────────────────────────────────────────────────

describe('validation', () => {
  const valid = (): Uint8Array => encodeSecurityDescriptor(parseSddl('O:BAG:SYD:(A;;FA;;;BA)S:(AU;SA;FA;;;WD)'));
  // Layout of `valid()`: header 0..20, owner 20..36, group 36..48, SACL 48..76, DACL 76..108 (ACE at 84, SID at 92).
  const mutate = (f: (b: Uint8Array, v: DataView) => void): Uint8Array => {
    const b = valid();
    f(b, new DataView(b.buffer));
    return b;
  };

  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['empty buffer', new Uint8Array(0), /shorter than its 20-byte header/],
    ['short header', valid().subarray(0, 19), /shorter than its 20-byte header/],
    ['revision 2', mutate((b) => (b[0] = 2)), /revision is 2, not 1/],
    ['absolute form', mutate((_b, v) => v.setUint16(2, 0x0014, true)), /not self-relative/],
    ['owner offset past the end', mutate((_b, v) => v.setUint32(4, 200, true)), /owner SID .*past the end/],
    [
      'owner offset into the header',
      mutate((_b, v) => v.setUint32(4, 4, true)),
      /owner SID offset 4 points into the header/,
    ],
    ['group SID cut by the end', valid().subarray(0, 40), /group SID at 36 runs past the end of the buffer/],
    ['owner SID revision', mutate((b) => (b[20] = 3)), /owner SID revision is 3/],
    ['owner SID with 16 sub-authorities', mutate((b) => (b[21] = 16)), /16 sub-authorities \(max 15\)/],
    [
      'owner SID count runs out of the buffer',
      ownerOnly((b) => (b[21] = 3)),
      /owner SID with 3 sub-authorities runs past the end of the buffer/,
    ],
    ['DACL offset past the end', mutate((_b, v) => v.setUint32(16, 101, true)), /DACL header at 101 runs past the end/],
    [
      'DACL offset into the header',
      mutate((_b, v) => v.setUint32(16, 8, true)),
      /DACL offset 8 points into the header/,
    ],
    ['DACL revision 1', mutate((b) => (b[76] = 1)), /DACL revision is 1, not 2 to 4/],
    ['DACL revision 5', mutate((b) => (b[76] = 5)), /DACL revision is 5/],
    ['DACL size below 8', mutate((_b, v) => v.setUint16(78, 4, true)), /smaller than its 8-byte header/],
    [
      'DACL size past the end',
      mutate((_b, v) => v.setUint16(78, 36, true)),
      /DACL of 36 bytes at 76 runs past the end/,
    ],
    [
      'ACE count too high',
      mutate((_b, v) => v.setUint16(80, 2, true)),
      /DACL ACE 1 header runs past the end of the DACL/,
    ],
    ['ACE size 0', mutate((_b, v) => v.setUint16(86, 0, true)), /size 0 is smaller than its 4-byte header/],
    ['ACE size not a multiple of 4', mutate((_b, v) => v.setUint16(86, 22, true)), /size 22 is not a multiple of 4/],
    [
      'ACE past its ACL',
      mutate((_b, v) => v.setUint16(86, 24 + 4, true)),
      /ACE 0 of 28 bytes runs past the end of the DACL/,
    ],
    ['ACE too small for its mask', mutate((_b, v) => v.setUint16(86, 4, true)), /has no room for its mask/],
    ['ACE SID past its ACE', mutate((_b, v) => v.setUint16(86, 12, true)), /SID at .* runs past the end of the ACE/],
    ['ACE SID count past its ACE', mutate((b) => (b[93] = 3)), /with 3 sub-authorities runs past the end of the ACE/],
    ['SACL ACE SID revision', mutate((b) => (b[64] = 0)), /SACL ACE 0 SID revision is 0/],
    [
      'object ACE too small',
      objectAceCase((_b, v, at) => v.setUint16(at + 2, 8, true)),
      /no room for its object flags/,
    ],
    ['object ACE GUID cut', objectAceCase((_b, v, at) => v.setUint16(at + 2, 20, true)), /object type GUID runs past/],
    ['object ACE in a revision 2 ACL', objectAceCase((b, _v, at) => (b[at - 8] = 2)), /object ACEs need revision 4/],
    ['object ACE bad flags', objectAceCase((_b, v, at) => v.setUint32(at + 8, 4, true)), /unknown object flags 0x4/],
  ];

  for (const [name, bytes, pattern] of cases) {
    test(name, () => {
      assert.throws(() => decodeSecurityDescriptor(bytes), sdInvalid(pattern));
    });
  }

  test('errors carry the byte offset', () => {
    try {
      decodeSecurityDescriptor(mutate((b) => (b[76] = 9)));
      assert.fail('expected an error');
    } catch (e) {
      assert.ok(isWinlayerError(e, 'SD_INVALID'));
      assert.equal(e.offset, 76);
      assert.match(e.message, /at offset 0x4c/);
    }
  });
});

function ownerOnly(f: (b: Uint8Array) => void): Uint8Array {
  const b = encodeSecurityDescriptor(parseSddl('O:BA'));
  f(b);
  return b;
}

function objectAceCase(f: (b: Uint8Array, v: DataView, aceAt: number) => void): Uint8Array {
  const b = encodeSecurityDescriptor(parseSddl('D:(OA;;CR;bf967aba-0de6-11d0-a285-00aa003049e2;;WD)'));
  f(b, new DataView(b.buffer), SD_HEADER_SIZE + 8);
  return b;
}

describe('encoding', () => {
  test('the canonical layout is header, owner, group, SACL, DACL', () => {
    const bytes = encodeSecurityDescriptor(parseSddl('S:(AU;FA;FA;;;WD)D:(A;;FA;;;SY)G:SYO:BA'));
    const v = new DataView(bytes.buffer);
    const at = (f: keyof typeof SD_HEADER) => v.getUint32(SD_HEADER[f].at, true);
    assert.deepEqual([at('owner'), at('group'), at('sacl'), at('dacl')], [20, 36, 48, 48 + 28]);
    assert.equal(bytes.length, 48 + 28 + 28);
    assert.equal(v.getUint16(2, true), SE_CONTROL.SELF_RELATIVE | SE_CONTROL.DACL_PRESENT | SE_CONTROL.SACL_PRESENT);
  });

  test('presence bits follow the fields; other control bits are kept', () => {
    const bytes = encodeSecurityDescriptor({ revision: 1, control: 0x0014 | SE_CONTROL.DACL_PROTECTED, owner: BA });
    assert.equal(new DataView(bytes.buffer).getUint16(2, true), 0x8000 | SE_CONTROL.DACL_PROTECTED);
  });

  test('values that cannot be encoded are refused', () => {
    const sid = BA;
    const bad: Array<[SecurityDescriptor, RegExp]> = [
      [{ revision: 2, control: 0 }, /revision is 2/],
      [{ revision: 1, control: 0x10000 }, /16-bit/],
      [{ revision: 1, control: 0, dacl: { revision: 1, aces: [] } }, /DACL revision is 1/],
      [
        { revision: 1, control: 0, dacl: { revision: 2, aces: [{ type: 'allow', flags: 256, mask: 0, sid }] } },
        /flags/,
      ],
      [{ revision: 1, control: 0, dacl: { revision: 2, aces: [{ type: 'allow', flags: 0, mask: -1, sid }] } }, /mask/],
      [
        { revision: 1, control: 0, dacl: { revision: 2, aces: [{ type: 'allow', flags: 0, mask: 2 ** 32, sid }] } },
        /mask/,
      ],
      [
        { revision: 1, control: 0, dacl: { revision: 2, aces: [{ type: 'allowObject', flags: 0, mask: 0, sid }] } },
        /revision 4/,
      ],
      [
        {
          revision: 1,
          control: 0,
          dacl: { revision: 2, aces: [{ type: 'unknown', aceType: 9, flags: 0, data: new Uint8Array(3) }] },
        },
        /multiple of 4/,
      ],
      [
        {
          revision: 1,
          control: 0,
          dacl: { revision: 4, aces: [{ type: 'allowObject', flags: 0, mask: 0, objectType: 'x', sid }] },
        },
        /not a GUID/,
      ],
      [
        {
          revision: 1,
          control: 0,
          dacl: { revision: 2, aces: new Array(3000).fill({ type: 'allow', flags: 0, mask: 0, sid }) },
        },
        /65535/,
      ],
    ];
    for (const [sd, pattern] of bad)
      assert.throws(() => encodeSecurityDescriptor(sd), sdInvalid(pattern), String(pattern));
    assert.throws(
      () =>
        encodeSecurityDescriptor({
          revision: 1,
          control: 0,
          owner: { revision: 1, authority: -1n, subAuthorities: [] },
        }),
      (e: unknown) => isWinlayerError(e, 'SID_INVALID'),
    );
  });
});

// ── properties ──────────────────────────────────────────────────────────────────────────────────────────────────────

const arbSid: fc.Arbitrary<Sid> = fc
  .tuple(
    fc.oneof(fc.constantFrom(0n, 1n, 5n, 16n), fc.bigInt({ min: 0n, max: (1n << 48n) - 1n })),
    fc.array(fc.nat({ max: 0xffffffff }), { maxLength: 15 }),
  )
  .map(([authority, subAuthorities]) => ({ revision: 1, authority, subAuthorities }));

const arbMask = fc.oneof(
  fc.constantFrom(0x1f01ff, 0x20019, 0x1200a9, 0x10000000, 0x4, 1, 2, 0),
  fc.nat({ max: 0xffffffff }),
);
const arbFlags = fc.oneof(fc.constantFrom(0, 3, 0x0b, 0x13, 0xc0), fc.nat({ max: 255 }));

const arbSimpleAce: fc.Arbitrary<Ace> = fc
  .tuple(
    fc.constantFrom(
      'allow',
      'deny',
      'audit',
      'alarm',
      'mandatoryLabel',
      'scopedPolicyId',
      'processTrustLabel' as const,
    ),
    arbFlags,
    arbMask,
    arbSid,
  )
  .map(([type, flags, mask, sid]) => ({ type, flags, mask, sid }));

const arbObjectAce: fc.Arbitrary<Ace> = fc
  .tuple(
    fc.constantFrom('allowObject', 'denyObject', 'auditObject', 'alarmObject' as const),
    arbFlags,
    arbMask,
    fc.option(fc.uuid(), { nil: undefined }),
    fc.option(fc.uuid(), { nil: undefined }),
    arbSid,
  )
  .map(([type, flags, mask, o, i, sid]) => ({
    type,
    flags,
    mask,
    ...(o === undefined ? {} : { objectType: o }),
    ...(i === undefined ? {} : { inheritedObjectType: i }),
    sid,
  }));

const arbUnknownAce: fc.Arbitrary<Ace> = fc
  .tuple(fc.constantFrom(4, 9, 0x0a, 0x0b, 0x0d, 0x12, 0x15, 0x16, 0xff), fc.nat({ max: 255 }), fc.nat({ max: 12 }))
  .chain(([aceType, flags, words]) =>
    fc
      .uint8Array({ minLength: 4 * words, maxLength: 4 * words })
      .map((data) => ({ type: 'unknown' as const, aceType, flags, data })),
  );

const arbAcl = (unknown: boolean): fc.Arbitrary<Acl> =>
  fc
    .array(unknown ? fc.oneof(arbSimpleAce, arbObjectAce, arbUnknownAce) : fc.oneof(arbSimpleAce, arbObjectAce), {
      maxLength: 6,
    })
    .map((aces) => ({ revision: aces.some((a) => a.type.endsWith('Object')) ? 4 : 2, aces }));

/** A security descriptor as `decodeSecurityDescriptor` returns it (normalised control, no undefined keys). */
const arbSd = (opts: { unknown: boolean; sddlControl: boolean }): fc.Arbitrary<SecurityDescriptor> =>
  fc
    .tuple(
      opts.sddlControl
        ? fc.subarray([0x1000, 0x2000, 0x100, 0x200, 0x400, 0x800])
        : fc.array(fc.nat({ max: 15 }).map((b) => 1 << b)),
      fc.option(arbSid, { nil: undefined }),
      fc.option(arbSid, { nil: undefined }),
      fc.oneof(fc.constant(undefined), fc.constant(null), arbAcl(opts.unknown)),
      fc.oneof(fc.constant(undefined), fc.constant(null), arbAcl(opts.unknown)),
    )
    .map(([bits, owner, group, dacl, sacl]) => {
      let control = bits.reduce((a, b) => a | b, 0x8000) & ~(SE_CONTROL.DACL_PRESENT | SE_CONTROL.SACL_PRESENT);
      // SDDL writes the P/AR/AI bits of an ACL only with that ACL.
      if (opts.sddlControl && dacl === undefined) control &= ~0x1500;
      if (opts.sddlControl && sacl === undefined) control &= ~0x2a00;
      if (dacl !== undefined) control |= SE_CONTROL.DACL_PRESENT;
      if (sacl !== undefined) control |= SE_CONTROL.SACL_PRESENT;
      const sd: SecurityDescriptor = { revision: 1, control };
      if (owner !== undefined) sd.owner = owner;
      if (group !== undefined) sd.group = group;
      if (sacl !== undefined) sd.sacl = sacl;
      if (dacl !== undefined) sd.dacl = dacl;
      return sd;
    });

/** Re-lays a canonical SD out with its parts in another order and with gaps between them. */
function relayout(canonical: Uint8Array, order: number[], gaps: number[]): Uint8Array {
  const v = new DataView(canonical.buffer, canonical.byteOffset, canonical.byteLength);
  const fields = [SD_HEADER.owner.at, SD_HEADER.group.at, SD_HEADER.sacl.at, SD_HEADER.dacl.at];
  const parts = fields.map((f, i) => {
    const at = v.getUint32(f, true);
    if (at === 0) return undefined;
    const next = fields
      .slice(i + 1)
      .map((g) => v.getUint32(g, true))
      .find((x) => x !== 0);
    return canonical.subarray(at, next ?? canonical.length);
  });
  const chunks: Uint8Array[] = [canonical.slice(0, SD_HEADER_SIZE)];
  const header = new DataView(chunks[0]!.buffer);
  let p = SD_HEADER_SIZE;
  order.forEach((idx, k) => {
    const part = parts[idx];
    const gap = new Uint8Array(gaps[k] ?? 0).fill(0xcc);
    chunks.push(gap);
    p += gap.length;
    if (part === undefined) return;
    header.setUint32(fields[idx]!, p, true);
    chunks.push(part);
    p += part.length;
  });
  return new Uint8Array(Buffer.concat(chunks));
}

describe('properties', () => {
  test('binary → structure → binary is the identity on canonical bytes', () => {
    fc.assert(
      fc.property(arbSd({ unknown: true, sddlControl: false }), (sd) => {
        const bytes = encodeSecurityDescriptor(sd);
        assert.deepEqual(decodeSecurityDescriptor(bytes), sd);
        assert.deepEqual(encodeSecurityDescriptor(decodeSecurityDescriptor(bytes)), bytes);
      }),
    );
  });

  test('any layout decodes to the same structure', () => {
    fc.assert(
      fc.property(
        arbSd({ unknown: true, sddlControl: false }),
        fc.shuffledSubarray([0, 1, 2, 3], { minLength: 4, maxLength: 4 }),
        fc.array(fc.nat({ max: 9 }), { minLength: 4, maxLength: 4 }),
        (sd, order, gaps) => {
          const moved = relayout(encodeSecurityDescriptor(sd), order, gaps);
          assert.deepEqual(decodeSecurityDescriptor(moved), sd);
        },
      ),
    );
  });

  test('binary → structure → SDDL → binary is the identity for SDDL-representable descriptors', () => {
    fc.assert(
      fc.property(arbSd({ unknown: false, sddlControl: true }), (sd) => {
        const bytes = encodeSecurityDescriptor(sd);
        const sddl = formatSddl(decodeSecurityDescriptor(bytes));
        assert.deepEqual(parseSddl(sddl), sd, sddl);
        assert.deepEqual(encodeSecurityDescriptor(parseSddl(sddl)), bytes, sddl);
        assert.equal(formatSddl(parseSddl(sddl)), sddl);
      }),
    );
  });

  test('mutated descriptors give SD_INVALID or a descriptor that re-encodes stably — never another exception', () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.nat({ max: 255 }) }),
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('append' as const), at: fc.nat({ max: 16 }) }),
    );
    let invalid = 0;
    let decoded = 0;
    fc.assert(
      fc.property(
        arbSd({ unknown: true, sddlControl: false }),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        (sd, muts) => {
          let b = encodeSecurityDescriptor(sd);
          for (const m of muts) {
            if (m.kind === 'set' && b.length > 0) b[m.at % b.length] = m.value;
            else if (m.kind === 'truncate') b = b.slice(0, m.at % (b.length + 1));
            else if (m.kind === 'append') b = new Uint8Array(Buffer.concat([b, new Uint8Array(m.at)]));
          }
          let got: SecurityDescriptor;
          try {
            got = decodeSecurityDescriptor(b);
          } catch (e) {
            assert.ok(isWinlayerError(e, 'SD_INVALID'), `unexpected ${String(e)}`);
            invalid++;
            return;
          }
          decoded++;
          assert.deepEqual(decodeSecurityDescriptor(encodeSecurityDescriptor(got)), got);
        },
      ),
      { numRuns: 600 },
    );
    assert.ok(invalid > 0 && decoded > 0, `both outcomes seen (invalid ${invalid}, decoded ${decoded})`);
  });

  test('random bytes never throw anything but SD_INVALID', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), fc.boolean(), (bytes, header) => {
        if (header && bytes.length >= 4) {
          bytes[0] = 1;
          bytes[3] = bytes[3]! | 0x80;
        }
        try {
          decodeSecurityDescriptor(bytes);
        } catch (e) {
          assert.ok(isWinlayerError(e, 'SD_INVALID'), `unexpected ${String(e)}`);
        }
      }),
      { numRuns: 500 },
    );
  });
});
