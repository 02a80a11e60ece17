/** `winlayer hive dump`: every key and value of a hive, as text, NDJSON or `.reg`. */
import { WinlayerError } from '../../errors.js';
import {
  children,
  describeLayer,
  type Hive,
  type HiveKey,
  type HiveValue,
  isTombstoneValue,
  keyClass,
  keyLayer,
  keyName,
  keyPath,
  keySddl,
  keySecurity,
  keyTimestamp,
  openHive,
  REG,
  toRegFile,
  toRegText,
  valueData,
  valueName,
  values,
  valueType,
  walkKeys,
} from '../../hive/index.js';
import { escapeControls } from '../../terminal-text.js';
import { type Command, type CommandContext, flagOpt, stringOpt, writeJsonLine } from '../command.js';
import { findingLine } from './hive-finding-line.js';
import { readInput } from './hive-read-file.js';

/** `REG_SZ`, `REG_DWORD`… by type number, from the hive module's `REG`. */
const TYPE_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(REG).map(([name, type]) => [type, `REG_${name}`]),
);

/** The key's SDDL when it has one (an SD with an ACE type SDDL cannot name has none). */
function sddlOf(k: HiveKey): { sddl?: string } {
  try {
    return { sddl: keySddl(k) };
  } catch {
    return {};
  }
}

/** A differencing hive's key layer for `--json` (`layer: { semantics, inheritClass }`); nothing in an ordinary hive. */
function layerOf(k: HiveKey): { layer?: { semantics: string; inheritClass: boolean } } {
  const layer = keyLayer(k);
  return layer === undefined ? {} : { layer: { semantics: layer.semantics, inheritClass: layer.inheritClass } };
}

function typeName(t: number): string {
  return TYPE_NAMES[t] ?? `0x${t.toString(16)}`;
}

function render(v: HiveValue): string {
  const d = valueData(v);
  const t = valueType(v);
  const view = new DataView(d.buffer, d.byteOffset, d.byteLength);
  if ((t === 1 || t === 2 || t === 6) && d.length % 2 === 0)
    return JSON.stringify(Buffer.from(d).toString('utf16le').replace(/\0+$/, ''));
  if (t === 7 && d.length % 2 === 0)
    return JSON.stringify(Buffer.from(d).toString('utf16le').replace(/\0+$/, '').split('\0'));
  if (t === 4 && d.length === 4) return `0x${view.getUint32(0, true).toString(16).padStart(8, '0')}`;
  if (t === 5 && d.length === 4) return `0x${view.getUint32(0, false).toString(16).padStart(8, '0')}`;
  if (t === 11 && d.length === 8) return `0x${view.getBigUint64(0, true).toString(16).padStart(16, '0')}`;
  return `hex:${Buffer.from(d).toString('hex')}`;
}

/**
 * Opens the hive to dump. `--strict`: the first error (or a dirty hive) is refused. Otherwise each error is a warning
 * on stderr and the hive is read as far as it can be walked.
 */
function openForDump(ctx: CommandContext, file: string): Hive {
  const bytes = readInput(file);
  if (!flagOpt(ctx, 'strict')) {
    return openHive(bytes, {
      path: file,
      onError: (f) => ctx.stderr.write(`winlayer hive dump: ${escapeControls(file)}: warning: ${findingLine(f)}\n`),
    });
  }
  const hive = openHive(bytes, { path: file });
  if (hive.dirty) {
    throw new WinlayerError('HIVE_DIRTY', 'the hive needs transaction logs that are not here (--strict)', {
      path: file,
    });
  }
  return hive;
}

