import 'reflect-metadata';
import { Type } from 'class-transformer';
import {
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  MinLength,
  ValidateBy,
  ValidateNested,
} from 'class-validator';
import {
  CLUSTER_SEED,
  clusterNodesProblem,
  IS_REDIS_CLUSTER_SEEDS,
  IS_REDIS_URL,
  redisUrlProblem,
} from './redis-seeds';
import { IsStringListRecord, IsStringRecord } from './record-validators';
import { cronProblem, everyProblem } from './drill-schedule';

/**
 * The whole configuration as one typed object. Property names are the config file's keys (snake_case), so the
 * file, the docs and the code use one vocabulary; field initialisers are the defaults. Every key written in
 * ../shared/spec/*.md and the issues is accepted here with its documented default.
 */

/** The longest delay a Node timer can wait (2^31 - 1 ms, ~24.8 days); a longer one fires after 1 ms. */
export const MAX_TIMER_MS = 2_147_483_647;

export const PROVIDER_TYPES = [
  'anthropic',
  'zai',
  'minimax',
  'ollama',
  'azure',
  'vertex',
  'bedrock',
  'openai',
] as const;
export type ProviderType = (typeof PROVIDER_TYPES)[number];

export const ROUTING_STRATEGIES = [
  'failover',
  'round_robin',
  'weighted_round_robin',
  'shuffle',
  'least_loaded',
  'model_based',
] as const;
export type RoutingStrategyName = (typeof ROUTING_STRATEGIES)[number];

/**
 * When a stream is committed to the client (its status and headers written, no fail-over after): at its first
 * content event (`content`), or as soon as the upstream's 2xx headers arrive (`headers`).
 */
export const STREAM_COMMIT_POINTS = ['content', 'headers'] as const;
export type StreamCommitPoint = (typeof STREAM_COMMIT_POINTS)[number];

/**
 * What the health probe sends: `messages` (the smallest Messages request: max_tokens 1, so it meets an overload
 * the way real traffic does), `count_tokens` (no tokens spent) or `models` (GET /v1/models, which stays 200
 * while inference is overloaded).
 */
export const PROBE_KINDS = ['messages', 'count_tokens', 'models'] as const;
export type ProbeKind = (typeof PROBE_KINDS)[number];

