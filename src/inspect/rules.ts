/**
 * The lint rule catalog: one stable id per rule, its severity, what it means and how to fix it. Ids never change
 * meaning; a retired rule keeps its id out of use. `docs`/README list the same table.
 */

/** How bad a finding is: an `error` breaks the layer on Windows; a `warning` is suspicious or lossy. */
export type Severity = 'error' | 'warning';

interface RuleInfo {
  readonly severity: Severity;
  /** What the rule checks, in one line. */
  readonly summary: string;
  /** The default fix hint (a finding may carry a more specific one). */
  readonly hint: string;
}

/** Every rule `lintLayer` and `lintImage` apply, by id. */
export const LINT_RULES = {
  // ── errors: Windows refuses the layer, or imports something else than the tar says ────────────────────────────
  'archive-corrupt': {
    severity: 'error',
    summary: 'the archive cannot be read to its end (bad header, PAX record, compression or truncation)',
    hint: 'rebuild the layer; the bytes after this point were not checked',
  },
  'entry-outside-layer': {
    severity: 'error',
    summary: 'an entry outside Files/, UtilityVM/Files/ and Hives/ (hcsshim compares these names case-sensitively)',
    hint: 'put the file under Files/ (what becomes C:\\), e.g. rebuild with `winlayer image append`',
  },
  'parent-missing': {
    severity: 'error',
    summary: 'an entry whose parent folder does not come before it (Windows never creates missing parents)',
    hint: 'emit every folder entry before its children',
  },
  'parent-not-directory': {
    severity: 'error',
    summary: 'an entry inside something that is not a folder',
    hint: 'remove the entry or make its parent a folder',
  },
  'duplicate-entry': {
    severity: 'error',
    summary: 'the same name twice in one layer',
    hint: 'keep one entry per name',
  },
  'case-collision': {
    severity: 'error',
    summary: 'two names that are equal on Windows (case-insensitive, per UTF-16 unit)',
    hint: 'rename one of them: Windows cannot hold both',
  },
  'name-invalid': {
    severity: 'error',
    summary: 'a name Windows cannot hold (reserved device name, trailing dot or space, <>:"|?*, control characters)',
    hint: 'rename the file',
  },
  'unsupported-entry-type': {
    severity: 'error',
    summary: 'a device, FIFO or unknown tar entry type, which a Windows layer cannot hold',
    hint: 'remove the entry',
  },
  'whiteout-in-base-layer': {
    severity: 'error',
    summary: 'a whiteout or opaque marker in a base layer ("a base layer cannot have tombstones")',
    hint: 'remove the whiteouts, or publish the layer on top of a parent',
  },
  'opaque-whiteout': {
    severity: 'error',
    summary: 'an opaque whiteout (.wh..wh..opq): Windows has no such thing and would not empty the folder',
    hint: 'replace it with one .wh.<name> whiteout per deleted name',
  },
  'hives-in-base-layer': {
    severity: 'error',
    summary: 'registry deltas (Hives/) in a layer treated as a base layer',
    hint: 'a base layer keeps its registry in Files/Windows/System32/config; drop Hives/ or lint as --non-base',
  },
  'delta-hive-invalid': {
    severity: 'error',
    summary:
      'a Hives/*_Delta that is not a clean differencing hive (version 1.6, layered keys): corrupt, dirty or a whole hive',
    hint: 'write the registry changes as a differencing hive (Windows exports them so), or drop the file',
  },
  'hives-unknown-entry': {
    severity: 'warning',
    summary: 'an entry under Hives/ other than the five deltas Windows merges (System_Delta, Software_Delta, …)',
    hint: 'Windows merges only DefaultUser_Delta, Sam_Delta, Security_Delta, Software_Delta and System_Delta: rename or drop it',
  },
  'base-hive-missing': {
    severity: 'error',
    summary:
      'a base layer without one of the five hives Files/Windows/System32/config/{DEFAULT,SAM,SECURITY,SOFTWARE,SYSTEM}',
    hint: 'run `winlayer makebaselayer` on the layer folder (it writes valid empty hives) and export again; lint with --non-base if the layer has a parent',
  },
  'base-hive-invalid': {
    severity: 'error',
    summary: 'a base-layer hive that is empty, dirty or corrupt (Windows Server 2025 fails with 0x3f1)',
    hint: 'replace it with a valid hive: `winlayer makebaselayer --replace-hives`',
  },
  'bcd-invalid': {
    severity: 'error',
    summary: 'UtilityVM/Files without a clean BCD store at UtilityVM/Files/EFI/Microsoft/Boot/BCD',
    hint: 'add a valid BCD hive, or drop UtilityVM/ (it is optional)',
  },
  'hardlink-target-unprefixed': {
    severity: 'error',
    summary: 'a hard-link target without its Files/ prefix (crane append writes them so); Windows finds nothing there',
    hint: 'write the target as a layer path, Files/...',
  },
  'hardlink-target-missing': {
    severity: 'error',
    summary: 'a hard link in a base layer whose target is not in the layer',
    hint: 'add the target file before the link, or store the file itself',
  },
  'hardlink-target-later': {
    severity: 'error',
    summary: 'a hard link that comes before its target in the archive',
    hint: 'write the target first; the link must follow it',
  },
  'hardlink-target-invalid': {
    severity: 'error',
    summary: 'a hard link to a folder, a symbolic link, a whiteout or a special file',
    hint: 'link to a regular file (its first name)',
  },
  'stream-without-file': {
    severity: 'error',
    summary: 'an alternate data stream that does not directly follow its file',
    hint: 'write each file:stream entry right after its file',
  },
  'stream-name-invalid': {
    severity: 'error',
    summary: 'an alternate data stream name Windows cannot hold',
    hint: 'rename the stream',
  },
  'directory-attribute-missing': {
    severity: 'error',
    summary: 'a folder entry whose MSWINDOWS.fileattr lacks DIRECTORY (0x10): Windows creates a file',
    hint: 'add 0x10 to the attributes of every folder',
  },
  'sd-invalid': {
    severity: 'error',
    summary: 'a security descriptor (MSWINDOWS.rawsd) that does not decode',
    hint: 'write a valid self-relative descriptor, e.g. `winlayer sd encode "O:BAG:SYD:(A;;FA;;;SY)"`',
  },
  'image-os-not-windows': {
    severity: 'error',
    summary: 'an image whose config says os is not "windows"',
    hint: 'set the platform: `winlayer image platform <image> --platform windows/amd64:<os.version>`',
  },
  'diff-id-mismatch': {
    severity: 'error',
    summary: "a layer whose uncompressed digest is not the config's rootfs.diff_ids entry",
    hint: 'rebuild the config from the layers (the image is corrupt or was edited by hand)',
  },
  'image-invalid': {
    severity: 'error',
    summary:
      'an image whose index, manifest or config is malformed or does not match its digest (e.g. diff_ids and layers differ in number)',
    hint: 'rebuild the image; its layers were not linted',
  },
  // ── warnings: works, but lossy, non-canonical or suspicious ──────────────────────────────────────────────────
  'name-dot-slash': {
    severity: 'warning',
    summary: 'a name stored with a leading ./ (hcsshim compares names exactly and misses UtilityVM, links, tombstones)',
    hint: 'store names as Files/..., without ./',
  },
  'name-trailing-slash': {
    severity: 'warning',
    summary: 'a name stored with a trailing / (hcsshim and Go write none)',
    hint: 'store folder names without a trailing /',
  },
  'non-pax-entry': {
    severity: 'warning',
    summary: 'an entry written without PAX records (no attributes, security descriptor or creation time)',
    hint: 'write PAX entries with MSWINDOWS.fileattr and MSWINDOWS.rawsd',
  },
  'mode-000': {
    severity: 'warning',
    summary:
      'entries with no permission bits (type-only modes, as go-winio writes them; go-winio#184): extracted on Linux they are unreadable. One finding, with a count',
    hint: 'write 0755 for folders and 0644 for files',
  },
  'rawsd-missing': {
    severity: 'warning',
    summary: 'an entry without MSWINDOWS.rawsd: containerd leaves it without an ACL that lets users in',
    hint: 'give every file, folder and symlink a security descriptor (`winlayer export --sd users`)',
  },
  'legacy-sd-record': {
    severity: 'warning',
    summary: 'a security descriptor given only as the legacy SDDL record MSWINDOWS.sd (unwritten since 2016)',
    hint: 'write MSWINDOWS.rawsd (base64 of the binary descriptor) instead',
  },
  'symlink-target-prefixed': {
    severity: 'warning',
    summary: 'a symbolic link whose target starts with Files/ (BuildKit, buildah): on Windows it points at C:\\Files',
    hint: 'write the target as Windows sees it, without the layer prefix',
  },
  'creation-time-unpadded': {
    severity: 'warning',
    summary: 'a LIBARCHIVE.creationtime fraction with fewer than 9 digits ending in 0: probably unpadded nanoseconds',
    hint: "BuildKit writes '%d.%d' (0.05 s as .50000000 = 0.5 s); write the fraction zero-padded to 9 digits",
  },
  'unknown-pax-record': {
    severity: 'warning',
    summary: 'a PAX record winlayer does not know (kept, but Windows may ignore it)',
    hint: 'check which tool wrote it; winlayer keeps and re-writes it unchanged',
  },
  'hardlink-target-in-parent': {
    severity: 'warning',
    summary: 'a hard link in a non-base layer whose target is not in this layer: it must exist in a parent layer',
    hint: 'make sure a parent layer holds the target',
  },
  'os-version-missing': {
    severity: 'warning',
    summary: 'an image config without os.version: containerd matches Windows images by it',
    hint: 'set it: `winlayer image platform <image> --platform windows/amd64:10.0.20348.xxxx`',
  },
  'foreign-layer': {
    severity: 'warning',
    summary: 'a foreign or non-distributable layer: registries may refuse it and pulls need its URL',
    hint: 'nothing to do for Microsoft base layers; for your own layers use the ordinary layer media type',
  },
} as const satisfies Record<string, RuleInfo>;

/** The stable id of a rule. */
export type RuleId = keyof typeof LINT_RULES;
