import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { isWinlayerError } from '../errors.js';
import { upcase } from './case.js';
import {
  certainlyValidName,
  checkLayerPath,
  MAX_COMPONENT_LENGTH,
  MAX_PATH_LENGTH,
  NameIndex,
  windowsNameProblem,
} from './names.js';

describe('windowsNameProblem', () => {
  test('ordinary names are fine', () => {
    for (const ok of [
      'Files',
      'System32',
      'a',
      'x'.repeat(MAX_COMPONENT_LENGTH),
      '.hidden',
      'archive.tar.gz',
      'CONSOLE',
      'NULL',
      'COM10',
      'COM0',
      'LPT0',
      'AUXILIARY.txt',
      'my con',
      'ÄÖÜ ß',
      '\u{1F600}',
      'a..b',
      ' leading space',
      'CON_',
    ]) {
      assert.equal(windowsNameProblem(ok), undefined, ok);
    }
  });

  test('empty, . and .. are refused', () => {
    assert.match(windowsNameProblem('')!, /empty/);
    assert.match(windowsNameProblem('.')!, /relative path step/);
    assert.match(windowsNameProblem('..')!, /relative path step/);
  });

  test('forbidden characters and control characters', () => {
    for (const c of ['<', '>', ':', '"', '|', '?', '*', '\\', '/']) {
      assert.match(windowsNameProblem(`a${c}b`)!, new RegExp(`contains "\\${c}"`), c);
    }
    assert.match(windowsNameProblem('a\u0000b')!, /control character U\+0000/);
    assert.match(windowsNameProblem('a\u001fb')!, /control character U\+001f/);
    assert.match(windowsNameProblem('tab\there')!, /control character U\+0009/);
    assert.equal(windowsNameProblem('a\u007fb'), undefined, 'DEL is allowed on NTFS');
  });

  test('a trailing dot or space', () => {
    assert.match(windowsNameProblem('name.')!, /ends with a dot/);
    assert.match(windowsNameProblem('name ')!, /ends with a space/);
    assert.match(windowsNameProblem('...')!, /ends with a dot/);
  });

  test('names over 255 UTF-16 units', () => {
    assert.match(windowsNameProblem('x'.repeat(256))!, /256 UTF-16 units long, over the 255-unit limit/);
    // 128 astral characters are 256 UTF-16 units.
    assert.match(windowsNameProblem('\u{1F600}'.repeat(128))!, /256 UTF-16 units/);
  });

  test('reserved device names, in any case and with any extension', () => {
    const reserved = ['CON', 'PRN', 'AUX', 'NUL', 'CONIN$', 'CONOUT$'];
    for (let i = 1; i <= 9; i++) reserved.push(`COM${i}`, `LPT${i}`);
    reserved.push('COM\u00b9', 'COM\u00b2', 'COM\u00b3', 'LPT\u00b9', 'LPT\u00b2', 'LPT\u00b3');
    for (const name of reserved) {
      for (const variant of [name, name.toLowerCase(), `${name}.txt`, `${name.toLowerCase()}.tar.gz`, `${name} .txt`]) {
        assert.match(windowsNameProblem(variant)!, /reserved device name/, variant);
      }
    }
    assert.match(windowsNameProblem('nul.txt')!, /reserved device name NUL$/);
    assert.match(windowsNameProblem('CON.tar.gz')!, /reserved device name CON$/);
    assert.match(windowsNameProblem('Com\u00b9.log')!, /reserved device name COM\u00b9$/);
    assert.equal(windowsNameProblem('console'), undefined);
  });
});

