/**
 * Limits on request bodies while they are received, as pure logic (the Fastify wiring is in app.factory.ts):
 * how long a body may take and how slowly it may arrive (BodyDeadlines), how many bytes of bodies the requests in
 * flight may hold together (InflightBodyBudget), and how many connections one client address may keep open
 * (ConnectionsPerAddress). Without them a client dripping one byte every few seconds held a connection and its
 * file descriptor forever, and ten concurrent 31 MiB requests took 600 MB.
 */

/** A request whose body is being received. */
export interface BodyInProgress {
  /** When the body began (ms, the clock's). */
  startedAt: number;
  /** Bytes received on the connection when the body began. */
  startBytes: number;
  /** Bytes received on the connection so far (the socket's `bytesRead`). */
  bytesRead(): number;
}

/** Why a body was given up on. */
export type BodyExpiry = 'timeout' | 'too_slow';

export interface BodyDeadlineSettings {
  /** The whole body must have arrived within this (0: no limit). */
  timeoutMs: number;
  /** After `graceMs`, a body arriving slower than this on average is given up on (0: no minimum). */
  minBytesPerSecond: number;
  /** How long a body may take before its rate is judged (slow starts, small first segments). */
  graceMs: number;
}

/** Whether a body in progress has broken a limit at `now`, and which. */
export function bodyExpiry(
  body: BodyInProgress,
  now: number,
  s: BodyDeadlineSettings,
): BodyExpiry | undefined {
  const elapsed = now - body.startedAt;
  if (s.timeoutMs > 0 && elapsed >= s.timeoutMs) return 'timeout';
  if (s.minBytesPerSecond > 0 && elapsed >= s.graceMs) {
    const received = body.bytesRead() - body.startBytes;
    if ((received * 1000) / elapsed < s.minBytesPerSecond) return 'too_slow';
  }
  return undefined;
}

/**
 * The bodies being received, checked together by one timer (not one per request): `sweep` gives up on every body
 * that broke a limit, calling its `expire`.
 */
export class BodyDeadlines<T extends BodyInProgress & { expire(why: BodyExpiry): void }> {
  private readonly bodies = new Set<T>();

  constructor(private readonly settings: BodyDeadlineSettings) {}

  get size(): number {
    return this.bodies.size;
  }

  get enabled(): boolean {
    return this.settings.timeoutMs > 0 || this.settings.minBytesPerSecond > 0;
  }

  add(body: T): void {
    this.bodies.add(body);
  }

  delete(body: T): void {
    this.bodies.delete(body);
  }

  sweep(now: number): void {
    for (const body of this.bodies) {
      const why = bodyExpiry(body, now, this.settings);
      if (why) {
        this.bodies.delete(body);
        body.expire(why);
      }
    }
  }
}

/** Bytes of request bodies held by the requests in flight, bounded (0: unbounded). */
export class InflightBodyBudget {
  private held = 0;

  constructor(readonly maxBytes: number) {}

  get used(): number {
    return this.held;
  }

  /** Takes `bytes` if they fit (a single body larger than the whole budget never fits unless nothing is held). */
  tryTake(bytes: number): boolean {
    if (this.maxBytes > 0 && this.held > 0 && this.held + bytes > this.maxBytes) return false;
    this.held += bytes;
    return true;
  }

  release(bytes: number): void {
    this.held = Math.max(0, this.held - bytes);
  }
}

/** Open connections per client address, bounded (0: unbounded). */
export class ConnectionsPerAddress {
  private readonly open = new Map<string, number>();

  constructor(readonly max: number) {}

  /** Counts a new connection; false (and not counted) when its address already has `max` open. */
  tryOpen(address: string): boolean {
    const n = this.open.get(address) ?? 0;
    if (this.max > 0 && n >= this.max) return false;
    this.open.set(address, n + 1);
    return true;
  }

  close(address: string): void {
    const n = (this.open.get(address) ?? 0) - 1;
    if (n <= 0) this.open.delete(address);
    else this.open.set(address, n);
  }

  count(address: string): number {
    return this.open.get(address) ?? 0;
  }
}
