/**
 * `diffSources`: compares two sources layer by layer with `compareLayers` (an image's layer i against the other's
 * layer i; a single layer or folder against the other's single layer) and describes each comparison.
 */
import { compareLayers } from '../layer/index.js';
import { escapeControls } from '../terminal-text.js';
import { type DiffReport, describeComparison, renderDiff } from './diff.js';
import { keepDeltaHives, type RegistryDiff, registryDiff, renderRegistryDiff } from './hive-changes.js';
import type { InspectSource } from './source.js';

/** One compared pair of layers. */
export interface LayerDiff {
  /** `layer 1/3`, or the two names for single layers. */
  readonly title: string;
  readonly report: DiffReport;
  /** How the registry changes of the layers' `Hives/*_Delta` differ (empty when they make the same changes). */
  readonly registry: readonly RegistryDiff[];
}

/** What `winlayer diff` prints. `equal` allows noise (entry order, header spelling). */
export interface SourceDiff {
  readonly equal: boolean;
  readonly a: { readonly name: string; readonly layers: number };
  readonly b: { readonly name: string; readonly layers: number };
  readonly layers: readonly LayerDiff[];
}

/**
 * Compares two sources. Streams each layer once (bodies hashed). Throws whatever the sources throw when read (the
 * CLI exits 2 then: an input it cannot read).
 */
export async function diffSources(a: InspectSource, b: InspectSource): Promise<SourceDiff> {
  const layers: LayerDiff[] = [];
  const n = Math.min(a.layers.length, b.layers.length);
  const single = a.layers.length === 1 && b.layers.length === 1;
  for (let i = 0; i < n; i++) {
    const [da, db] = [new Map<string, Uint8Array>(), new Map<string, Uint8Array>()];
    const cmp = await compareLayers(keepDeltaHives(a.layers[i]!.open(), da), keepDeltaHives(b.layers[i]!.open(), db));
    layers.push({
      title: single ? `${a.name} ↔ ${b.name}` : `layer ${i + 1}`,
      report: describeComparison(cmp),
      registry: registryDiff(da, db),
    });
  }
  return {
    equal: a.layers.length === b.layers.length && layers.every((l) => l.report.equal),
    a: { name: a.name, layers: a.layers.length },
    b: { name: b.name, layers: b.layers.length },
    layers,
  };
}

/** The text of a source diff: per layer (with `== layer N` headers for images) `renderDiff`, then a verdict. */
export function renderSourceDiff(d: SourceDiff): string[] {
  const lines: string[] = [];
  const many = d.layers.length > 1 || d.a.layers !== d.b.layers;
  for (const l of d.layers) {
    if (many) lines.push(`== ${escapeControls(l.title)}`);
    // the registry changes go with the entry changes, before the layer's summary line
    const body = renderDiff(l.report);
    lines.push(...body.slice(0, -1), ...renderRegistryDiff(l.registry), ...body.slice(-1));
  }
  if (d.a.layers !== d.b.layers) {
    lines.push(escapeControls(`different: ${d.a.name} has ${d.a.layers} layers, ${d.b.name} has ${d.b.layers}`));
  } else if (many) {
    lines.push(d.equal ? `== equal: all ${d.a.layers} layers` : '== different');
  }
  return lines;
}
