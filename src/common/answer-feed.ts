/** Who delivered an answer, marked on the response by the proxy and read when the response closes. */
export interface AnsweredBy {
  provider: string;
  model: string;
  /** The answer came from a fallback model (routing.fallbacks), not the one asked for. */
  fallback: boolean;
}

const ANSWERED_BY = Symbol('cc-relay.answeredBy');
const FIRST_BYTE = Symbol('cc-relay.firstByte');

/** Records on the response which provider and model delivered it. */
export function markAnsweredBy(res: object, by: AnsweredBy): void {
  (res as { [ANSWERED_BY]?: AnsweredBy })[ANSWERED_BY] = by;
}

/** What markAnsweredBy recorded, if anything (relay-made errors and cache hits have nothing). */
export function answeredByOf(res: object): AnsweredBy | undefined {
  return (res as { [ANSWERED_BY]?: AnsweredBy })[ANSWERED_BY];
}

/**
 * Notes `now()` on the response when its head is written (the first byte a client sees: a JSON answer's or a
 * stream's), by wrapping this one response's writeHead, which Node also calls for an implicit head.
 */
export function watchFirstByte(res: { writeHead: (...args: never[]) => unknown }, now: () => number): void {
  const original = res.writeHead;
  const carrier = res as unknown as { [FIRST_BYTE]?: number };
  res.writeHead = function (this: unknown, ...args: never[]) {
    carrier[FIRST_BYTE] ??= now();
    return original.apply(this, args);
  };
}

/** When the head was written (see watchFirstByte), or undefined. */
export function firstByteOf(res: object): number | undefined {
  return (res as { [FIRST_BYTE]?: number })[FIRST_BYTE];
}
