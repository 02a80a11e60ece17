/**
 * The one signal-safety rule of long synchronous loops: give the event loop a turn (`setImmediate`) at least every
 * {@link TURN_MS}, so that SIGINT/SIGTERM handlers run (they remove temporary output) even when a source never waits.
 */

/** Longest stretch (ms) without an event-loop turn. */
export const TURN_MS = 20;

/** Tracks when the event loop last had a turn. */
export class EventLoopTurns {
  #last = performance.now();

  /** Whether a turn is due (cheap: one clock read). */
  due(): boolean {
    return performance.now() - this.#last >= TURN_MS;
  }

  /** Notes that the event loop is about to have a turn anyway (the caller awaits a pending write). */
  passed(): void {
    this.#last = performance.now();
  }

  /** Gives the event loop a turn now. */
  async take(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.#last = performance.now();
  }
}
