import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WinlayerError } from './errors.js';

describe('WinlayerError messages', () => {
  it('path: entry: rule at offset (CODE), the hint on its own line', () => {
    const e = new WinlayerError('TAR_HEADER', 'the size field is bad', {
      path: 'a.tar',
      entry: 'Files/x',
      offset: 0x200,
      hint: 'fix it',
    });
    assert.equal(e.message, 'a.tar: Files/x: the size field is bad at offset 0x200 (TAR_HEADER)\n  hint: fix it');
  });

  it('names a path once: an entry equal to the path, or one the rule starts with, is not repeated', () => {
    const same = new WinlayerError('NAME_INVALID', 'bad', { path: 'Files/a', entry: 'Files/a' });
    assert.equal(same.message, 'Files/a: bad (NAME_INVALID)');
    const inRule = new WinlayerError('NAME_COLLISION', 'Files/A and Files/a are the same name', {
      path: 'rootfs',
      entry: 'Files/A',
    });
    assert.equal(inRule.message, 'rootfs: Files/A and Files/a are the same name (NAME_COLLISION)');
    const collision = new WinlayerError('NAME_COLLISION', 'Files/d/Index.html and Files/d/index.html are one name', {
      path: 'big/Files/d',
      entry: 'Files/d/index.html',
    });
    assert.equal(
      collision.message,
      'big/Files/d: Files/d/Index.html and Files/d/index.html are one name (NAME_COLLISION)',
    );
    // A name the rule merely starts with the letters of is still named; so is a bare word the rule uses as a word.
    const prefix = new WinlayerError('NAME_INVALID', 'Files/ab is taken', { entry: 'Files/a' });
    assert.equal(prefix.message, 'Files/a: Files/ab is taken (NAME_INVALID)');
    const word = new WinlayerError('NAME_INVALID', 'the name holds a colon', { entry: 'a' });
    assert.equal(word.message, 'a: the name holds a colon (NAME_INVALID)');
  });

  it('reason is the message without the file and entry (for reports that show the entry apart)', () => {
    const e = new WinlayerError('TAR_TRUNCATED', 'the archive ends', { entry: 'Files/x', offset: 16, hint: 'h' });
    assert.equal(e.reason, 'the archive ends at offset 0x10 (TAR_TRUNCATED)');
  });
});
