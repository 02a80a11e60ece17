/**
 * Writes a Windows layer tar of N entries for memory measurements of import: a folder and 9 empty files per 10
 * entries, each with one security descriptor and all four times (the records a real layer carries on every entry).
 * Run: `node --import tsx bench/many-entries.ts 1100000 /tmp/many.tar`, then
 * `/usr/bin/time -f %M winlayer import /dev/shm/many -i /tmp/many.tar --quiet` for the peak RSS (KiB).
 */
import type { EntryBody, LayerEntry } from '../src/entry.js';
import { writeTarFile } from '../src/tar/index.js';

const [count, output] = process.argv.slice(2);
if (count === undefined || output === undefined || !(Number(count) > 0)) {
  process.stderr.write('usage: node --import tsx bench/many-entries.ts ENTRIES OUTPUT.tar\n');
  process.exit(2);
}
const sd = new Uint8Array(
  Buffer.from('AQAEgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAhAgAAAQIAAAAAAAUgAAAAIQIAAA==', 'base64'),
);
const win = { lastWriteTime: 1_700_000_000_000_000_000n, securityDescriptor: sd };
const empty: EntryBody = { read: () => 0, async *[Symbol.asyncIterator]() {} };

function* entries(n: number): Generator<LayerEntry> {
  yield { kind: 'directory', path: 'Files', win };
  for (let d = 0; d < n / 10; d++) {
    const dir = `Files/d${d}`;
    yield { kind: 'directory', path: dir, win };
    for (let f = 0; f < 9; f++) yield { kind: 'file', path: `${dir}/file${f}.txt`, size: 0, body: empty, win };
  }
}

const r = await writeTarFile(entries(Number(count)), output);
process.stdout.write(`${output}: ${r.entries} entries, ${r.size} bytes\n`);
