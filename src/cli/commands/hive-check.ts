/** `winlayer hive check`: every finding of the strict checker. Exit 0 clean (warnings allowed), 1 errors, 2 unreadable. */
import { checkHive, type HiveCheckResult } from '../../hive/index.js';
import { readInputFile } from '../../internal/read-input.js';
import { defineCommand, writeJsonLine } from '../command.js';
import { JSON_OPTION } from '../options.js';
import { findingLine } from './hive-finding-line.js';

export const command = defineCommand({
  name: 'hive check',
  usage: ['<file> [--json]'],
  about: [
    'Checks a registry hive against every rule Windows applies. An error is what makes Windows refuse the hive or a',
    'reader guess (a dirty hive is one); a warning is what Windows loads as it is. Every code, its severity and why:',
    "docs/hive-findings.md. Offsets are file offsets. A differencing hive (a layer's Hives/*_Delta: version 1.6 with",
    'the layered-keys flag) is checked against the layer rules too: tombstones, supersede-tree subtrees, layer bits.',
  ],
  options: [{ ...JSON_OPTION, help: 'print the result object { file, errors, warnings, dirty }' }],
  notes: [
    'Exit status: 0 clean (warnings allowed), 1 errors (a corrupt file is a finding), 2 the file cannot be opened.',
  ],
  troubleIsUsage: true,
  parse(args) {
    return { file: args.exactly(1, 'exactly one <file>')[0]!, json: args.flag('json') };
  },
  async run(opts): Promise<HiveCheckResult & { readonly file: string }> {
    return { file: opts.file, ...checkHive(readInputFile(opts.file)) };
  },
  render(result, opts, io) {
    if (opts.json) {
      writeJsonLine(io.stdout, result);
      return;
    }
    const { file } = result;
    for (const f of [...result.errors, ...result.warnings])
      io.stdout.write(`${file}: ${f.severity} ${findingLine(f)}\n`);
    const verdict = result.errors.length === 0 ? 'ok' : 'not valid';
    io.stdout.write(`${file}: ${verdict}: ${result.errors.length} errors, ${result.warnings.length} warnings\n`);
  },
  status: (result) => (result.errors.length === 0 ? 0 : 1),
});
