import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isWinlayerError } from '../errors.js';
import { decodeSecurityDescriptor, encodeSecurityDescriptor, SE_CONTROL, type SecurityDescriptor } from './sd.js';
import {
  base64ToSddl,
  bytesToRawsd,
  bytesToSddl,
  formatAceFlags,
  formatRights,
  formatSddl,
  parseSddl,
  rawsdToBytes,
  SDDL_RIGHTS,
  sddlToBase64,
  sddlToBytes,
} from './sddl.js';
import { parseSid } from './sid.js';

const BA = parseSid('BA');
const SY = parseSid('SY');
const BU = parseSid('BU');

const sddlError = (pattern: RegExp) => (e: unknown) => isWinlayerError(e, 'SDDL_INVALID') && pattern.test(e.message);

describe('parseSddl', () => {
  test('owner, group and a DACL', () => {
    assert.deepEqual(parseSddl('O:BAG:SYD:(A;OICI;FA;;;BA)(D;;0x10000;;;BU)'), {
      revision: 1,
      control: SE_CONTROL.SELF_RELATIVE | SE_CONTROL.DACL_PRESENT,
      owner: BA,
      group: SY,
      dacl: {
        revision: 2,
        aces: [
          { type: 'allow', flags: 0x03, mask: 0x1f01ff, sid: BA },
          { type: 'deny', flags: 0, mask: 0x10000, sid: BU },
        ],
      },
    } satisfies SecurityDescriptor);
  });

  test('sections may come in any order; the output is canonical', () => {
    const a = parseSddl('D:(A;;FA;;;SY)G:SYO:BA');
    assert.equal(formatSddl(a), 'O:BAG:SYD:(A;;FA;;;SY)');
  });

  test('SIDs in S- form, in any section', () => {
    const sd = parseSddl('O:S-1-5-21-1-2-3-500G:S-1-5-21-1-2-3-513D:(A;;FA;;;S-1-5-21-1-2-3-1001)');
    assert.equal(formatSddl(sd), 'O:S-1-5-21-1-2-3-500G:S-1-5-21-1-2-3-513D:(A;;FA;;;S-1-5-21-1-2-3-1001)');
    assert.equal(formatSddl(parseSddl('O:S-1-5-32-544')), 'O:BA');
  });

  test('rights: aliases, concatenated aliases, hex and decimal all give the same masks', () => {
    const mask = (r: string): number => {
      const ace = parseSddl(`D:(A;;${r};;;WD)`).dacl!.aces[0]!;
      assert.ok(ace.type !== 'unknown');
      return ace.mask;
    };
    assert.equal(mask('FA'), 0x1f01ff);
    assert.equal(mask('0x1F01FF'), 0x1f01ff);
    assert.equal(mask('2032127'), 0x1f01ff);
    assert.equal(mask('CCDCLCSWRPWPDTLOCRSDRCWDWO'), 0xf01ff);
    assert.equal(mask('GRGX'), 0xa0000000);
    assert.equal(mask(''), 0);
    assert.equal(mask('0xffffffff'), 0xffffffff);
    assert.equal(mask('4294967295'), 0xffffffff);
    for (const [alias, bits] of Object.entries(SDDL_RIGHTS)) assert.equal(mask(alias), bits, alias);
  });

  test('ACL flags P, AR, AI and NO_ACCESS_CONTROL set the control bits of their ACL', () => {
    const sd = parseSddl('D:PARAI(A;;FA;;;SY)S:PAINO_ACCESS_CONTROL');
    assert.equal(sd.control, 0x8000 | 0x0004 | 0x0010 | 0x1000 | 0x0100 | 0x0400 | 0x2000 | 0x0800);
    assert.equal(sd.sacl, null);
    assert.equal(formatSddl(sd), 'D:PARAI(A;;FA;;;SY)S:PAINO_ACCESS_CONTROL');
    assert.equal(formatSddl(parseSddl('D:AIARP(A;;FA;;;SY)')), 'D:PARAI(A;;FA;;;SY)');
    assert.equal(formatSddl(parseSddl('S:ARAR')), 'S:AR');
  });

  test('absent, NULL and empty DACLs', () => {
    assert.equal(parseSddl('O:BA').dacl, undefined);
    assert.equal(parseSddl('D:NO_ACCESS_CONTROL').dacl, null);
    assert.deepEqual(parseSddl('D:').dacl, { revision: 2, aces: [] });
    assert.equal(formatSddl(parseSddl('D:NO_ACCESS_CONTROL')), 'D:NO_ACCESS_CONTROL');
    assert.equal(formatSddl(parseSddl('D:')), 'D:');
  });

  test('the empty string is the empty descriptor', () => {
    assert.deepEqual(parseSddl(''), { revision: 1, control: 0x8000 });
    assert.equal(sddlToBase64(''), 'AQAAgAAAAAAAAAAAAAAAAAAAAAA=');
  });

  test('ACE flags: tokens in any order, written in bit order; hex for bits without a token', () => {
    const flags = (f: string): number => parseSddl(`D:(A;${f};FA;;;WD)`).dacl!.aces[0]!.flags;
    assert.equal(flags('OICINPIOID'), 0x1f);
    assert.equal(flags('IDIOCIOI'), 0x1b);
    assert.equal(flags('SAFA'), 0xc0);
    assert.equal(flags('0x20'), 0x20);
    assert.equal(formatAceFlags(0x1b), 'OICIIOID');
    assert.equal(formatAceFlags(0xc0), 'SAFA');
    assert.equal(formatAceFlags(0x23), '0x23');
    assert.equal(formatSddl(parseSddl('D:(A;0x23;FA;;;WD)')), 'D:(A;0x23;FA;;;WD)');
  });

  test('object ACEs carry GUIDs and make the ACL revision 4', () => {
    const text =
      'D:(OA;CI;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;bf967aba-0de6-11d0-a285-00aa003049e2;PS)(OD;;RP;;4828CC14-1437-45BC-9B07-AD6F015E5F28;AU)';
    const sd = parseSddl(text);
    assert.equal(sd.dacl!.revision, 4);
    assert.deepEqual(sd.dacl!.aces[1], {
      type: 'denyObject',
      flags: 0,
      mask: 0x10,
      inheritedObjectType: '4828cc14-1437-45bc-9b07-ad6f015e5f28',
      sid: parseSid('AU'),
    });
    assert.equal(
      formatSddl(sd),
      text.replace('4828CC14-1437-45BC-9B07-AD6F015E5F28', '4828cc14-1437-45bc-9b07-ad6f015e5f28'),
    );
    assert.equal(bytesToSddl(sddlToBytes(text)), formatSddl(sd));
  });

  test('audit, alarm and mandatory label ACEs', () => {
    const text = 'S:(AU;SAFA;FA;;;WD)(AL;SA;0x1;;;WD)(OU;FA;WP;;;BA)(OL;;RP;;;BA)(ML;;NWNR;;;ME)';
    const sd = parseSddl(text);
    assert.deepEqual(
      sd.sacl!.aces.map((a) => a.type),
      ['audit', 'alarm', 'auditObject', 'alarmObject', 'mandatoryLabel'],
    );
    // NW|NR (0x3) is no single alias: hex. A lone NW stays NW on a label ACE and CC elsewhere.
    assert.equal(formatSddl(sd), 'S:(AU;SAFA;FA;;;WD)(AL;SA;CC;;;WD)(OU;FA;WP;;;BA)(OL;;RP;;;BA)(ML;;0x3;;;ME)');
    assert.equal(formatSddl(parseSddl('S:(ML;;NW;;;HI)')), 'S:(ML;;NW;;;HI)');
  });
});

