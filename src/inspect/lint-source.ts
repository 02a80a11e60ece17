/**
 * `lintSource`: lints every layer of an opened source — an image's first layer as a base layer, the others as
 * non-base — plus the image-level rules (config `os`, `os.version`, each layer's diff_id, foreign layers), and merges
 * the findings into one report, each labelled with its layer.
 */
import { createHash } from 'node:crypto';
import { type ErrorCode, isWinlayerError } from '../errors.js';
import { decompress, detectCompression, readTar } from '../tar/index.js';
import { escapeControls } from '../terminal-text.js';
import { flattenSource } from './flatten.js';
import { type LintFinding, type LintReport, lintLayer, makeReport } from './lint.js';
import { LINT_RULES, type RuleId } from './rules.js';
import { type InspectLayer, type InspectSource, type OpenInspectOptions, openInspectSource } from './source.js';

/** Options of `lintSource`. */
export interface LintSourceOptions {
  /** Lint a single layer as base (true) or non-base (false); default: detect. Image layers ignore it. */
  readonly base?: boolean;
}

/** Options of `lintNamedSource`: how to open the source, and how to lint it. */
export interface LintNamedOptions extends LintSourceOptions, OpenInspectOptions {
  /** Apply an image's layers first and lint the result as one base layer. */
  readonly flatten?: boolean;
}

/** Image errors that mean "this image is malformed" (a finding), not "it cannot be reached" (thrown). */
const IMAGE_DEFECTS: readonly ErrorCode[] = ['INVALID_IMAGE', 'OCI_DIGEST'];

/**
 * Opens a source by name and lints it (the `winlayer lint` call). A malformed image (index, manifest, config, or
 * content that does not match its digest) is an `image-invalid` finding; a source that cannot be opened or reached
 * still throws (`NOT_FOUND`, `SOURCE_UNREADABLE`, registry errors).
 */
export async function lintNamedSource(name: string, opts: LintNamedOptions = {}): Promise<LintReport> {
  let src: InspectSource;
  try {
    src = await openInspectSource(name, opts);
  } catch (e) {
    if (!isWinlayerError(e, ...IMAGE_DEFECTS)) throw e;
    return makeReport([finding('image-invalid', e.message.split('\n')[0]!)], 0, false);
  }
  try {
    return await lintSource(opts.flatten === true ? flattenSource(src) : src, opts);
  } finally {
    src.close?.();
  }
}

function finding(rule: RuleId, message: string, layer?: string): LintFinding {
  const info = LINT_RULES[rule];
  return { rule, severity: info.severity, message, hint: info.hint, ...(layer === undefined ? {} : { layer }) };
}

/**
 * Lints a source. Streams each layer once (for image layers the blob is decompressed once, hashed for the diff_id
 * and read as a tar in the same pass). Read errors of a layer become `archive-corrupt` findings; throws only when a
 * layer cannot be opened at all (see `lintLayer`).
 */
export async function lintSource(src: InspectSource, opts: LintSourceOptions = {}): Promise<LintReport> {
  const findings: LintFinding[] = [];
  let entries = 0;
  let base = false;
  const label = src.layers.length > 1 || src.kind === 'image';
  if (src.config !== undefined) {
    const c = src.config;
    if (c.os !== 'windows') findings.push(finding('image-os-not-windows', `the config says os "${String(c.os)}"`));
    if (c.os === 'windows' && (c['os.version'] === undefined || c['os.version'] === '')) {
      findings.push(finding('os-version-missing', 'the config has no os.version'));
    }
  }
  for (const [i, layer] of src.layers.entries()) {
    const title = label ? layer.title : undefined;
    const layerBase = layer.base ?? opts.base;
    const lintOpts = {
      ...(layerBase === undefined ? {} : { base: layerBase }),
      ...(title === undefined ? {} : { layer: title }),
    };
    const d = layer.descriptor;
    const foreign =
      d !== undefined && (/foreign|nondistributable/.test(d.mediaType) || (d.urls !== undefined && d.urls.length > 0));
    let r: LintReport;
    if (layer.openBlob !== undefined) {
      let blob: AsyncIterable<Uint8Array>;
      try {
        blob = await layer.openBlob();
      } catch (e) {
        // A foreign layer is often not stored with the image: say so instead of failing.
        if (!foreign || !isWinlayerError(e, 'NOT_FOUND')) throw e;
        findings.push(finding('foreign-layer', `${d!.mediaType}: not stored here, so not linted`, title));
        continue;
      }
      if (foreign) findings.push(finding('foreign-layer', `media type ${d!.mediaType}`, title));
      r = await lintImageLayer(layer, blob, lintOpts);
    } else {
      if (foreign) findings.push(finding('foreign-layer', `media type ${d!.mediaType}`, title));
      r = await lintLayer(layer.open(), lintOpts);
    }
    findings.push(...r.findings);
    entries += r.entries;
    if (i === 0) base = r.base;
  }
  return makeReport(findings, entries, base);
}

