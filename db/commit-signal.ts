/**
 * Tells whoever listens that this process has just committed a write, whichever path it took
 * (drizzle's client or db/sql-runner.ts): the database handle (db/handle.ts) owns one, and
 * offers it as `onCommittedWrite`. The decision cache listens, so
 * that a key this process disables is refused from its very next request, without waiting for
 * the cross-process poll. Listeners are called synchronously, right after the COMMIT, and must be
 * cheap: they only mark something to re-check.
 */
export class CommitSignal {
  readonly #listeners = new Set<() => void>();

  /** Returns the function that stops listening. */
  listen(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** An arrow, so it can be handed to a client or runner as its `onCommit`. */
  readonly notify = (): void => {
    for (const listener of this.#listeners) {
      try {
        listener();
      } catch (error) {
        // A listener's bug must not turn a committed write into a reported failure.
        console.error(`commit listener failed: ${error instanceof Error ? error.name : "unknown"}`);
      }
    }
  };
}
