/** `winlayer ls <source>`: one line (or one NDJSON object) per layer entry, with its Windows metadata. */
import type { LayerEntry } from '../../entry.js';
import { WinlayerError } from '../../errors.js';
import { deltaEntryLines } from '../../inspect/hive-changes.js';
import {
  flattenSource,
  type InspectSource,
  longLines,
  openInspectSource,
  writeSourcePicture,
} from '../../inspect/index.js';
import { escapeControls } from '../../terminal-text.js';
import { attributeNames, bytesToSddl, formatIso7, type UnixNanos } from '../../windows/index.js';
import { type Command, type CommandContext, flagOpt, stringOpt, writeJsonLine } from '../command.js';
import { registriesFor, registryOf } from './image-shared.js';

export const command: Command = {
  name: 'ls',
  help: [
    'Usage: winlayer ls [--json] [--long] [--flatten] [--platform P] <source>',
    '       winlayer ls --html <file> [--flatten] [--platform P] <source>',
    '',
    'Lists the entries of a Windows layer, one line each: kind, size, attributes, last write time (UTC, 100 ns),',
    'path, and "-> target" for links. Images are listed layer by layer, each after a header line.',
    '',
    'Sources: layer:FILE or a tar (plain, gzip, zstd), dir:DIR or a layer folder, oci:DIR[:TAG],',
    'docker-archive:FILE[:TAG], docker://REF, or - (a layer tar on standard input).',
    '',
    'Options:',
    '  --json         one JSON object per entry (NDJSON), always: kind, path, size, linkTarget, attributes (number)',
    '                 and attributeNames, times as ISO 8601 strings with 7 fraction digits (creationTime,',
    '                 lastWriteTime, lastAccessTime, changeTime; absent when the source has none),',
    '                 securityDescriptor (base64) and sddl, extendedAttributes (base64 values), extraPax, raw (the',
    '                 header as stored); for images also layer (1-based).',
    '  --long         under each entry: its security descriptor as SDDL, EAs, creation/access/change times',
    '                 (alternate data streams are listed as entries of their own, file:stream); under a',
    '                 Hives/*_Delta, the registry changes it makes (- deleted, + created or set, = replaced)',
    "  --flatten      apply an image's layers first (whiteouts, overrides) and list the result as one layer",
    '  --platform P   for an index: the image to read (windows/amd64[:os.version])',
    '  --html FILE    write one self-contained HTML page instead: a size treemap (folders by size, hard links',
    '                 counted once), the biggest files and the distinct security descriptors as SDDL',
    '  --insecure     allow plain HTTP (and unverified TLS) to the registry of a docker:// source, no other',
    '  --ca-file FILE trust this PEM CA beside the system roots (repeatable)',
    '',
    'Exit status: 0 ok, 1 the source is malformed, 2 usage or the source cannot be opened or is not a tar.',
    'Names are printed with control characters escaped (\\x1b, \\r, \\n); --json gives them exact.',
  ].join('\n'),
  options: {
    json: { type: 'boolean' },
    long: { type: 'boolean', short: 'l' },
    flatten: { type: 'boolean' },
    platform: { type: 'string' },
    html: { type: 'string' },
    insecure: { type: 'boolean' },
    'ca-file': { type: 'string', multiple: true },
  },
  async run(ctx: CommandContext) {
    if (ctx.positionals.length !== 1) {
      throw new WinlayerError('USAGE', `expected one source, got ${ctx.positionals.length} arguments`, {
        hint: 'winlayer ls examples/layer.tar',
      });
    }
    const platform = stringOpt(ctx, 'platform');
    const registries = registriesFor(ctx, registryOf(ctx.positionals[0]));
    try {
      let src = await openInspectSource(ctx.positionals[0]!, {
        stdin: ctx.stdin,
        registries,
        ...(platform === undefined ? {} : { platform }),
      });
      if (flagOpt(ctx, 'flatten')) src = flattenSource(src);
      return await list(ctx, src);
    } finally {
      registries.close();
    }
  },
};

/** Lists (or, with --html, pictures) an opened source. */
async function list(ctx: CommandContext, src: InspectSource): Promise<number> {
  const html = stringOpt(ctx, 'html');
  if (html !== undefined) {
    await writeSourcePicture(src, html);
    return 0;
  }
  const json = flagOpt(ctx, 'json');
  const long = flagOpt(ctx, 'long');
  const image = src.layers.length > 1 || src.kind === 'image';
  for (const [i, layer] of src.layers.entries()) {
    if (image && !json) {
      ctx.stdout.write(
        `${i > 0 ? '\n' : ''}== ${escapeControls(layer.title)}${layer.base === true ? ' (base)' : ''}\n`,
      );
    }
    for await (const e of layer.open()) {
      if (json) {
        writeJsonLine(ctx.stdout, image ? { layer: i + 1, ...entryJson(e) } : entryJson(e));
      } else {
        ctx.stdout.write(`${entryLine(e)}\n`);
        if (long) for (const l of longLines(e)) ctx.stdout.write(`${l}\n`);
        // a layer's Hives/*_Delta: the registry changes it makes, not only its bytes
        if (long) for (const l of await deltaEntryLines(e)) ctx.stdout.write(`${l}\n`);
      }
    }
  }
  return 0;
}

function sizeOf(e: LayerEntry): number {
  return e.kind === 'file' || e.kind === 'stream' ? e.size : 0;
}

function attrs(e: LayerEntry): string {
  const a = e.win.attributes;
  if (a === undefined) return '-';
  const names = attributeNames(a);
  return names.length === 0 ? '0' : names.join(',');
}

function target(e: LayerEntry): string {
  switch (e.kind) {
    case 'hardlink':
    case 'symlink':
      return ` -> ${e.linkTarget}`;
    case 'special':
      return ` (${e.description})`;
    default:
      return '';
  }
}

/**
 * `kind  size  attributes  mtime  path [-> target]`, fixed-width columns (the listing streams). The path and target
 * come from the archive: their control characters are escaped.
 */
export function entryLine(e: LayerEntry): string {
  return [
    e.kind.padEnd(14),
    String(sizeOf(e)).padStart(12),
    attrs(e).padEnd(24),
    formatIso7(e.win.lastWriteTime),
    escapeControls(`${e.path}${target(e)}`),
  ].join(' ');
}

function iso(t: UnixNanos | undefined): string | undefined {
  return t === undefined ? undefined : formatIso7(t);
}

function sddl(sd: Uint8Array | undefined): string | undefined {
  if (sd === undefined) return undefined;
  try {
    return bytesToSddl(sd);
  } catch {
    return undefined;
  }
}

/** The `--json` object of an entry: times as ISO 8601 (7 fraction digits), bytes as base64. */
export function entryJson(e: LayerEntry): Record<string, unknown> {
  const w = e.win;
  const { body: _body, win: _win, raw, extraPax, kind, path, ...rest } = e as LayerEntry & { body?: unknown };
  return {
    kind,
    path,
    ...rest,
    ...(e.kind === 'file' || e.kind === 'stream' ? {} : { size: 0 }),
    attributes: w.attributes,
    attributeNames: w.attributes === undefined ? undefined : attributeNames(w.attributes),
    creationTime: iso(w.creationTime),
    lastWriteTime: iso(w.lastWriteTime),
    lastAccessTime: iso(w.lastAccessTime),
    changeTime: iso(w.changeTime),
    mountPoint: w.mountPoint,
    securityDescriptor: w.securityDescriptor,
    sddl: sddl(w.securityDescriptor),
    extendedAttributes: w.extendedAttributes,
    extraPax,
    raw,
  };
}
