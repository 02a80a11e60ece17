/**
 * Issue 19 §3's property, end to end through the `.reg` language: for random change sets that `.reg` can express,
 * `applyDeltaHives(base, [writeDeltaHive(changes)])` gives the same keys and values as applying the same `.reg` to the
 * base directly (`mergeReg`, the hive model). Compared through the `.reg` dump, which holds every key, value name,
 * type and byte (descriptors, classes and times aside: `.reg` does not carry them, and the spec leaves a merged key's
 * descriptor to the delta).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { applyDeltaHives } from './apply.js';
import { buildHive, createHiveBuilder } from './build.js';
import { changeSetFromRegText } from './changes.js';
import { checkHive } from './check.js';
import { writeDeltaHive } from './delta-write.js';
import { openHive } from './read.js';
import { mergeReg, toRegText } from './reg.js';

const ROOT = 'HKEY_LOCAL_MACHINE\\SOFTWARE';
const HEADER = 'Windows Registry Editor Version 5.00';

/** Key names from a small alphabet (so changes meet each other), with case variants and one non-ASCII letter. */
const keyName = fc.constantFrom('App', 'app', 'Tls', 'Ciphers', 'Ü', 'Net\\Fw', 'Net', 'Net\\Fw\\V4');
const valueName = fc.constantFrom('@', 'Enabled', 'enabled', 'Path', 'Ä', 'List', 'Raw');

/** One value line of regedit's forms: dword, string, hex(2) expand string, hex(7) multi-string, hex(0..b), `-`. */
const valueLine = fc.tuple(
  valueName,
  fc.oneof(
    fc.integer({ min: 0, max: 0xffffffff }).map((n) => `dword:${n.toString(16).padStart(8, '0')}`),
    fc.string({ maxLength: 8 }).map((s) => JSON.stringify(s.replace(/[\\"\r\n]/g, ''))),
    fc.uint8Array({ maxLength: 12 }).map((b) => `hex:${[...b].map((x) => x.toString(16).padStart(2, '0')).join(',')}`),
    fc
      .tuple(fc.integer({ min: 0, max: 11 }), fc.uint8Array({ maxLength: 8 }))
      .map(([t, b]) => `hex(${t.toString(16)}):${[...b].map((x) => x.toString(16).padStart(2, '0')).join(',')}`),
    fc.constant('-'),
  ),
);

/** A `.reg` section: `[KEY]` with values, `[-KEY]`, or `[-KEY]` followed by `[KEY]` (replace). */
const section = fc.tuple(fc.constantFrom('set', 'delete', 'replace'), keyName, fc.array(valueLine, { maxLength: 4 }));

function regText(sections: readonly [string, string, (readonly [string, string])[]][]): string {
  const lines = [HEADER, ''];
  for (const [op, key, vals] of sections) {
    const path = `${ROOT}\\${key}`;
    if (op !== 'set') lines.push(`[-${path}]`, '');
    if (op === 'delete') continue;
    lines.push(`[${path}]`);
    for (const [name, data] of vals) lines.push(`${name === '@' ? '@' : JSON.stringify(name)}=${data}`);
    lines.push('');
  }
  return lines.join('\r\n');
}

const EMPTY = buildHive(createHiveBuilder());

/**
 * The `.reg` text of a hive without its `;` notes, each key's value lines sorted. The notes name what `.reg` cannot
 * carry (a key made by a delta keeps the delta's access bits, 0x2, as Windows' deltas have them; `mergeReg` makes
 * none). Value order is not part of the merge rules (delta-hives.md §4 leaves it to us): `"v"=-` then `"v"=…` puts
 * the value last in regedit, in place in a merged delta.
 */
function dump(hive: Uint8Array): string {
  const keys: string[][] = [];
  for (const line of toRegText(openHive(hive)).split('\r\n')) {
    if (line.startsWith(';') || line === '' || line === HEADER) continue;
    if (line.startsWith('[')) keys.push([line]);
    else keys.at(-1)!.push(line);
  }
  return keys.map(([key, ...vals]) => [key, ...vals.map(foldName).sort()].join('\n')).join('\n\n');
}

/**
 * A value line with its name upper-cased. `"v"=-` then `"V"=…` is one value in a delta (a value is set or deleted,
 * not both), which replaces the base's `v` and keeps its spelling, as a set of an existing value does; regedit,
 * deleting first, makes `V`.
 */
function foldName(line: string): string {
  const end = line.startsWith('"') ? line.indexOf('"=') + 1 : line.indexOf('=');
  return line.slice(0, end).toUpperCase() + line.slice(end);
}

test('apply(base, delta(changes)) equals the changes merged into the base directly (random .reg change sets)', () => {
  fc.assert(
    fc.property(
      fc.array(section, { maxLength: 6 }),
      fc.array(section, { minLength: 1, maxLength: 6 }),
      (baseSections, changeSections) => {
        const base = mergeReg(EMPTY, regText(baseSections.filter(([op]) => op === 'set')));
        const changes = regText(changeSections);
        const direct = mergeReg(base, changes);
        // With the base, as `hive delta --base` and `image append --reg-base` write it. Without one the writer cannot
        // know what the base lacks: deleting an absent key still writes its ancestors as merge nodes, and a merge node
        // with no key below creates the key (delta-hives.md §4), so empty keys appear that `mergeReg` does not make.
        const delta = writeDeltaHive(changeSetFromRegText([changes]), { hive: 'software', base });
        const merged = applyDeltaHives(base, [delta]);
        assert.deepEqual(checkHive(merged).errors, []);
        assert.equal(dump(merged), dump(direct));
      },
    ),
    { numRuns: 150 },
  );
});
