import { ConfigError, formatProblem } from './config-error';
import { loadConfigFile } from './config-loader';
import type { Env } from './env-expansion';

/**
 * `cc-relay config validate PATH`: loads the file exactly as the relay would and prints the verdict.
 * Returns the process exit code: 0 when the config is usable, 1 when it is not.
 */
export function runConfigValidate(path: string, env: Env, out: (line: string) => void): number {
  try {
    const { config, path: loaded, warnings } = loadConfigFile(path, env);
    const count = config.providers.length;
    const providers = count === 1 ? '1 provider' : `${count} providers`;
    out(
      `config OK: ${loaded} (${providers}, strategy ${config.routing.strategy}, cache mode ${config.cache.mode})`,
    );
    for (const warning of warnings) out(`warning: ${warning}`);
    return 0;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const count = err.problems.length === 1 ? '1 problem' : `${err.problems.length} problems`;
    out(`config invalid: ${err.source ?? path} (${count})`);
    for (const problem of err.problems) out(`- ${formatProblem(problem)}`);
    return 1;
  }
}
