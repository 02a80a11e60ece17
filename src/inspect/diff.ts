/**
 * Rendering of `compareLayers` results (`src/layer/compare.ts`: the one semantic comparison; nothing is compared
 * here). `describeComparison` turns raw field values into what a person reads — attributes by name, security
 * descriptors as SDDL, hard-link groups as groups — and `renderDiff` prints it. Pure.
 */
import { isWinlayerError } from '../errors.js';
import { base64ToSddl } from '../internal/windows.js';
import type { ComparedField, LayerComparison } from '../layer/index.js';
import { escapeControls } from '../terminal-text.js';
import { formatAttributes } from '../windows/index.js';

/** One differing field, display-ready (`null` = absent on that side). */
export interface DiffField {
  readonly field: ComparedField;
  readonly a: string | null;
  readonly b: string | null;
}

/** An entry present on both sides with the fields that differ (hard-link membership is in `linkGroups`). */
export interface DiffChange {
  readonly path: string;
  readonly kind: string;
  readonly fields: readonly DiffField[];
}

/** A hard-link group that differs: the names sharing one file's data on each side (empty = no group there). */
export interface LinkGroupChange {
  readonly a: readonly string[];
  readonly b: readonly string[];
}

/** What `winlayer diff` prints (and `--json` writes) for one pair of layers. */
export interface DiffReport {
  /** True when no entry was added, removed or changed; order and raw-header noise allowed. */
  readonly equal: boolean;
  readonly added: readonly { readonly path: string; readonly kind: string }[];
  readonly removed: readonly { readonly path: string; readonly kind: string }[];
  readonly changed: readonly DiffChange[];
  readonly linkGroups: readonly LinkGroupChange[];
  readonly noise: LayerComparison['noise'];
  readonly counts: LayerComparison['counts'];
}

/** Makes a comparison readable. Pure; never throws for undecodable values (they are shown as they are). */
export function describeComparison(cmp: LayerComparison): DiffReport {
  const changed: DiffChange[] = [];
  const groups = new Map<string, LinkGroupChange>();
  for (const c of cmp.changed) {
    const fields: DiffField[] = [];
    for (const f of c.fields) {
      if (f.field === 'links') {
        const a = splitGroup(f.a);
        const b = splitGroup(f.b);
        const key = `${a.join('\n')}\0${b.join('\n')}`;
        if (!groups.has(key)) groups.set(key, { a, b });
        continue;
      }
      fields.push({ field: f.field, a: show(f.field, f.a), b: show(f.field, f.b) });
    }
    if (fields.length > 0) changed.push({ path: c.path, kind: c.kind, fields });
  }
  return {
    equal: cmp.equal,
    added: cmp.added,
    removed: cmp.removed,
    changed,
    linkGroups: [...groups.values()],
    noise: cmp.noise,
    counts: cmp.counts,
  };
}

function splitGroup(v: string | number | boolean | null): string[] {
  return typeof v === 'string' && v !== '' ? v.split('\n') : [];
}

function show(field: ComparedField, v: string | number | boolean | null): string | null {
  if (v === null) return null;
  if (field === 'attributes' && typeof v === 'number') {
    return `${safe(() => formatAttributes(v)) ?? ''} (0x${v.toString(16)})`.trim();
  }
  if (field === 'securityDescriptor' && typeof v === 'string') {
    return safe(() => base64ToSddl(v)) ?? `(does not decode) ${v}`;
  }
  return String(v);
}

function safe(f: () => string): string | undefined {
  try {
    return f();
  } catch (e) {
    if (isWinlayerError(e)) return undefined;
    throw e;
  }
}

/** Options of `renderDiff`. */
export interface RenderDiffOptions {
  /** Names listed per section before "… and N more" (default: all). */
  readonly limit?: number;
}

/**
 * The text of a diff: `+` added, `-` removed, `~` changed with one indented `field: a → b` line per field, the
 * hard-link groups, then the noise and a summary line. Returns lines without newlines, with the control characters
 * of names and values escaped (they come from the archives).
 */
export function renderDiff(r: DiffReport, opts: RenderDiffOptions = {}): string[] {
  const limit = opts.limit ?? Number.POSITIVE_INFINITY;
  const out: string[] = [];
  const capped = <T>(items: readonly T[], line: (t: T) => string[]): void => {
    for (const t of items.slice(0, limit)) out.push(...line(t));
    if (items.length > limit) out.push(`  … and ${items.length - limit} more`);
  };
  capped(r.added, (e) => [`+ ${e.kind.padEnd(9)} ${e.path}`]);
  capped(r.removed, (e) => [`- ${e.kind.padEnd(9)} ${e.path}`]);
  capped(r.changed, (c) => [
    `~ ${c.kind.padEnd(9)} ${c.path}`,
    ...c.fields.map((f) => `    ${f.field}: ${f.a ?? '(none)'} → ${f.b ?? '(none)'}`),
  ]);
  capped(r.linkGroups, (g) => [
    `~ hard-link group {${g.a.join(', ')}} → {${g.b.join(', ')}}`
      .replace('{} →', '(none) →')
      .replace('→ {}', '→ (none)'),
  ]);
  const noise: string[] = [];
  if (r.noise.orderDiffers) noise.push(`entry order differs (${r.noise.moved.length} moved)`);
  const raw = Object.entries(r.noise.raw)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ×${n}`);
  if (raw.length > 0) noise.push(`header fields differ: ${raw.join(', ')}`);
  if (r.noise.duplicates.a.length + r.noise.duplicates.b.length > 0) {
    noise.push(`duplicate names: ${r.noise.duplicates.a.length} in a, ${r.noise.duplicates.b.length} in b`);
  }
  if (noise.length > 0) out.push(`noise (ignored): ${noise.join('; ')}`);
  out.push(
    r.equal
      ? `equal (${r.counts.a} and ${r.counts.b} entries)`
      : `different: ${r.added.length} added, ${r.removed.length} removed, ${r.changed.length + r.linkGroups.length} changed`,
  );
  return out.map(escapeControls);
}
