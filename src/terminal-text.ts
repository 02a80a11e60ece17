/**
 * Names from archives, hives and registries are data an attacker chooses. Written raw to a terminal, an ESC or a CR in
 * a name can set the window title, clear the screen or overwrite the line before it. Every human-readable output
 * passes such names through `escapeControls`; `--json` output needs no help (JSON escapes controls itself).
 *
 * Like `errors.ts` and `atomic.ts`, this module sits beneath every folder and imports nothing.
 */

/** What the escaped forms look like; documented so a reader of `ls` or `hive dump` output can read them back. */
const SHORT: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\0': '\\0' };

/**
 * C0 controls, DEL, C1 controls (a terminal may honour 0x9B as CSI), the bidirectional overrides and isolates (they
 * reorder what the reader sees, "Trojan Source"), and lone UTF-16 surrogates (not printable; in a hive name they are
 * legal). Backslash is left alone: Windows paths are full of it.
 */
// With the `u` flag a well-formed surrogate pair is one code point, so `[\ud800-\udfff]` matches lone halves only.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\ud800-\udfff]/gu;

/**
 * `text` with every control character made visible: `\n`, `\r`, `\t`, `\0`, other C0/C1 controls and DEL as `\xHH`,
 * bidi controls and lone surrogates as `\uHHHH`. Text without any comes back as the same string.
 */
export function escapeControls(text: string): string {
  UNSAFE.lastIndex = 0;
  if (!UNSAFE.test(text)) return text;
  return text.replace(UNSAFE, (c) => {
    const short = SHORT[c];
    if (short !== undefined) return short;
    const unit = c.charCodeAt(0);
    return unit <= 0xff ? `\\x${unit.toString(16).padStart(2, '0')}` : `\\u${unit.toString(16).padStart(4, '0')}`;
  });
}

/**
 * An error's message for a terminal: `escapeControls` over the text (an entry name in it may hold an ESC or a line
 * break), while the one line break the message means — the one before its hint, `\n  hint: …` — stays a line break.
 */
export function escapeMessage(message: string, hint: string | undefined): string {
  const hintLine = hint === undefined ? '' : `\n  hint: ${hint}`;
  if (hintLine === '' || !message.endsWith(hintLine)) return escapeControls(message);
  return `${escapeControls(message.slice(0, message.length - hintLine.length))}\n  hint: ${escapeControls(hint!)}`;
}
