/** `winlayer lint <source> [--json] [--strict] [--base|--non-base]`: find what breaks a Windows layer. */
import { WinlayerError } from '../../errors.js';
import { LINT_RULES, type LintReport, lintNamedSource, renderLintReport } from '../../inspect/index.js';
import { defineCommand, writeJsonLine } from '../command.js';
import { JSON_OPTION, KIND_OPTIONS, layerKind, platformOption, QUIET_OPTION, REGISTRY_OPTIONS } from '../options.js';
import { openRegistries, type RegistryFlags, registryFlags, registryNamed } from '../registries.js';

/** Findings shown per rule in text output before the rest are counted (`--json` lists them all). */
const PER_RULE = 20;

interface LintOptions {
  /** undefined with `--rules`: list the rules instead. */
  readonly source: string | undefined;
  readonly base?: boolean;
  readonly flatten: boolean;
  readonly platform?: string;
  readonly strict: boolean;
  readonly json: boolean;
  readonly access: RegistryFlags;
}

type LintRuleRow = { readonly id: string } & (typeof LINT_RULES)[keyof typeof LINT_RULES];

export const command = defineCommand({
  name: 'lint',
  usage: ['<source> [--json] [--strict] [--base|--non-base] [--flatten] [--platform P]', '--rules [--json]'],
  about: [
    'Checks a layer or image for what Windows refuses or loses: entries outside Files/, UtilityVM/ and Hives/,',
    'children before parents, duplicates (also by case), names Windows cannot hold, missing or bad hives and BCD',
    '(a differencing hive where a base hive belongs; in a non-base layer each Hives/*_Delta must be a clean one),',
    'broken hard links, invalid security descriptors, non-canonical headers and more. Each finding has a stable',
    'rule id, a severity and a fix hint; `winlayer lint --rules` lists every rule.',
    '',
    'Sources: layer:FILE or a tar (plain, gzip, zstd), dir:DIR or a layer folder, oci:DIR[:TAG],',
    'docker-archive:FILE, docker://REF, - (a tar on stdin). Images are linted layer by layer.',
  ],
  options: [
    { ...JSON_OPTION, help: 'print the report as one JSON object (with --rules: one per rule)' },
    { name: 'rules', type: 'boolean', help: 'list the rules (id, severity, what each finds) and exit' },
    { name: 'strict', type: 'boolean', help: 'exit 1 on warnings too' },
    {
      ...KIND_OPTIONS[0]!,
      help: 'lint a single layer as a base layer (default: detect; Hives/ or whiteouts mean non-base)',
    },
    { ...KIND_OPTIONS[1]!, help: 'lint a single layer as a non-base layer' },
    { name: 'flatten', type: 'boolean', help: "apply an image's layers first and lint the result as one base layer" },
    platformOption('for an index: the image to read (windows/amd64[:os.version])'),
    ...REGISTRY_OPTIONS,
    // a docker:// source draws a transfer line on a terminal
    QUIET_OPTION,
  ],
  notes: [
    'Exit status: 0 no errors (warnings allowed unless --strict), 1 errors found (a corrupt input is a finding),',
    '2 usage or a source that cannot be opened or is not a tar (text, zip, a hive, empty).',
  ],
  parse(args): LintOptions {
    const rules = args.flag('rules');
    if (!rules && args.positionals.length !== 1) {
      throw new WinlayerError('USAGE', `expected one source, got ${args.positionals.length}`, {
        hint: 'winlayer lint layer.tar',
      });
    }
    const kind = layerKind(args);
    const platform = args.string('platform');
    return {
      source: rules ? undefined : args.positionals[0]!,
      ...(kind === undefined ? {} : { base: kind === 'base' }),
      flatten: args.flag('flatten'),
      ...(platform === undefined ? {} : { platform }),
      strict: args.flag('strict'),
      json: args.flag('json'),
      access: registryFlags(args),
    };
  },
  async run(opts, session): Promise<LintReport | LintRuleRow[]> {
    if (opts.source === undefined) return Object.entries(LINT_RULES).map(([id, r]) => ({ id, ...r }));
    return lintNamedSource(opts.source, {
      stdin: session.io.stdin,
      registries: openRegistries(session, opts.access, registryNamed(opts.source)),
      flatten: opts.flatten,
      ...(opts.platform === undefined ? {} : { platform: opts.platform }),
      ...(opts.base === undefined ? {} : { base: opts.base }),
    });
  },
  render(result, opts, io) {
    if (Array.isArray(result)) {
      if (opts.json) for (const r of result) writeJsonLine(io.stdout, r);
      else for (const r of result) io.stdout.write(`${r.severity.padEnd(7)} ${r.id.padEnd(28)} ${r.summary}\n`);
      return;
    }
    if (opts.json) writeJsonLine(io.stdout, result);
    else io.stdout.write(`${renderLintReport(result, { perRule: PER_RULE }).join('\n')}\n`);
  },
  status(result, opts) {
    if (Array.isArray(result)) return 0;
    if (result.errors > 0) return 1;
    return opts.strict && result.warnings > 0 ? 1 : 0;
  },
});
