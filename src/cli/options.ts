/**
 * The command line's options, declared once: each option is one `OptionDef` (its flag, its argument and its help
 * text), grouped where several commands share them (`--json`, `-q`, the registry flags, `--base`/`--non-base`…). The
 * parser (`node:util` parseArgs) and the help renderer both read these definitions, so a flag and its help cannot
 * drift apart. The checks that span several flags (`--base` with `--non-base`, the `--symlinks` words) live here
 * too, once.
 */
import { lstatSync } from 'node:fs';
import type { ParseArgsConfig } from 'node:util';
import { WinlayerError } from '../errors.js';
import type { SdPreset } from '../layer/index.js';

/** One option: how it is parsed and how `--help` shows it. */
export interface OptionDef {
  /** The long name, without `--`. */
  readonly name: string;
  readonly short?: string;
  /** A flag (`boolean`) or an option with a value (`string`). */
  readonly type: 'boolean' | 'string';
  /** Repeatable: the values are collected in order. */
  readonly multiple?: boolean;
  /** The value's placeholder in help (`FILE`, `P`); string options only. */
  readonly arg?: string;
  /** Help text: one line, or several (wrapped by hand, as the help shows them). */
  readonly help: string | readonly string[];
}

/** The parsed command line of one command: typed accessors over parseArgs' result. */
export class Args {
  constructor(
    readonly values: Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>,
    readonly positionals: readonly string[],
  ) {}

  /** A string option's value, or undefined. */
  string(name: string): string | undefined {
    const v = this.values[name];
    return typeof v === 'string' ? v : undefined;
  }

