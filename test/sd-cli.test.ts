/** `winlayer sd encode` / `winlayer sd decode`, run in-process through the CLI router. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SD_PRESETS } from '../src/windows/index.js';
import { runCli } from './helpers/cli.js';

const KO = 'AQAAgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAhAgAAAQIAAAAAAAUgAAAAIQIAAA==';
const BUILDKIT_FILE =
  'AQAEgBQAAAAkAAAAAAAAADAAAAABAgAAAAAABSAAAAAgAgAAAQEAAAAAAAUSAAAAAgBMAAMAAAAAABgA/wEfAAECAAAAAAAFIAAAACACAAAAABQA/wEfAAEBAAAAAAAFEgAAAAAAGACpABIAAQIAAAAAAAUgAAAAIQIAAA==';

describe('winlayer sd encode', () => {
  test('prints the base64 rawsd', async () => {
    const r = await runCli(['sd', 'encode', 'O:BUG:BU']);
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, `${KO}\n`, '']);
  });

  test('encodes the BuildKit file SDDL byte for byte', async () => {
    const r = await runCli(['sd', 'encode', SD_PRESETS.admins.file]);
    assert.deepEqual([r.code, r.stdout], [0, `${BUILDKIT_FILE}\n`]);
  });

  test('--json prints the summary object', async () => {
    const r = await runCli(['sd', 'encode', '--json', 'O:BAG:SYD:PAI(A;OICI;FA;;;SY)']);
    assert.equal(r.code, 0);
    const j = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(j), ['sddl', 'base64', 'size', 'control', 'controlFlags', 'owner', 'group', 'dacl']);
    assert.equal(j.sddl, 'O:BAG:SYD:PAI(A;OICI;FA;;;SY)');
    assert.equal(j.size, Buffer.from(j.base64, 'base64').length);
    assert.deepEqual(j.owner, { sid: 'S-1-5-32-544', alias: 'BA' });
    assert.deepEqual(j.controlFlags, ['DACL_PRESENT', 'DACL_AUTO_INHERITED', 'DACL_PROTECTED', 'SELF_RELATIVE']);
    assert.deepEqual(j.dacl, [
      {
        type: 'allow',
        sddlType: 'A',
        flags: 'OICI',
        mask: 0x1f01ff,
        rights: 'FA',
        sid: { sid: 'S-1-5-18', alias: 'SY' },
      },
    ]);
  });

  test('bad SDDL exits 1 with the SDDL_INVALID message', async () => {
    const r = await runCli(['sd', 'encode', 'O:BAG:SYD:(A;;FA;;;ZZ)']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^winlayer sd encode: SDDL ACE SID "ZZ" is not valid.*position 19 .*\(SDDL_INVALID\)/);
  });

  test('a missing or extra argument is a usage error (2)', async () => {
    for (const args of [
      ['sd', 'encode'],
      ['sd', 'encode', 'O:BA', 'G:SY'],
    ]) {
      const r = await runCli(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, /^error: expected one SDDL string, got \d arguments\n {2}hint: quote the SDDL/);
      assert.match(r.stderr, /\nusage: winlayer sd encode \[--json\] "<SDDL>"\nsee 'winlayer sd encode --help'\n$/);
    }
    const unknown = await runCli(['sd', 'encode', '--bogus', 'O:BA']);
    assert.deepEqual(
      [unknown.code, unknown.stderr],
      [
        2,
        `error: unknown option --bogus\nusage: winlayer sd encode [--json] "<SDDL>"\nsee 'winlayer sd encode --help'\n`,
      ],
    );
  });

  test('--help prints usage', async () => {
    const r = await runCli(['sd', 'encode', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Usage: winlayer sd encode/);
  });
});

describe('winlayer sd decode', () => {
  test('prints the SDDL', async () => {
    const r = await runCli(['sd', 'decode', KO]);
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, 'O:BUG:BU\n', '']);
    const b = await runCli(['sd', 'decode', BUILDKIT_FILE]);
    assert.deepEqual([b.code, b.stdout], [0, `${SD_PRESETS.admins.file}\n`]);
  });

  test('--json round-trips with encode', async () => {
    const r = await runCli(['sd', 'decode', '--json', BUILDKIT_FILE]);
    assert.equal(r.code, 0);
    const j = JSON.parse(r.stdout);
    assert.equal(j.base64, BUILDKIT_FILE);
    assert.equal(j.sddl, SD_PRESETS.admins.file);
    assert.equal(j.size, 124);
    assert.equal(j.dacl.length, 3);
  });

  test('malformed input exits 1 with SD_INVALID', async () => {
    const short = await runCli(['sd', 'decode', 'AQAAgA==']);
    assert.equal(short.code, 1);
    assert.match(short.stderr, /shorter than its 20-byte header \(SD_INVALID\)/);
    const notB64 = await runCli(['sd', 'decode', 'not base64!']);
    assert.equal(notB64.code, 1);
    assert.match(notB64.stderr, /is not standard base64 \(SD_INVALID\)/);
  });

  test('no argument is a usage error (2)', async () => {
    const r = await runCli(['sd', 'decode']);
    assert.equal(r.code, 2);
  });
});
