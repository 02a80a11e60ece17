import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LayerComparison } from '../layer/index.js';
import { describeComparison, renderDiff } from './diff.js';

const USERS = 'AQAAgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAhAgAAAQIAAAAAAAUgAAAAIQIAAA==';

const CMP: LayerComparison = {
  equal: false,
  added: [{ path: 'Files/new', kind: 'file' }],
  removed: [{ path: 'Files/old', kind: 'directory' }],
  changed: [
    {
      path: 'Files/a',
      kind: 'file',
      fields: [
        { field: 'attributes', a: 0x20, b: 0x21 },
        { field: 'securityDescriptor', a: USERS, b: null },
        { field: 'links', a: null, b: 'Files/a\nFiles/b' },
      ],
    },
    { path: 'Files/b', kind: 'file', fields: [{ field: 'links', a: null, b: 'Files/a\nFiles/b' }] },
  ],
  noise: { orderDiffers: true, moved: ['Files/a'], raw: { mode: 3, uid: 0 }, duplicates: { a: [], b: [] } },
  counts: { a: 4, b: 5 },
};

describe('describeComparison / renderDiff', () => {
  it('shows attributes by name, SDs as SDDL and each hard-link group once', () => {
    const r = describeComparison(CMP);
    assert.deepEqual(r.changed, [
      {
        path: 'Files/a',
        kind: 'file',
        fields: [
          { field: 'attributes', a: 'ARCHIVE (0x20)', b: 'READONLY|ARCHIVE (0x21)' },
          { field: 'securityDescriptor', a: 'O:BUG:BU', b: null },
        ],
      },
    ]);
    assert.deepEqual(r.linkGroups, [{ a: [], b: ['Files/a', 'Files/b'] }]);
    assert.deepEqual(renderDiff(r), [
      '+ file      Files/new',
      '- directory Files/old',
      '~ file      Files/a',
      '    attributes: ARCHIVE (0x20) → READONLY|ARCHIVE (0x21)',
      '    securityDescriptor: O:BUG:BU → (none)',
      '~ hard-link group (none) → {Files/a, Files/b}',
      'noise (ignored): entry order differs (1 moved); header fields differ: mode ×3',
      'different: 1 added, 1 removed, 2 changed',
    ]);
  });

  it('caps long sections', () => {
    const many: LayerComparison = {
      ...CMP,
      added: Array.from({ length: 5 }, (_, i) => ({ path: `Files/${i}`, kind: 'file' })),
    };
    const lines = renderDiff(describeComparison(many), { limit: 2 });
    assert.deepEqual(lines.slice(0, 3), ['+ file      Files/0', '+ file      Files/1', '  … and 3 more']);
  });
});
