/**
 * Squarified treemap layout (Bruls, Huizing, van Wijk 2000): rectangles whose areas are proportional to the values
 * and whose aspect ratios stay close to 1. Pure and deterministic.
 */

/** A rectangle in pixels. */
export interface Rect {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

/**
 * Lays out `values` (positive, biggest first for the best result) inside `rect`. Returns one rectangle per value, in
 * the same order; a value ≤ 0 gets an empty rectangle at the corner.
 */
export function squarify(values: readonly number[], rect: Rect): Rect[] {
  const out: Rect[] = values.map(() => ({ x: rect.x, y: rect.y, w: 0, h: 0 }));
  const idx = values.map((_, i) => i).filter((i) => values[i]! > 0);
  const total = idx.reduce((s, i) => s + values[i]!, 0);
  if (total <= 0 || rect.w <= 0 || rect.h <= 0) return out;
  const scale = (rect.w * rect.h) / total;
  let free = rect;
  let i = 0;
  while (i < idx.length) {
    const side = Math.min(free.w, free.h);
    const row = [values[idx[i]!]! * scale];
    let j = i + 1;
    let current = worst(row, side);
    while (j < idx.length) {
      row.push(values[idx[j]!]! * scale);
      const next = worst(row, side);
      if (next > current) {
        row.pop();
        break;
      }
      current = next;
      j++;
    }
    const rowArea = row.reduce((s, a) => s + a, 0);
    if (free.w >= free.h) {
      const cw = Math.min(free.w, rowArea / free.h);
      let y = free.y;
      for (let k = 0; k < row.length; k++) {
        const h = row[k]! / cw;
        out[idx[i + k]!] = { x: free.x, y, w: cw, h };
        y += h;
      }
      free = { x: free.x + cw, y: free.y, w: free.w - cw, h: free.h };
    } else {
      const rh = Math.min(free.h, rowArea / free.w);
      let x = free.x;
      for (let k = 0; k < row.length; k++) {
        const w = row[k]! / rh;
        out[idx[i + k]!] = { x, y: free.y, w, h: rh };
        x += w;
      }
      free = { x: free.x, y: free.y + rh, w: free.w, h: free.h - rh };
    }
    i = j;
  }
  return out;
}

/** The worst aspect ratio of a row of areas laid along a side of length `side`. */
function worst(row: readonly number[], side: number): number {
  let sum = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = 0;
  for (const a of row) {
    sum += a;
    if (a < min) min = a;
    if (a > max) max = a;
  }
  const s2 = side * side;
  const sum2 = sum * sum;
  return Math.max((s2 * max) / sum2, sum2 / (s2 * min));
}
