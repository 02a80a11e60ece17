/** The one "write the whole buffer" loop: `writeSync` may write less than asked. */
import { writeSync } from 'node:fs';

/** Writes `length` bytes of `data` from `offset` to `fd`, however many calls it takes. */
export function writeAll(fd: number, data: Uint8Array, offset = 0, length = data.length - offset): void {
  let done = 0;
  while (done < length) done += writeSync(fd, data, offset + done, length - done);
}
