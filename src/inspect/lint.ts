/**
 * `lintLayer`: one streaming pass over a layer's entries that finds what breaks (errors) or is lossy (warnings) when
 * Windows imports the layer. Only an index of paths is kept; the five base-layer hives and the UtilityVM BCD are
 * buffered (hives are small) to check them.
 */
import type { LayerEntry, PaxRecord } from '../entry.js';
import { type ErrorCode, isWinlayerError, type WinlayerError } from '../errors.js';
import { checkHive, child, isDifferencingHive, openHive, root } from '../hive/index.js';
import { NOT_A_BASE_HIVE } from '../internal/hive.js';
import { BASE_HIVE_PATHS, missingBaseHives, UVM_BCD_PATH } from '../internal/layer.js';
import { parentPath, sdBase64 } from '../internal/tar.js';
import { checkEntrySecurityDescriptor } from '../internal/windows.js';
import { isManagedPaxKey, PaxEncodeMemo } from '../tar/index.js';
import { upcase, windowsNameProblem } from '../windows/index.js';
import { type HivesEntryFinding, hivesEntryFinding } from './hive-changes.js';
import { LINT_RULES, type RuleId, type Severity } from './rules.js';

/** One finding: which rule, how bad, where (layer, entry) and how to fix it. */
export interface LintFinding {
  readonly rule: RuleId;
  readonly severity: Severity;
  /** What is wrong, complete on its own. */
  readonly message: string;
  readonly hint: string;
  /** The layer path of the entry (absent for layer- or image-wide findings). */
  readonly entry?: string;
  /** Which layer of an image (`layer 2 sha256:…`); absent for a single layer. */
  readonly layer?: string;
}

/** The result of a lint pass. `errors`/`warnings` count the findings of each severity. */
export interface LintReport {
  readonly findings: LintFinding[];
  readonly errors: number;
  readonly warnings: number;
  /** How many entries were read (for an image: in all layers). */
  readonly entries: number;
  /** Whether the (single) layer was linted as a base layer; for images, whether layer 1 is one. */
  readonly base: boolean;
}

/** Options of `lintLayer`. */
export interface LintOptions {
  /** Lint as a base (true) or non-base (false) layer; default: detect (any `Hives/` entry or whiteout → non-base). */
  readonly base?: boolean;
  /** A label put on every finding (`layer 2 sha256:…`). */
  readonly layer?: string;
  /** The largest hive that is buffered and checked, in bytes (default 256 MiB); larger ones are reported invalid. */
  readonly maxHiveBytes?: number;
}

/** The five hives a base layer must hold, as layer paths. */
const BASE_HIVES: readonly string[] = BASE_HIVE_PATHS;
/** Where the UtilityVM boot store lives. */
const BCD_PATH = UVM_BCD_PATH;

const HIVE_KEYS: ReadonlySet<string> = new Set(BASE_HIVES.map(upcase));
const BCD_KEY = upcase(BCD_PATH);

/** Error codes that mean "this input is damaged" (a finding) rather than "cannot be opened" (thrown). */
const NOT_CORRUPTION: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'USAGE',
  'INTERNAL',
  'IO',
  'NOT_FOUND',
  'INTERRUPTED',
  'BODY_STALE',
  'SOURCE_UNREADABLE',
  'NOT_A_TAR',
  'REGISTRY',
  'REGISTRY_AUTH',
  'OCI_REF',
]);

/** What the pass knows about one path seen so far. */
interface Seen {
  readonly path: string;
  readonly kind: LayerEntry['kind'];
}

interface HiveResult {
  readonly path: string;
  /** Why it is unusable, or undefined when it checks clean. */
  readonly problem: string | undefined;
}

const FILE_ATTRIBUTE_DIRECTORY = 0x10;
const STREAM_NAME_BAD = /[\0/\\:]/;

/**
 * Lints one layer. Streams: reads `entries` once, in order, draining only the bodies of the hives and the BCD.
 * A read error of the source (`TAR_*`, `COMPRESSION`, …) becomes an `archive-corrupt` finding and ends the pass.
 * Throws only when the source cannot be opened at all (`NOT_FOUND`, `IO`, `SOURCE_UNREADABLE`, registry errors) or
 * is not a tar (`NOT_A_TAR`: an input lint cannot use, exit 2, as for `ls` and `import`).
 */
