import type { ProviderAuthStyle } from '../config/provider-defaults';
import type { ProviderConfig } from '../config/relay-config';
import type { KeyPool } from './key-pool';

/** The live state of one provider: its config, where and how to call it, its key pool and load. */
export interface ProviderRuntime {
  readonly name: string;
  /** The fields below change in place on a config reload (the runtime, its load and key pool stay). */
  config: ProviderConfig;
  baseUrl: string;
  auth: ProviderAuthStyle;
  readonly keys: KeyPool;
  /** Upstream connections the provider may hold: its max_connections, else server.max_connections_per_provider. */
  maxConnections: number;
  /** Attempts on the provider now, those waiting for a free connection included. */
  inFlight: number;
}
