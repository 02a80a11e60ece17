/**
 * `src/inspect/`: reports over layers — lint rules, diff rendering, listings and the HTML picture. Pure functions over
 * `LayerEntry` streams and `compareLayers` results; the CLI's `ls`, `diff` and `lint` are thin shells over them. The
 * public surface of the folder: what a user of `inspect.*` may call (the reports and their text renderers).
 */
export {
  type DiffChange,
  type DiffField,
  type DiffReport,
  describeComparison,
  type LinkGroupChange,
  type RenderDiffOptions,
  renderDiff,
} from './diff.js';
export { diffSources, type LayerDiff, renderSourceDiff, type SourceDiff } from './diff-source.js';
export { flattenSource } from './flatten.js';
export {
  deltaEntryLines,
  type RegistryChange,
  type RegistryDiff,
  registryChanges,
  registryDiff,
  renderRegistryDiff,
} from './hive-changes.js';
export { type HtmlOptions, type HtmlSection, renderHtml } from './html.js';
export { type LintFinding, type LintOptions, type LintReport, lintLayer } from './lint.js';
export {
  type LintNamedOptions,
  type LintSourceOptions,
  lintNamedSource,
  lintSource,
  renderLintReport,
} from './lint-source.js';
export { type EntryJson, entryJson, entryLine, type LongFacts, longFacts, longLines } from './listing.js';
export { type PictureResult, writeSourcePicture } from './picture.js';
export { LINT_RULES, type RuleId, type Severity } from './rules.js';
export { type InspectLayer, type InspectSource, type OpenInspectOptions, openInspectSource } from './source.js';
export {
  type BigFile,
  type FolderNode,
  type LayerSummary,
  type SdUsage,
  type SummaryOptions,
  summarizeLayer,
} from './summary.js';