/** Lints an image layer's blob and checks its diff_id (sha256 of the uncompressed tar) in the same pass. */
async function lintImageLayer(
  layer: InspectLayer,
  blob: AsyncIterable<Uint8Array>,
  opts: { base?: boolean; layer?: string },
): Promise<LintReport> {
  const hash = createHash('sha256');
  const plain = decompressSniffed(blob)[Symbol.asyncIterator]();
  // The tar reader may stop at the end-of-archive blocks: `return` must not close the source, so the rest can be
  // hashed after it.
  const tee: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]: () => ({
      next: async () => {
        const r = await plain.next();
        if (r.done !== true) hash.update(r.value);
        return r;
      },
      return: async () => ({ done: true, value: undefined }),
    }),
  };
  let r: LintReport;
  try {
    r = await lintLayer(readTar(tee), opts);
  } catch (e) {
    // A layer blob that is not a tar is a defect of the image (a finding), not an input lint cannot use.
    if (!isWinlayerError(e, 'NOT_A_TAR')) throw e;
    await plain.return?.(undefined);
    return makeReport([finding('archive-corrupt', e.message.split('\n')[0]!, opts.layer)], 0, opts.base ?? false);
  }
  if (r.findings.some((f) => f.rule === 'archive-corrupt') || layer.diffId === undefined) {
    await plain.return?.(undefined);
    return r;
  }
  try {
    for (let n = await plain.next(); n.done !== true; n = await plain.next()) hash.update(n.value);
  } catch (e) {
    if (!isWinlayerError(e)) throw e;
    return makeReport(
      [...r.findings, finding('archive-corrupt', e.message.split('\n')[0]!, opts.layer)],
      r.entries,
      r.base,
    );
  }
  const actual = `sha256:${hash.digest('hex')}`;
  if (actual === layer.diffId) return r;
  const f = finding(
    'diff-id-mismatch',
    `the uncompressed layer is ${actual}, the config says ${layer.diffId}`,
    opts.layer,
  );
  return makeReport([...r.findings, f], r.entries, r.base);
}

/** Decompresses by sniffing the first bytes (gzip, zstd or none). */
async function* decompressSniffed(blob: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const it = blob[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done === true) return;
  const rest: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]: () => {
      let head: Uint8Array | undefined = first.value;
      return {
        next: async () => {
          if (head !== undefined) {
            const value = head;
            head = undefined;
            return { done: false, value };
          }
          return it.next();
        },
      };
    },
  };
  yield* decompress(rest, detectCompression(first.value));
}

/**
 * The text of a report: one `severity rule  [layer: ][entry: ]message` line and one `hint:` line per finding, at
 * most `perRule` findings per rule (the rest counted), then a summary line. Returns lines without newlines, with the
 * control characters of the names they quote escaped (they come from the archive).
 */
export function renderLintReport(r: LintReport, opts: { readonly perRule?: number } = {}): string[] {
  const perRule = opts.perRule ?? Number.POSITIVE_INFINITY;
  const lines: string[] = [];
  const shown = new Map<string, number>();
  const hidden = new Map<string, number>();
  for (const f of r.findings) {
    const n = shown.get(f.rule) ?? 0;
    if (n >= perRule) {
      hidden.set(f.rule, (hidden.get(f.rule) ?? 0) + 1);
      continue;
    }
    shown.set(f.rule, n + 1);
    const where = [f.layer, f.entry].filter((s) => s !== undefined).join(': ');
    lines.push(
      escapeControls(
        `${f.severity === 'error' ? 'error  ' : 'warning'} ${f.rule}  ${where === '' ? '' : `${where}: `}${f.message}`,
      ),
      escapeControls(`    hint: ${f.hint}`),
    );
  }
  for (const [rule, n] of hidden) lines.push(`… ${n} more ${rule} finding${n > 1 ? 's' : ''} (--json lists all)`);
  const kind = r.base ? 'base layer' : 'non-base layer';
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  lines.push(
    r.findings.length === 0
      ? `clean: ${r.entries} entries, ${kind}`
      : `${count(r.errors, 'error')}, ${count(r.warnings, 'warning')} in ${r.entries} entries (${kind})`,
  );
  return lines;
}
