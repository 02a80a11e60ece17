/**
 * `writeSourcePicture`: the `ls --html` library call — adds up each layer of a source (one pass each, no bodies
 * read) and writes the page atomically.
 */
import { writeFileAtomic } from '../atomic.js';
import { type HtmlSection, renderHtml } from './html.js';
import type { InspectSource } from './source.js';
import { summarizeLayer } from './summary.js';

/** What was written. */
export interface PictureResult {
  readonly path: string;
  readonly bytes: number;
  readonly layers: number;
  readonly entries: number;
}

/**
 * Writes one self-contained HTML page for `src` to `path` (atomically): one section per layer (or one for a single
 * or flattened layer). Streams each layer once; throws what the source throws (nothing is written then) and `IO`.
 */
export async function writeSourcePicture(src: InspectSource, path: string): Promise<PictureResult> {
  const sections: HtmlSection[] = [];
  let entries = 0;
  for (const layer of src.layers) {
    const summary = await summarizeLayer(layer.open());
    entries += summary.entries;
    sections.push({ title: layer.title, summary });
  }
  const html = renderHtml(sections, { title: src.name });
  writeFileAtomic(path, html);
  return { path, bytes: Buffer.byteLength(html), layers: sections.length, entries };
}
