/**
 * Builds tars with Python's `tarfile` (a writer we did not write) from a small JSON description, for the inspect and
 * lint tests: the shapes other tools write (crane, BuildKit, GNU tar, hcsshim) and deliberately broken layers. Names
 * are stored exactly as given (tarfile would append `/` to folders; Go, and so hcsshim, does not).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './tools.js';

/** One entry of a test tar. */
export interface PyEntry {
  readonly name: string;
  readonly type: 'dir' | 'file' | 'link' | 'sym' | 'fifo';
  /** File content (UTF-8 text). */
  readonly data?: string;
  /** Hard-link or symlink target. */
  readonly linkname?: string;
  /** PAX records of this entry. */
  readonly pax?: Readonly<Record<string, string>>;
  readonly mode?: number;
  readonly mtime?: number;
}

const SCRIPT = `
import io, json, sys, tarfile
spec = json.load(sys.stdin)
fmt = {'pax': tarfile.PAX_FORMAT, 'gnu': tarfile.GNU_FORMAT, 'ustar': tarfile.USTAR_FORMAT}[spec['format']]
types = {'dir': tarfile.DIRTYPE, 'file': tarfile.REGTYPE, 'link': tarfile.LNKTYPE, 'sym': tarfile.SYMTYPE, 'fifo': tarfile.FIFOTYPE}
class GoInfo(tarfile.TarInfo):
    # tarfile appends '/' to folder names; Go (hcsshim) does not. Keep the name as given.
    def get_info(self):
        info = super().get_info()
        info['name'] = self.name
        return info
with tarfile.open(spec['out'], 'w', format=fmt) as tf:
    for e in spec['entries']:
        ti = GoInfo(e['name'])
        ti.type = types[e['type']]
        ti.mode = e.get('mode', 0o755 if e['type'] == 'dir' else 0o644)
        ti.mtime = e.get('mtime', 1700000000)
        ti.uid = ti.gid = 0
        if 'linkname' in e: ti.linkname = e['linkname']
        if 'pax' in e: ti.pax_headers = e['pax']
        data = e.get('data', '').encode()
        if e['type'] == 'file':
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
        else:
            tf.addfile(ti)
`;

/** Writes `entries` as `<dir>/<name>` with Python's tarfile in the given format (default PAX); returns the path. */
export function pyTar(
  dir: string,
  name: string,
  entries: readonly PyEntry[],
  format: 'pax' | 'gnu' | 'ustar' = 'pax',
): string {
  const out = join(dir, name);
  const script = join(dir, '.pytar.py');
  writeFileSync(script, SCRIPT);
  run('python3', [script], { input: JSON.stringify({ out, format, entries }) });
  return out;
}
