/** Small words of the CLI's English. */

/** `1 entry`, `2 entries`: a count and its noun, singular for one. */
export function counted(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