export const CACHE_MODES = ['single', 'ha', 'disabled'] as const;
export type CacheMode = (typeof CACHE_MODES)[number];
export const CLUSTER_MODES = ['local', 'redis'] as const;
export type ClusterMode = (typeof CLUSTER_MODES)[number];

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const LOG_FORMATS = ['json', 'text'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** The default listen address of an open relay (no client keys): this machine only. */
export const LOOPBACK_LISTEN = '127.0.0.1:8787';
/** The default listen address once client keys are configured. */
export const PUBLIC_LISTEN = '0.0.0.0:8787';

export class AuthConfig {
  /** Relay client keys, accepted as `x-api-key` or `Authorization: Bearer`. Empty = open relay (warned at start). */
  @IsArray()
  @IsString({ each: true })
  @MinLength(1, { each: true })
  api_keys: string[] = [];

  @IsBoolean()
  allow_bearer = true;

  /**
   * Says an open relay (no `api_keys`) on a non-loopback `server.listen` is meant; without it such a config is refused
   * at start, since anyone who reaches the port would spend the providers' keys.
   */
  @IsBoolean()
  allow_open = false;
}

export class ShutdownConfig {
  /** After SIGTERM: readiness is 503 at once; new connections are still accepted for this long (ingress catch-up). */
  @IsInt()
  @Min(0)
  @Max(MAX_TIMER_MS)
  delay_ms = 0;

  /** Then in-flight requests and streams get this long before open streams are ended with `event: error`. */
  @IsInt()
  @Min(0)
  @Max(MAX_TIMER_MS)
  grace_ms = 30_000;
}

/** The most upstream connections one provider may hold (about the ephemeral ports towards one address). */
export const MAX_PROVIDER_CONNECTIONS = 65_535;

export class ServerConfig {
  /**
   * host:port to listen on. Left out: 127.0.0.1:8787 while `auth.api_keys` is empty (an open relay serves this machine
   * only), else 0.0.0.0:8787 (config-validation.ts sets it).
   */
  @IsString()
  @Matches(/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/, { message: 'expected host:port, e.g. 0.0.0.0:8787' })
  listen = LOOPBACK_LISTEN;

  /** Upstream timeout for one attempt. Non-streaming answers can legitimately take up to 10 minutes. */
  @IsInt()
  @Min(1)
  @Max(MAX_TIMER_MS)
  timeout_ms = 600_000;

  @IsInt()
  @Min(1)
  max_body_bytes = 32 * 1024 * 1024;

  /**
   * Upstream connections per provider, unless the provider sets max_connections. Each request in flight holds one
   * for its whole answer (a stream for minutes), so the default fits thousands of concurrent streams. A provider
   * at its limit is passed over while another can serve the request now.
   */
  @IsInt()
  @Min(1)
  @Max(MAX_PROVIDER_CONNECTIONS)
  max_connections_per_provider = 4096;
  /** A request's body must have arrived within this, counted from its headers (408 otherwise); 0 = no limit. */
  @IsInt()
  @Min(0)
  @Max(MAX_TIMER_MS)
  body_timeout_ms = 30_000;

  /** After its first 3 s, a body arriving slower than this on average is given up on (408); 0 = no minimum. */
  @IsInt()
  @Min(0)
  body_min_bytes_per_s = 1024;

  /** Open connections one client address may hold; 0 = no cap (behind an ingress every client shares its address). */
  @IsInt()
  @Min(0)
  max_connections_per_ip = 0;

  /** Bytes of request bodies all requests in flight may hold together; beyond it new ones get 503; 0 = no bound. */
  @IsInt()
  @Min(0)
  max_inflight_body_bytes = 256 * 1024 * 1024;

  @ValidateNested()
  @Type(() => AuthConfig)
  auth: AuthConfig = new AuthConfig();

  @ValidateNested()
  @Type(() => ShutdownConfig)
  shutdown: ShutdownConfig = new ShutdownConfig();
}

export class ProviderKeyConfig {
  @IsString()
  @MinLength(1)
  key!: string;

  /** Requests per minute this key may send; 0 = unlimited (learned from response headers if the upstream says). */
  @IsInt()
  @Min(0)
  rpm_limit = 0;

  /** Input tokens per minute. */
  @IsInt()
  @Min(0)
  itpm_limit = 0;

  /** Output tokens per minute. */
  @IsInt()
  @Min(0)
  otpm_limit = 0;

  @IsNumber()
  @Min(0)
  weight = 1;
}

/** Per-provider health check settings; an unset key takes health.health_check's. */
export class ProviderHealthCheckConfig {
  @IsOptional()
  @IsIn(PROBE_KINDS)
  probe?: ProbeKind;
}

export class ProviderConfig {
  @IsString()
  @Matches(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, { message: 'expected a name of letters, digits, ".", "_" or "-"' })
  name!: string;

  @IsIn(PROVIDER_TYPES)
  type: ProviderType = 'anthropic';

  @IsBoolean()
  enabled = true;

  /** Defaults per type (see provider-defaults.ts). */
  @IsOptional()
  @IsString()
  @Matches(/^https?:\/\/[^\s]+$/, { message: 'expected an http:// or https:// URL' })
  base_url?: string;

  /** failover: highest priority first, config order breaks ties. */
  @IsInt()
  priority = 0;

  /** weighted_round_robin weight; 0 drains the provider. */
  @IsNumber()
  @Min(0)
  weight = 1;

  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => ProviderKeyConfig)
  keys: ProviderKeyConfig[] = [];

  /** Models this provider serves (for /v1/models and model routing). Empty = serves any model. */
  @IsArray()
  @IsString({ each: true })
  models: string[] = [];

  /** Client model name -> upstream model name. */
  @IsStringRecord()
  model_mapping: Record<string, string> = {};

  /** Upstream connections to this provider; default server.max_connections_per_provider. */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_PROVIDER_CONNECTIONS)
  max_connections?: number;
  /** azure: authenticate with Entra ID (DefaultAzureCredential) instead of `keys`. */
  @IsBoolean()
  entra_id = false;

  /** vertex: the Google Cloud project. Required for type vertex. */
  @IsOptional()
  @IsString()
  @MinLength(1)
  gcp_project_id?: string;

  /** vertex: the region (`us-east5`, `europe-west1`, `global`). Required for type vertex. */
  @IsOptional()
  @IsString()
  @Matches(/^[a-z0-9-]+$/, { message: 'expected a region name such as us-east5 or global' })
  gcp_region?: string;

  /** vertex: a service-account JSON file; left out, Google's application default credentials. */
  @IsOptional()
  @IsString()
  @MinLength(1)
  credentials_file?: string;

  /** bedrock: the AWS region. Required for type bedrock. */
  @IsOptional()
  @IsString()
  @Matches(/^[a-z0-9-]+$/, { message: 'expected a region name such as us-east-1' })
  aws_region?: string;

  /** bedrock: a profile of the shared AWS config files; left out, the default credential chain. */
  @IsOptional()
  @IsString()
  @MinLength(1)
  aws_profile?: string;

  /** Overrides of health.health_check for this provider. */
  @ValidateNested()
  @Type(() => ProviderHealthCheckConfig)
  health_check: ProviderHealthCheckConfig = new ProviderHealthCheckConfig();
}

