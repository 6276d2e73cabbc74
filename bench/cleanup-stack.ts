/**
 * Undo steps registered as resources are acquired, run in reverse on success, failure, a signal or the
 * watchdog. Each step runs at most once and a failing step does not stop the others: a benchmark that
 * dies half-way must still stop its child processes and drop its databases.
 */
export class CleanupStack {
  readonly #steps: { name: string; run: () => Promise<void> }[] = [];
  #running: Promise<void> | undefined;

  push(name: string, run: () => Promise<void>): void {
    this.#steps.push({ name, run });
  }

  /** Runs every step once, newest first; a second call waits for the first. */
  run(): Promise<void> {
    this.#running ??= (async () => {
      for (const step of this.#steps.splice(0).reverse()) {
        try {
          await step.run();
        } catch (error) {
          console.error(`cleanup: ${step.name} failed: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
    })();
    return this.#running;
  }
}
