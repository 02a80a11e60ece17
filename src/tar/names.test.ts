import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nameShape, normalizeTarName, splitStreamName } from './names.js';

describe('tar names', () => {
  it('normalises leading ./ and trailing / only', () => {
    const cases: [string, string][] = [
      ['./Files/a', 'Files/a'],
      ['././Files/', 'Files'],
      ['Files//', 'Files'],
      ['./', ''],
      ['.', ''],
      ['/abs/x', '/abs/x'],
      ['a/../b', 'a/../b'],
      ['.hidden', '.hidden'],
      ['..', '..'],
    ];
    for (const [raw, want] of cases) assert.equal(normalizeTarName(raw), want, raw);
  });

  it('classifies whiteouts and opaque markers by base name', () => {
    assert.deepEqual(nameShape('Files/a/.wh.b'), { shape: 'whiteout', target: 'Files/a/b' });
    assert.deepEqual(nameShape('.wh.top'), { shape: 'whiteout', target: 'top' });
    assert.deepEqual(nameShape('Files/a/.wh..wh..opq'), { shape: 'opaque', directory: 'Files/a' });
    assert.deepEqual(nameShape('Files/.wh.'), { shape: 'plain' });
    assert.deepEqual(nameShape('Files/x.wh.y'), { shape: 'plain' });
  });

  it('splits alternate data stream names with or without :$DATA', () => {
    assert.deepEqual(splitStreamName('Files/a.exe:Zone.Identifier:$DATA'), {
      filePath: 'Files/a.exe',
      streamName: 'Zone.Identifier',
    });
    assert.deepEqual(splitStreamName('Files/a.exe:s:$data'), { filePath: 'Files/a.exe', streamName: 's' });
    assert.deepEqual(splitStreamName('Files/a:b/c:s'), { filePath: 'Files/a:b/c', streamName: 's' });
    for (const no of ['Files/a', 'Files/a::$DATA', 'Files/a:', ':s', 'Files/a:b:c'])
      assert.equal(splitStreamName(no), undefined, no);
  });
});
