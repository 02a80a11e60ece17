/**
 * The HTML picture of a layer (or of each layer of an image): one self-contained page — inline CSS, no script, no
 * external resource — with a size treemap (folders by size, hard-linked data once), the biggest files and the distinct
 * security descriptors as SDDL with how many entries use each. Pure: summaries in, a string out; deterministic.
 */
import { escapeControls } from '../terminal-text.js';
import { formatBytes } from './format.js';
import type { FolderNode, LayerSummary } from './summary.js';
import { type Rect, squarify } from './treemap.js';

/** One section of the page. */
export interface HtmlSection {
  /** The heading (`Layer 2 of 3 — sha256:…`, or the source name). */
  readonly title: string;
  readonly summary: LayerSummary;
}

/** Options of `renderHtml`. */
export interface HtmlOptions {
  /** The page title (the source name). */
  readonly title: string;
  /** Treemap size in CSS pixels (default 1140 × 560). */
  readonly width?: number;
  readonly height?: number;
  /** The most treemap tiles drawn per section (default 4,000): smaller folders are left as part of their parent. */
  readonly maxTiles?: number;
}

const HEADER = 15;
const PAD = 2;

interface Tile {
  readonly rect: Rect;
  readonly label: string;
  readonly title: string;
  readonly depth: number;
  readonly hue: number;
  readonly files: boolean;
}