export async function lintLayer(entries: AsyncIterable<LayerEntry>, opts: LintOptions = {}): Promise<LintReport> {
  const pass = new LayerPass(opts);
  try {
    for await (const entry of entries) await pass.entry(entry);
  } catch (e) {
    if (!isWinlayerError(e) || NOT_CORRUPTION.has(e.code)) throw e;
    pass.corrupt(e);
  }
  return pass.finish();
}

/** Builds a report from findings (counts each severity). */
export function makeReport(findings: LintFinding[], entries: number, base: boolean): LintReport {
  let errors = 0;
  for (const f of findings) if (f.severity === 'error') errors++;
  return { findings, errors, warnings: findings.length - errors, entries, base };
}

class LayerPass {
  readonly #opts: LintOptions;
  readonly #findings: LintFinding[] = [];
  /** upcase(path) → first entry with that name. */
  readonly #byName = new Map<string, Seen>();
  /** upcase(target) of hard-link targets not seen yet → the target as written and the first link naming it. */
  readonly #pendingLinks = new Map<string, { readonly target: string; readonly link: string }>();
  /** Whiteouts and opaque markers, reported at the end when the layer turns out to be a base layer. */
  readonly #whiteouts: LayerEntry[] = [];
  readonly #hives = new Map<string, HiveResult>();
  /** Findings about `Hives/` entries, reported at the end when the layer turns out to be non-base. */
  readonly #hivesEntries: Array<HivesEntryFinding & { readonly path: string }> = [];
  /** Security descriptors already decoded (base64 → problem, or '' when valid). */
  readonly #sdChecked = new Map<string, string>();
  /** The base64 text of each security descriptor array seen (the key of `#sdChecked`). */
  readonly #sdTexts = new PaxEncodeMemo();
  #bcd: HiveResult | undefined;
  #count = 0;
  #sawHives = false;
  #sawUvmFiles = false;
  #lastFile: string | undefined;
  /** The source failed mid-way: what is missing cannot be told from what was not read. */
  #corrupted = false;
  /**
   * Entries whose mode has no permission bits, and the first of them: go-winio and hcsshim write every entry so
   * (Microsoft's own layers), so `mode-000` is one finding with a count, not one per entry.
   */
  #modeless = 0;
  #firstModeless: string | undefined;

  constructor(opts: LintOptions) {
    this.#opts = opts;
  }

