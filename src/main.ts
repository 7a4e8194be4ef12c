#!/usr/bin/env node
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createApp, flushLogs, parseListen } from './app.factory';
import { warmCache } from './cache/cache-warmup';
import { parseCommandLine, USAGE } from './cli';
import { GracefulShutdown } from './common/graceful-shutdown.service';
import { InFlightService } from './common/in-flight.service';
import { ConfigError } from './config/config-error';
import { loadConfig, resolveConfigPath } from './config/config-loader';
import { runConfigValidate } from './config/config-validate.command';
import { DrainState } from './health/drain-state';

/** After a second signal, how long the error events and log lines get to leave before the process exits. */
const FORCED_EXIT_FLUSH_MS = 200;

/** The version in package.json (beside dist/ in the image and in a checkout). */
function packageVersion(): string {
  try {
    return (
      (JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version?: string })
        .version ?? 'unknown'
    );
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<number | undefined> {
  const command = parseCommandLine(process.argv.slice(2));
  switch (command.kind) {
    case 'error':
      process.stderr.write(`cc-relay: ${command.message}\n${USAGE}\n`);
      return 2;
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return 0;
    case 'version':
      process.stdout.write(`cc-relay ${packageVersion()}\n`);
      return 0;
    case 'validate': {
      const path = command.path ?? resolveConfigPath([], process.env);
      return runConfigValidate(path, process.env, (line) => process.stdout.write(line + '\n'));
    }
    case 'serve':
      break;
  }

  let loaded: ReturnType<typeof loadConfig>;
  try {
    loaded = loadConfig({ argv: command.argv, env: process.env });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`cc-relay: invalid configuration\n${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const { config } = loaded;
  // A stop requested while starting up: nothing is served yet, so leave at once (with the buffered log lines).
  const stopDuringStart = () => {
    flushLogs();
    process.exit(0);
  };
  process.once('SIGTERM', stopDuringStart);
  process.once('SIGINT', stopDuringStart);
  const app = await createApp(config);
  const log = app.getHttpAdapter().getInstance().log;
  log.info({ config: loaded.path }, 'configuration loaded');
  for (const warning of loaded.warnings) log.warn(warning);

  const { host, port } = parseListen(config.server.listen);
  await app.listen(port, host);
  app.get(DrainState).markReady();
  log.info(`cc-relay listening on http://${host}:${port}`);
  if (config.cache.warmup_file) {
    const self = `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`;
    warmCache(self, config).then(
      (report) => log.info({ ...report, file: config.cache.warmup_file }, 'cache warm-up done'),
      (err: unknown) => log.warn({ err }, 'cache warm-up failed; the relay serves without it'),
    );
  }

  process.off('SIGTERM', stopDuringStart);
  process.off('SIGINT', stopDuringStart);
  let stopping = false;
  // 1 once a second signal cut the drain short, whichever path then exits first.
  let exitCode = 0;
  const stop = (signal: string) => {
    if (stopping) {
      // A second signal: the operator wants out now. Open streams still get their `event: error` (a torn stream
      // could look complete), and the log says why the process went.
      exitCode = 1;
      const ended = app.get(InFlightService).forceStopAll();
      log.warn({ signal, ended }, 'second signal: exiting now, without waiting for the grace period');
      flushLogs();
      setTimeout(() => process.exit(1), FORCED_EXIT_FLUSH_MS).unref();
      return;
    }
    stopping = true;
    void app
      .get(GracefulShutdown)
      .run(signal)
      .then(() => app.close())
      .then(
        () => {
          flushLogs();
          process.exit(exitCode);
        },
        (err: unknown) => {
          log.error({ err }, 'error while shutting down');
          flushLogs();
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  return undefined;
}

main().then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (err: unknown) => {
    flushLogs();
    process.stderr.write(`cc-relay: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
