import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DEFAULT_CONFIG_PATH, packageRoot } from '../config/config-loader';

/**
 * `cc-relay config init [PATH]`: writes the bundled config (every key with its default and a comment saying what it
 * does) as a starting point. Never overwrites a file unless `force`; `-` prints it instead. Returns the exit code.
 */
export function writeStarterConfig(
  path: string,
  force: boolean,
  out: { stdout: (text: string) => void; stderr: (text: string) => void },
  root: string = packageRoot(),
): number {
  const text = readFileSync(join(root, DEFAULT_CONFIG_PATH), 'utf8');
  if (path === '-') {
    out.stdout(text);
    return 0;
  }
  const target = resolve(path);
  if (existsSync(target) && !force) {
    out.stderr(`cc-relay: ${target} exists; pass --force to overwrite it\n`);
    return 1;
  }
  try {
    writeFileSync(target, text, { mode: 0o600 });
  } catch (err) {
    out.stderr(`cc-relay: cannot write ${target}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  out.stdout(`wrote ${target}\ncheck it with: cc-relay config validate ${path}\n`);
  return 0;
}
