import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import { ConfigError, type ConfigProblem, formatPath, type PathSegment } from './config-error';
import {
  badElements,
  describeElement,
  describeExpected,
  expectsBoolean,
  expectsNumber,
  type FieldSchema,
  schemaOf,
  type SectionClass,
} from './config-schema';
import { IS_REDIS_CLUSTER_SEEDS, IS_REDIS_URL } from './redis-seeds';
import { closestMatch } from './did-you-mean';
import { crossCheck } from './config-cross-checks';
import { ProblemList } from './problem-list';
import {
  CacheConfig,
  IS_CRON_EXPRESSION,
  IS_DRILL_PERIOD,
  PUBLIC_LISTEN,
  RedisConfig,
  RelayConfig,
} from './relay-config';
import { IS_STRING_LIST_RECORD, IS_STRING_RECORD, isPlainRecord } from './record-validators';

/*
 * The config tree (parsed and env-expanded by config-loader.ts) checked against the schema of relay-config.ts and
 * turned into the typed RelayConfig: every problem at once, each with its path, the bad value (secrets masked) and
 * what was expected; unknown keys with a "did you mean"; cross-field rules last (config-cross-checks.ts).
 */

/** A validated config plus what the operator should hear about it (dropped keys, pass-through providers, …). */
export interface ValidatedConfig {
  config: RelayConfig;
  warnings: string[];
}

/** What env expansion learnt about the tree; validateConfig needs it to coerce and to drop empty keys. */
export interface ExpansionFacts {
  problems?: ConfigProblem[];
  whole?: ReadonlySet<string>;
  emptied?: ReadonlyMap<string, string>;
  written?: ReadonlyMap<string, string>;
}

interface ShapeContext {
  list: ProblemList;
  whole: ReadonlySet<string>;
}

const OMIT = Symbol('omit');
const NUMBER_TEXT = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/**
 * Validates a parsed (and expanded) config tree and turns it into the typed RelayConfig, defaults filled in.
 * Throws ConfigError with every problem at once; problems of `expansion` are reported in the same list.
 */
