/**
 * The seeds of `cache.redis.cluster_nodes`: `host:port`, or redis:// / rediss:// URLs whose credentials and TLS
 * apply to every node the cluster discovers (so the URL seeds must agree). Pure: the config validates with it and
 * the Redis cache connects with it.
 */

/** The class-validator constraint name of the agreement check (config errors quote its message). */
export const IS_REDIS_CLUSTER_SEEDS = 'isRedisClusterSeeds';

/** The class-validator constraint name of the `cache.redis.url` check (config errors quote its message). */
export const IS_REDIS_URL = 'isRedisUrl';

/** What the seeds give the cluster client. */
export interface ClusterAccess {
  seeds: { host: string; port: number }[];
  tls: boolean;
  username?: string;
  password?: string;
}

/**
 * One seed: `host:port`, or a redis:// / rediss:// URL with optional `user[:password]@` (percent-encoded).
 * Groups: scheme, userinfo, host, port.
 */
export const CLUSTER_SEED =
  /^(?:(rediss?):\/\/(?:((?:[^\s/@?#%]|%[0-9A-Fa-f]{2})*)@)?)?(\[[0-9A-Fa-f:.]+\]|[^\s:/@?#[\]]+):(\d{1,5})$/;

/**
 * The seeds of `cluster_nodes` and the access they share: credentials (URL-decoded) and TLS (`rediss://`) of
 * the seeds written as URLs; a bare `host:port` seed takes them too. Throws when a seed is malformed or when
 * the URL seeds disagree on scheme, username or password. The messages never contain a credential.
 */
export function parseClusterNodes(nodes: readonly string[]): ClusterAccess {
  const seeds: { host: string; port: number }[] = [];
  let shared: { index: number; tls: boolean; username?: string; password?: string } | undefined;
  nodes.forEach((node, index) => {
    const match = CLUSTER_SEED.exec(node);
    const port = Number(match?.[4]);
    if (!match || !(port >= 1 && port <= 65535)) {
      throw new Error(
        `cluster_nodes[${index}] is not host:port or redis[s]://[user[:password]@]host:port (port 1-65535)`,
      );
    }
    seeds.push({ host: match[3]!.replace(/^\[(.*)\]$/, '$1'), port });
    const scheme = match[1];
    if (scheme === undefined) return;
    const [user = '', pass] = splitOnce(match[2] ?? '', ':');
    let access: { index: number; tls: boolean; username?: string; password?: string };
    try {
      access = {
        index,
        tls: scheme === 'rediss',
        username: user === '' ? undefined : decodeURIComponent(user),
        password: pass === undefined || pass === '' ? undefined : decodeURIComponent(pass),
      };
    } catch {
      throw new Error(`cluster_nodes[${index}] has a badly URL-encoded username or password`);
    }
    if (shared === undefined) {
      shared = access;
      return;
    }
    const what =
      access.tls !== shared.tls
        ? 'the scheme (redis:// or rediss://)'
        : access.username !== shared.username
          ? 'the username'
          : access.password !== shared.password
            ? 'the password'
            : undefined;
    if (what !== undefined) {
      throw new Error(`cluster_nodes[${index}] disagrees with cluster_nodes[${shared.index}] on ${what}`);
    }
  });
  return {
    seeds,
    tls: shared?.tls ?? false,
    ...(shared?.username !== undefined && { username: shared.username }),
    ...(shared?.password !== undefined && { password: shared.password }),
  };

  function splitOnce(text: string, separator: string): [string, string | undefined] {
    const at = text.indexOf(separator);
    return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + separator.length)];
  }
}

/** Why a `cluster_nodes` value cannot be used (see parseClusterNodes), or undefined when it can. */
export function clusterNodesProblem(value: unknown): string | undefined {
  // Not a list of strings: @IsArray / @IsString say so.
  if (!Array.isArray(value) || !value.every((node) => typeof node === 'string')) return undefined;
  try {
    parseClusterNodes(value);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * Why the Redis client cannot use `cache.redis.url`, or undefined when it can. The client parses the URL when the
 * relay starts, so a password with a raw `/`, `?` or `#` (a generated secret pasted in) would otherwise pass
 * `config validate` and then stop the relay at start, with the whole URL in the error. The messages never contain
 * a credential.
 */
export function redisUrlProblem(value: unknown): string | undefined {
  // Not a redis:// or rediss:// string: @IsString / @Matches say so.
  if (typeof value !== 'string' || !/^rediss?:\/\//.test(value)) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'a URL that parses as redis[s]://[user[:password]@]host[:port][/db] (port 1-65535; percent-encode "/", "?", "#" and "%" in a username or password)';
  }
  try {
    decodeURIComponent(url.username);
    decodeURIComponent(url.password);
  } catch {
    return 'a URL whose username and password are correctly percent-encoded';
  }
  if (url.hostname === '') return 'a URL with a host: redis[s]://[user[:password]@]host[:port][/db]';
  if (url.pathname.length > 1 && !/^\/\d+$/.test(url.pathname)) {
    return 'a URL whose path, if any, is a database number (redis://host:6379/0)';
  }
  return undefined;
}
