/**
 * The shape of one CLI command: `parse(args) → opts`, `run(opts) → result` (one library call), `render(result)`
 * (text, or the result object as it is with `--json`). `cli/main.ts` routes to these, turns errors into exit
 * statuses and prints help; a command file holds no layer logic and decides no exit status but `status(result)`.
 */
import { fstatSync } from 'node:fs';
import type { TransferProgress } from '../oci/index.js';
import type { Args, OptionDef } from './options.js';
import { type EntryProgress, entryProgress, type ProgressLine, transferProgress } from './progress.js';

export interface CommandIO {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  /** The environment: the CLI reads it (SOURCE_DATE_EPOCH, DOCKER_CONFIG…) and passes values to the library. */
  readonly env: NodeJS.ProcessEnv;
}

/** What a command's `run` gets beside its options: the streams, progress and the registries, closed by `main`. */
export interface Session {
  readonly io: CommandIO;
  /**
   * A redrawn `entries, bytes, rate` line on a terminal (stderr), undefined when piped or `-q`; `inputSize` (an
   * import's input file) gives a percentage when the library reports input bytes.
   */
  entryProgress(inputSize?: number): ((p: EntryProgress) => void) | undefined;
  /** A redrawn `blobs, bytes, percentage` line for registry transfers on a terminal; undefined when piped or `-q`. */
  transferProgress(): ((p: TransferProgress) => void) | undefined;
  /** Runs `fn` when the command ends, whatever the outcome (registries close their connections here). */
  onClose(fn: () => void): void;
}

/** A command as its file declares it. `O` is what `parse` makes of the flags, `R` what `run` returns. */
export interface CommandSpec<O, R> {
  /** `ls`, or `hive check` for a subcommand. */
  readonly name: string;
  /**
   * The usage lines after `winlayer NAME `: one per form (the first is the one-line usage of a usage error); a line
   * starting with a space continues the form above it.
   */
  readonly usage: readonly string[];
  /** What the command does, as the help shows it. */
  readonly about: readonly string[];
  readonly options: readonly OptionDef[];
  /** Lines after the options (destinations, exit status). */
  readonly notes?: readonly string[];
  /**
   * `diff` and `hive check`, as diff(1): trouble reading an input is exit 2, never the 1 of "different" or
   * "findings". `main`'s `reportError` applies it.
   */
  readonly troubleIsUsage?: boolean;
  parse(args: Args, io: CommandIO): O;
  run(opts: O, session: Session): Promise<R>;
  render(result: R, opts: O, io: CommandIO): void | Promise<void>;
  /** 1 for "different" (diff) or "findings" (lint, hive check); 0 when absent. */
  status?(result: R, opts: O): 0 | 1;
}

/** A command with its types erased, for the routing table. */
export interface Command {
  readonly name: string;
  readonly usage: readonly string[];
  readonly about: readonly string[];
  readonly options: readonly OptionDef[];
  readonly notes?: readonly string[];
  readonly troubleIsUsage?: boolean;
  /** parse → run → (progress cleared) → render; returns the command's status (0 or 1). */
  execute(args: Args, session: Session & { endProgress(): void }): Promise<0 | 1>;
}

/** Declares a command: keeps its types for the command file, erases them for the router. */
export function defineCommand<O, R>(spec: CommandSpec<O, R>): Command {
  return {
    name: spec.name,
    usage: spec.usage,
    about: spec.about,
    options: spec.options,
    ...(spec.notes === undefined ? {} : { notes: spec.notes }),
    ...(spec.troubleIsUsage === undefined ? {} : { troubleIsUsage: spec.troubleIsUsage }),
    async execute(args, session) {
      const opts = spec.parse(args, session.io);
      const result = await spec.run(opts, session);
      session.endProgress();
      await spec.render(result, opts, session.io);
      return spec.status?.(result, opts) ?? 0;
    },
  };
}

/** Writes one line of JSON: the one JSON writer of the CLI (bigints become strings, byte arrays base64). */
export function writeJsonLine(out: NodeJS.WritableStream, value: unknown): void {
  out.write(`${JSON.stringify(value, jsonReplacer)}\n`);
}

export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  return value;
}

/**
 * Makes the session of one command run: progress only when stderr is a terminal and not `-q`; registries closed and
 * the progress line cleared by `close()`.
 */
export function openSession(io: CommandIO, quiet: boolean): Session & { endProgress(): void; close(): void } {
  const show = io.stderr.isTTY === true && !quiet;
  const lines: ProgressLine[] = [];
  const closers: (() => void)[] = [];
  const endProgress = (): void => {
    for (const l of lines.splice(0)) l.stop();
  };
  return {
    io,
    entryProgress(inputSize) {
      if (!show) return undefined;
      const line = entryProgress(io.stderr, inputSize);
      lines.push(line);
      return line.report as (p: EntryProgress) => void;
    },
    transferProgress() {
      if (!show) return undefined;
      const line = transferProgress(io.stderr);
      lines.push(line);
      return line.report as (p: TransferProgress) => void;
    },
    onClose(fn) {
      closers.push(fn);
    },
    endProgress,
    close() {
      endProgress();
      for (const fn of closers.splice(0)) fn();
    },
  };
}

/**
 * Where a command writes a large byte stream that goes to `stream`: descriptor 1 when `stream` is this process's
 * stdout redirected to a file or a pipe, else the stream itself. With the descriptor the tar writer writes
 * synchronously, without a copy per chunk and without the stream's event-loop round trips. A pipe is switched to
 * blocking mode first, so a full pipe makes the write wait instead of failing with EAGAIN.
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