export class RetryConfig {
  /** Upstream attempts per request, all providers and fallbacks together. */
  @IsInt()
  @Min(1)
  @Max(20)
  max_attempts = 3;

  @IsInt()
  @Min(0)
  @Max(MAX_TIMER_MS)
  base_delay_ms = 250;

  @IsInt()
  @Min(0)
  @Max(MAX_TIMER_MS)
  max_delay_ms = 4_000;

  /** A longer retry-after is treated as "quota gone": fail over instead of sleeping. */
  @IsInt()
  @Min(0)
  @Max(MAX_TIMER_MS)
  max_retry_after_ms = 10_000;

  /** Retries may add at most this share of live traffic. */
  @IsNumber()
  @Min(0)
  @Max(10)
  budget_ratio = 0.2;
}

export class RoutingConfig {
  @IsIn(ROUTING_STRATEGIES)
  strategy: RoutingStrategyName = 'failover';

  /** Adds X-CC-Relay-* headers that expose routing internals. */
  @IsBoolean()
  debug = false;

  /** model_based: model prefix -> provider names. */
  @IsStringListRecord()
  model_routes: Record<string, string[]> = {};

  /** model -> ordered fallback models. */
  @IsStringListRecord()
  fallbacks: Record<string, string[]> = {};

  @ValidateNested()
  @Type(() => RetryConfig)
  retry: RetryConfig = new RetryConfig();

  /**
   * Bounds the retries, backoffs and fallbacks until the first byte goes to the client: none starts after it, and
   * each is cut to what is left of it. The first attempt always has its whole server.timeout_ms (streams:
   * ttft_timeout_ms), so a long JSON answer is never cut by the deadline.
   */
  @IsInt()
  @Min(1)
  @Max(MAX_TIMER_MS)
  deadline_ms = 120_000;

  /** Streams: the first content event must arrive by then, else fail over. */
  @IsInt()
  @Min(1)
  @Max(MAX_TIMER_MS)
  ttft_timeout_ms = 30_000;

  /** Streams: silence longer than this ends the stream with event: error. */
  @IsInt()
  @Min(1)
  @Max(MAX_TIMER_MS)
  stall_timeout_ms = 60_000;

