/**
 * `hiveDeltas: 'merge'` of the layer engine (`apply.ts`): every layer's `Hives/*_Delta` folded into the base hives
 * (`Files/Windows/System32/config/<HIVE>`), in layer order, with `applyDeltaHives` (offreg's ORMergeHives,
 * `src/hive/apply.ts`), as Windows does when it imports the layers. Hives are the one thing held in memory: the deltas
 * from the planning pass until their base hive streams by, and each base hive while it is rewritten.
 */
import { bufferBody, type FileEntry, type LayerEntry } from '../entry.js';
import { WinlayerError } from '../errors.js';
import { applyDeltaHives, DELTA_HIVES, type DeltaHiveName, deltaHiveAt } from '../hive/index.js';
import { upcase } from '../windows/index.js';

/** Largest hive (base or delta) read into memory; a larger body is not a registry hive Windows writes. */
const MAX_HIVE_BYTES = 1 << 30;

/** One delta as read: the layer that carried it, its path there, its bytes. */
interface Delta {
  readonly layer: number;
  readonly path: string;
  readonly bytes: Uint8Array;
}

/** The deltas of one base hive that apply to the file a plan keeps there. */
export interface HiveRewrite {
  readonly hive: DeltaHiveName;
  readonly deltas: readonly Delta[];
}

/** The deltas of a stack of layers, collected in the planning pass (`add`), then matched to the base hives. */
export class HiveDeltas {
  readonly #byHive = new Map<DeltaHiveName, Delta[]>();

  /**
   * Takes a non-folder entry under `Hives/` of layer `layer`: reads a known delta's body. Throws `LAYER_INVALID` for
   * anything else there (Windows merges only the five known deltas), and what the body throws.
   */
  async add(e: LayerEntry, layer: number): Promise<void> {
    const hive = deltaHiveAt(e.path);
    if (hive === undefined || e.kind !== 'file') {
      throw new WinlayerError('LAYER_INVALID', `layer ${layer + 1}: ${e.path} is not one of the five registry deltas`, {
        entry: e.path,
        hint: `Windows merges only Hives/{${DELTA_HIVES.map((d) => d.name).join(',')}} into the base hives`,
      });
    }
    const list = this.#byHive.get(hive) ?? [];
    list.push({ layer, path: e.path, bytes: await readHiveBody(e, layer) });
    this.#byHive.set(hive, list);
  }

  /**
   * The rewrites of a plan: for each hive with deltas, the key (upper-cased layer path) of its base file and the
   * deltas of the layers above the layer that owns that file. `owner` gives the layer and kind of the final owner of a
   * key. `drop` is called with the key prefix of the hive's transaction logs (`<HIVE>.LOG`, `.LOG1`, `.LOG2`), stale
   * once the hive is rewritten. Throws `LAYER_INVALID` for deltas whose base hive no layer holds.
   */
  resolve(
    owner: (key: string) => { readonly layer: number; readonly kind: LayerEntry['kind'] } | undefined,
    drop: (keyPrefix: string) => void,
  ): Map<string, HiveRewrite> {
    const out = new Map<string, HiveRewrite>();
    for (const [hive, list] of this.#byHive) {
      const key = upcase(hive.base);
      const o = owner(key);
      if (o?.kind !== 'file') {
        throw new WinlayerError(
          'LAYER_INVALID',
          `layer ${list[0]!.layer + 1} carries registry changes (${list[0]!.path}), but no layer holds the hive ${hive.base} they change`,
          { entry: list[0]!.path, hint: 'the image is incomplete: its base layer is missing' },
        );
      }
      const deltas = list.filter((d) => d.layer > o.layer);
      if (deltas.length === 0) continue; // the file was written again above every delta
      out.set(key, { hive, deltas });
      drop(`${key}.LOG`);
    }
    this.#byHive.clear();
    return out;
  }
}

/** `e` (the base hive, layer path as planned) with the deltas applied: a new body and size, no raw tar header. */
export async function rewrittenHive(e: FileEntry, layer: number, rw: HiveRewrite): Promise<FileEntry> {
  const merged = applyDeltaHives(
    await readHiveBody(e, layer),
    rw.deltas.map((d) => d.bytes),
    { basePath: `layer ${layer + 1}: ${e.path}`, deltaPaths: rw.deltas.map((d) => `layer ${d.layer + 1}: ${d.path}`) },
  );
  const { raw: _raw, ...rest } = e;
  return { ...rest, size: merged.length, body: bufferBody(merged) };
}

async function readHiveBody(e: FileEntry, layer: number): Promise<Uint8Array> {
  if (e.size > MAX_HIVE_BYTES) {
    throw new WinlayerError('LAYER_HIVE', `layer ${layer + 1}: ${e.path} is ${e.size} bytes, too large for a hive`, {
      entry: e.path,
    });
  }
  const bytes = new Uint8Array(e.size);
  let at = 0;
  for await (const chunk of e.body) {
    if (at + chunk.length > e.size) {
      throw new WinlayerError('LAYER_INVALID', `layer ${layer + 1}: ${e.path} holds more bytes than its size`, {
        entry: e.path,
      });
    }
    bytes.set(chunk, at);
    at += chunk.length;
  }
  if (at !== e.size) {
    throw new WinlayerError('LAYER_INVALID', `layer ${layer + 1}: ${e.path} ends after ${at} of ${e.size} bytes`, {
      entry: e.path,
    });
  }
  return bytes;
}
