/**
 * Security descriptor presets: the SDs other tools put on entries they create, as SDDL. Encoded with
 * `sddlToBytes`/`sddlToBase64` they give byte for byte the `MSWINDOWS.rawsd` constants those tools ship (tested).
 */

/** The name of a preset. */
export type SdPresetName = 'users' | 'admins';

/**
 * - `users`: owner and group BUILTIN\Users, no DACL (`O:BUG:BU`) — what ko, go-containerregistry's `crane append`,
 *   the .NET SDK and buildpacks (non-root) write on every entry. 52 bytes,
 *   `AQAAgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAhAgAAAQIAAAAAAAUgAAAAIQIAAA==`.
 * - `admins`: BuildKit's and buildah's SDs (`util/winlayers/differ.go`, `image.go`): owner Administrators, group
 *   SYSTEM; full control for Administrators and SYSTEM, read/execute (0x1200a9) for Users; directories also grant
 *   inheritable full control to CREATOR OWNER and list/delete-child to Users. 216 bytes (dir), 124 bytes (file).
 */
export const SD_PRESETS: Readonly<Record<SdPresetName, { readonly dir: string; readonly file: string }>> =
  Object.freeze({
    users: Object.freeze({ dir: 'O:BUG:BU', file: 'O:BUG:BU' }),
    admins: Object.freeze({
      dir: 'O:BAG:SYD:(A;OICI;FA;;;BA)(A;OICI;FA;;;SY)(A;;FA;;;BA)(A;OICIIO;GA;;;CO)(A;OICI;0x1200a9;;;BU)(A;CI;LC;;;BU)(A;CI;DC;;;BU)',
      file: 'O:BAG:SYD:(A;;FA;;;BA)(A;;FA;;;SY)(A;;0x1200a9;;;BU)',
    }),
  });

/** True when `name` is a preset name. */
export function isSdPresetName(name: string): name is SdPresetName {
  return name === 'users' || name === 'admins';
}
