import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { escapeControls, escapeMessage } from './terminal-text.js';

describe('escapeControls', () => {
  it('returns text without controls unchanged (the same string)', () => {
    for (const s of ['', 'Files/Windows/System32', 'C:\\Windows\\notepad.exe', 'ünïcødé 名前 😀']) {
      assert.equal(escapeControls(s), s);
    }
  });

  it('makes the terminal-title and clear-screen sequence visible', () => {
    assert.equal(escapeControls('Files/evil\x1b]0;PWNED\x07\x1b[2J'), 'Files/evil\\x1b]0;PWNED\\x07\\x1b[2J');
  });

  it('short forms for line feed, carriage return, tab and NUL; \\xHH for other C0, DEL and C1', () => {
    assert.equal(escapeControls('a\nb\rc\td\0e'), 'a\\nb\\rc\\td\\0e');
    assert.equal(escapeControls('\x01\x1f\x7f\x80\x9b\x9f'), '\\x01\\x1f\\x7f\\x80\\x9b\\x9f');
  });

  it('bidirectional overrides and isolates, and lone surrogates, as \\uHHHH; a surrogate pair stays', () => {
    assert.equal(escapeControls('a\u202eb\u2066c\u2069'), 'a\\u202eb\\u2066c\\u2069');
    assert.equal(escapeControls('x\ud800y\udc00'), 'x\\ud800y\\udc00');
    assert.equal(escapeControls('\ud83d\ude00'), '\ud83d\ude00');
  });

  it('leaves no control character in any string (and is stable when applied twice)', () => {
    for (let c = 0; c < 0x3000; c++) {
      const s = `a${String.fromCharCode(c)}b`;
      const out = escapeControls(s);
      assert.doesNotMatch(out, /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/, `U+${c.toString(16)}`);
      assert.equal(escapeControls(out), out);
    }
  });
});

describe('escapeMessage', () => {
  it('escapes the text and the hint but keeps the line break before the hint', () => {
    const message = 'Files/a\x1b[2J: bad (NAME_INVALID)\n  hint: rename Files/a\x1b[2J';
    assert.equal(
      escapeMessage(message, 'rename Files/a\x1b[2J'),
      'Files/a\\x1b[2J: bad (NAME_INVALID)\n  hint: rename Files/a\\x1b[2J',
    );
  });

  it('escapes a line break inside the text when there is no hint', () => {
    assert.equal(escapeMessage('Files/a\nfake line (X)', undefined), 'Files/a\\nfake line (X)');
  });
});
