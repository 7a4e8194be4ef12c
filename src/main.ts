#!/usr/bin/env node
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ADMIN_USAGE, EXIT_USAGE, parseAdminCommand, runAdminCommand } from './admin-cli/admin-cli';
import { writeStarterConfig } from './admin-cli/config-init';
import { parseCommandLine, USAGE } from './cli';
import { ConfigError } from './config/config-error';
import { loadConfig, resolveConfigPath } from './config/config-loader';
import { runConfigValidate } from './config/config-validate.command';

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

/** Flushes the buffered log lines once the app's modules are loaded (before that there are none). */
let flushLogs: () => void = () => undefined;

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
    case 'init':
      return writeStarterConfig(command.path, command.force, {
        stdout: (text) => process.stdout.write(text),
        stderr: (text) => process.stderr.write(text),
      });
    case 'admin': {
      const parsed = parseAdminCommand(command.argv, process.env);
      if ('error' in parsed) {
        process.stderr.write(`cc-relay: ${parsed.error}\n${ADMIN_USAGE}\n`);
        return EXIT_USAGE;
      }
      const result = await runAdminCommand(parsed.command, parsed.options);
      process.stdout.write(result.stdout);
      process.stderr.write(result.stderr);
      return result.code;
    }
    case 'serve':
      break;
  }
  // The app's modules load only to serve: the admin and config commands above start in a fraction of the time.
  const factory = await import('./app.factory');
  const { createApp, parseListen } = factory;
  flushLogs = factory.flushLogs;
  const { warmCache } = await import('./cache/cache-warmup');
  const { GracefulShutdown } = await import('./common/graceful-shutdown.service');
  const { InFlightService } = await import('./common/in-flight.service');
  const { DrainState } = await import('./common/drain-state');
  const { ConfigHolder } = await import('./config/config-holder');
  // SIGHUP reloads the config file (its default action would end the process); one that arrives while starting
  // is ignored, the file is read then anyway.
  let reloadOnHup: () => void = () => undefined;
  process.on('SIGHUP', () => reloadOnHup());

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
  // CC_RELAY_WATCH_CONFIG=false: reload only on SIGHUP or the admin call, not when the file changes.
  const watchConfig = !/^(false|0|no|off)$/i.test(process.env.CC_RELAY_WATCH_CONFIG ?? '');
  const app = await createApp(config, { configPath: loaded.path, watchConfig });
  const log = app.getHttpAdapter().getInstance().log;
  log.info({ config: loaded.path }, 'configuration loaded');
  for (const warning of loaded.warnings) log.warn(warning);

  const { host, port } = parseListen(config.server.listen);
  await app.listen(port, host);
  app.get(DrainState).markReady();
  log.info(`cc-relay listening on http://${host}:${port}`);
  const holder = app.get(ConfigHolder);
  reloadOnHup = () => {
    holder.reload('sighup');
  };
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
