/** `winlayer sd decode <base64>`: prints the SDDL of a base64 `MSWINDOWS.rawsd` value. */
import { base64ToSddl, rawsdToBytes } from '../../internal/windows.js';
import { type SdSummary, summarizeSecurityDescriptor } from '../../windows/index.js';
import { defineCommand, writeJsonLine } from '../command.js';
import { JSON_OPTION } from '../options.js';

export const command = defineCommand({
  name: 'sd decode',
  usage: ['[--json] <base64>'],
  about: [
    'Prints the canonical SDDL of a self-relative security descriptor given as base64 (an MSWINDOWS.rawsd value).',
    'Any valid binary layout is accepted. Example: winlayer sd decode AQAAgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAhAgAAAQIAAAAAAAUgAAAAIQIAAA==',
  ],
  options: [
    { ...JSON_OPTION, help: 'print { sddl, base64, size, owner, group, control, controlFlags, dacl, sacl } instead' },
  ],
  parse(args) {
    return { base64: args.exactly(1, 'one base64 value')[0]!, json: args.flag('json') };
  },
  /** The summary for `--json`; else the SDDL, which must exist (an SD that SDDL cannot name is an error here). */
  async run(opts): Promise<SdSummary | string> {
    return opts.json ? summarizeSecurityDescriptor(rawsdToBytes(opts.base64)) : base64ToSddl(opts.base64);
  },
  render(result, _opts, io) {
    if (typeof result === 'string') io.stdout.write(`${result}\n`);
    else writeJsonLine(io.stdout, result);
  },
});
