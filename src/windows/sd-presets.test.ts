import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeSecurityDescriptor } from './sd.js';
import { isSdPresetName, SD_PRESETS } from './sd-presets.js';
import { base64ToSddl, sddlToBase64, sddlToBytes } from './sddl.js';

/**
 * The `MSWINDOWS.rawsd` constants other tools ship, copied from their sources:
 * - moby/buildkit `util/winlayers/differ.go` `addSecurityDescriptor` (buildah `image.go` ships the same two values);
 * - ko (`tarBinary`), go-containerregistry `internal/windows/windows.go`, dotnet/sdk `Layer.cs` (O:BUG:BU), as
 *   recorded in ../shared/spec/peers.md.
 */
const SHIPPED = {
  buildkitDir:
    'AQAEgBQAAAAkAAAAAAAAADAAAAABAgAAAAAABSAAAAAgAgAAAQEAAAAAAAUSAAAAAgCoAAcAAAAAAxgA/wEfAAECAAAAAAAFIAAAACACAAAAAxQA/wEfAAEBAAAAAAAFEgAAAAAAGAD/AR8AAQIAAAAAAAUgAAAAIAIAAAALFAAAAAAQAQEAAAAAAAMAAAAAAAMYAKkAEgABAgAAAAAABSAAAAAhAgAAAAIYAAQAAAABAgAAAAAABSAAAAAhAgAAAAIYAAIAAAABAgAAAAAABSAAAAAhAgAA',
  buildkitFile:
    'AQAEgBQAAAAkAAAAAAAAADAAAAABAgAAAAAABSAAAAAgAgAAAQEAAAAAAAUSAAAAAgBMAAMAAAAAABgA/wEfAAECAAAAAAAFIAAAACACAAAAABQA/wEfAAEBAAAAAAAFEgAAAAAAGACpABIAAQIAAAAAAAUgAAAAIQIAAA==',
  ko: 'AQAAgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAhAgAAAQIAAAAAAAUgAAAAIQIAAA==',
};

describe('SD_PRESETS', () => {
  test('admins.dir encodes to exactly the BuildKit/buildah directory rawsd (216 bytes)', () => {
    assert.equal(sddlToBytes(SD_PRESETS.admins.dir).length, 216);
    assert.equal(sddlToBase64(SD_PRESETS.admins.dir), SHIPPED.buildkitDir);
    assert.equal(base64ToSddl(SHIPPED.buildkitDir), SD_PRESETS.admins.dir);
  });

  test('admins.file encodes to exactly the BuildKit/buildah file rawsd (124 bytes)', () => {
    assert.equal(sddlToBytes(SD_PRESETS.admins.file).length, 124);
    assert.equal(sddlToBase64(SD_PRESETS.admins.file), SHIPPED.buildkitFile);
    assert.equal(base64ToSddl(SHIPPED.buildkitFile), SD_PRESETS.admins.file);
  });

  test('users is O:BUG:BU for both kinds, the 52-byte ko/crane/.NET SDK rawsd', () => {
    assert.equal(SD_PRESETS.users.dir, 'O:BUG:BU');
    assert.equal(SD_PRESETS.users.file, 'O:BUG:BU');
    assert.equal(sddlToBytes(SD_PRESETS.users.file).length, 52);
    assert.equal(sddlToBase64(SD_PRESETS.users.file), SHIPPED.ko);
  });

  test('the shipped constants have the layout BuildKit documents: owner 20, group 36, DACL 48', () => {
    for (const b64 of [SHIPPED.buildkitDir, SHIPPED.buildkitFile]) {
      const b = Buffer.from(b64, 'base64');
      assert.deepEqual([b.readUInt32LE(4), b.readUInt32LE(8), b.readUInt32LE(12), b.readUInt32LE(16)], [20, 36, 0, 48]);
      assert.equal(decodeSecurityDescriptor(new Uint8Array(b)).dacl?.revision, 2);
    }
  });

  test('presets are frozen and named', () => {
    assert.ok(Object.isFrozen(SD_PRESETS) && Object.isFrozen(SD_PRESETS.admins));
    assert.ok(isSdPresetName('users') && isSdPresetName('admins') && !isSdPresetName('root'));
  });
});