  /**
   * Streams: a client that takes no byte of its stream for this long (the relay waiting on its back-pressure) is
   * let go with event: error. Longer than stall_timeout_ms: the kernel's socket buffers (megabytes) show a slow
   * reader's progress only in steps of a third of them, so a client that reads slowly looks idle for a while.
   */
  @IsInt()
  @Min(1)
  @Max(MAX_TIMER_MS)
  client_stall_timeout_ms = 300_000;

  /**
   * Streams: `content` (default) holds the answer's status, headers and first events until its first content
   * event, so a failure before it is still retried or failed over; `headers` writes them as soon as the upstream's
   * 2xx headers arrive (the first byte at once), and a later failure ends the stream with event: error, no
   * fail-over (the TTFT timeout then no longer applies; stall_timeout_ms does).
   */
  @IsIn(STREAM_COMMIT_POINTS)
  commit: StreamCommitPoint = 'content';
}

export class HealthCheckConfig {
  /** Periodic probes of OPEN circuits. */
  @IsBoolean()
  enabled = true;

  @IsInt()
  @Min(100)
  @Max(MAX_TIMER_MS)
  interval_ms = 10_000;

  /** One probe's timeout. */
  @IsInt()
  @Min(1)
  @Max(MAX_TIMER_MS)
  timeout_ms = 5_000;

  /** What a probe sends (see PROBE_KINDS); a provider's own health_check.probe overrides it. */
  @IsIn(PROBE_KINDS)
  // The spec's probe is a lightweight connection test, not a full API call (health-and-circuit-breaker.md, 헬스 체크
  // 프로브 §4): `models` by default; `messages` is the operator's choice where overloads must be seen.
  probe: ProbeKind = 'models';
}

export class CircuitBreakerConfig {
  @IsInt()
  @Min(1)
  failure_threshold = 5;

  @IsInt()
  @Min(1)
  @Max(MAX_TIMER_MS)
  open_duration_ms = 30_000;

  /**
   * Each re-open from HALF_OPEN doubles the open duration up to this (Envoy's max_ejection_time); a close resets
   * it. A value below open_duration_ms (the default, 0) means no growth: the spec's circuit stays open
   * open_duration_ms every time.
   */
  @IsInt()
  @Min(0)
  @Max(MAX_TIMER_MS)
  max_open_duration_ms = 0;

  @IsInt()
  @Min(1)
  half_open_probes = 3;
}

export class HealthConfig {
  @ValidateNested()
  @Type(() => HealthCheckConfig)
  health_check: HealthCheckConfig = new HealthCheckConfig();

  @ValidateNested()
  @Type(() => CircuitBreakerConfig)
  circuit_breaker: CircuitBreakerConfig = new CircuitBreakerConfig();
}

export class RistrettoConfig {
  /** Frequency counters of the admission sketch; ~10x the expected number of entries. */
  @IsInt()
  @Min(16)
  num_counters = 1_000_000;

  /** Byte budget of cached values. */
  @IsInt()
  @Min(1)
  max_cost = 104_857_600;

  /** Accesses buffered before they are applied to the sketch. */
  @IsInt()
  @Min(1)
  buffer_items = 64;
}

export class RedisConfig {
  /** Standalone Redis. Ignored when cluster_nodes is set. */
  @IsString()
  @Matches(/^rediss?:\/\/\S+$/, { message: 'expected a redis:// or rediss:// URL' })
  @ValidateBy({
    name: IS_REDIS_URL,
    validator: {
      validate: (value: unknown): boolean => redisUrlProblem(value) === undefined,
      defaultMessage: (args) => redisUrlProblem(args?.value) ?? 'invalid url',
    },
  })
  url = 'redis://127.0.0.1:6379';

