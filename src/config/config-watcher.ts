import { watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';

/** Options of a {@link ConfigWatcher}. */
export interface ConfigWatcherOptions {
  /** Quiet time after the last change event before the file is checked (editors and kubelet write in steps). */
  debounceMs?: number;
  /** A check this often even without an event (a network volume, or a watch that missed the swap). */
  pollMs?: number;
}

/**
 * Watches a config file's directory, not the file: Kubernetes updates a ConfigMap volume by re-pointing the
 * `..data` symlink beside the file, which no watch on the file (or its old inode) sees; editors replace files by
 * rename too. Any event in the directory schedules a check after a short quiet time; `check` compares the file's
 * content hash with the last read (ConfigHolder.reloadIfFileChanged), so events for other files cost one read.
 */
export class ConfigWatcher {
  private watcher: FSWatcher | undefined;
  private poll: NodeJS.Timeout | undefined;
  private pending: NodeJS.Timeout | undefined;

  constructor(
    private readonly path: string,
    private readonly check: () => void,
    private readonly options: ConfigWatcherOptions = {},
  ) {}

  start(): void {
    try {
      this.watcher = watch(dirname(this.path), { persistent: false }, () => this.schedule());
      this.watcher.on('error', () => this.closeWatch());
    } catch {
      // No watch (a filesystem without inotify): the poll below still notices.
    }
    this.poll = setInterval(() => this.run(), this.options.pollMs ?? 1_000);
    this.poll.unref();
  }

  stop(): void {
    this.closeWatch();
    if (this.poll) clearInterval(this.poll);
    if (this.pending) clearTimeout(this.pending);
    this.poll = this.pending = undefined;
  }

  private schedule(): void {
    if (this.pending) clearTimeout(this.pending);
    this.pending = setTimeout(() => this.run(), this.options.debounceMs ?? 200);
    this.pending.unref();
  }

  private run(): void {
    this.pending = undefined;
    try {
      this.check();
    } catch {
      // The holder reports its own failures; a watcher never takes the relay down.
    }
  }

  private closeWatch(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }
}
