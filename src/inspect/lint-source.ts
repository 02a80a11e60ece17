/**
 * `lintSource`: lints every layer of an opened source — an image's first layer as a base layer, the others as
 * non-base — plus the image-level rules (config `os`, `os.version`, each layer's diff_id, foreign layers), and merges
 * the findings into one report, each labelled with its layer.
 */
import { createHash } from 'node:crypto';
import { isWinlayerError } from '../errors.js';
import { decompress, detectCompression, readTar } from '../tar/index.js';
import { type LintFinding, type LintReport, lintLayer, makeReport } from './lint.js';
import { LINT_RULES, type RuleId } from './rules.js';
import type { InspectLayer, InspectSource } from './source.js';

export interface LintSourceOptions {
  /** Lint a single layer as base (true) or non-base (false); default: detect. Image layers ignore it. */
  readonly base?: boolean;
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
    const ids = c.rootfs?.diff_ids ?? [];
    if (src.kind === 'image' && ids.length !== src.layers.length) {
      findings.push(
        finding('layer-count-mismatch', `the manifest has ${src.layers.length} layers, rootfs.diff_ids ${ids.length}`),
      );
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
  const r = await lintLayer(readTar(tee), opts);
  if (r.findings.some((f) => f.rule === 'archive-corrupt') || layer.diffId === undefined) return r;
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