/** Renders the page. Returns the whole HTML text (its size is bounded by `maxTiles` and the tables, not the layer). */
export function renderHtml(sections: readonly HtmlSection[], opts: HtmlOptions): string {
  const width = opts.width ?? 1140;
  const height = opts.height ?? 560;
  const parts: string[] = [];
  parts.push(
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${esc(opts.title)} — winlayer</title>`,
    `<style>${CSS}</style>`,
    '</head><body>',
    `<h1>${esc(opts.title)}</h1>`,
  );
  for (const s of sections) {
    const sum = s.summary;
    const c = sum.counts;
    parts.push(
      '<section>',
      sections.length === 1 && s.title === opts.title ? '' : `<h2>${esc(s.title)}</h2>`,
      `<p class="stats">${formatBytes(sum.totalSize)} in ${c.file} files` +
        ` · ${c.directory} folders · ${c.hardlink} hard links (counted once) · ${c.symlink} symlinks` +
        ` · ${c.stream} alternate streams · ${c.whiteout + c.opaqueWhiteout} whiteouts · ${sum.entries} entries</p>`,
      '<h3>Size by folder</h3>',
      treemap(sum.root, width, height, opts.maxTiles ?? 4000),
      '<div class="cols">',
      biggestTable(sum),
      sdTable(sum),
      '</div>',
      '</section>',
    );
  }
  parts.push('<footer>written by winlayer ls --html</footer>', '</body></html>', '');
  return parts.join('\n');
}

function treemap(root: FolderNode, width: number, height: number, maxTiles: number): string {
  if (root.size === 0) return '<p class="empty">no file data</p>';
  const tiles: Tile[] = [];
  layout(root, { x: 0, y: 0, w: width, h: height }, 0, 0, tiles, maxTiles);
  const divs = tiles.map((t) => {
    const r = t.rect;
    const light = t.files ? 82 : Math.max(40, 70 - t.depth * 6);
    const style =
      `left:${px(r.x)};top:${px(r.y)};width:${px(r.w)};height:${px(r.h)};` +
      `background:hsl(${t.hue} ${t.files ? 35 : 55}% ${light}%)`;
    const label = r.w > 40 && r.h > 12 ? esc(t.label) : '';
    return `<div class="t${t.files ? ' f' : ''}" style="${style}" title="${esc(t.title)}">${label}</div>`;
  });
  return `<div class="map" style="width:${width}px;height:${height}px">${divs.join('')}</div>`;
}

function layout(node: FolderNode, rect: Rect, depth: number, hue: number, out: Tile[], max: number): void {
  if (out.length >= max) return;
  if (depth > 0) {
    out.push({
      rect,
      label: `${node.name} ${formatBytes(node.size)}`,
      title: `${node.path}/ — ${formatBytes(node.size)} in ${node.files} files`,
      depth,
      hue,
      files: false,
    });
  }
  const inner =
    depth === 0 ? rect : { x: rect.x + PAD, y: rect.y + HEADER, w: rect.w - 2 * PAD, h: rect.h - HEADER - PAD };
  if (inner.w < 8 || inner.h < 8) return;
  const items: (FolderNode | 'files')[] = node.children.filter((c) => c.size > 0);
  if (node.ownSize > 0) items.push('files');
  items.sort((a, b) => sizeOf(node, b) - sizeOf(node, a));
  const rects = squarify(
    items.map((i) => sizeOf(node, i)),
    inner,
  );
  items.forEach((item, k) => {
    const r = rects[k]!;
    if (r.w * r.h < 9 || out.length >= max) return;
    const h = depth <= 1 ? (k * 137.5 + 20) % 360 : hue;
    if (item === 'files') {
      out.push({
        rect: r,
        label:
          node.onlyFile !== undefined
            ? `${node.onlyFile} ${formatBytes(node.ownSize)}`
            : `${node.ownFiles} files ${formatBytes(node.ownSize)}`,
        title: `${node.path}/ — ${node.ownFiles} files directly inside, ${formatBytes(node.ownSize)}`,
        depth: depth + 1,
        hue: h,
        files: true,
      });
    } else {
      layout(item, r, depth + 1, h, out, max);
    }
  });
}

function sizeOf(node: FolderNode, item: FolderNode | 'files'): number {
  return item === 'files' ? node.ownSize : item.size;
}

function biggestTable(sum: LayerSummary): string {
  const rows = sum.biggest.map(
    (b) =>
      `<tr><td class="n">${esc(formatBytes(b.size))}</td><td class="p">${esc(b.path)}` +
      `${b.links > 0 ? ` <span class="links">+${b.links} hard link${b.links > 1 ? 's' : ''}</span>` : ''}</td></tr>`,
  );
  return (
    '<div><h3>Biggest files</h3><table><thead><tr><th class="n">size</th><th>path</th></tr></thead><tbody>' +
    (rows.length > 0 ? rows.join('') : '<tr><td colspan="2">no files</td></tr>') +
    '</tbody></table></div>'
  );
}

function sdTable(sum: LayerSummary): string {
  const rows = sum.securityDescriptors.map(
    (s) => `<tr><td class="n">${s.count}</td><td class="sddl"><code>${esc(s.sddl)}</code></td></tr>`,
  );
  if (sum.withoutSd > 0) {
    rows.push(`<tr><td class="n">${sum.withoutSd}</td><td class="sddl"><em>no security descriptor</em></td></tr>`);
  }
  return (
    '<div><h3>Security descriptors</h3><table><thead><tr><th class="n">entries</th><th>SDDL</th></tr></thead><tbody>' +
    (rows.length > 0 ? rows.join('') : '<tr><td colspan="2">no entries</td></tr>') +
    '</tbody></table></div>'
  );
}

function px(n: number): string {
  return `${Math.round(n * 10) / 10}px`;
}

/**
 * Escapes text for HTML content and attribute values. Control characters (not allowed in HTML, and raw on a terminal
 * that shows the file) are made visible first, as the text outputs show them (`\x1b`).
 */
export function esc(text: string): string {
  return escapeControls(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const CSS = [
  'body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px 30px;color:#1d2430;background:#fff}',
  'h1{font-size:20px;margin:0 0 8px}h2{font-size:17px;margin:20px 0 4px}h3{font-size:14px;margin:14px 0 6px}',
  '.stats{color:#4a5568;margin:0 0 6px}',
  '.map{position:relative;border:1px solid #8a94a6;overflow:hidden;background:#f4f6f9}',
  '.t{position:absolute;box-sizing:border-box;border:1px solid rgba(0,0,0,.35);overflow:hidden;white-space:nowrap;',
  'font-size:11px;padding:0 3px;line-height:14px;color:#111}',
  '.t.f{border-style:dotted;color:#333}',
  '.cols{display:grid;grid-template-columns:1fr 1fr;gap:24px}',
  'table{border-collapse:collapse;width:100%;font-size:12px}',
  'th,td{border-bottom:1px solid #e2e6ec;padding:3px 6px;text-align:left;vertical-align:top}',
  'td.n,th.n{width:1%;text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}',
  'td.p,td.sddl{word-break:break-all}code{font:12px/1.3 ui-monospace,Menlo,Consolas,monospace}',
  '.links{color:#6b7280}.empty{color:#6b7280}footer{margin-top:24px;color:#8a94a6;font-size:12px}',
].join('');
