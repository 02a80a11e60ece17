/**
 * The HTML picture of a layer (or of each layer of an image): one self-contained page — inline CSS, no script, no
 * external resource — with a size treemap (folders by size, hard-linked data once), the biggest files and the distinct
 * security descriptors as SDDL with how many entries use each. Pure: summaries in, a string out; deterministic.
 *
 * The page fills the window at any width from {@link MIN_WINDOW} px, without a horizontal scroll bar: the treemap is
 * laid out once in a box the size of the narrowest map ({@link MAP_W} × {@link MAP_H}), every tile placed in percent
 * of it, and the map takes the window's width and that aspect ratio (at most 70 % of the window's height, never less
 * than the box). A label is drawn only where it fits whole at that narrowest size (every word on a line of its own if
 * need be, as many lines as the tile holds); a wider window only gives it more room, so no label is ever cut inside a
 * word. Every tile names itself on hover (`title`).
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
  /** The most treemap tiles drawn per section (default 4,000): smaller folders are left as part of their parent. */
  readonly maxTiles?: number;
}

/** The narrowest window the page is made for, in CSS pixels. */
const MIN_WINDOW = 800;
/** The body's left and right margin, and room for a vertical scroll bar. */
const BODY_MARGIN = 24;
const SCROLL_BAR = 17;
/** The treemap's layout box: the narrowest map (window less margins, scroll bar and the map's 1 px border). */
const MAP_W = MIN_WINDOW - 2 * BODY_MARGIN - SCROLL_BAR - 2;
const MAP_H = Math.round((MAP_W * 560) / 1140);
/** A folder tile's label strip (its children start below it) and inner padding, in layout pixels. */
const HEADER = 15;
const PAD = 2;
/** Tile text: font size and line height (px), and the tile's border plus horizontal padding (px, both sides). */
const FONT_PX = 11;
const LINE_PX = 14;
const TILE_INSET_X = 2 + 6;

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
  const parts: string[] = [];
  parts.push(
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${escapeHtml(opts.title)} — winlayer</title>`,
    `<style>${CSS}</style>`,
    '</head><body>',
    `<h1>${escapeHtml(opts.title)}</h1>`,
  );
  for (const s of sections) {
    const sum = s.summary;
    const c = sum.counts;
    parts.push(
      '<section>',
      sections.length === 1 && s.title === opts.title ? '' : `<h2>${escapeHtml(s.title)}</h2>`,
      `<p class="stats">${formatBytes(sum.totalSize)} in ${c.file} files` +
        ` · ${c.directory} folders · ${c.hardlink} hard links (counted once) · ${c.symlink} symlinks` +
        ` · ${c.stream} alternate streams · ${c.whiteout + c.opaqueWhiteout} whiteouts · ${sum.entries} entries</p>`,
      '<h3>Size by folder</h3>',
      treemap(sum.root, opts.maxTiles ?? 4000),
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

function treemap(root: FolderNode, maxTiles: number): string {
  if (root.size === 0) return '<p class="empty">no file data</p>';
  const tiles: Tile[] = [];
  layout(root, { x: 0, y: 0, w: MAP_W, h: MAP_H }, 0, 0, tiles, maxTiles);
  const divs = tiles.map((t) => {
    const r = t.rect;
    const light = t.files ? 82 : Math.max(40, 70 - t.depth * 6);
    const style =
      `left:${pct(r.x, MAP_W)};top:${pct(r.y, MAP_H)};width:${pct(r.w, MAP_W)};height:${pct(r.h, MAP_H)};` +
      `background:hsl(${t.hue} ${t.files ? 35 : 55}% ${light}%)`;
    // A folder's label has its header strip (one line); a file tile's label may use every line the tile holds.
    const lines = t.files ? Math.floor((r.h - 2) / LINE_PX) : r.h - 2 >= LINE_PX ? 1 : 0;
    const label =
      lines > 0 && fitsWordByWord(t.label, r.w - TILE_INSET_X)
        ? `<span style="max-height:${lines * LINE_PX}px">${escapeHtml(t.label)}</span>`
        : '';
    return `<div class="t${t.files ? ' f' : ''}" style="${style}" title="${escapeHtml(t.title)}">${label}</div>`;
  });
  // The layout's aspect ratio, but no taller than most of the window on a wide screen, and never lower than the
  // layout box itself (labels were chosen to fit at that size).
  const size = `aspect-ratio:${MAP_W}/${MAP_H};max-height:max(${MAP_H}px,70vh)`;
  return `<div class="map" style="${size}">${divs.join('')}</div>`;
}

/** `a` as a percentage of `whole`, 4 decimals at most. */
function pct(a: number, whole: number): string {
  return `${Math.round((a / whole) * 1e6) / 1e4}%`;
}

/**
 * True when every word of `text` (split at spaces; a no-break space joins) fits on a line `width` px wide, by a
 * generous estimate of its width at {@link FONT_PX}: the widest common sans-serif faces (DejaVu Sans, which
 * `system-ui` is on many Linux systems) stay under it.
 */
function fitsWordByWord(text: string, width: number): boolean {
  for (const word of text.split(' ')) if (wordWidth(word) > width) return false;
  return true;
}

function wordWidth(word: string): number {
  let em = 0;
  for (const ch of word) {
    if (/[ijlftrI.,:;'|!()[\]\u00a0 ]/.test(ch)) em += 0.45;
    else if (/[mwMW@%]/.test(ch)) em += 1.05;
    else if (/[A-Z]/.test(ch)) em += 0.8;
    else if (ch.charCodeAt(0) < 0x80) em += 0.68;
    else em += 1.1;
  }
  return em * FONT_PX;
}

function layout(node: FolderNode, rect: Rect, depth: number, hue: number, out: Tile[], max: number): void {
  if (out.length >= max) return;
  if (depth > 0) {
    out.push({
      rect,
      label: `${node.name} ${sizeWord(node.size)}`,
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
            ? `${node.onlyFile} ${sizeWord(node.ownSize)}`
            : `${node.ownFiles}\u00a0files ${sizeWord(node.ownSize)}`,
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

/** A size as one word (`1.2\u00a0MiB`): a label wraps around it, never inside it. */
function sizeWord(n: number): string {
  return formatBytes(n).replace(' ', '\u00a0');
}

function sizeOf(node: FolderNode, item: FolderNode | 'files'): number {
  return item === 'files' ? node.ownSize : item.size;
}

function biggestTable(sum: LayerSummary): string {
  const rows = sum.biggest.map(
    (b) =>
      `<tr><td class="n">${escapeHtml(formatBytes(b.size))}</td><td class="p">${escapeHtml(b.path)}` +
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
    (s) => `<tr><td class="n">${s.count}</td><td class="sddl"><code>${escapeHtml(s.sddl)}</code></td></tr>`,
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

/**
 * Escapes text for HTML content and attribute values. Control characters (not allowed in HTML, and raw on a terminal
 * that shows the file) are made visible first, as the text outputs show them (`\x1b`).
 */
function escapeHtml(text: string): string {
  return escapeControls(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const CSS = [
  `body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:20px ${BODY_MARGIN}px;color:#1d2430;background:#fff}`,
  'h1{font-size:20px;margin:0 0 8px}h2{font-size:17px;margin:20px 0 4px}h3{font-size:14px;margin:14px 0 6px}',
  'h1,h2,.stats{overflow-wrap:anywhere}.stats{color:#4a5568;margin:0 0 6px}',
  '.map{position:relative;width:100%;border:1px solid #8a94a6;overflow:hidden;background:#f4f6f9}',
  '.t{position:absolute;box-sizing:border-box;border:1px solid rgba(0,0,0,.35);overflow:hidden;',
  `font-size:${FONT_PX}px;padding:0 3px;line-height:${LINE_PX}px;color:#111}`,
  // Labels wrap between words only; lines past the tile's share are hidden whole (max-height in lines).
  '.t span{display:block;overflow:hidden;white-space:normal;overflow-wrap:normal;word-break:keep-all}',
  '.t.f{border-style:dotted;color:#333}.t:hover{outline:2px solid #1d2430;outline-offset:-2px;z-index:1}',
  '.cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,340px),1fr));gap:24px}.cols>div{min-width:0}',
  'table{border-collapse:collapse;width:100%;font-size:12px}',
  'th,td{border-bottom:1px solid #e2e6ec;padding:3px 6px;text-align:left;vertical-align:top}',
  'td.n,th.n{width:1%;text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}',
  'td.p,td.sddl{word-break:break-all}code{font:12px/1.3 ui-monospace,Menlo,Consolas,monospace}',
  '.links{color:#6b7280}.empty{color:#6b7280}footer{margin-top:24px;color:#8a94a6;font-size:12px}',
].join('');
