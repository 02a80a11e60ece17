/**
 * The shape of one CLI command. `cli/main.ts` routes to these; a command turns flags into one library call and
 * renders the result (text, or the same result object as JSON). No layer logic lives here.
 */
import { fstatSync } from 'node:fs';
import type { ParseArgsConfig } from 'node:util';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export interface CommandIO {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
}

export interface CommandContext extends CommandIO {
  readonly values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  readonly positionals: string[];
}

export interface Command {
  /** `ls`, or `hive check` for a subcommand. */
  readonly name: string;
  /** The text of `winlayer <name> --help`: usage line first, then options. */
  readonly help: string;
  readonly options: OptionSpec;
  /** Returns the exit status: 0 ok, 1 failure or findings, 2 usage. Throws `WinlayerError` for failures. */
  run(ctx: CommandContext): Promise<number>;
}

/** A string option's value, or undefined. */
export function stringOpt(ctx: CommandContext, name: string): string | undefined {
  const v = ctx.values[name];
  return typeof v === 'string' ? v : undefined;
}

/** A repeatable string option's values. */
export function stringsOpt(ctx: CommandContext, name: string): string[] {
  const v = ctx.values[name];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string');
}

export function flagOpt(ctx: CommandContext, name: string): boolean {
  return ctx.values[name] === true;
}

/** Writes one line of NDJSON (bigints become strings, byte arrays base64). */
export function writeJsonLine(out: NodeJS.WritableStream, value: unknown): void {
  out.write(`${JSON.stringify(value, jsonReplacer)}\n`);
}

export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  return value;
}

/** Progress goes to a terminal only: not when stderr is piped, and never with --quiet. */
export function wantsProgress(ctx: CommandContext): boolean {
  return ctx.stderr.isTTY === true && !flagOpt(ctx, 'quiet');
}

/**
 * A progress line for long work (`N entries, M MB`), redrawn at most five times a second on stderr; undefined when
 * progress is not wanted (stderr not a terminal, or --quiet). Call `done()` to clear the line before the summary.
 */
export function progressLine(
  ctx: CommandContext,
): { readonly report: (p: { entries: number; bytes: number }) => void; done(): void } | undefined {
  if (!wantsProgress(ctx)) return undefined;
  let last = 0;
  return {
    report: ({ entries, bytes }) => {
      const now = Date.now();
      if (now - last < 200) return;
      last = now;
      ctx.stderr.write(`\r${entries} entries, ${(bytes / 1e6).toFixed(1)} MB`);
    },
    done: () => {
      if (last !== 0) ctx.stderr.write('\r\x1b[K');
    },
  };
}

/**
 * Where a command writes a large byte stream that goes to `stream`: descriptor 1 when `stream` is this process's
 * stdout redirected to a file or a pipe, else the stream itself. With the descriptor the tar writer writes
 * synchronously, without a copy per chunk and without the stream's event-loop round trips (measured: an export piped
 * into `cat` took twice its time through the stream). A pipe is switched to blocking mode first, so a full pipe makes
 * the write wait instead of failing with EAGAIN.
 */
export function byteOutput(stream: CommandIO['stdout']): NodeJS.WritableStream | number {
  if (stream !== process.stdout) return stream;
  let kind: 'file' | 'pipe' | 'other';
  try {
    const st = fstatSync(1);
    kind = st.isFile() ? 'file' : st.isFIFO() || st.isSocket() ? 'pipe' : 'other';
  } catch {
    return stream;
  }
  if (kind === 'file') return 1;
  if (kind === 'other') return stream;
  // Node's stdout over a pipe is a libuv pipe handle in non-blocking mode; `setBlocking` (0 = done) turns that off.
  const handle = (process.stdout as { _handle?: { setBlocking?: (blocking: boolean) => number } })._handle;
  return handle?.setBlocking?.(true) === 0 ? 1 : stream;
}
