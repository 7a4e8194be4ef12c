/**
 * The command line, read before anything starts: a typo in a Kubernetes `args` must not start a relay on the
 * bundled (open) config. Pure: main.ts acts on the answer.
 */
import { ADMIN_COMMANDS, ADMIN_USAGE } from './admin-cli/admin-cli';

/** What the command line asks for. */
export type CliCommand =
  /** Serve; `argv` is handed to the config loader (`--config PATH`, if given, is in it). */
  | { kind: 'serve'; argv: string[] }
  /** `config validate [PATH]`: the path, or undefined for the one the relay would load. */
  | { kind: 'validate'; path: string | undefined }
  /** `config init [PATH] [--force]`: write a commented starter config (PATH, else ./cc-relay.yaml; - for stdout). */
  | { kind: 'init'; path: string; force: boolean }
  /** An admin command (`status`, `providers`, `reset`, …): `argv` is handed to the admin CLI whole. */
  | { kind: 'admin'; argv: string[] }
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'error'; message: string };

export const USAGE = `usage:
  cc-relay [--config PATH]              serve (PATH, else $CC_RELAY_CONFIG, else config/cc-relay.yaml)
  cc-relay config validate [PATH]       check a config file without starting (also: --config PATH)
  cc-relay config init [PATH] [--force] write a commented starter config (default ./cc-relay.yaml; - = stdout)
  cc-relay --help | --version
${ADMIN_USAGE}`;

/** Reads `process.argv.slice(2)`. */
export function parseCommandLine(argv: readonly string[]): CliCommand {
  if (argv.length === 1 && (argv[0] === '--help' || argv[0] === '-h')) return { kind: 'help' };
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) return { kind: 'version' };
  if (argv[0] !== undefined && ADMIN_COMMANDS.has(argv[0])) return { kind: 'admin', argv: [...argv] };
  if (argv[0] === 'config' && argv[1] === 'init') return parseInit(argv.slice(2));
  if (argv[0] === 'config') {
    if (argv[1] !== 'validate') {
      return { kind: 'error', message: `unknown command "config ${argv[1] ?? ''}"`.replace(/ "$/, '"') };
    }
    const rest = argv.slice(2);
    if (rest.length === 1 && !rest[0]!.startsWith('-')) return { kind: 'validate', path: rest[0] };
    const config = configOption(rest);
    return config.kind === 'error' ? config : { kind: 'validate', path: config.path };
  }
  const config = configOption(argv);
  if (config.kind === 'error') return config;
  return { kind: 'serve', argv: [...argv] };
}

/**
 * The `--config PATH` / `--config=PATH` of an argument list that may hold nothing else: the path, undefined when
 * absent, or what is wrong (an unknown argument, a missing path, the option given twice).
 */
function configOption(args: readonly string[]): { kind: 'ok'; path: string | undefined } | CliError {
  let path: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    let value: string | undefined;
    if (arg === '--config') {
      value = args[i + 1];
      if (value === undefined || value.startsWith('-'))
        return { kind: 'error', message: '--config needs a file path' };
      i++;
    } else if (arg.startsWith('--config=')) {
      value = arg.slice('--config='.length);
      if (value === '') return { kind: 'error', message: '--config needs a file path' };
    } else {
      return { kind: 'error', message: `unknown argument "${arg}"` };
    }
    if (path !== undefined) return { kind: 'error', message: '--config given twice' };
    path = value;
  }
  return { kind: 'ok', path };
}

function parseInit(args: readonly string[]): CliCommand {
  const force = args.includes('--force');
  const rest = args.filter((a) => a !== '--force');
  const unknown = rest.find((a) => a.startsWith('--'));
  if (unknown !== undefined) return { kind: 'error', message: `unknown argument "${unknown}"` };
  if (rest.length > 1) return { kind: 'error', message: `unknown argument "${rest[1]}"` };
  return { kind: 'init', path: rest[0] ?? 'cc-relay.yaml', force };
}

type CliError = Extract<CliCommand, { kind: 'error' }>;
