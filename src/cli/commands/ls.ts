/** `winlayer ls <source>`: one line (or one NDJSON object) per layer entry, with its Windows metadata. */

import { WinlayerError } from '../../errors.js';
import {
  deltaEntryLines,
  entryJson,
  entryLine,
  flattenSource,
  type InspectSource,
  longLines,
  openInspectSource,
  type PictureResult,
  writeSourcePicture,
} from '../../inspect/index.js';
import { escapeControls } from '../../terminal-text.js';
import { defineCommand, writeJsonLine } from '../command.js';
import { JSON_OPTION, platformOption, QUIET_OPTION, REGISTRY_OPTIONS } from '../options.js';
import { openRegistries, type RegistryFlags, registryFlags, registryNamed } from '../registries.js';
import { counted } from '../words.js';

interface LsOptions {
  readonly source: string;
  readonly platform?: string;
  readonly flatten: boolean;
  readonly html?: string;
  readonly json: boolean;
  readonly long: boolean;
  readonly access: RegistryFlags;
}

export const command = defineCommand({
  name: 'ls',
  usage: ['[--json] [--long] [--flatten] [--platform P] <source>', '--html <file> [--flatten] [--platform P] <source>'],
  about: [
    'Lists the entries of a Windows layer, one line each: kind, size, attributes, last write time (UTC, 100 ns),',
    'path, and "-> target" for links. Images are listed layer by layer, each after a header line.',
    '',
    'Sources: layer:FILE or a tar (plain, gzip, zstd), dir:DIR or a layer folder, oci:DIR[:TAG],',
    'docker-archive:FILE[:TAG], docker://REF, or - (a layer tar on standard input).',
  ],
  options: [
    {
      ...JSON_OPTION,
      help: [
        'one JSON object per entry (NDJSON), always: kind, path, size, linkTarget, attributes (number)',
        'and attributeNames, times as ISO 8601 strings with 7 fraction digits (creationTime,',
        'lastWriteTime, lastAccessTime, changeTime; absent when the source has none),',
        'securityDescriptor (base64) and sddl, extendedAttributes (base64 values), extraPax, raw (the',
        'header as stored); for images also layer (1-based).',
      ],
    },
    {
      name: 'long',
      short: 'l',
      type: 'boolean',
      help: [
        'under each entry: its security descriptor as SDDL, EAs, creation/access/change times',
        '(alternate data streams are listed as entries of their own, file:stream); under a',
        'Hives/*_Delta, the registry changes it makes (- deleted, + created or set, = replaced)',
      ],
    },
    {
      name: 'flatten',
      type: 'boolean',
      help: "apply an image's layers first (whiteouts, overrides) and list the result as one layer",
    },
    platformOption('for an index: the image to read (windows/amd64[:os.version])'),
    {
      name: 'html',
      type: 'string',
      arg: 'FILE',
      help: [
        'write one self-contained HTML page instead: a size treemap (folders by size, hard links',
        'counted once), the biggest files and the distinct security descriptors as SDDL',
      ],
    },
    ...REGISTRY_OPTIONS,
    // a docker:// source draws a transfer line on a terminal
    QUIET_OPTION,
  ],
  notes: [
    'Exit status: 0 ok, 1 the source is malformed, 2 usage or the source cannot be opened or is not a tar.',
    'Names are printed with control characters escaped (\\x1b, \\r, \\n); --json gives them exact.',
  ],
  parse(args): LsOptions {
    if (args.positionals.length !== 1) {
      throw new WinlayerError('USAGE', `expected one source, got ${args.positionals.length} arguments`, {
        hint: 'winlayer ls examples/layer.tar',
      });
    }
    const platform = args.string('platform');
    const html = args.string('html');
    return {
      source: args.positionals[0]!,
      ...(platform === undefined ? {} : { platform }),
      flatten: args.flag('flatten'),
      ...(html === undefined ? {} : { html }),
      json: args.flag('json'),
      long: args.flag('long'),
      access: registryFlags(args),
    };
  },
  /** Opens the source; with `--html`, writes the picture. The listing itself streams in `render`. */
  async run(opts, session): Promise<InspectSource | PictureResult> {
    const registries = openRegistries(session, opts.access, registryNamed(opts.source));
    let src = await openInspectSource(opts.source, {
      stdin: session.io.stdin,
      registries,
      ...(opts.platform === undefined ? {} : { platform: opts.platform }),
    });
    if (opts.flatten) src = flattenSource(src);
    return opts.html === undefined ? src : writeSourcePicture(src, opts.html);
  },
  async render(src, opts, io) {
    if (isPicture(src)) {
      io.stdout.write(
        `wrote ${escapeControls(src.path)} (${counted(src.layers, 'layer')}, ${counted(src.entries, 'entry', 'entries')})\n`,
      );
      return;
    }
    const image = src.layers.length > 1 || src.kind === 'image';
    for (const [i, layer] of src.layers.entries()) {
      if (image && !opts.json) {
        io.stdout.write(
          `${i > 0 ? '\n' : ''}== ${escapeControls(layer.title)}${layer.base === true ? ' (base)' : ''}\n`,
        );
      }
      for await (const e of layer.open()) {
        if (opts.json) {
          writeJsonLine(io.stdout, image ? { layer: i + 1, ...entryJson(e) } : entryJson(e));
          continue;
        }
        io.stdout.write(`${entryLine(e)}\n`);
        if (opts.long) {
          for (const l of longLines(e)) io.stdout.write(`${l}\n`);
          // a layer's Hives/*_Delta: the registry changes it makes, not only its bytes
          for (const l of await deltaEntryLines(e)) io.stdout.write(`${l}\n`);
        }
      }
    }
  },
});

function isPicture(r: InspectSource | PictureResult): r is PictureResult {
  return typeof r.layers === 'number';
}
