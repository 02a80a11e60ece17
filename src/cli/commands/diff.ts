/** `winlayer diff <a> <b> [--json]`: semantic, order-insensitive comparison of two layers or images. */
import { WinlayerError } from '../../errors.js';
import {
  diffSources,
  flattenSource,
  openInspectSource,
  renderSourceDiff,
  type SourceDiff,
} from '../../inspect/index.js';
import { defineCommand, writeJsonLine } from '../command.js';
import { JSON_OPTION, platformOption, QUIET_OPTION, REGISTRY_OPTIONS } from '../options.js';
import { openRegistries, type RegistryFlags, registryFlags, registryNamed } from '../registries.js';

interface DiffOptions {
  readonly a: string;
  readonly b: string;
  readonly flatten: boolean;
  readonly platform?: string;
  readonly json: boolean;
  readonly access: RegistryFlags;
}

export const command = defineCommand({
  name: 'diff',
  usage: ['<a> <b> [--json] [--flatten] [--platform P]'],
  about: [
    'Compares what Windows would see: names added and removed, and for common names each field that differs —',
    'content digest, size, attributes (by name), security descriptor (as SDDL), the four times at 100 ns, link',
    'targets; hard-link groups are compared as groups. Entry order, modes, uid/gid, PAX spelling, ./ and trailing /',
    'are noise: shown apart, never a difference. Images are compared layer by layer. A Hives/*_Delta (registry',
    'changes) that differs is also shown as the registry changes only one side makes (~ registry, a: / b: lines).',
    '',
    'Sources: layer:FILE or a tar (plain, gzip, zstd), dir:DIR or a layer folder, oci:DIR[:TAG],',
    'docker-archive:FILE, docker://REF.',
  ],
  options: [
    JSON_OPTION,
    {
      name: 'flatten',
      type: 'boolean',
      help: "apply each image's layers first and compare the results as single layers",
    },
    platformOption('for an index: the image to read (windows/amd64[:os.version])'),
    ...REGISTRY_OPTIONS,
    // a docker:// source draws a transfer line on a terminal
    QUIET_OPTION,
  ],
  notes: [
    'Exit status: 0 equal (order-only differences included), 1 different, 2 usage or an input that cannot be read.',
  ],
  // diff(1): trouble reading an input is exit 2, never "different".
  troubleIsUsage: true,
  parse(args): DiffOptions {
    if (args.positionals.length !== 2) {
      throw new WinlayerError('USAGE', `expected two sources, got ${args.positionals.length}`, {
        hint: 'winlayer diff a.tar b.tar',
      });
    }
    const platform = args.string('platform');
    return {
      a: args.positionals[0]!,
      b: args.positionals[1]!,
      flatten: args.flag('flatten'),
      ...(platform === undefined ? {} : { platform }),
      json: args.flag('json'),
      access: registryFlags(args),
    };
  },
  async run(opts, session): Promise<SourceDiff> {
    const registries = openRegistries(session, opts.access, registryNamed(opts.a, opts.b));
    const open = {
      stdin: session.io.stdin,
      registries,
      ...(opts.platform === undefined ? {} : { platform: opts.platform }),
    };
    let a = await openInspectSource(opts.a, open);
    let b = await openInspectSource(opts.b, open);
    if (opts.flatten) {
      a = flattenSource(a);
      b = flattenSource(b);
    }
    return diffSources(a, b);
  },
  render(result, opts, io) {
    if (opts.json) writeJsonLine(io.stdout, result);
    else io.stdout.write(`${renderSourceDiff(result).join('\n')}\n`);
  },
  status: (result) => (result.equal ? 0 : 1),
});