  /** A repeatable string option's values, in order. */
  strings(name: string): string[] {
    const v = this.values[name];
    if (v === undefined) return [];
    return (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string');
  }

  flag(name: string): boolean {
    return this.values[name] === true;
  }

  /** The positionals, refused with `USAGE` unless there are exactly `n` (`what` names them: "one layer folder"). */
  exactly(n: number, what: string): readonly string[] {
    if (this.positionals.length !== n) {
      throw new WinlayerError('USAGE', `expected ${what}, got ${this.positionals.length} arguments`);
    }
    return this.positionals;
  }

  /** A string option the command cannot do without (`-o`), refused with `USAGE` when absent. */
  required(name: string): string {
    const v = this.string(name);
    if (v === undefined) throw new WinlayerError('USAGE', `--${name} is required`);
    return v;
  }
}

/** parseArgs' option table for a list of definitions. */
export function parseConfig(defs: readonly OptionDef[]): NonNullable<ParseArgsConfig['options']> {
  const out: NonNullable<ParseArgsConfig['options']> = {};
  for (const d of defs) {
    out[d.name] = {
      type: d.type,
      ...(d.short === undefined ? {} : { short: d.short }),
      ...(d.multiple === true ? { multiple: true } : {}),
    };
  }
  return out;
}

/** The help column: the labels of the options, their text aligned after the widest label (up to a limit). */
export function renderOptions(defs: readonly OptionDef[]): string[] {
  const label = (d: OptionDef): string =>
    `${d.short === undefined ? '    ' : `-${d.short}, `}--${d.name}${d.type === 'string' ? ` ${d.arg ?? 'VALUE'}` : ''}`;
  const width = Math.min(24, Math.max(...defs.map((d) => label(d).length)));
  const lines: string[] = [];
  for (const d of defs) {
    const text = typeof d.help === 'string' ? [d.help] : d.help;
    const l = label(d);
    const pad = ' '.repeat(width + 4);
    if (l.length > width) {
      lines.push(`  ${l}`);
      for (const t of text) lines.push(`${pad}${t}`);
    } else {
      lines.push(`  ${l.padEnd(width)}  ${text[0] ?? ''}`);
      for (const t of text.slice(1)) lines.push(`${pad}${t}`);
    }
  }
  return lines;
}

// ---- the groups -------------------------------------------------------------------------------------------------

/** `--json`: print the library's result object as it is, as one line of JSON. */
export const JSON_OPTION: OptionDef = { name: 'json', type: 'boolean', help: 'print the result as one JSON object' };

/** `-q, --quiet`: the same on every command that shows progress. */
export const QUIET_OPTION: OptionDef = {
  name: 'quiet',
  short: 'q',
  type: 'boolean',
  help: 'no progress line (progress is shown on a terminal only); the summary still prints',
};

/**
 * `--reg FILE.reg` (repeatable): the one way every command names a `.reg` input. `what` says what the changes are
 * for; the format and the order are the same everywhere.
 */
export function regOption(what: string, more: readonly string[] = []): OptionDef {
  return {
    name: 'reg',
    type: 'string',
    multiple: true,
    arg: 'FILE.reg',
    help: [`${what} in regedit format (UTF-16LE, UTF-8 or REGEDIT4);`, 'repeat for more, applied in order', ...more],
  };
}

/** `--insecure`, `--ca-file`: how to reach the registry a command names. */
export const REGISTRY_OPTIONS: readonly OptionDef[] = [
  {
    name: 'insecure',
    type: 'boolean',
    help: [
      'allow plain HTTP (and unverified TLS) to the registry this command names',
      '(the first one named), no other',
    ],
  },
  {
    name: 'ca-file',
    type: 'string',
    multiple: true,
    arg: 'FILE',
    help: 'trust this PEM CA beside the system roots (repeatable)',
  },
];

/** `--base`, `--non-base`: the layer kind; read it with `layerKind`. */
export const KIND_OPTIONS: readonly OptionDef[] = [
  { name: 'base', type: 'boolean', help: 'a base layer (it needs its registry hives; no whiteouts, no Hives/)' },
  { name: 'non-base', type: 'boolean', help: 'a non-base layer (it goes on a parent: Hives/ deltas and whiteouts)' },
];

/** The layer kind of `--base`/`--non-base`; undefined when neither is given. Both at once is a usage error. */
export function layerKind(args: Args): 'base' | 'non-base' | undefined {
  if (args.flag('base') && args.flag('non-base')) {
    throw new WinlayerError('USAGE', '--base and --non-base exclude each other');
  }
  return args.flag('base') ? 'base' : args.flag('non-base') ? 'non-base' : undefined;
}

/** `--platform P` with the command's own words. */
export function platformOption(help: string | readonly string[]): OptionDef {
  return { name: 'platform', type: 'string', arg: 'P', help };
}

/** `-o, --output ARG` with the command's own words. */
export function outputOption(arg: string, help: string | readonly string[]): OptionDef {
  return { name: 'output', short: 'o', type: 'string', arg, help };
}

/** `--force` of the commands that write an image to a destination (`-o`). */
export const IMAGE_FORCE_OPTION: OptionDef = {
  name: 'force',
  type: 'boolean',
  help: 'replace an existing docker-archive file (it holds one image, so that image is lost)',
};

/** What `-o` does to what is there already; printed by every command that writes an image. */
export const DESTINATION_NOTES: readonly string[] = [
  'An existing OCI layout is added to, as skopeo does with oci:DIR[:TAG]: the tag moves to the new image, other',
  'images and their blobs stay (an untagged image is added untagged; name it oci:DIR@DIGEST, as printed). An',
  'existing docker archive is refused unless --force; any other existing file or non-empty folder is refused.',
];

/** `--sd`: the security descriptor preset of entries without metadata of their own. */
export const SD_OPTION: OptionDef = {
  name: 'sd',
  type: 'string',
  arg: 'PRESET',
  help: 'security descriptors of new entries: users (default), admins or none',
};

/** `--symlinks`: read it with `symlinkMode`. */
export const SYMLINKS_OPTION: OptionDef = {
  name: 'symlinks',
  type: 'string',
  arg: 'MODE',
  help: 'error (default) or skip: leave out symlinks whose targets are absolute or leave the layer',
};

/** The `--symlinks` word, checked here once; undefined when not given. */
export function symlinkMode(args: Args): 'error' | 'skip' | undefined {
  const s = args.string('symlinks');
  if (s !== undefined && s !== 'skip' && s !== 'error') {
    throw new WinlayerError('USAGE', `--symlinks must be "skip" or "error", not "${s}"`);
  }
  return s;
}

/** `--sd`, `--symlinks`, `--zstd`, `--tag` of the commands that build image layers. */
export const BUILD_OPTIONS: readonly OptionDef[] = [
  SD_OPTION,
  SYMLINKS_OPTION,
  {
    name: 'zstd',
    type: 'boolean',
    help: 'compress the layer with zstd (default gzip, which every Windows runtime reads)',
  },
  {
    name: 'tag',
    type: 'string',
    arg: 'NAME',
    help: 'tag recorded at the destination (layout ref.name, archive RepoTags)',
  },
];

/** The policy options from `--sd` / `--symlinks`. */
export function buildPolicy(args: Args): { sd?: SdPreset; symlinks?: 'error' | 'skip' } {
  const sd = args.string('sd');
  const symlinks = symlinkMode(args);
  return { ...(sd === undefined ? {} : { sd: sd as SdPreset }), ...(symlinks === undefined ? {} : { symlinks }) };
}

/** `K=V` strings → a map (`--label`). */
export function parseLabels(items: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const i = item.indexOf('=');
    if (i <= 0) throw new WinlayerError('USAGE', `--label ${JSON.stringify(item)} is not KEY=VALUE`);
    out[item.slice(0, i)] = item.slice(i + 1);
  }
  return out;
}

/** `--force` of the commands that write one hive file (`hive new`, `hive delta`, `hive apply`). */
export const HIVE_FORCE_OPTION: OptionDef = { name: 'force', type: 'boolean', help: 'replace an existing file' };

/**
 * The rule of those commands: an existing file (or a link) at `file` is refused unless `force`, so a hive is never
 * replaced by mistake; a folder is left to the atomic writer, which refuses it by name.
 */
export function refuseExistingHive(file: string, force: boolean): void {
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(file);
  } catch {
    return; // nothing there
  }
  if ((st.isFile() || st.isSymbolicLink()) && !force) {
    throw new WinlayerError('HIVE_EXISTS', 'the file exists already', {
      path: file,
      hint: 'pass --force to replace it, or `winlayer hive merge` to change the hive it holds',
    });
  }
}