describe('formatSddl: rights', () => {
  test('a mask equal to exactly one alias is written as that alias', () => {
    assert.equal(formatRights(0x1f01ff), 'FA');
    assert.equal(formatRights(0x120089), 'FR');
    assert.equal(formatRights(0x120116), 'FW');
    assert.equal(formatRights(0x1200a0), 'FX');
    assert.equal(formatRights(0xf003f), 'KA');
    assert.equal(formatRights(0x20006), 'KW');
    assert.equal(formatRights(0x10000000), 'GA');
    assert.equal(formatRights(0x80000000), 'GR');
    assert.equal(formatRights(0x4), 'LC');
    assert.equal(formatRights(0x20000), 'RC');
  });

  test('KR and KX (both 0x20019) are written as KR', () => {
    assert.equal(formatRights(0x20019), 'KR');
    assert.equal(formatSddl(parseSddl('D:(A;CI;KX;;;WD)')), 'D:(A;CI;KR;;;WD)');
  });

  test('other masks are written in lower-case hex', () => {
    assert.equal(formatRights(0x1200a9), '0x1200a9');
    assert.equal(formatRights(0), '0x0');
    assert.equal(formatRights(0xffffffff), '0xffffffff');
    assert.equal(formatSddl(parseSddl('D:(A;;CCDC;;;WD)')), 'D:(A;;0x3;;;WD)');
  });
});

