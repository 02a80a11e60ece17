/**
 * `summarizeLayer`: one streaming pass that adds up a layer for the pictures — sizes per folder (hard links counted
 * once, alternate data streams counted with their file's folder), the biggest files and the distinct security
 * descriptors. Keeps one node per folder, the top N files and one record per distinct descriptor; never a body.
 */
import type { LayerEntry } from '../entry.js';
import { isWinlayerError } from '../errors.js';
import { parentPath } from '../internal/tar.js';
import { bytesToSddl } from '../windows/index.js';

/** A folder of the layer with the sizes beneath it. */
export interface FolderNode {
  /** The last path component (the layer root is ''). */
  readonly name: string;
  /** The layer path (`Files/Windows`); '' for the root. */
  readonly path: string;
  /** Bytes of file and stream data beneath it (each hard-linked file once). */
  size: number;
  /** Regular files beneath it (hard links not counted again). */
  files: number;
  /** Bytes of the files directly inside it. */
  ownSize: number;
  /** Regular files directly inside it. */
  ownFiles: number;
  /** The name of the file directly inside it while there is exactly one (for labels); undefined otherwise. */
  onlyFile: string | undefined;
  /** Sub-folders, biggest first (after `summarizeLayer` returns). */
  children: FolderNode[];
}

/** One of the biggest files. */
export interface BigFile {
  readonly path: string;
  readonly size: number;
  /** How many hard links name the same data (0 when none). */
  links: number;
}

/** One distinct security descriptor and how many entries carry it. */
export interface SdUsage {
  /** SDDL, or `(invalid: …)` when it does not decode. */
  readonly sddl: string;
  /** Base64 of the binary descriptor, as `MSWINDOWS.rawsd` holds it. */
  readonly base64: string;
  count: number;
}

/** What `summarizeLayer` returns. */
export interface LayerSummary {
  readonly entries: number;
  readonly counts: Readonly<Record<LayerEntry['kind'], number>>;
  /** Bytes of all file and stream data, hard-linked data once. */
  readonly totalSize: number;
  readonly root: FolderNode;
  /** The biggest files, biggest first (ties by path). */
  readonly biggest: readonly BigFile[];
  /** Distinct descriptors, most used first (ties by SDDL). */
  readonly securityDescriptors: readonly SdUsage[];
  /** Entries that carry no descriptor. */
  readonly withoutSd: number;
}

/** Options of `summarizeLayer`. */
export interface SummaryOptions {
  /** How many of the biggest files to keep (default 25). */
  readonly top?: number;
  /** Distinct descriptors kept before the rest are counted under one `(more)` row (default 10,000). */
  readonly maxSds?: number;
}

function newFolder(name: string, path: string): FolderNode {
  return { name, path, size: 0, files: 0, ownSize: 0, ownFiles: 0, onlyFile: undefined, children: [] };
}

/**
 * Adds up a layer. Streams over `entries` once without reading bodies. Throws what the source throws.
 */
export async function summarizeLayer(
  entries: AsyncIterable<LayerEntry>,
  opts: SummaryOptions = {},
): Promise<LayerSummary> {
  const top = opts.top ?? 25;
  const maxSds = opts.maxSds ?? 10_000;
  const root = newFolder('', '');
  const folders = new Map<string, FolderNode>([['', root]]);
  const kids = new Map<FolderNode, Map<string, FolderNode>>();
  const counts: Record<LayerEntry['kind'], number> = {
    directory: 0,
    file: 0,
    hardlink: 0,
    symlink: 0,
    whiteout: 0,
    opaqueWhiteout: 0,
    stream: 0,
    special: 0,
  };
  const sds = new Map<string, SdUsage>();
  const other: SdUsage = { sddl: '(more distinct descriptors)', base64: '', count: 0 };
  let withoutSd = 0;
  let total = 0;
  let n = 0;
  let biggest: BigFile[] = [];
  const bigByPath = new Map<string, BigFile>();

  const folder = (path: string): FolderNode => {
    const known = folders.get(path);
    if (known !== undefined) return known;
    const slash = path.lastIndexOf('/');
    const parent = folder(slash < 0 ? '' : path.slice(0, slash));
    const node = newFolder(path.slice(slash + 1), path);
    folders.set(path, node);
    let m = kids.get(parent);
    if (m === undefined) {
      m = new Map();
      kids.set(parent, m);
    }
    m.set(node.name, node);
    return node;
  };
  const addBytes = (dirPath: string, size: number, fileName: string | undefined): void => {
    const isFile = fileName !== undefined;
    const own = folder(dirPath);
    own.ownSize += size;
    if (isFile) {
      own.ownFiles++;
      own.onlyFile = own.ownFiles === 1 ? fileName : undefined;
    }
    for (let p = dirPath; ; p = parentPath(p)) {
      const f = folders.get(p)!;
      f.size += size;
      if (isFile) f.files++;
      if (p === '') break;
    }
    total += size;
  };
  const consider = (path: string, size: number): void => {
    if (biggest.length >= top && size <= biggest[biggest.length - 1]!.size) return;
    const b: BigFile = { path, size, links: 0 };
    biggest.push(b);
    bigByPath.set(path, b);
    biggest.sort((x, y) => y.size - x.size || (x.path < y.path ? -1 : 1));
    if (biggest.length > top) {
      for (const dropped of biggest.slice(top)) bigByPath.delete(dropped.path);
      biggest = biggest.slice(0, top);
    }
  };

  for await (const e of entries) {
    n++;
    counts[e.kind]++;
    switch (e.kind) {
      case 'directory':
        folder(e.path);
        break;
      case 'file':
        addBytes(parentPath(e.path), e.size, e.path.slice(e.path.lastIndexOf('/') + 1));
        consider(e.path, e.size);
        break;
      case 'stream':
        addBytes(parentPath(e.filePath), e.size, undefined);
        break;
      case 'hardlink': {
        const b = bigByPath.get(e.linkTarget);
        if (b !== undefined) b.links++;
        break;
      }
      default:
        break;
    }
    const sd = e.win.securityDescriptor;
    if (sd === undefined) {
      if (e.kind !== 'hardlink' && e.kind !== 'stream' && e.kind !== 'whiteout' && e.kind !== 'opaqueWhiteout') {
        withoutSd++;
      }
    } else {
      const key = Buffer.from(sd.buffer, sd.byteOffset, sd.byteLength).toString('base64');
      const u = sds.get(key);
      if (u !== undefined) u.count++;
      else if (sds.size >= maxSds) other.count++;
      else sds.set(key, { sddl: sddlOrProblem(sd), base64: key, count: 1 });
    }
  }

  const order = (node: FolderNode): void => {
    const m = kids.get(node);
    if (m === undefined) return;
    node.children = [...m.values()].sort((a, b) => b.size - a.size || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const c of node.children) order(c);
  };
  order(root);
  const sdList = [...sds.values()].sort(
    (a, b) => b.count - a.count || (a.sddl < b.sddl ? -1 : a.sddl > b.sddl ? 1 : 0),
  );
  if (other.count > 0) sdList.push(other);
  return { entries: n, counts, totalSize: total, root, biggest, securityDescriptors: sdList, withoutSd };
}

function sddlOrProblem(sd: Uint8Array): string {
  try {
    return bytesToSddl(sd);
  } catch (e) {
    if (!isWinlayerError(e)) throw e;
    return `(invalid: ${e.message.split('\n')[0]})`;
  }
}
