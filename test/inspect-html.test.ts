/**
 * `winlayer ls --html` in a real browser: headless Chromium (Debian's `chromium`) loads the page of the bundled
 * example with the network cut off, the DOM holds the treemap tiles, the biggest files and the SDDL table; at 800 and
 * 1600 px wide the page fills the window without a horizontal scroll bar, no label is cut inside a word, and every
 * tile names itself on hover; screenshots render at both widths. `UPDATE_SCREENSHOTS=1` rewrites
 * docs/screenshots/ls-html.png from the 1600 px one.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { bufferBody, type LayerEntry } from '../src/entry.js';
import { renderHtml, summarizeLayer } from '../src/inspect/index.js';
import { runCli } from './helpers/cli.js';
import { requireTool, run, tempDir } from './helpers/tools.js';

const ROOT = new URL('../', import.meta.url).pathname;
/** The bundled example, named as a user in the project folder would (the name is the page's title). */
const EXAMPLE = relative(process.cwd(), join(ROOT, 'examples/layer.tar'));

/** Runs headless Chromium with a fresh profile folder per run, in a window `width` × 900 px. */
function chromium(dir: string, width: number, args: string[]): Buffer {
  const profile = mkdtempSync(join(dir, 'profile-'));
  return run('chromium', [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    `--user-data-dir=${profile}`,
    // Any request that leaves the page would fail: the page must not need one.
    '--host-resolver-rules=MAP * ~NOTFOUND',
    '--hide-scrollbars',
    // Paint the whole frame before the screenshot is taken, even on a busy machine.
    '--run-all-compositor-stages-before-draw',
    '--virtual-time-budget=5000',
    `--window-size=${width},900`,
    ...args,
  ]);
}

/**
 * What the page looks like once laid out, measured by a script added to a copy of the page (the page itself has none)
 * and written into the DOM, which `--dump-dom` returns.
 */
interface Measure {
  readonly innerWidth: number;
  readonly scrollWidth: number;
  /** The treemap's width, and how far its right edge is from the window's. */
  readonly mapWidth: number;
  readonly mapRightGap: number;
  readonly tiles: number;
  readonly titled: number;
  readonly labels: number;
  /** Labels wider than their tile (a word cut), and labels taller than their tile (a line cut). */
  readonly cutWide: readonly string[];
  readonly cutTall: readonly string[];
}

const MEASURE = `<script>
addEventListener('load', () => {
  const tiles = [...document.querySelectorAll('.t')];
  const spans = tiles.map((t) => t.querySelector('span')).filter((s) => s !== null);
  const map = document.querySelector('.map').getBoundingClientRect();
  const m = {
    innerWidth, scrollWidth: document.documentElement.scrollWidth,
    mapWidth: map.width, mapRightGap: innerWidth - map.right,
    tiles: tiles.length, titled: tiles.filter((t) => t.title.length > 0).length, labels: spans.length,
    cutWide: spans.filter((s) => s.scrollWidth > s.clientWidth).map((s) => s.textContent),
    cutTall: spans.filter((s) => s.getBoundingClientRect().bottom > s.parentElement.getBoundingClientRect().bottom + 0.5)
      .map((s) => s.textContent),
  };
  const out = document.createElement('pre');
  out.id = 'measure';
  out.textContent = JSON.stringify(m);
  document.body.append(out);
});
</script>`;

function measure(dir: string, page: string, width: number): Measure {
  const probe = join(dir, `measure-${width}.html`);
  writeFileSync(probe, readFileSync(page, 'utf8').replace('</body>', `${MEASURE}</body>`));
  const dom = chromium(dir, width, ['--dump-dom', `file://${probe}`]).toString('utf8');
  const json = /<pre id="measure">([^<]*)<\/pre>/.exec(dom)?.[1];
  assert.ok(json !== undefined, 'the measuring script ran');
  return JSON.parse(json.replaceAll('&quot;', '"').replaceAll('&amp;', '&')) as Measure;
}

/**
 * A layer made to stress the labels: hundreds of folders and files of spread sizes, with wide letters (`W`, `M`),
 * long single words, names with spaces and non-Latin names.
 */
