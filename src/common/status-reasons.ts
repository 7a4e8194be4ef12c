import { STATUS_CODES } from 'node:http';

/**
 * Reason phrases Node lacks for statuses the relay sends: without one the status line of a relayed 529 reads
 * `HTTP/1.1 529 unknown`. Node's writeHead reads this same table whenever no reason is given, so every path that
 * answers (pass-through, streams, relay-made errors, Fastify replies) gets the phrase.
 */
const MISSING_REASONS: Record<number, string> = { 529: 'Overloaded' };

/** Adds the missing reason phrases to Node's table (idempotent; phrases Node has are left alone). */
export function registerStatusReasons(): void {
  for (const [code, reason] of Object.entries(MISSING_REASONS)) {
    STATUS_CODES[code] ??= reason;
  }
}