export const command: Command = {
  name: 'hive dump',
  help: [
    'Usage: winlayer hive dump <file> [--json|--reg] [--prefix PREFIX] [--strict]',
    '',
    'Prints every key and value of a registry hive, in hive order.',
    "A differencing hive (a layer's Hives/*_Delta, version 1.6 with layered keys) shows what each key does to the",
    'hive below: "(merge)", "(tombstone)" (deleted with its subtree), "(supersede-local)", "(supersede-tree)" (replaced',
    'with its subtree), ", inherits class"; a deleted value shows as "tombstone". --json adds "layer" to such keys and',
    '"tombstone": true to such values; --reg writes the .reg that makes the same change ([-KEY] for a deleted key,',
    '"name"=- for a deleted value, [-KEY] then [KEY] for a replaced subtree, [KEY] for a merge).',
    'A hive with errors (see `winlayer hive check`) is read as far as its structure can be walked, with one warning',
    'per error on stderr; what is itself broken (a key, a value) is left out. Names are shown with control characters',
    'escaped (\\n, \\x1b, \\u202e; see docs/hive-findings.md).',
    '',
    'Options:',
    '  --json           one JSON object per key (NDJSON): path, timestamp, class, security (base64) and sddl, values (data base64)',
    '  --reg            the hive as a .reg file (UTF-16LE with BOM, as regedit exports; UTF-8 to a terminal); what .reg',
    '                   cannot carry (classes, security descriptors, key times, flags) is named in a comment; names with',
    '                   control characters are escaped so that hive new and hive merge read them back (src/hive/README.md)',
    '  --prefix PREFIX  key path the root stands for (default: the root key name)',
    '  --strict         refuse a hive with errors (a dirty one included) instead of reading what can be read',
  ].join('\n'),
  options: {
    json: { type: 'boolean' },
    reg: { type: 'boolean' },
    prefix: { type: 'string' },
    strict: { type: 'boolean' },
  },
  async run(ctx) {
    const [file, ...extra] = ctx.positionals;
    if (file === undefined || extra.length > 0) throw new WinlayerError('USAGE', 'expected exactly one <file>');
    if (flagOpt(ctx, 'json') && flagOpt(ctx, 'reg'))
      throw new WinlayerError('USAGE', '--json and --reg exclude each other');
    const hive = openForDump(ctx, file);
    const prefix = stringOpt(ctx, 'prefix');
    if (flagOpt(ctx, 'reg')) {
      const opts = prefix === undefined ? {} : { prefix };
      // a terminal shows UTF-8; a file or pipe gets what regedit writes
      ctx.stdout.write(ctx.stdout.isTTY === true ? toRegText(hive, opts) : toRegFile(hive, opts));
      return 0;
    }
    for (const k of walkKeys(hive)) {
      const path = keyPath(k);
      const shown = prefix === undefined ? `\\${path}` : path === '' ? prefix : `${prefix}\\${path}`;
      if (flagOpt(ctx, 'json')) {
        const cls = keyClass(k);
        writeJsonLine(ctx.stdout, {
          path: shown,
          name: keyName(k),
          timestamp: keyTimestamp(k),
          ...(cls === undefined ? {} : { class: cls }),
          security: keySecurity(k),
          ...sddlOf(k),
          ...layerOf(k),
          subkeys: children(k).length,
          values: values(k).map((v) => ({
            name: valueName(v),
            type: valueType(v),
            data: valueData(v),
            ...(isTombstoneValue(v) ? { tombstone: true } : {}),
          })),
        });
        continue;
      }
      const layer = keyLayer(k);
      ctx.stdout.write(`[${escapeControls(shown)}]${layer === undefined ? '' : ` (${describeLayer(layer)})`}\n`);
      for (const v of values(k)) {
        const n = valueName(v);
        const shownValue = isTombstoneValue(v) ? 'tombstone' : `${typeName(valueType(v))} ${render(v)}`;
        const line = `  ${n === '' ? '@' : JSON.stringify(n)} ${shownValue}`;
        // JSON escapes C0 controls but not DEL, C1 controls or bidi controls: escape what is left
        ctx.stdout.write(`${escapeControls(line)}\n`);
      }
    }
    return 0;
  },
};