async function crowdedPage(): Promise<string> {
  const names = [
    'WWWWWWWWWW',
    'MMMM MMMM',
    'System32',
    'Program Files',
    'x',
    '日本語フォルダ',
    'Microsoft.Windows.Foo',
  ];
  const entries: LayerEntry[] = [{ kind: 'directory', path: 'Files', win: { lastWriteTime: 0n } }];
  for (let d = 0; d < 60; d++) {
    const folder = `Files/${names[d % names.length]}${d}`;
    entries.push({ kind: 'directory', path: folder, win: { lastWriteTime: 0n } });
    for (let f = 0; f < 1 + (d % 9); f++) {
      const size = 1 + ((d * 7919 + f * 104_729) % 50_000) * (d % 3 === 0 ? 40 : 1);
      const body = bufferBody(new Uint8Array(size));
      entries.push({
        kind: 'file',
        path: `${folder}/${names[f % names.length]} ${f}.bin`,
        size,
        body,
        win: { lastWriteTime: 0n },
      });
    }
  }
  const summary = await summarizeLayer(
    (async function* () {
      yield* entries;
    })(),
  );
  return renderHtml([{ title: 'crowded', summary }], { title: 'crowded' });
}

describe('ls --html in headless Chromium', () => {
  it('renders the bundled example: treemap, biggest files, SD table', async (t) => {
    if (!requireTool(t, 'chromium')) return;
    const dir = tempDir(t);
    const page = join(dir, 'ls.html');
    const r = await runCli(['ls', '--html', page, EXAMPLE]);
    assert.equal(r.code, 0, r.stderr);

    const dom = chromium(dir, 1200, ['--dump-dom', `file://${page}`]).toString('utf8');
    const tiles = dom.match(/class="t( f)?"/g) ?? [];
    assert.ok(tiles.length >= 5, `expected treemap tiles, got ${tiles.length}`);
    assert.match(dom, /<h3>Biggest files<\/h3>/);
    assert.match(dom, /Files\/app\/readme\.md/);
    assert.match(dom, /<code>O:BUG:BU<\/code>/);
    // No external resource of any kind, and no script.
    assert.doesNotMatch(readFileSync(page, 'utf8'), /\b(src|href)=|url\(|@import|<script/i);
  });

  for (const width of [800, 1600]) {
    it(`at ${width} px: fills the window, no horizontal scroll bar, labels whole, every tile titled; screenshot`, async (t) => {
      if (!requireTool(t, 'chromium')) return;
      const dir = tempDir(t);
      const page = join(dir, 'ls.html');
      const r = await runCli(['ls', '--html', page, EXAMPLE]);
      assert.equal(r.code, 0, r.stderr);

      const m = measure(dir, page, width);
      assert.equal(m.innerWidth, width);
      assert.ok(m.scrollWidth <= m.innerWidth, `scrollWidth ${m.scrollWidth} > innerWidth ${m.innerWidth}`);
      // The map spans the window but for the body's margins (no fixed width, no empty right half).
      assert.ok(m.mapWidth >= width - 60 && m.mapRightGap <= 30, `map ${m.mapWidth} px, ${m.mapRightGap} px short`);
      assert.ok(m.tiles >= 5 && m.labels >= 3, `${m.tiles} tiles, ${m.labels} labels`);
      assert.equal(m.titled, m.tiles, 'every tile names itself on hover');
      assert.deepEqual(m.cutWide, [], 'labels cut inside a word');
      assert.deepEqual(m.cutTall, [], 'labels running out of their tile');

      const png = join(dir, `ls-html-${width}.png`);
      chromium(dir, width, [`--screenshot=${png}`, `file://${page}`]);
      const bytes = readFileSync(png);
      assert.deepEqual([...bytes.subarray(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"
      assert.deepEqual([bytes.readUInt32BE(16), bytes.readUInt32BE(20)], [width, 900]);
      assert.ok(bytes.length > 10_000, 'a blank screenshot is tiny');
      if (process.env.UPDATE_SCREENSHOTS === '1' && width === 1600) {
        copyFileSync(png, join(ROOT, 'docs/screenshots/ls-html.png'));
      }
    });

    it(`at ${width} px: a crowded layer's labels are whole words inside their tiles`, async (t) => {
      if (!requireTool(t, 'chromium')) return;
      const dir = tempDir(t);
      const page = join(dir, 'crowded.html');
      writeFileSync(page, await crowdedPage());
      const m = measure(dir, page, width);
      assert.ok(m.scrollWidth <= m.innerWidth, `scrollWidth ${m.scrollWidth} > innerWidth ${m.innerWidth}`);
      assert.ok(m.tiles >= 60 && m.labels >= 15, `${m.tiles} tiles, ${m.labels} labels`);
      assert.equal(m.titled, m.tiles);
      assert.deepEqual(m.cutWide, [], 'labels cut inside a word');
      assert.deepEqual(m.cutTall, [], 'labels running out of their tile');
    });
  }
});
