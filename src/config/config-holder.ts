import { readFileSync } from 'node:fs';
import { ConfigError, formatProblem } from './config-error';
import { configTextHash, diffConfig, keepRestartFields, restartFieldsOf } from './config-diff';
import { configFormatOf, parseConfigText } from './config-loader';
import type { Env } from './env-expansion';
import { RelayConfig } from './relay-config';

/** How the running config was loaded. */
export type ConfigSource = 'start' | 'sighup' | 'file' | 'admin';

/** What a reload did. */
export interface ReloadOutcome {
  /** applied: the new config runs; unchanged: the file says what already runs; invalid: refused, the old runs on. */
  result: 'applied' | 'unchanged' | 'invalid';
  source: ConfigSource;
  /** Every problem of a refused file (secrets masked, as `config validate` prints them). */
  problems: string[];
  /** The leaf paths that changed (applied ones and those needing a restart). */
  changed: string[];
  /** The settings that changed but keep their running value until a restart. */
  restart: string[];
}

type Applier = (config: RelayConfig) => void;
type Observer = (outcome: ReloadOutcome) => void;

/**
 * The running config and its reloads. The one RelayConfig object injected everywhere stays the same object; a
 * reload loads and validates the whole file first, then, in one synchronous step (no request sees half a config),
 * replaces its top-level sections and calls the appliers (routing, breakers, log level) that carry state over.
 * Requests capture the sections they use (`config.routing`, …) when they start, so they finish on those.
 * Settings that need a restart (RESTART_FIELDS) keep their running value.
 */
export class ConfigHolder {
  /** SHA-256 of the file text the running config came from (of the config itself without a file). */
  hash: string;
  loadedAt = new Date();
  source: ConfigSource = 'start';
  /** Restart fields the file changed that still run on their old value. */
  restartPending: string[] = [];
  /** Hash of the file text last read (valid or not), so the watcher retries a file only once it changes again. */
  private lastSeenHash: string | undefined;
  private readonly appliers: Applier[] = [];
  private readonly observers: Observer[] = [];

  constructor(
    readonly config: RelayConfig,
    readonly path?: string,
    private readonly env: Env = process.env,
  ) {
    const text = path === undefined ? undefined : this.readText();
    this.hash = configTextHash(text ?? JSON.stringify(config));
    this.lastSeenHash = text === undefined ? undefined : this.hash;
  }

  /** Called with the swapped config after each applied reload, in registration order, synchronously. */
  onApply(applier: Applier): void {
    this.appliers.push(applier);
  }

  /** Told every reload's outcome (logging, metrics). */
  onReload(observer: Observer): void {
    this.observers.push(observer);
  }

  /** Reloads when the file's text differs from the last one read (the file watcher's check). */
  reloadIfFileChanged(source: ConfigSource = 'file'): ReloadOutcome | undefined {
    if (this.path === undefined) return undefined;
    const text = this.readText();
    if (text === undefined || configTextHash(text) === this.lastSeenHash) return undefined;
    return this.reload(source, text);
  }

  /** Loads, validates and (when valid) applies the config file. Never throws for a bad file. */
  reload(source: ConfigSource, text?: string): ReloadOutcome {
    const outcome = this.load(source, text);
    for (const observer of this.observers) {
      try {
        observer(outcome);
      } catch {
        // Observers only report.
      }
    }
    return outcome;
  }

  private load(source: ConfigSource, given?: string): ReloadOutcome {
    const refused = (problems: string[]): ReloadOutcome => ({
      result: 'invalid',
      source,
      problems,
      changed: [],
      restart: [],
    });
    if (this.path === undefined)
      return refused(['the relay was started without a config file: nothing to reload']);
    let text = given;
    if (text === undefined) {
      try {
        text = readFileSync(this.path, 'utf8');
      } catch (err) {
        return refused([
          `(file): expected a readable file (${err instanceof Error ? err.message : String(err)})`,
        ]);
      }
    }
    const hash = configTextHash(text);
    this.lastSeenHash = hash;
    let next: RelayConfig;
    try {
      next = parseConfigText(text, configFormatOf(this.path), this.env).config;
    } catch (err) {
      if (err instanceof ConfigError) return refused(err.problems.map(formatProblem));
      return refused([err instanceof Error ? err.message : String(err)]);
    }
    const { changed, restart } = diffConfig(this.config, next);
    if (changed.length === 0) {
      this.hash = hash;
      return { result: 'unchanged', source, problems: [], changed, restart };
    }
    keepRestartFields(this.config, next, restart);
    const target = this.config as unknown as Record<string, unknown>;
    for (const [key, value] of Object.entries(next)) target[key] = value;
    for (const applier of this.appliers) applier(this.config);
    this.hash = hash;
    this.loadedAt = new Date();
    this.source = source;
    this.restartPending = restartFieldsOf(restart);
    return { result: 'applied', source, problems: [], changed, restart: this.restartPending };
  }

  private readText(): string | undefined {
    try {
      return readFileSync(this.path!, 'utf8');
    } catch {
      return undefined;
    }
  }
}
