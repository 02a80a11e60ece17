/**
 * Builds `examples/layer.tar` from `examples/rootfs/`: every path under `Files/`, folders before their children,
 * siblings in UTF-8 byte order, one fixed time (EXAMPLE_EPOCH, like SOURCE_DATE_EPOCH) and the owner/group-only
 * security descriptor `O:BUG:BU` that ko and crane ship. The output is byte-for-byte reproducible; a test checks that
 * the committed tar equals what this script makes.
 *
 * Run: node --import tsx examples/make-layer-tar.ts [out.tar]
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bufferBody, type LayerEntry } from '../src/entry.js';
import { type TarSummary, writeTarFile } from '../src/tar/index.js';
import { compareUtf8, sddlToBytes, secondsToUnixNanos } from '../src/windows/index.js';

/** 2024-01-01T00:00:00Z: the one time of every entry. */
export const EXAMPLE_EPOCH = 1_704_067_200;

const ROOTFS = fileURLToPath(new URL('./rootfs/', import.meta.url));
const OUT = fileURLToPath(new URL('./layer.tar', import.meta.url));

/** The example layer's entries, in order (bodies read from rootfs). */
export function* exampleEntries(rootfs = ROOTFS): Generator<LayerEntry> {
  const time = secondsToUnixNanos(EXAMPLE_EPOCH);
  const sd = sddlToBytes('O:BUG:BU');
  const win = { lastWriteTime: time, securityDescriptor: sd };
  function* walk(dir: string, prefix: string): Generator<LayerEntry> {
    for (const name of readdirSync(dir).sort(compareUtf8)) {
      const full = join(dir, name);
      const path = `${prefix}/${name}`;
      const st = statSync(full);
      if (st.isDirectory()) {
        yield { kind: 'directory', path, win };
        yield* walk(full, path);
      } else {
        const data = readFileSync(full);
        yield { kind: 'file', path, size: data.length, body: bufferBody(data), win };
      }
    }
  }
  yield { kind: 'directory', path: 'Files', win };
  yield* walk(rootfs, 'Files');
}

/** Writes the example layer tar to `out` (atomically) and returns its summary. */
export function makeExampleLayer(out = OUT): Promise<TarSummary> {
  return writeTarFile(exampleEntries(), out);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = process.argv[2] ?? OUT;
  const s = await makeExampleLayer(out);
  process.stdout.write(`${out}: ${s.entries} entries, ${s.size} bytes, ${s.diffId}\n`);
}
