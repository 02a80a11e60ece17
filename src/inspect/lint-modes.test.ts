/**
 * Issue 17 §4: a layer written the way go-winio and hcsshim write it (every entry with a type-only mode, as Microsoft's
 * own layers) gives one `mode-000` finding with a count, not one per entry.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bufferBody, type LayerEntry } from '../entry.js';
import { lintLayer } from './lint.js';

/** An entry as go-winio writes it: PAX, and a mode of type bits only (0o40000 folder, 0o100000 file). */
function goWinio(kind: 'directory' | 'file', path: string): LayerEntry {
  const raw = {
    name: path,
    linkName: '',
    typeflag: kind === 'file' ? '0' : '5',
    mode: kind === 'file' ? 0o100000 : 0o40000,
    uid: 0,
    gid: 0,
    uname: '',
    gname: '',
    format: 'pax' as const,
    pax: [],
    offset: 0,
  };
  const win = { attributes: kind === 'file' ? 0x20 : 0x10, lastWriteTime: 133_500_000_000_000_000n };
  return kind === 'file'
    ? { kind, path, size: 1, body: bufferBody(Uint8Array.of(1)), win, raw }
    : { kind, path, win, raw };
}

async function* entries(): AsyncIterable<LayerEntry> {
  yield goWinio('directory', 'Files');
  for (let i = 0; i < 40; i++) yield goWinio('file', `Files/f${i}`);
  yield { ...goWinio('file', 'Files/ok'), raw: { ...goWinio('file', 'Files/ok').raw!, mode: 0o100644 } };
}

describe('lint on a go-winio layer', () => {
  it('gives one mode-000 finding with the count, at the first such entry', async () => {
    const report = await lintLayer(entries(), { base: false });
    const modes = report.findings.filter((f) => f.rule === 'mode-000');
    assert.equal(modes.length, 1);
    assert.equal(modes[0]!.entry, 'Files');
    assert.match(modes[0]!.message, /^41 entries have a mode with no permission bits/);
    assert.match(modes[0]!.message, /Linux/);
  });
});
