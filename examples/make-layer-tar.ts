/**
 * Builds `examples/layer.tar` from `examples/rootfs/` the way a user would, with winlayer itself: the rootfs is copied
 * into `Files/` of a temporary layer folder, `makebaselayer` adds the five registry hives, and `export` writes the
 * base layer with every time clamped to EXAMPLE_EPOCH (like SOURCE_DATE_EPOCH) and the default security descriptor
 * `O:BUG:BU` that ko and crane ship. The tar is byte-for-byte reproducible and passes `winlayer lint`; a test checks
 * that the committed tar equals what this script makes.
 *
 * Run: node --import tsx examples/make-layer-tar.ts [out.tar]
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportLayer, makeBaseLayer } from '../src/layer/index.js';
import type { TarSummary } from '../src/tar/index.js';

/** 2024-01-01T00:00:00Z: every time in the layer (the files on disk are newer, so the clamp gives this one). */
export const EXAMPLE_EPOCH = 1_704_067_200;

const ROOTFS = fileURLToPath(new URL('./rootfs/', import.meta.url));
const OUT = fileURLToPath(new URL('./layer.tar', import.meta.url));

/** Writes the example layer tar to `out` (atomically) and returns its summary. */
export async function makeExampleLayer(out = OUT): Promise<TarSummary> {
  const layer = mkdtempSync(join(tmpdir(), 'winlayer-example-'));
  try {
    cpSync(ROOTFS, join(layer, 'Files'), { recursive: true });
    await makeBaseLayer(layer);
    return await exportLayer(layer, { output: out, sourceDateEpoch: EXAMPLE_EPOCH });
  } finally {
    rmSync(layer, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = process.argv[2] ?? OUT;
  const s = await makeExampleLayer(out);
  process.stdout.write(`${out}: ${s.entries} entries, ${s.size} bytes, ${s.diffId}\n`);
}
