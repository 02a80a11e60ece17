/**
 * `winlayer ls --html` in a real browser: headless Chromium (Debian's `chromium`) loads the page of the bundled
 * example with the network cut off, the DOM holds the treemap tiles, the biggest files and the SDDL table, and a
 * 1200×900 screenshot renders. `UPDATE_SCREENSHOTS=1` rewrites docs/screenshots/ls-html.png from it.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { runCli } from './helpers/cli.js';
import { requireTool, run, tempDir } from './helpers/tools.js';

const ROOT = new URL('../', import.meta.url).pathname;
/** The bundled example, named as a user in the project folder would (the name is the page's title). */
const EXAMPLE = relative(process.cwd(), join(ROOT, 'examples/layer.tar'));

/** Runs headless Chromium with a fresh profile folder per run. */
function chromium(dir: string, args: string[]): Buffer {
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
    '--window-size=1200,900',
    ...args,
  ]);
}

describe('ls --html in headless Chromium', () => {
  it('renders the bundled example: treemap, biggest files, SD table, screenshot', async (t) => {
    if (!requireTool(t, 'chromium')) return;
    const dir = tempDir(t);
    const page = join(dir, 'ls.html');
    const r = await runCli(['ls', '--html', page, EXAMPLE]);
    assert.equal(r.code, 0, r.stderr);

    const dom = chromium(dir, ['--dump-dom', `file://${page}`]).toString('utf8');
    const tiles = dom.match(/class="t( f)?"/g) ?? [];
    assert.ok(tiles.length >= 5, `expected treemap tiles, got ${tiles.length}`);
    assert.match(dom, /<h3>Biggest files<\/h3>/);
    assert.match(dom, /Files\/app\/readme\.md/);
    assert.match(dom, /<code>O:BUG:BU<\/code>/);
    // No external resource of any kind.
    assert.doesNotMatch(readFileSync(page, 'utf8'), /\b(src|href)=|url\(|@import/i);

    const png = join(dir, 'ls-html.png');
    chromium(dir, [`--screenshot=${png}`, `file://${page}`]);
    const bytes = readFileSync(png);
    assert.deepEqual([...bytes.subarray(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"
    assert.deepEqual([bytes.readUInt32BE(16), bytes.readUInt32BE(20)], [1200, 900]);
    assert.ok(bytes.length > 10_000, 'a blank screenshot is tiny');
    if (process.env.UPDATE_SCREENSHOTS === '1') copyFileSync(png, join(ROOT, 'docs/screenshots/ls-html.png'));
  });
});