  /**
   * Redis Cluster seed nodes, each `host:port` or `redis[s]://[user[:password]@]host:port` (URL-encoded). The
   * credentials and TLS of the URL seeds apply to every node the cluster discovers, so the URL seeds must agree.
   */
  @IsArray()
  @IsString({ each: true })
  @Matches(CLUSTER_SEED, {
    each: true,
    message: 'expected host:port or redis[s]://[user[:password]@]host:port',
  })
  @ValidateBy({
    name: IS_REDIS_CLUSTER_SEEDS,
    validator: {
      validate: (value: unknown): boolean => clusterNodesProblem(value) === undefined,
      defaultMessage: (args) => clusterNodesProblem(args?.value) ?? 'invalid cluster_nodes',
    },
  })
  cluster_nodes: string[] = [];

  @IsString()
  key_prefix = 'cc-relay:';

  /** A slower read counts as a miss. */
  @IsInt()
  @Min(1)
  @Max(MAX_TIMER_MS)
  timeout_ms = 50;
}

export class CacheConfig {
  @IsIn(CACHE_MODES)
  mode: CacheMode = 'single';

  @IsInt()
  @Min(1)
  ttl_ms = 3_600_000;

  /** Opt-in caching of streamed answers, replayed as SSE. */
  @IsBoolean()
  stream = false;

  /** true lets different client keys share entries. */
  @IsBoolean()
  shared_across_clients = false;

  @ValidateNested()
  @Type(() => RistrettoConfig)
  ristretto: RistrettoConfig = new RistrettoConfig();

  @ValidateNested()
  @Type(() => RedisConfig)
  redis: RedisConfig = new RedisConfig();

  /** Optional file of requests (JSON lines) replayed at start to fill the cache. */
  @IsOptional()
  @IsString()
  warmup_file?: string;
}

/**
 * `cluster.redis`: the same shape and rules as `cache.redis`. With neither `url` nor `cluster_nodes` given (or the
 * whole section left out), the connection is cache.redis's (url and cluster_nodes; the loader fills them in), so
 * one Redis serves both without repeating it. The key prefix and timeout stay the cluster's own.
 */
export class ClusterRedisConfig {
  /** Standalone Redis. Ignored when cluster_nodes is set. */
  @IsOptional()
  @IsString()
  @Matches(/^rediss?:\/\/\S+$/, { message: 'expected a redis:// or rediss:// URL' })
  @ValidateBy({
    name: IS_REDIS_URL,
    validator: {
      validate: (value: unknown): boolean => redisUrlProblem(value) === undefined,
      defaultMessage: (args) => redisUrlProblem(args?.value) ?? 'invalid url',
    },
  })
  url?: string;

  /** Redis Cluster seed nodes, as cache.redis.cluster_nodes. */
  @IsOptional()
  @IsArray()
  @IsString({ each: true })
  @Matches(CLUSTER_SEED, {
    each: true,
    message: 'expected host:port or redis[s]://[user[:password]@]host:port',
  })
  @ValidateBy({
    name: IS_REDIS_CLUSTER_SEEDS,
    validator: {
      validate: (value: unknown): boolean => clusterNodesProblem(value) === undefined,
      defaultMessage: (args) => clusterNodesProblem(args?.value) ?? 'invalid cluster_nodes',
    },
  })
  cluster_nodes?: string[];

  @IsString()
  @MinLength(1)
  key_prefix = 'cc-relay:cluster:';

  /** The most any request-path Redis call may wait; slower = the replica decides locally. */
  @IsInt()
  @Min(1)
  @Max(MAX_TIMER_MS)
  timeout_ms = 50;
}

/**
 * `cluster`: `local` keeps every replica on its own state (circuits, probes, admin view); `redis` shares them
 * through Redis so N replicas behind an ingress behave as one relay (docs/cluster.md). Works with any cache.mode.
 */
export class ClusterConfig {
  @IsIn(CLUSTER_MODES)
  mode: ClusterMode = 'local';

  @ValidateNested()
  @Type(() => ClusterRedisConfig)
  redis: ClusterRedisConfig = new ClusterRedisConfig();

  /** How often a replica says it is alive; one not seen for 3 heartbeats is gone. */
  @IsInt()
  @Min(100)
  @Max(MAX_TIMER_MS)
  heartbeat_ms = 2_000;
}

