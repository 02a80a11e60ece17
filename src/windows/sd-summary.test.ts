import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isWinlayerError } from '../errors.js';
import { encodeSecurityDescriptor } from './sd.js';
import { SD_PRESETS } from './sd-presets.js';
import { summarizeSecurityDescriptor } from './sd-summary.js';
import { parseSddl, sddlToBase64, sddlToBytes } from './sddl.js';

test('summary of the BuildKit file SD', () => {
  const bytes = sddlToBytes(SD_PRESETS.admins.file);
  const ace = (sid: string, alias: string, rights: string, mask: number) => ({
    type: 'allow',
    sddlType: 'A',
    flags: '',
    mask,
    rights,
    sid: { sid, alias },
  });
  assert.deepEqual(summarizeSecurityDescriptor(bytes), {
    sddl: SD_PRESETS.admins.file,
    base64: sddlToBase64(SD_PRESETS.admins.file),
    size: 124,
    control: 0x8004,
    controlFlags: ['DACL_PRESENT', 'SELF_RELATIVE'],
    owner: { sid: 'S-1-5-32-544', alias: 'BA' },
    group: { sid: 'S-1-5-18', alias: 'SY' },
    dacl: [
      ace('S-1-5-32-544', 'BA', 'FA', 0x1f01ff),
      ace('S-1-5-18', 'SY', 'FA', 0x1f01ff),
      ace('S-1-5-32-545', 'BU', '0x1200a9', 0x1200a9),
    ],
  });
});

test('summary of a structure: NULL DACL, SACL with an object ACE, SID without alias', () => {
  const sd = parseSddl('O:S-1-5-21-1-2-3-500D:PNO_ACCESS_CONTROLS:(OU;SA;WP;bf967aba-0de6-11d0-a285-00aa003049e2;;WD)');
  const s = summarizeSecurityDescriptor(sd);
  assert.equal(s.sddl, 'O:S-1-5-21-1-2-3-500D:PNO_ACCESS_CONTROLS:(OU;SA;WP;bf967aba-0de6-11d0-a285-00aa003049e2;;WD)');
  assert.deepEqual(s.owner, { sid: 'S-1-5-21-1-2-3-500' });
  assert.equal(s.group, undefined);
  assert.equal(s.dacl, null);
  assert.deepEqual(s.sacl, [
    {
      type: 'auditObject',
      sddlType: 'OU',
      flags: 'SA',
      mask: 0x20,
      rights: 'WP',
      objectType: 'bf967aba-0de6-11d0-a285-00aa003049e2',
      sid: { sid: 'S-1-1-0', alias: 'WD' },
    },
  ]);
});

test('a descriptor with an ACE that has no SDDL form still summarises, with sddl null', () => {
  const bytes = encodeSecurityDescriptor({
    revision: 1,
    control: 0,
    dacl: { revision: 2, aces: [{ type: 'unknown', aceType: 9, flags: 1, data: new Uint8Array([1, 2, 3, 4]) }] },
  });
  const s = summarizeSecurityDescriptor(bytes);
  assert.equal(s.sddl, null);
  assert.deepEqual(s.dacl, [{ type: 'unknown', aceType: 9, flags: 1, data: 'AQIDBA==' }]);
});

test('malformed bytes are SD_INVALID', () => {
  assert.throws(
    () => summarizeSecurityDescriptor(new Uint8Array(4)),
    (e: unknown) => isWinlayerError(e, 'SD_INVALID'),
  );
});
