/** How an operation raced against a timer ended. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; timedOut: boolean; error?: unknown };

/**
 * Races `op` against a timer of `timeoutMs` and never rejects: the value, the error, or "timed out". The
 * operation is never left with an unhandled rejection: a failure after the timer fired goes to `onLateFailure`.
 * The timer does not keep the process alive.
 */
export function within<T>(
  op: Promise<T>,
  timeoutMs: number,
  onLateFailure?: (error: unknown) => void,
): Promise<Outcome<T>> {
  return new Promise((resolve) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      resolve({ ok: false, timedOut: true });
    }, timeoutMs);
    timer.unref();
    op.then(
      (value) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ ok: true, value });
      },
      (error: unknown) => {
        if (settled) {
          onLateFailure?.(error);
          return;
        }
        settled = true;
        clearTimeout(timer);
        resolve({ ok: false, timedOut: false, error });
      },
    );
  });
}