export class LoggingConfig {
  @IsIn(LOG_LEVELS)
  level: LogLevel = 'info';

  @IsIn(LOG_FORMATS)
  format: LogFormat = 'json';
}

export class AdminConfig {
  /** Bearer token for /admin/*. Unset (or empty in the file) = the admin API is off (404), never open. */
  @IsOptional()
  @IsString()
  @MinLength(16)
  token?: string;
}

export class MetricsConfig {
  @IsBoolean()
  enabled = true;

  @IsString()
  @Matches(/^\/\S*$/, { message: 'expected a path starting with /' })
  path = '/metrics';

  /**
   * Bearer token a scraper must send (Prometheus `authorization: { credentials: … }`). Unset or empty = the
   * metrics are open to whoever reaches the listener, as most exporters are.
   */
  @IsOptional()
  @IsString()
  @MinLength(16)
  token?: string;
}

export const IS_CRON_EXPRESSION = 'isCronExpression';
export const IS_DRILL_PERIOD = 'isDrillPeriod';

/**
 * A failover drill (issue 24): `provider` forced OPEN (reason "drill") for `duration_ms`, on a cron `schedule` (UTC)
 * or `every` period; ended early when the success ratio falls under the floor once `min_requests` answers came.
 * Exactly one of `schedule` and `every` (checked across keys).
 */
export class DrillConfig {
  @IsString()
  @Matches(/^[A-Za-z0-9._-]{1,64}$/, { message: 'expected a name of letters, digits, ".", "_" or "-"' })
  name!: string;

  /** The configured provider forced OPEN during the drill. */
  @IsString()
  provider!: string;

  /** A cron expression, in UTC ("0 3 * * 1": Mondays at 03:00). */
  @IsOptional()
  @ValidateBy({
    name: IS_CRON_EXPRESSION,
    validator: {
      validate: (value: unknown): boolean => cronProblem(value) === undefined,
      defaultMessage: (args) => cronProblem(args?.value) ?? 'expected a cron expression',
    },
  })
  schedule?: string;

  /** A period instead of a cron expression: "90d", "12h", "2w". */
  @IsOptional()
  @ValidateBy({
    name: IS_DRILL_PERIOD,
    validator: {
      validate: (value: unknown): boolean => everyProblem(value) === undefined,
      defaultMessage: (args) => everyProblem(args?.value) ?? 'expected a period',
    },
  })
  every?: string;

  @IsInt()
  @Min(1_000)
  @Max(MAX_TIMER_MS)
  duration_ms = 300_000;

  @IsNumber()
  @Min(0)
  @Max(1)
  abort_below_success_ratio = 0.95;

  @IsInt()
  @Min(1)
  min_requests = 20;
}

export class RelayConfig {
  @ValidateNested()
  @Type(() => ServerConfig)
  server: ServerConfig = new ServerConfig();

  /** Names must be unique (checked by the loader, which can point at the duplicate). */
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => ProviderConfig)
  providers: ProviderConfig[] = [];

  @ValidateNested()
  @Type(() => RoutingConfig)
  routing: RoutingConfig = new RoutingConfig();

  @ValidateNested()
  @Type(() => HealthConfig)
  health: HealthConfig = new HealthConfig();

  @ValidateNested()
  @Type(() => CacheConfig)
  cache: CacheConfig = new CacheConfig();

  @ValidateNested()
  @Type(() => ClusterConfig)
  cluster: ClusterConfig = new ClusterConfig();

  @ValidateNested()
  @Type(() => LoggingConfig)
  logging: LoggingConfig = new LoggingConfig();

  @ValidateNested()
  @Type(() => AdminConfig)
  admin: AdminConfig = new AdminConfig();

  @ValidateNested()
  @Type(() => MetricsConfig)
  metrics: MetricsConfig = new MetricsConfig();

  /** Scheduled failover drills; none by default. */
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => DrillConfig)
  drills: DrillConfig[] = [];
}
