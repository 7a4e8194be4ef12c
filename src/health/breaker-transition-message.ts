import type { BreakerSnapshot, BreakerTransition } from './circuit-breaker';

/** A log line for a breaker transition: its level and text. */
export interface TransitionLine {
  level: 'warn' | 'log';
  message: string;
}

/**
 * The log line an operator reads when a provider's circuit changes state by itself (failures, the open timer, probe
 * requests), or undefined for the transitions that another log line already reports: the admin API's reset and
 * force-open, and the health probe job's early HALF_OPEN.
 */
export function transitionLine(
  provider: string,
  transition: BreakerTransition,
  snapshot: BreakerSnapshot | undefined,
  halfOpenProbes: number,
): TransitionLine | undefined {
  const last = snapshot?.last_error ? `; last error: ${snapshot.last_error.message}` : '';
  const until = snapshot?.retry_at ? `; half-open at ${snapshot.retry_at}` : '';
  switch (transition.reason) {
    case 'failure_threshold':
      return {
        level: 'warn',
        message:
          `provider ${provider} circuit OPEN after ${snapshot?.consecutive_failures ?? '?'} consecutive failures: ` +
          `routing skips it${last}${until}`,
      };
    case 'half_open_failure':
      return {
        level: 'warn',
        message: `provider ${provider} circuit OPEN again: a half-open probe request failed${last}${until}`,
      };
    case 'open_duration_elapsed':
      return {
        level: 'log',
        message: `provider ${provider} circuit HALF_OPEN: admitting ${halfOpenProbes} probe request(s)`,
      };
    case 'half_open_succeeded':
      return {
        level: 'log',
        message: `provider ${provider} circuit CLOSED: ${halfOpenProbes} probe request(s) succeeded`,
      };
    case 'probe_succeeded':
    case 'forced_open':
    case 'reset':
      return undefined;
  }
}
