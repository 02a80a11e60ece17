/**
 * `SOURCE_DATE_EPOCH` as the CLI passes it to the library (which never reads the environment): the one parser
 * (`layer.parseSourceDateEpoch`, where `''` means unset) over the command's environment, or over `--source-date-epoch`
 * where a command has that flag (the flag wins).
 */
import { parseSourceDateEpoch } from '../layer/index.js';
import type { CommandIO } from './command.js';

/** The seconds of `SOURCE_DATE_EPOCH` (or of `flag`, when given), undefined when unset. */
export function sourceDateEpoch(io: CommandIO, flag?: string): number | undefined {
  return flag === undefined
    ? parseSourceDateEpoch(io.env.SOURCE_DATE_EPOCH)
    : parseSourceDateEpoch(flag, '--source-date-epoch');
}

/** {@link sourceDateEpoch} as a library option to spread: `{ sourceDateEpoch }`, or nothing when unset. */
export function sourceDateEpochOption(io: CommandIO, flag?: string): { readonly sourceDateEpoch?: number } {
  const seconds = sourceDateEpoch(io, flag);
  return seconds === undefined ? {} : { sourceDateEpoch: seconds };
}