describe("certainlyValidName (the walk's fast check)", () => {
  /** Names built from the pieces each rule looks at: forbidden characters, controls, dots, spaces, device names. */
  const piece = fc.constantFrom(
    'a',
    'Z',
    '0',
    '.',
    ' ',
    '..',
    '-',
    '$',
    'é',
    'ß',
    '\u00b9',
    '\u0000',
    '\u001f',
    '\t',
    '<',
    '>',
    ':',
    '"',
    '|',
    '?',
    '*',
    '\\',
    '/',
    'CON',
    'con',
    'PRN',
    'AUX',
    'NUL',
    'COM1',
    'lpt9',
    'COM0',
    'CONIN$',
    'conout$',
    'LPT\u00b2',
    '\ud800',
    '\udfff',
    '\ud83d\ude00',
    '\uffff',
    '\u007f',
    '\u0080',
    'x'.repeat(120),
  );
  const name = fc.oneof(
    fc.array(piece, { maxLength: 6 }).map((parts) => parts.join('')),
    fc.string({ unit: 'binary', maxLength: 12 }),
    fc.string({ maxLength: 300 }),
  );

  test('property: never true where windowsNameProblem finds a problem', () => {
    fc.assert(
      fc.property(name, (n) => {
        if (certainlyValidName(n)) assert.equal(windowsNameProblem(n), undefined, JSON.stringify(n));
      }),
      { numRuns: 5000 },
    );
  });

  test('property: below U+D800 the two agree exactly (the fast check sends nothing valid to the slow path)', () => {
    fc.assert(
      fc.property(name, (n) => {
        if ([...n].some((c) => c.charCodeAt(0) >= 0xd800)) return;
        assert.equal(certainlyValidName(n), windowsNameProblem(n) === undefined, JSON.stringify(n));
      }),
      { numRuns: 5000 },
    );
  });

  test('examples: valid names true; every rule false; high units go to the slow path', () => {
    for (const ok of ['Files', 'a.b', '.hidden', 'CONSOLE', 'COM0', 'x'.repeat(MAX_COMPONENT_LENGTH), 'é']) {
      assert.equal(certainlyValidName(ok), true, ok);
    }
    for (const no of ['', '.', '..', 'a.', 'a ', 'a:b', 'a\u0001', 'nul.txt', 'x'.repeat(MAX_COMPONENT_LENGTH + 1)]) {
      assert.equal(certainlyValidName(no), false, JSON.stringify(no));
    }
    assert.equal(certainlyValidName('\ud83d\ude00'), false);
    assert.equal(windowsNameProblem('\ud83d\ude00'), undefined);
  });
});

