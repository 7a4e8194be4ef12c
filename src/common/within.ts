/** How an operation raced against a timer ended. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; timedOut: boolean; error?: unknown };

/**
 * Races `op` against a timer of `timeoutMs` and never rejects: the value, the error, or "timed out". The
 * operation is never left with an unhandled rejection: a failure after the timer fired goes to `onLateFailure`.
 * The timer does not keep the process alive. An answer already received when the timer fires (read in the same turn
 * of the event loop) still counts.
 */
export function within<T>(
  op: Promise<T>,
  timeoutMs: number,
  onLateFailure?: (error: unknown) => void,
): Promise<Outcome<T>> {
  return new Promise((resolve) => {
    let settled = false;
    // A timer that fires late fires before the event loop reads its sockets: an answer that arrived while the loop was
    // blocked (a GC pause, a busy machine) is still unread then. One setImmediate lets the poll phase read it first.
    const expire = () => {
      if (settled) return;
      settled = true;
      resolve({ ok: false, timedOut: true });
    };
    const timer = setTimeout(() => setImmediate(expire), timeoutMs);
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