export function validateConfig(raw: unknown, expansion: ExpansionFacts = {}): ValidatedConfig {
  const list = new ProblemList(expansion.problems ?? [], expansion.written);
  const tree = raw ?? {};
  if (!isPlainRecord(tree)) {
    list.bad(
      [],
      tree,
      'a mapping of sections (server, providers, routing, health, cache, cluster, logging, admin, metrics)',
    );
    throw new ConfigError(list.problems);
  }
  const shaped = shapeSection(tree, RelayConfig, [], { list, whole: expansion.whole ?? new Set() });
  const dropped = emptiedKeys(shaped, expansion.emptied ?? new Map(), list);

  const config = plainToInstance(RelayConfig, shaped);
  // Left out, listen is loopback-only for an open relay and every interface once clients need a key.
  const server = shaped.server;
  const listenGiven = isPlainRecord(server) && server.listen !== undefined;
  const keys = config.server.auth.api_keys;
  if (!listenGiven && Array.isArray(keys) && keys.length > 0) config.server.listen = PUBLIC_LISTEN;
  collectErrors(validateSync(config), [], false, list);
  crossCheck(config, list);
  if (list.problems.length > 0) throw new ConfigError(inFileOrder(list.problems, tree));
  inheritClusterConnection(config);

  const warnings: string[] = [];
  const overlap = clusterPrefixOverlap(config);
  if (overlap !== undefined) warnings.push(overlap);
  for (const { provider, key, written } of dropped) {
    warnings.push(
      `providers[${provider}].keys[${key}]: dropped, its key ${written} expanded to an empty string`,
    );
  }
  config.providers.forEach((p, i) => {
    const gone = new Set(dropped.filter((d) => d.provider === i).map((d) => d.key));
    p.keys = p.keys.filter((_, j) => !gone.has(j));
    // Vertex, Bedrock and Azure with Entra ID authenticate with their cloud's credentials, not keys.
    const cloudAuth = p.type === 'vertex' || p.type === 'bedrock' || (p.type === 'azure' && p.entra_id);
    if (p.enabled && p.keys.length === 0 && p.type === 'openai') {
      // The adapter never forwards a client's credentials to an OpenAI-compatible endpoint (a local vLLM…).
      warnings.push(`provider "${p.name}" has no keys: it is called without credentials`);
    } else if (p.enabled && p.keys.length === 0 && !cloudAuth) {
      warnings.push(
        config.server.auth.api_keys.length === 0
          ? `provider "${p.name}" has no keys: it forwards each client's own credentials (pass-through)` +
              (p.type === 'anthropic'
                ? ''
                : `, except an Anthropic key (sk-ant-…), which never leaves for ${p.type}`)
          : `provider "${p.name}" has no keys: it is called without credentials (with server.auth.api_keys set, ` +
              `what clients present are relay keys, never forwarded upstream)`,
      );
    }
  });
  config.providers.forEach((p, i) => {
    // The relay appends the client's path (/v1/messages…) to base_url: a base_url that already ends in /v1 (the
    // OpenAI-style habit) sends every request to …/v1/v1/messages, a 404 for ever.
    if (p.base_url !== undefined && /\/v1\/*$/i.test(p.base_url)) {
      warnings.push(
        `providers[${i}].base_url ends in /v1: the relay appends the client's path (/v1/messages), so requests ` +
          `would go to …/v1/v1/messages; leave the /v1 out`,
      );
    }
  });
  if (config.server.auth.api_keys.length === 0) {
    warnings.push(
      `server.auth.api_keys is empty: anyone who can reach ${config.server.listen} can use the relay`,
    );
  }
  return { config, warnings };
}

/**
 * `cluster.redis` without `url` and `cluster_nodes` connects where `cache.redis` does; with one of them given, the
 * other takes its own default (a standalone URL alone means no cluster seeds, and the reverse).
 */
function inheritClusterConnection(config: RelayConfig): void {
  const cluster = config.cluster.redis;
  if (cluster.url === undefined && cluster.cluster_nodes === undefined) {
    cluster.url = config.cache.redis.url;
    cluster.cluster_nodes = [...config.cache.redis.cluster_nodes];
    return;
  }
  cluster.url ??= new RedisConfig().url;
  cluster.cluster_nodes ??= [];
}

/**
 * With `cache.mode: ha` and `cluster.mode: redis` on one Redis, a cache flush (every key under cache.redis.key_prefix)
 * would take the cluster's state with it when one prefix is under the other.
 */
function clusterPrefixOverlap(config: RelayConfig): string | undefined {
  const cache = config.cache.redis;
  const cluster = config.cluster.redis;
  if (config.cluster.mode !== 'redis' || config.cache.mode !== 'ha') return undefined;
  const sameRedis =
    (cluster.cluster_nodes ?? []).join(',') === cache.cluster_nodes.join(',') &&
    (cache.cluster_nodes.length > 0 || cluster.url === cache.url);
  const a = cache.key_prefix;
  const b = cluster.key_prefix;
  if (!sameRedis || !(a.startsWith(b) || b.startsWith(a))) return undefined;
  return (
    `cluster.redis.key_prefix "${b}" and cache.redis.key_prefix "${a}" overlap on the same Redis: DELETE ` +
    `/admin/cache would delete the cluster's shared state too (the replicas keep theirs and write it again) and ` +
    `the cache's key count includes it; give the cluster a prefix of its own (e.g. "cc-relay-cluster:")`
  );
}

function shapeSection(
  section: Record<string, unknown>,
  cls: SectionClass,
  segments: PathSegment[],
  ctx: ShapeContext,
): Record<string, unknown> {
  const fields = schemaOf(cls);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(section)) {
    const at = [...segments, key];
    const field = fields.get(key);
    // Top-level `x-…` keys are extension fields (as in Compose files): a home for YAML anchors, never a typo.
    if (field === undefined && cls === RelayConfig && key.startsWith('x-')) continue;
    if (field === undefined) {
      ctx.list.add({ path: formatPath(at), expected: unknownKey(cls, key, fields) });
      continue;
    }
    // A section whose keys are all commented out parses as null: it means "defaults", not an error.
    if (value === null && (field.nested !== undefined || field.optional)) continue;
    // `token: ${CC_RELAY_ADMIN_TOKEN:-}` with the variable unset means "not configured" (admin off), not "empty token".
    if (value === '' && field.optional) continue;
    const shaped = shapeField(value, field, at, ctx);
    if (shaped !== OMIT) out[key] = shaped;
  }
  return out;
}

function unknownKey(cls: SectionClass, key: string, fields: Map<string, FieldSchema>): string {
  if (cls === CacheConfig && key === 'olric') {
    return 'unknown key: the HA cache here is Redis, not Olric; use cache.redis (url or cluster_nodes, key_prefix) with cache.mode: ha';
  }
  const suggestion = closestMatch(key, fields.keys());
  if (suggestion !== undefined) return `unknown key, did you mean ${suggestion}?`;
  return `unknown key (known keys here: ${[...fields.keys()].join(', ')})`;
}

function shapeField(value: unknown, field: FieldSchema, at: PathSegment[], ctx: ShapeContext): unknown {
  const nested = field.nested;
  if (nested === undefined) {
    if (typeof value === 'string' && ctx.whole.has(formatPath(at))) return coerce(value, field);
    return value;
  }
  if (!nested.list) {
    if (isPlainRecord(value)) return shapeSection(value, nested.cls, at, ctx);
    ctx.list.bad(at, value, 'a mapping');
    return OMIT;
  }
  if (!Array.isArray(value)) {
    ctx.list.bad(at, value, 'a list of mappings');
    return OMIT;
  }
  return (value as unknown[]).map((item, i): unknown => {
    if (isPlainRecord(item)) return shapeSection(item, nested.cls, [...at, i], ctx);
    // Kept in place so the indices of the elements after it still match the file.
    ctx.list.bad([...at, i], item, `a mapping with ${[...schemaOf(nested.cls).keys()].join(', ')}`);
    return item;
  });
}

/** `rpm_limit: ${RPM}` must work although env values are strings; a literal "5" in the file stays a string. */
function coerce(value: string, field: FieldSchema): unknown {
  const text = value.trim();
  if (expectsNumber(field) && NUMBER_TEXT.test(text)) return Number(text);
  if (expectsBoolean(field) && /^(true|false)$/i.test(text)) return text.toLowerCase() === 'true';
  return value;
}

/** Keys written as `${VAR:-}` whose variable is unset: dropped with a warning rather than failing the start. */
function emptiedKeys(
  shaped: Record<string, unknown>,
  emptied: ReadonlyMap<string, string>,
  list: ProblemList,
): { provider: number; key: number; written: string }[] {
  const found: { provider: number; key: number; written: string }[] = [];
  const providers = shaped.providers;
  if (!Array.isArray(providers)) return found;
  providers.forEach((provider: unknown, i) => {
    const keys = isPlainRecord(provider) ? provider.keys : undefined;
    if (!Array.isArray(keys)) return;
    keys.forEach((entry: unknown, j) => {
      const path = formatPath(['providers', i, 'keys', j, 'key']);
      const written = emptied.get(path);
      if (isPlainRecord(entry) && entry.key === '' && written !== undefined) {
        list.suppress(path);
        found.push({ provider: i, key: j, written });
      }
    });
  });
  return found;
}

const LAST_STEP = /(\.[A-Za-z_][A-Za-z0-9_-]*|\[[^\]]*\])$/;

/** Sorts problems the way the file reads (a missing key sorts with its parent), so the report can be followed top down. */
function inFileOrder(problems: ConfigProblem[], tree: unknown): ConfigProblem[] {
  const order = new Map<string, number>();
  const visit = (node: unknown, segments: PathSegment[]): void => {
    order.set(formatPath(segments), order.size);
    if (Array.isArray(node)) node.forEach((item: unknown, i) => visit(item, [...segments, i]));
    else if (isPlainRecord(node)) for (const [k, v] of Object.entries(node)) visit(v, [...segments, k]);
  };
  visit(tree, []);
  const rank = (path: string): number => {
    for (let p = path; p !== ''; p = p.replace(LAST_STEP, '')) {
      const found = order.get(p);
      if (found !== undefined) return found;
      if (!LAST_STEP.test(p)) break;
    }
    return order.size;
  };
  return problems
    .map((problem, i) => ({ problem, i, rank: rank(problem.path) }))
    .sort((a, b) => a.rank - b.rank || a.i - b.i)
    .map((entry) => entry.problem);
}

function collectErrors(
  errors: ValidationError[],
  segments: PathSegment[],
  inList: boolean,
  list: ProblemList,
): void {
  for (const error of errors) {
    const at = [...segments, inList ? Number(error.property) : error.property];
    if (error.constraints !== undefined && !list.covers(at)) reportError(error, at, list);
    if (error.children !== undefined && error.children.length > 0) {
      collectErrors(error.children, at, Array.isArray(error.value), list);
    }
  }
}

/** Validators whose message already says what was expected (it is shown as is). */
const SELF_DESCRIBING = new Set([IS_REDIS_URL, IS_CRON_EXPRESSION, IS_DRILL_PERIOD]);

function reportError(error: ValidationError, at: PathSegment[], list: ProblemList): void {
  const target: unknown = error.target;
  const field =
    typeof target === 'object' && target !== null && !Array.isArray(target)
      ? schemaOf(target.constructor as SectionClass).get(error.property)
      : undefined;
  const value: unknown = error.value;
  if (field === undefined) {
    list.bad(at, value, 'a mapping');
    return;
  }
  const failed = Object.keys(error.constraints ?? {});
  if (failed.includes(IS_STRING_RECORD) && isPlainRecord(value)) {
    for (const [k, v] of Object.entries(value))
      if (typeof v !== 'string') list.bad([...at, k], v, 'a string');
    return;
  }
  if (failed.includes(IS_STRING_LIST_RECORD) && isPlainRecord(value)) {
    for (const [k, v] of Object.entries(value)) {
      if (!Array.isArray(v)) list.bad([...at, k], v, 'a list of strings');
      else
        v.forEach((item: unknown, i) => {
          if (typeof item !== 'string') list.bad([...at, k, i], item, 'a string');
        });
    }
    return;
  }
  if (failed.length === 1 && failed[0] === IS_REDIS_CLUSTER_SEEDS) {
    // Every seed is well-formed on its own; together they disagree: the validator says how.
    const why = String(error.constraints?.[IS_REDIS_CLUSTER_SEEDS]);
    list.bad(at, value, `seed URLs that all give the same scheme, username and password (${why})`);
    return;
  }
  const only = failed.length === 1 ? failed[0] : undefined;
  if (only !== undefined && SELF_DESCRIBING.has(only)) {
    list.bad(at, value, String(error.constraints?.[only]).replace(/^expected /, ''));
    return;
  }
  const elements = Array.isArray(value) ? badElements(field, value) : [];
  if (Array.isArray(value) && elements.length > 0) {
    for (const i of elements) list.bad([...at, i], value[i], describeElement(field));
    return;
  }
  list.bad(at, value, describeExpected(field));
}
