/** `winlayer image append <base> [<layer-source>] [--reg FILE…] -o <dest>`: one new layer on a Windows image. */
import { WinlayerError } from '../../errors.js';
import {
  type AppendImageOptions,
  appendImage,
  type BuildResult,
  openImage,
  parseDestination,
} from '../../oci/index.js';
import { defineCommand } from '../command.js';
import { sourceDateEpochOption } from '../epoch.js';
import {
  BUILD_OPTIONS,
  buildPolicy,
  DESTINATION_NOTES,
  IMAGE_FORCE_OPTION,
  JSON_OPTION,
  outputOption,
  platformOption,
  QUIET_OPTION,
  REGISTRY_OPTIONS,
  regOption,
} from '../options.js';
import { openRegistries, type RegistryFlags, registryFlags, registryNamed } from '../registries.js';
import { DESTINATIONS_HELP, renderWritten } from './image-shared.js';

interface AppendOptions {
  readonly base: string;
  readonly layer: string | undefined;
  readonly output: string;
  readonly library: Omit<AppendImageOptions, 'registries'>;
  readonly access: RegistryFlags;
  readonly json: boolean;
}

export const command = defineCommand({
  name: 'image append',
  usage: [
    '<base> <layer-source> -o <dest> [--platform P] [--sd PRESET] [--symlinks skip] [--zstd]',
    '<base> [<layer-source>] --reg FILE.reg [--reg …] [--reg-base HIVE-DIR] -o <dest> […]',
  ],
  about: [
    'Adds one layer on top of a Windows image. <layer-source> is a plain folder or a Linux-style tar (what becomes',
    'files under C:\\), or a Windows layer (a layer folder with Files/, or a layer tar: dir:DIR, layer:FILE) taken',
    'as is. For plain content: names and hard-link targets get Files/ (symlink targets stay as written); a Files and',
    'a Hives folder entry are written, parents first; the --sd preset and deterministic times (SOURCE_DATE_EPOCH)',
    'apply; ./ names are normalised; opaque whiteouts are refused (Windows has none); absolute symlink targets are',
    'refused unless --symlinks skip. The base layers are not rewritten (same digests); pushing onto the registry the',
    'base came from never downloads them.',
    '',
    'With --reg, the layer also carries the registry changes of .reg files as differencing hives, all five',
    'Hives/*_Delta (an unchanged hive as an empty one), as Windows writes them; <layer-source> may then be left out',
    '(a layer of registry changes only). docs/registry-changes.md says what is written and what is proven (not yet',
    'tried on a Windows host). `winlayer hive delta` writes one such hive; `winlayer image squash` merges them.',
  ],
  options: [
    outputOption('DEST', DESTINATIONS_HELP),
    platformOption('which image of a base index'),
    regOption('registry changes'),
    {
      name: 'reg-base',
      type: 'string',
      arg: 'HIVE-DIR',
      help: [
        'the five base hives the changes apply to (SYSTEM, SOFTWARE, SAM, SECURITY, DEFAULT, or a base',
        'layer folder): new keys are written as Windows writes them, each key carries the descriptor',
        'of the same key there, and CurrentControlSet is the set SYSTEM selects; without it, nothing is',
        "downloaded and keys carry each hive's default descriptor",
      ],
    },
    ...BUILD_OPTIONS,
    IMAGE_FORCE_OPTION,
    ...REGISTRY_OPTIONS,
    QUIET_OPTION,
    JSON_OPTION,
  ],
  notes: DESTINATION_NOTES,
  parse(args, io): AppendOptions {
    const reg = args.strings('reg');
    const regBase = args.string('reg-base');
    const [base, layer] =
      reg.length > 0 && args.positionals.length === 1
        ? [args.positionals[0]!, undefined]
        : args.exactly(2, reg.length > 0 ? '<base> [<layer-source>]' : '<base> and <layer-source>');
    if (regBase !== undefined && reg.length === 0) {
      throw new WinlayerError('USAGE', '--reg-base needs --reg: it is the base of the registry changes');
    }
    const output = args.required('output');
    const platform = args.string('platform');
    const tag = args.string('tag');
    return {
      base: base!,
      layer,
      output,
      library: {
        ...(reg.length === 0 ? {} : { reg }),
        ...(regBase === undefined ? {} : { regBase }),
        ...buildPolicy(args),
        ...sourceDateEpochOption(io),
        compression: args.flag('zstd') ? 'zstd' : 'gzip',
        force: args.flag('force'),
        ...(platform === undefined ? {} : { platform }),
        ...(tag === undefined ? {} : { tag }),
      },
      access: registryFlags(args),
      json: args.flag('json'),
    };
  },
  async run(opts, session): Promise<BuildResult> {
    const registries = openRegistries(session, opts.access, registryNamed(opts.output, opts.base));
    const base = await openImage(opts.base, registries);
    return appendImage(base, opts.layer, parseDestination(opts.output), { ...opts.library, registries });
  },
  render(r, opts, io) {
    renderWritten(io, 'wrote', r, opts.json, [
      ...(r.registryNotes ?? []).map((n) => `note: ${n}`),
      ...r.skipped.map((s) => `skipped ${s.path}: ${s.reason}`),
    ]);
  },
});