describe('checkLayerPath', () => {
  const nameInvalid = (pattern: RegExp) => (e: unknown) =>
    isWinlayerError(e, 'NAME_INVALID') && pattern.test(e.message) && e.entry !== undefined;

  test('valid layer paths pass', () => {
    checkLayerPath('Files');
    checkLayerPath('Files/Windows/System32/drivers/etc/hosts');
    checkLayerPath('UtilityVM/Files/EFI/Microsoft/Boot/BCD');
    checkLayerPath('Hives/System_Delta');
  });

  test('the failing component is named', () => {
    assert.throws(
      () => checkLayerPath('Files/dir/nul.txt'),
      nameInvalid(/reserved device name NUL \(component 3 "nul.txt"\)/),
    );
    assert.throws(
      () => checkLayerPath('Files/bad. /x'),
      nameInvalid(/ends with a space, which Windows strips \(component 2/),
    );
    assert.throws(() => checkLayerPath('Files//x'), nameInvalid(/empty \(component 2/));
    assert.throws(() => checkLayerPath('/Files'), nameInvalid(/empty \(component 1/));
    assert.throws(() => checkLayerPath('Files/'), nameInvalid(/empty/));
    assert.throws(() => checkLayerPath('Files/../etc'), nameInvalid(/relative path step/));
    assert.throws(() => checkLayerPath('Files\\x'), nameInvalid(/contains "\\"/));
    assert.throws(() => checkLayerPath(''), nameInvalid(/path is empty/));
  });

  test('total length over 32767 UTF-16 units', () => {
    const long = Array.from({ length: 200 }, () => 'x'.repeat(200)).join('/');
    assert.ok(long.length > MAX_PATH_LENGTH);
    assert.throws(() => checkLayerPath(long), nameInvalid(/over the 32767-unit limit/));
    const fits = Array.from({ length: 128 }, () => 'y'.repeat(254)).join('/');
    assert.ok(fits.length <= MAX_PATH_LENGTH);
    checkLayerPath(fits);
  });

  test('streams only with allowStream, and only $DATA', () => {
    assert.throws(() => checkLayerPath('Files/a.txt:Zone.Identifier'), nameInvalid(/contains ":"/));
    checkLayerPath('Files/a.txt:Zone.Identifier', { allowStream: true });
    checkLayerPath('Files/a.txt:Zone.Identifier:$DATA', { allowStream: true });
    checkLayerPath('Files/a.txt::$DATA', { allowStream: true });
    assert.throws(
      () => checkLayerPath('Files/a.txt:s:$INDEX_ALLOCATION', { allowStream: true }),
      nameInvalid(/only \$DATA/),
    );
    assert.throws(() => checkLayerPath('Files/a.txt:', { allowStream: true }), nameInvalid(/stream name .* is empty/));
    assert.throws(() => checkLayerPath('Files/a.txt:a:b:c', { allowStream: true }), nameInvalid(/more than two/));
    assert.throws(() => checkLayerPath('Files/a.txt:a?b', { allowStream: true }), nameInvalid(/does not allow/));
    assert.throws(() => checkLayerPath('Files/d:x/a.txt', { allowStream: true }), nameInvalid(/contains ":"/));
    assert.throws(() => checkLayerPath('Files/nul:s', { allowStream: true }), nameInvalid(/reserved/));
  });
});

describe('NameIndex', () => {
  test('finds case-insensitive collisions and identical paths', () => {
    const idx = new NameIndex();
    assert.equal(idx.add('Files/Windows/System32'), undefined);
    assert.equal(idx.add('Files/Windows/system32'), 'Files/Windows/System32');
    assert.equal(idx.add('FILES/WINDOWS/SYSTEM32'), 'Files/Windows/System32');
    assert.equal(idx.add('Files/Windows/System32'), 'Files/Windows/System32');
    assert.equal(idx.add('Files/Windows'), undefined);
    assert.equal(idx.size, 2);
    assert.equal(idx.find('files/windows'), 'Files/Windows');
    assert.equal(idx.find('Files/Other'), undefined);
  });

  test('uses Windows per-unit folding, not full Unicode case mapping', () => {
    const idx = new NameIndex();
    assert.equal(idx.add('Files/ä'), undefined);
    assert.equal(idx.add('Files/Ä'), 'Files/ä');
    assert.equal(idx.add('Files/straße'), undefined);
    assert.equal(idx.add('Files/STRASSE'), undefined, 'ß does not expand to SS');
    assert.equal(idx.add('Files/\u{10438}'), undefined);
    assert.equal(idx.add('Files/\u{10410}'), undefined, 'Deseret letters are surrogate pairs: not folded');
    assert.equal(idx.add('Files/σ'), undefined);
    assert.equal(idx.add('Files/Σ'), 'Files/σ');
  });

  test('property: a collision is reported exactly when the upcased forms are equal', () => {
    const name = fc
      .array(fc.constantFrom('a', 'A', 'b', 'ä', 'Ä', 'ß', '/', 'ı', 'I', 'i'), { maxLength: 4 })
      .map((a) => a.join(''));
    fc.assert(
      fc.property(fc.array(name, { maxLength: 30 }), (names) => {
        const idx = new NameIndex();
        const seen = new Map<string, string>();
        for (const n of names) {
          const key = upcase(n);
          assert.equal(idx.add(n), seen.get(key), n);
          if (!seen.has(key)) seen.set(key, n);
        }
        assert.equal(idx.size, seen.size);
      }),
    );
  });

  test('many paths, hash buckets with several entries still compare exactly', () => {
    const idx = new NameIndex();
    for (let i = 0; i < 20000; i++) assert.equal(idx.add(`Files/dir${i % 100}/file${i}`), undefined);
    for (let i = 0; i < 20000; i += 997)
      assert.equal(idx.add(`FILES/DIR${i % 100}/FILE${i}`), `Files/dir${i % 100}/file${i}`);
    assert.equal(idx.size, 20000);
  });
});
