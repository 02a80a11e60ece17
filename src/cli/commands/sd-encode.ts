/** `winlayer sd encode "<SDDL>"`: prints the base64 `MSWINDOWS.rawsd` value of an SDDL string. */
import { WinlayerError } from '../../errors.js';
import { parseSddl, type SdSummary, summarizeSecurityDescriptor } from '../../windows/index.js';
import { defineCommand, writeJsonLine } from '../command.js';
import { JSON_OPTION } from '../options.js';

export const command = defineCommand({
  name: 'sd encode',
  usage: ['[--json] "<SDDL>"'],
  about: [
    'Prints the canonical self-relative security descriptor of an SDDL string as padded standard base64: the value',
    'of the MSWINDOWS.rawsd PAX record. Example: winlayer sd encode "O:BAG:SYD:(A;;FA;;;BA)(A;;FA;;;SY)"',
  ],
  options: [
    { ...JSON_OPTION, help: 'print { sddl, base64, size, owner, group, control, controlFlags, dacl, sacl } instead' },
  ],
  parse(args) {
    if (args.positionals.length !== 1) {
      throw new WinlayerError('USAGE', `expected one SDDL string, got ${args.positionals.length} arguments`, {
        hint: 'quote the SDDL: winlayer sd encode "O:BUG:BU"',
      });
    }
    return { sddl: args.positionals[0]!, json: args.flag('json') };
  },
  async run(opts): Promise<SdSummary> {
    return summarizeSecurityDescriptor(parseSddl(opts.sddl));
  },
  render(summary, opts, io) {
    if (opts.json) writeJsonLine(io.stdout, summary);
    else io.stdout.write(`${summary.base64}\n`);
  },
});