  #add(rule: RuleId, message: string, entry?: string, hint?: string): void {
    const info = LINT_RULES[rule];
    this.#findings.push({
      rule,
      severity: info.severity,
      message,
      hint: hint ?? info.hint,
      ...(entry === undefined ? {} : { entry }),
      ...(this.#opts.layer === undefined ? {} : { layer: this.#opts.layer }),
    });
  }

  corrupt(e: WinlayerError): void {
    this.#corrupted = true;
    // The finding shows the entry in its own column: the message must not name it again.
    const message = e.entry === undefined ? e.message.split('\n')[0]! : [e.path, e.reason].filter(Boolean).join(': ');
    this.#add('archive-corrupt', message, e.entry, e.hint ?? LINT_RULES['archive-corrupt'].hint);
  }

  async entry(e: LayerEntry): Promise<void> {
    this.#count++;
    const path = e.path;
    this.#rawChecks(e);
    this.#placeChecks(e);
    this.#nameChecks(e);
    this.#kindChecks(e);
    this.#metadataChecks(e);
    await this.#bufferedChecks(e);
    if (e.kind === 'file') this.#lastFile = path;
    else if (e.kind !== 'stream') this.#lastFile = undefined;
  }

  /** How the header was stored: `./`, trailing `/`, format, mode, creation-time digits, unknown records. */
  #rawChecks(e: LayerEntry): void {
    const raw = e.raw;
    if (raw === undefined) return;
    const marker = e.kind === 'whiteout' || e.kind === 'opaqueWhiteout';
    if (raw.name.startsWith('./')) this.#add('name-dot-slash', `stored as "${raw.name}"`, e.path);
    if (raw.name.length > 1 && raw.name.endsWith('/')) {
      this.#add('name-trailing-slash', `stored as "${raw.name}"`, e.path);
    }
    // hcsshim itself writes whiteouts as plain ustar headers with mode 0: not worth a warning.
    if (!marker && raw.format !== 'pax') {
      this.#add('non-pax-entry', `written as a ${raw.format} header without PAX records`, e.path);
    }
    if (!marker && (raw.mode & 0o7777) === 0 && this.#modeless++ === 0) this.#firstModeless = e.path;
    const created = findPax(raw.pax, 'LIBARCHIVE.creationtime');
    if (created !== undefined && looksUnpadded(created)) {
      this.#add(
        'creation-time-unpadded',
        `LIBARCHIVE.creationtime=${created}: the fraction is probably unpadded nanoseconds`,
        e.path,
      );
    }
    if (findPax(raw.pax, 'MSWINDOWS.sd') !== undefined && findPax(raw.pax, 'MSWINDOWS.rawsd') === undefined) {
      this.#add('legacy-sd-record', 'the security descriptor is given only as MSWINDOWS.sd (SDDL)', e.path);
    }
    const unknown = e.extraPax ?? raw.pax.filter((r) => !isManagedPaxKey(r.key));
    if (unknown.length > 0) {
      const keys = [...new Set(unknown.map((r) => r.key))].join(', ');
      this.#add('unknown-pax-record', `unknown PAX record${unknown.length > 1 ? 's' : ''}: ${keys}`, e.path);
    }
  }

  /** Where the entry sits: top-level folder, parent before child, duplicates. */
  #placeChecks(e: LayerEntry): void {
    const path = e.path;
    const slash = path.indexOf('/');
    const top = slash < 0 ? path : path.slice(0, slash);
    if (top === 'Hives') this.#sawHives = true;
    if (path === 'UtilityVM/Files' || path.startsWith('UtilityVM/Files/')) this.#sawUvmFiles = true;
    if (top !== 'Files' && top !== 'UtilityVM' && top !== 'Hives') {
      const fold = ['FILES', 'UTILITYVM', 'HIVES'].find((t) => t === upcase(top));
      this.#add(
        'entry-outside-layer',
        fold === undefined
          ? `"${top}" is not one of Files, UtilityVM, Hives`
          : `"${top}" differs in case from ${layerTop(fold)}; hcsshim compares these names exactly`,
        path,
        fold === undefined ? undefined : `write ${layerTop(fold)}/ exactly`,
      );
    } else if (top === 'UtilityVM' && slash >= 0) {
      const second = path.slice(slash + 1).split('/')[0]!;
      if (second !== 'Files') {
        this.#add('entry-outside-layer', `UtilityVM/ holds only Files/, not "${second}"`, path);
      }
    }

    const parent = e.kind === 'stream' ? e.filePath : parentPath(path);
    if (e.kind === 'stream') {
      if (this.#lastFile !== e.filePath) {
        this.#add('stream-without-file', `the stream does not directly follow its file ${e.filePath}`, path);
      }
    } else if (parent !== '' && e.kind !== 'whiteout') {
      const p = this.#byName.get(upcase(parent));
      if (p === undefined) {
        this.#add('parent-missing', `its folder ${parent} does not come before it`, path);
        // The missing ancestors' names were never checked: check them here.
        for (const c of parent.split('/')) this.#checkComponent(c, path);
      } else if (p.kind !== 'directory') {
        this.#add('parent-not-directory', `its parent ${p.path} is a ${p.kind}, not a folder`, path);
      }
    }

    const key = upcase(path);
    const prior = this.#byName.get(key);
    if (prior !== undefined) {
      if (prior.path === path) this.#add('duplicate-entry', `"${path}" appears more than once`, path);
      else this.#add('case-collision', `"${path}" and "${prior.path}" are the same name on Windows`, path);
    } else {
      this.#byName.set(key, { path, kind: e.kind });
      const link = this.#pendingLinks.get(key);
      if (link !== undefined) {
        this.#pendingLinks.delete(key);
        this.#add('hardlink-target-later', `the hard link ${link.link} to it comes earlier in the archive`, path);
      }
    }
  }

  #nameChecks(e: LayerEntry): void {
    if (e.kind === 'stream') {
      const name = e.streamName;
      if (name === '' || name.length > 255 || STREAM_NAME_BAD.test(name)) {
        this.#add('stream-name-invalid', `the stream name "${name}" is empty, too long or holds / \\ : or NUL`, e.path);
      }
      return;
    }
    const slash = e.path.lastIndexOf('/');
    this.#checkComponent(e.path.slice(slash + 1), e.path);
  }

  #checkComponent(component: string, path: string): void {
    const problem = windowsNameProblem(component);
    if (problem !== undefined) this.#add('name-invalid', `"${component}": ${problem}`, path);
  }

  #kindChecks(e: LayerEntry): void {
    switch (e.kind) {
      case 'whiteout':
      case 'opaqueWhiteout':
        this.#whiteouts.push(e);
        return;
      case 'special':
        this.#add('unsupported-entry-type', `a ${e.description} (typeflag '${e.typeflag}')`, e.path);
        return;
      case 'symlink':
        if (/^files[/\\]/i.test(e.linkTarget)) {
          this.#add('symlink-target-prefixed', `the target "${e.linkTarget}" starts with the layer prefix`, e.path);
        }
        return;
      case 'hardlink':
        this.#hardlink(e.path, e.linkTarget);
        return;
      case 'directory':
        if (e.win.attributes !== undefined && (e.win.attributes & FILE_ATTRIBUTE_DIRECTORY) === 0) {
          this.#add(
            'directory-attribute-missing',
            `MSWINDOWS.fileattr=${e.win.attributes} lacks DIRECTORY (0x10)`,
            e.path,
            `write MSWINDOWS.fileattr=${e.win.attributes | FILE_ATTRIBUTE_DIRECTORY}`,
          );
        }
        return;
      default:
        return;
    }
  }

  #hardlink(path: string, target: string): void {
    if (!target.startsWith('Files/') && !target.startsWith('UtilityVM/Files/')) {
      const prefixed = this.#byName.get(upcase(`Files/${target}`));
      this.#add(
        'hardlink-target-unprefixed',
        `the target "${target}" is not a layer path under Files/ or UtilityVM/Files/`,
        path,
        prefixed === undefined ? undefined : `the target is probably ${prefixed.path}: write that`,
      );
      return;
    }
    const t = this.#byName.get(upcase(target));
    if (t === undefined) {
      const key = upcase(target);
      if (!this.#pendingLinks.has(key)) this.#pendingLinks.set(key, { target, link: path });
      return;
    }
    // A link to another link is one more name of the same file (Microsoft's layers chain them; NTFS does not care).
    if (t.kind !== 'file' && t.kind !== 'hardlink') {
      this.#add('hardlink-target-invalid', `the target ${t.path} is a ${t.kind}, not a regular file`, path);
    }
  }

  /** Security descriptor (decodes, cached per distinct value) and its presence. */
  #metadataChecks(e: LayerEntry): void {
    const sd = e.win.securityDescriptor;
    if (sd !== undefined) {
      // Remembered per array: the reader hands entries with the same rawsd one array, so most entries encode nothing.
      const key = sdBase64(sd, this.#sdTexts);
      let problem = this.#sdChecked.get(key);
      if (problem === undefined) {
        problem = '';
        try {
          checkEntrySecurityDescriptor(sd, e.path);
        } catch (err) {
          if (!isWinlayerError(err)) throw err;
          // Import's words for the same rule; the entry is in the finding's own column.
          problem = err.reason;
        }
        if (this.#sdChecked.size < 100_000) this.#sdChecked.set(key, problem);
      }
      if (problem !== '') this.#add('sd-invalid', problem, e.path);
    } else if (e.kind === 'file' || e.kind === 'directory' || e.kind === 'symlink') {
      this.#add('rawsd-missing', 'no MSWINDOWS.rawsd', e.path);
    }
  }

  /** Buffers and checks the base-layer hives and the BCD. */
  async #bufferedChecks(e: LayerEntry): Promise<void> {
    if (e.path.startsWith('Hives/')) {
      const f = await hivesEntryFinding(e, this.#opts.maxHiveBytes);
      if (f !== undefined) this.#hivesEntries.push({ ...f, path: e.path });
      return;
    }
    if (!e.path.startsWith('Files/') && !e.path.startsWith('UtilityVM/')) return;
    const key = upcase(e.path);
    const isHive = HIVE_KEYS.has(key);
    const isBcd = key === BCD_KEY;
    if (!isHive && !isBcd) return;
    let result: HiveResult;
    if (e.kind === 'file') {
      result = { path: e.path, problem: await this.#checkHiveBody(e.size, e.body, isBcd) };
    } else if (e.kind === 'hardlink') {
      const target = this.#hives.get(upcase(e.linkTarget));
      result = {
        path: e.path,
        problem: target === undefined ? 'a hard link to a file that is not checked' : target.problem,
      };
    } else {
      result = { path: e.path, problem: `a ${e.kind}, not a file` };
    }
    if (isHive && !this.#hives.has(key)) this.#hives.set(key, result);
    if (isBcd && this.#bcd === undefined) this.#bcd = result;
  }

  async #checkHiveBody(size: number, body: AsyncIterable<Uint8Array>, bcd: boolean): Promise<string | undefined> {
    if (size === 0) return 'empty (0 bytes): Windows Server 2025 needs a valid hive';
    const max = this.#opts.maxHiveBytes ?? 256 * 1024 * 1024;
    if (size > max) return `${size} bytes is larger than the ${max}-byte limit for a checked hive`;
    const bytes = new Uint8Array(size);
    let at = 0;
    for await (const chunk of body) {
      if (at < size) bytes.set(chunk.subarray(0, size - at), at);
      at += chunk.length;
    }
    if (isDifferencingHive(bytes)) return NOT_A_BASE_HIVE;
    const report = checkHive(bytes);
    if (report.dirty) return 'dirty: it needs transaction logs (.LOG1/.LOG2) that a layer does not carry';
    if (report.errors.length > 0) {
      const first = report.errors[0]!;
      return `corrupt: ${first.message}${report.errors.length > 1 ? ` (and ${report.errors.length - 1} more)` : ''}`;
    }
    if (bcd) {
      const top = root(openHive(bytes));
      const missing = ['Description', 'Objects'].filter((k) => child(top, k) === undefined);
      if (missing.length > 0) return `a clean hive, but not a BCD store: no ${missing.join(' or ')} key under the root`;
    }
    return undefined;
  }

  /** The one `mode-000` finding, at the first such entry. */
  #modeFinding(): void {
    const n = this.#modeless;
    if (n === 0) return;
    this.#add(
      'mode-000',
      `${n === 1 ? '1 entry has' : `${n} entries have`} a mode with no permission bits (type bits only, as go-winio and ` +
        'hcsshim write them); Windows ignores the mode, but tar and containerd on Linux extract such files unreadable',
      this.#firstModeless,
    );
  }

  finish(): LintReport {
    this.#modeFinding();
    const base = this.#opts.base ?? !(this.#sawHives || this.#whiteouts.length > 0);
    if (this.#corrupted) return makeReport(this.#findings, this.#count, base);
    if (base) {
      for (const w of this.#whiteouts) {
        this.#add('whiteout-in-base-layer', `a ${w.kind === 'whiteout' ? 'whiteout' : 'opaque marker'}`, w.path);
      }
      if (this.#sawHives)
        this.#add('hives-in-base-layer', 'the layer has Hives/ entries but is linted as a base layer');
      // The rule export applies too (it refuses to write a base layer without them).
      const missing = missingBaseHives((h) => this.#hives.has(upcase(h)));
      for (const h of BASE_HIVES) {
        const r = this.#hives.get(upcase(h));
        if (missing.includes(h))
          this.#add('base-hive-missing', 'not in the layer: a base layer needs all five hives', h);
        else if (r?.problem !== undefined) this.#add('base-hive-invalid', r.problem, r.path);
      }
      if (this.#sawUvmFiles) {
        if (this.#bcd === undefined) this.#add('bcd-invalid', `UtilityVM/Files has no ${BCD_PATH}`, BCD_PATH);
        else if (this.#bcd.problem !== undefined) this.#add('bcd-invalid', this.#bcd.problem, this.#bcd.path);
      }
    } else {
      for (const w of this.#whiteouts) {
        if (w.kind === 'opaqueWhiteout') this.#add('opaque-whiteout', `would empty ${w.directory}`, w.path);
      }
      for (const f of this.#hivesEntries) this.#add(f.rule, f.message, f.path);
    }
    for (const { target, link } of this.#pendingLinks.values()) {
      if (base) this.#add('hardlink-target-missing', `the target ${target} is not in the layer`, link);
      else this.#add('hardlink-target-in-parent', `the target ${target} is not in this layer`, link);
    }
    return makeReport(this.#findings, this.#count, base);
  }
}

function findPax(pax: readonly PaxRecord[], key: string): string | undefined {
  let v: string | undefined;
  for (const r of pax) if (r.key === key) v = r.value; // the last one wins, as POSIX says
  return v;
}

/** `secs.fraction` whose fraction has fewer than 9 digits and ends in 0: what `"%d.%d"` of nanoseconds gives. */
export function looksUnpadded(paxTime: string): boolean {
  const m = /^-?\d+\.(\d+)$/.exec(paxTime);
  return m !== null && m[1]!.length < 9 && m[1]!.endsWith('0');
}

function layerTop(upper: string): string {
  return upper === 'FILES' ? 'Files' : upper === 'HIVES' ? 'Hives' : 'UtilityVM';
}
