/** `winlayer hive dump`: every key and value of a hive, as text, NDJSON or `.reg`. */
import { WinlayerError } from '../../errors.js';
import {
  children,
  type HiveKey,
  type HiveValue,
  keyClass,
  keyName,
  keyPath,
  keySddl,
  keySecurity,
  keyTimestamp,
  openHive,
  toRegFile,
  valueData,
  valueName,
  values,
  valueType,
  walkKeys,
} from '../../hive/index.js';
import { type Command, flagOpt, stringOpt, writeJsonLine } from '../command.js';
import { readInput } from './hive-read-file.js';

const TYPE_NAMES = [
  'REG_NONE',
  'REG_SZ',
  'REG_EXPAND_SZ',
  'REG_BINARY',
  'REG_DWORD',
  'REG_DWORD_BIG_ENDIAN',
  'REG_LINK',
  'REG_MULTI_SZ',
  'REG_RESOURCE_LIST',
  'REG_FULL_RESOURCE_DESCRIPTOR',
  'REG_RESOURCE_REQUIREMENTS_LIST',
  'REG_QWORD',
];

/** The key's SDDL when it has one (an SD with an ACE type SDDL cannot name has none). */
function sddlOf(k: HiveKey): { sddl?: string } {
  try {
    return { sddl: keySddl(k) };
  } catch {
    return {};
  }
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

export const command: Command = {
  name: 'hive dump',
  help: [
    'Usage: winlayer hive dump <file> [--json|--reg] [--prefix PREFIX]',
    '',
    'Prints every key and value of a registry hive, in hive order.',
    '',
    'Options:',
    '  --json           one JSON object per key (NDJSON): path, timestamp, class, security (base64) and sddl, values (data base64)',
    '  --reg            the hive as a .reg file (UTF-16LE with BOM, exactly as regedit exports)',
    '  --prefix PREFIX  key path the root stands for (default: the root key name)',
  ].join('\n'),
  options: { json: { type: 'boolean' }, reg: { type: 'boolean' }, prefix: { type: 'string' } },
  async run(ctx) {
    const [file, ...extra] = ctx.positionals;
    if (file === undefined || extra.length > 0) throw new WinlayerError('USAGE', 'expected exactly one <file>');
    if (flagOpt(ctx, 'json') && flagOpt(ctx, 'reg'))
      throw new WinlayerError('USAGE', '--json and --reg exclude each other');
    const hive = openHive(readInput(file), { path: file });
    if (hive.dirty)
      ctx.stderr.write(`winlayer hive dump: ${file}: warning: the hive is dirty (needs transaction logs)\n`);
    const prefix = stringOpt(ctx, 'prefix');
    if (flagOpt(ctx, 'reg')) {
      ctx.stdout.write(toRegFile(hive, prefix === undefined ? {} : { prefix }));
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
          subkeys: children(k).length,
          values: values(k).map((v) => ({ name: valueName(v), type: valueType(v), data: valueData(v) })),
        });
        continue;
      }
      ctx.stdout.write(`[${shown}]\n`);
      for (const v of values(k)) {
        const n = valueName(v);
        ctx.stdout.write(`  ${n === '' ? '@' : JSON.stringify(n)} ${typeName(valueType(v))} ${render(v)}\n`);
      }
    }
    return 0;
  },
};