describe('errors name the token and its position', () => {
  const cases: Array<[string, RegExp]> = [
    ['X:BA', /token "X:BA" is not a section .* at position 0/],
    ['O:BAO:SY', /section "O:" appears twice at position 4/],
    ['O:', /owner SID is missing at position 2/],
    ['O:XX', /owner SID "XX" is not valid.* at position 2/],
    ['O:DA', /owner SID "DA" is not valid: .*domain.* at position 2/],
    ['O:S-1-5-32-544 G:SY', /token " G:SY" is not a section .* at position 14/],
    ['D:(A;;FA;;;BA', /ACE 0 "\(A;;FA;;;BA" has no closing "\)" at position 2/],
    ['D:(A;;FA;;BA)', /has 5 fields, not 6/],
    ['D:(XA;;FA;;;WD;(@User.x == 1))', /has 7 fields, not 6 .*conditional/],
    ['D:(Q;;FA;;;BA)', /ACE type "Q" is not an ACE type at position 3/],
    ['D:(XA;;FA;;;BA)', /ACE type "XA" is not supported by winlayer at position 3/],
    ['D:(A;OIXX;FA;;;BA)', /ACE flag "XX" is unknown at position 7/],
    ['D:(A;;FAZZ;;;BA)', /access right "ZZ" is unknown at position 8/],
    ['D:(A;;0x1FFFFFFFF;;;BA)', /access mask "0x1FFFFFFFF" is not a 32-bit hex number at position 6/],
    ['D:(A;;4294967296;;;BA)', /access mask "4294967296" exceeds 32 bits/],
    ['D:(A;;FA;;;QQ)', /ACE SID "QQ" is not valid.* at position 11/],
    ['D:(A;;FA;ab721a53-1e2f-11d0-9819-00aa0040529b;;BA)', /ACE type "A" takes no object GUIDs/],
    ['D:(OA;;FA;not-a-guid;;BA)', /"not-a-guid" is not a GUID at position 10/],
    ['D:NO_ACCESS_CONTROL(A;;FA;;;BA)', /DACL is NO_ACCESS_CONTROL but also lists ACEs/],
    ['D:NO_ACCESS_CONTROLNO_ACCESS_CONTROL', /NO_ACCESS_CONTROL appears twice/],
    ['D:(A;;FA;;;BA)x', /token "x" in the DACL is neither a flag/],
    ['D:Q(A;;FA;;;BA)', /token "Q\(A;;FA;" in the DACL is neither a flag/],
  ];
  for (const [text, pattern] of cases) {
    test(JSON.stringify(text), () => {
      assert.throws(() => parseSddl(text), sddlError(pattern));
    });
  }

  test('long strings are shown around the error only', () => {
    const text = `D:${'(A;;FA;;;BA)'.repeat(30)}(A;;FA;;;ZZ)${'(A;;FA;;;SY)'.repeat(30)}`;
    assert.throws(
      () => parseSddl(text),
      (e: unknown) =>
        isWinlayerError(e, 'SDDL_INVALID') &&
        /at position 371 of "….*\(A;;FA;;;ZZ\).*…"/.test(e.message) &&
        !e.message.includes(text),
    );
  });

  test('unknown ACEs have no SDDL form', () => {
    const sd: SecurityDescriptor = {
      revision: 1,
      control: 0,
      dacl: { revision: 2, aces: [{ type: 'unknown', aceType: 9, flags: 0, data: new Uint8Array(4) }] },
    };
    assert.throws(() => formatSddl(sd), sddlError(/DACL ACE 0 has type 0x09, which has no SDDL form/));
    assert.throws(() => bytesToSddl(encodeSecurityDescriptor(sd)), sddlError(/no SDDL form/));
  });
});

describe('base64 conveniences', () => {
  test('sddlToBase64 / base64ToSddl round-trip', () => {
    const text = 'O:BAG:SYD:PAI(A;OICI;FA;;;BA)(A;OICIIO;GA;;;CO)S:(AU;FA;FA;;;WD)';
    const b64 = sddlToBase64(text);
    assert.equal(base64ToSddl(b64), text);
    assert.equal(bytesToRawsd(rawsdToBytes(b64)), b64);
    assert.deepEqual(decodeSecurityDescriptor(rawsdToBytes(b64)), parseSddl(text));
  });

  test('unpadded base64 is accepted, other alphabets are not', () => {
    const padded = sddlToBase64('O:BUG:BU');
    assert.equal(base64ToSddl(padded.replace(/=+$/, '')), 'O:BUG:BU');
    const bad = (s: string) =>
      assert.throws(
        () => base64ToSddl(s),
        (e: unknown) => isWinlayerError(e, 'SD_INVALID') && /base64/.test(e.message),
        s,
      );
    bad(`${padded.slice(0, 8)}_${padded.slice(9)}`);
    bad(`${padded.slice(0, 8)}-${padded.slice(9)}`);
    bad(`${padded.slice(0, 10)} ${padded.slice(10)}`);
    bad('A');
    bad('AQ=A');
  });

  test('bytesToRawsd works on views into larger buffers', () => {
    const bytes = sddlToBytes('O:SY');
    const big = new Uint8Array(bytes.length + 10);
    big.set(bytes, 5);
    assert.equal(bytesToRawsd(big.subarray(5, 5 + bytes.length)), sddlToBase64('O:SY'));
  });
});
