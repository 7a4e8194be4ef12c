import { existsSync, readFileSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import { isAlias, LineCounter, parseDocument, visit, type Document } from 'yaml';
import { ConfigError } from './config-error';
import { validateConfig, type ValidatedConfig } from './config-validation';
import { type Env, expandEnv } from './env-expansion';

/** The config file used when neither `--config` nor CC_RELAY_CONFIG names one. */
export const DEFAULT_CONFIG_PATH = 'config/cc-relay.yaml';

/** The two file syntaxes; chosen by extension. */
export type ConfigFormat = 'yaml' | 'toml';

/** A validated config and the file it came from. */
export interface LoadedConfig extends ValidatedConfig {
  path: string;
}

/**
 * Which config file to load: `--config PATH` / `--config=PATH`, else CC_RELAY_CONFIG, else config/cc-relay.yaml in the
 * working directory, else the one shipped beside the code (so `node /somewhere/dist/main.js` still starts).
 */
export function resolveConfigPath(argv: readonly string[], env: Env, cwd: string = process.cwd()): string {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    let chosen: string | undefined;
    if (arg === '--config') {
      const next = argv[i + 1];
      chosen = next === undefined || next.startsWith('--') ? '' : next;
    } else if (arg.startsWith('--config=')) {
      chosen = arg.slice('--config='.length);
    }
    if (chosen === '') throw new ConfigError([{ path: '--config', expected: 'a file path after --config' }]);
    if (chosen !== undefined) return resolve(cwd, chosen);
  }
  const fromEnv = env.CC_RELAY_CONFIG;
  if (fromEnv !== undefined && fromEnv !== '') return resolve(cwd, fromEnv);
  const local = resolve(cwd, DEFAULT_CONFIG_PATH);
  return existsSync(local) ? local : join(packageRoot(), DEFAULT_CONFIG_PATH);
}

/** The directory of the package.json above this file (the checkout, or /app in the image). */
export function packageRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
  return dir;
}

/** The syntax of a config file, from its extension. */
export function configFormatOf(path: string): ConfigFormat {
  const ext = extname(path).toLowerCase();
  if (ext === '.yaml' || ext === '.yml') return 'yaml';
  if (ext === '.toml') return 'toml';
  throw new ConfigError(
    [{ path: '(file)', expected: `a .yaml, .yml or .toml file, not "${ext || 'no extension'}"` }],
    path,
  );
}

/** Loads the config the command line / environment selects. The result is the only config the app reads. */
export function loadConfig(
  opts: { argv?: string[]; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): LoadedConfig {
  const env = opts.env ?? process.env;
  const path = resolveConfigPath(opts.argv ?? process.argv.slice(2), env, opts.cwd ?? process.cwd());
  return loadConfigFile(path, env);
}

/** Reads, expands and validates one config file; throws ConfigError listing every problem. */
export function loadConfigFile(path: string, env: Env): LoadedConfig {
  const format = configFormatOf(path);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ConfigError([{ path: '(file)', expected: `a readable file (${reason})` }], path);
  }
  try {
    return { ...parseConfigText(text, format, env), path };
  } catch (err) {
    if (err instanceof ConfigError && err.source === undefined) throw new ConfigError(err.problems, path);
    throw err;
  }
}

/** Parses YAML or TOML text, expands `${VAR}` in its string values and validates the result. */
export function parseConfigText(text: string, format: ConfigFormat, env: Env): ValidatedConfig {
  const expansion = expandEnv(parseTree(text.replace(/^\uFEFF/, ''), format), env);
  return validateConfig(expansion.value, expansion);
}

function firstLine(message: string): string {
  // Parser messages go on to quote the offending source line, which may hold a key: keep only the first line.
  return (message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
}

function parseTree(text: string, format: ConfigFormat): unknown {
  if (format === 'toml') {
    try {
      return parseToml(text);
    } catch (err) {
      if (!(err instanceof TomlError)) throw err;
      const expected = firstLine(err.message).replace(/^Invalid TOML document: /, '');
      throw new ConfigError([
        { path: `line ${err.line}, column ${err.column}`, expected: `valid TOML: ${expected}` },
      ]);
    }
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true, merge: true, lineCounter });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const at = e.linePos?.[0];
        const path = at === undefined ? '(file)' : `line ${at.line}, column ${at.col}`;
        return { path, expected: `valid YAML: ${firstLine(e.message)}` };
      }),
    );
  }
  try {
    return doc.toJS({ maxAliasCount: 100 }) as unknown;
  } catch (err) {
    // An alias to an anchor never set (or set after it) fails only here: point at the alias.
    const at = unresolvedAliasOffset(doc);
    const pos = at === undefined ? undefined : lineCounter.linePos(at);
    throw new ConfigError([
      {
        path: pos === undefined ? '(file)' : `line ${pos.line}, column ${pos.col}`,
        expected: `valid YAML: ${err instanceof Error ? firstLine(err.message) : ''}`,
      },
    ]);
  }
}

/** Where the first alias whose anchor cannot be found sits in the text. */
function unresolvedAliasOffset(doc: Document): number | undefined {
  let offset: number | undefined;
  visit(doc, {
    Alias(_key, node) {
      if (!isAlias(node) || node.resolve(doc) !== undefined) return undefined;
      offset = node.range?.[0];
      return visit.BREAK;
    },
  });
  return offset;
}
