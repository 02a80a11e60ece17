/**
 * Issue 17 §3: a layer's `Hives/*_Delta` read as registry changes (key and value paths), and the rule lint applies to
 * such a file (a clean differencing hive with a known name). Hives made by our writer.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DELTA_SERVICES, deltaHive } from '../../test/helpers/delta-hives.js';
import { fixChecksum } from '../../test/helpers/regf-decoder.js';
import { bufferBody, type LayerEntry } from '../entry.js';
import { buildHive, createHiveBuilder, openHive } from '../hive/index.js';
import {
  deltaEntryLines,
  deltaHiveProblem,
  keepDeltaHives,
  registryChangeLines,
  registryChanges,
  registryDiff,
  renderRegistryDiff,
} from './hive-changes.js';

/** A file entry holding `bytes`. */
function fileEntry(path: string, bytes: Uint8Array): LayerEntry {
  return {
    kind: 'file',
    path,
    size: bytes.length,
    body: bufferBody(bytes),
    win: { lastWriteTime: 0n } as LayerEntry['win'],
  };
}

const S = `HKEY_LOCAL_MACHINE\\SYSTEM\\${DELTA_SERVICES}`;

describe('a delta as registry changes', () => {
  it('lists deleted, replaced, created keys and set and deleted values', () => {
    const changes = registryChanges(openHive(deltaHive()), 'HKEY_LOCAL_MACHINE\\SYSTEM');
    assert.deepEqual(registryChangeLines(changes, ''), [
      `- value  ${S}\\Gone`,
      `+ value  ${S}\\Changed`,
      `= values ${S}\\Local`,
      `+ value  ${S}\\Local\\Only`,
      `= key    ${S}\\New`,
      `+ value  ${S}\\New\\Start`,
      `+ key    ${S}\\New\\Parameters`,
      `+ value  ${S}\\New\\Parameters\\p`,
      `- key    ${S}\\Old`,
    ]);
  });
});

describe('the lint rule of a Hives/ file', () => {
  it('a clean differencing hive with a known name (any case) passes', () => {
    assert.equal(deltaHiveProblem('Hives/System_Delta', deltaHive()), undefined);
    assert.equal(deltaHiveProblem('Hives/SOFTWARE_DELTA', deltaHive()), undefined);
  });

  it('an unknown name, an ordinary hive, a corrupt or dirty delta are problems', () => {
    assert.match(deltaHiveProblem('Hives/Other_Delta', deltaHive())!, /not a known differencing hive name/);
    assert.match(deltaHiveProblem('Hives/System_Delta', buildHive(createHiveBuilder()))!, /not a differencing hive/);
    const dirty = deltaHive();
    new DataView(dirty.buffer).setUint32(4, 7, true);
    fixChecksum(dirty);
    assert.match(deltaHiveProblem('Hives/System_Delta', dirty)!, /^dirty/);
    assert.match(deltaHiveProblem('Hives/System_Delta', new Uint8Array(100))!, /^corrupt/);
  });
});

describe('ls --long lines of a layer entry', () => {
  it('a Hives/*_Delta file shows its changes; other entries nothing', async () => {
    const bytes = deltaHive();
    const lines = await deltaEntryLines(fileEntry('Hives/System_Delta', bytes));
    assert.equal(lines[0], '    registry changes of HKEY_LOCAL_MACHINE\\SYSTEM: 9');
    assert.equal(lines[9], `      - key    ${S}\\Old`);
    assert.deepEqual(await deltaEntryLines(fileEntry('Files/System_Delta', bytes)), []);
  });
});

describe('diff of two layers deltas', () => {
  it('keepDeltaHives keeps each delta and hands its bytes on; registryDiff lists the changes only one side makes', async () => {
    const other = createHiveBuilder({ layered: true });
    other.key(DELTA_SERVICES).setLayer('merge', { inheritClass: true }).setDword('Changed', 5);
    other.key(`${DELTA_SERVICES}\\Old`).setLayer('tombstone');
    const a = new Map<string, Uint8Array>();
    const b = new Map<string, Uint8Array>();
    const passed: string[] = [];
    async function* layer(bytes: Uint8Array): AsyncGenerator<LayerEntry> {
      yield fileEntry('Files/x', Buffer.from('x'));
      yield fileEntry('Hives/System_Delta', bytes);
    }
    for (const [bytes, into] of [
      [deltaHive(), a],
      [buildHive(other), b],
    ] as const) {
      for await (const e of keepDeltaHives(layer(bytes), into)) {
        if (e.kind === 'file') for await (const c of e.body) passed.push(`${e.path}:${c.length}`);
      }
    }
    assert.equal(passed.length, 4);
    assert.deepEqual(a.get('Hives/System_Delta'), deltaHive());
    const d = registryDiff(a, b);
    assert.deepEqual(renderRegistryDiff(d), [
      '~ registry  Hives/System_Delta',
      `    a: - value  ${S}\\Gone`,
      `    a: + value  ${S}\\Changed (type 4, 4 bytes 02000000)`,
      `    a: = values ${S}\\Local`,
      `    a: + value  ${S}\\Local\\Only (type 4, 4 bytes 01000000)`,
      `    a: = key    ${S}\\New`,
      `    a: + value  ${S}\\New\\Start (type 4, 4 bytes 03000000)`,
      `    a: + key    ${S}\\New\\Parameters`,
      `    a: + value  ${S}\\New\\Parameters\\p (type 4, 4 bytes 01000000)`,
      `    b: + value  ${S}\\Changed (type 4, 4 bytes 05000000)`,
    ]);
    assert.deepEqual(registryDiff(a, a), []);
  });
});
