import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { PROVIDER_TYPES, type ProviderType } from '../config/relay-config';
import type { BreakerState } from '../health/circuit-breaker';

/** The last upstream error the breaker kept for operators. */
export class LastErrorDto {
  @ApiProperty({
    type: Number,
    nullable: true,
    description: 'Upstream HTTP status; null for timeouts and connection errors.',
    example: 503,
  })
  status!: number | null;

  @ApiProperty({ example: 'upstream answered 503' })
  message!: string;

  @ApiProperty({ format: 'date-time' })
  at!: string;
}

/** Why a key is out of rotation: the provider rejected it. */
export class KeyRejectedDto {
  @ApiProperty({ type: 'integer', example: 401 })
  status!: number;

  @ApiProperty({ type: String, format: 'date-time' })
  at!: string;
}

/** Configured local limits of a key (0 = none). */
export class KeyLimitsDto {
  @ApiProperty({ description: 'Requests per minute.' })
  rpm!: number;

  @ApiProperty({ description: 'Input tokens per minute.' })
  itpm!: number;

  @ApiProperty({ description: 'Output tokens per minute.' })
  otpm!: number;
}

/** What a key sent in the current window. */
export class KeyUsageDto {
  @ApiProperty()
  window_ms!: number;

  @ApiProperty()
  requests!: number;

  @ApiProperty()
  input_tokens!: number;

  @ApiProperty()
  output_tokens!: number;
}

/** One rate-limit family as the upstream reported it in `anthropic-ratelimit-*` headers. */
export class LearnedLimitDto {
  @ApiProperty({ type: Number, nullable: true })
  limit!: number | null;

  @ApiProperty({ type: Number, nullable: true, description: 'Reported remaining minus what was sent since.' })
  remaining!: number | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  reset!: string | null;
}

/** The upstream's limits learned from response headers, per family; a family appears once it was reported. */
export class LearnedLimitsDto {
  @ApiPropertyOptional({ type: LearnedLimitDto })
  requests?: LearnedLimitDto;

  @ApiPropertyOptional({ type: LearnedLimitDto })
  tokens?: LearnedLimitDto;

  @ApiPropertyOptional({ type: LearnedLimitDto })
  input_tokens?: LearnedLimitDto;

  @ApiPropertyOptional({ type: LearnedLimitDto })
  output_tokens?: LearnedLimitDto;
}

/** One key of a provider's pool. The key itself never appears: only a masked form. */
export class ProviderKeyDto {
  @ApiProperty({ description: 'Stable key id within the provider.', example: 'anthropic-primary#0' })
  id!: string;

  @ApiProperty({
    description: 'Masked key (a short prefix and the last 4 characters).',
    example: 'sk-ant-…c0de',
  })
  key!: string;

  @ApiProperty()
  weight!: number;

  @ApiProperty({ type: 'integer' })
  in_flight!: number;

  @ApiProperty({
    type: 'integer',
    description:
      'Estimated input tokens of its in-flight requests, held against itpm_limit until their usage is known.',
  })
  reserved_input_tokens!: number;

  @ApiProperty({ description: 'Whether the key can take a request now.' })
  available!: boolean;

  @ApiProperty({
    type: 'integer',
    description: 'Milliseconds until the key can take a request (0 = now, -1 = unknown).',
  })
  retry_after_ms!: number;

  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'Cooling down after a 429 (or a 401, see rejected) until then.',
  })
  cooldown_until!: string | null;

  @ApiProperty({
    type: KeyRejectedDto,
    nullable: true,
    description:
      'Set while the key is out of rotation because the provider rejected it (401: revoked or mistyped).',
  })
  rejected!: KeyRejectedDto | null;

  @ApiProperty({ type: KeyLimitsDto })
  limits!: KeyLimitsDto;

  @ApiProperty({ type: KeyUsageDto })
  usage!: KeyUsageDto;

  @ApiProperty({ type: LearnedLimitsDto })
  learned!: LearnedLimitsDto;
}

/** A replica whose own breaker disagrees with the shared circuit (for an instant, or while Redis is away). */
export class ReplicaCircuitDto {
  @ApiProperty({ example: 'cc-relay-7d9f8c6b5-x2k4q' })
  replica!: string;

  @ApiProperty({ enum: ['closed', 'open', 'half_open'] })
  state!: BreakerState;

  @ApiProperty()
  consecutive_failures!: number;
}

/** The shared circuit of a provider (cluster.mode: redis). */
export class SharedCircuitDto {
  @ApiProperty({ enum: ['closed', 'open', 'half_open'] })
  state!: BreakerState;

  @ApiProperty({ description: 'Bumped by every shared transition.' })
  epoch!: number;

  @ApiProperty()
  consecutive_failures!: number;

  @ApiProperty({ type: String, nullable: true })
  opened_at!: string | null;

  @ApiProperty({ type: String, nullable: true })
  retry_at!: string | null;

  @ApiProperty({ type: String, nullable: true, example: 'failure_threshold' })
  reason!: string | null;

  @ApiProperty({ type: String, nullable: true, description: 'The replica that caused the last transition.' })
  by!: string | null;

  @ApiProperty()
  forced!: boolean;

  @ApiProperty()
  half_open_successes!: number;

  @ApiProperty({ type: String, nullable: true, description: "The operator's reason of a forced open." })
  detail!: string | null;
}

export class ProviderClusterDto {
  @ApiProperty({
    type: SharedCircuitDto,
    nullable: true,
    description: 'Null when Redis did not answer in time.',
  })
  shared!: SharedCircuitDto | null;

  @ApiProperty({
    type: [ReplicaCircuitDto],
    description: 'Live replicas whose own view differs from the shared one.',
  })
  replicas_differing!: ReplicaCircuitDto[];
}

/** A provider's configuration, circuit breaker and load, as GET /admin/providers shows it. */
export class ProviderStatusDto {
  @ApiProperty({ example: 'anthropic-primary' })
  name!: string;

  @ApiProperty({ enum: PROVIDER_TYPES })
  type!: ProviderType;

  @ApiProperty({
    description: 'Base URL; credentials embedded in it (user:pass@, query values) are masked.',
    example: 'https://api.anthropic.com',
  })
  base_url!: string;

  @ApiProperty()
  enabled!: boolean;

  @ApiProperty({ type: 'integer', description: 'failover: highest first.' })
  priority!: number;

  @ApiProperty({ description: 'weighted_round_robin weight.' })
  weight!: number;

  @ApiProperty({ enum: ['closed', 'open', 'half_open'] })
  state!: BreakerState;

  @ApiProperty({ type: 'integer' })
  consecutive_failures!: number;

  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'When the circuit last opened.',
  })
  opened_at!: string | null;

  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'While OPEN: when it goes HALF_OPEN.',
  })
  retry_at!: string | null;

  @ApiProperty({
    type: 'integer',
    description:
      'While OPEN: how long this open period lasts. Otherwise: how long the next one will. It doubles on every ' +
      're-open from HALF_OPEN, up to circuit_breaker.max_open_duration_ms, and a close resets it.',
    example: 30_000,
  })
  open_duration_ms!: number;

  @ApiProperty({
    type: 'integer',
    description:
      'Re-opens from HALF_OPEN since the circuit last closed (the open duration is doubled this often).',
  })
  reopens!: number;

  @ApiProperty({ description: 'OPEN by an operator (force-open), not by failures.' })
  forced!: boolean;

  @ApiProperty({ type: 'integer', description: 'HALF_OPEN test requests in flight.' })
  half_open_in_flight!: number;

  @ApiProperty({
    type: 'integer',
    description: 'HALF_OPEN test requests that succeeded so far; the circuit closes once all of them have.',
  })
  half_open_successes!: number;

  @ApiProperty({ type: LastErrorDto, nullable: true })
  last_error!: LastErrorDto | null;

  @ApiProperty({ type: 'integer', description: 'Requests to this provider in flight now.' })
  in_flight!: number;

  @ApiProperty({
    type: [ProviderKeyDto],
    description: 'Empty for a disabled provider (it has no live key pool).',
  })
  keys!: ProviderKeyDto[];

  @ApiPropertyOptional({
    type: ProviderClusterDto,
    description:
      'cluster.mode: redis only. The breaker fields above are then the shared circuit of the whole cluster.',
  })
  cluster?: ProviderClusterDto;
}

const INSTANCE_DOC = {
  description:
    'The replica that answered (POD_NAME, else HOSTNAME, else the OS hostname; also in X-CC-Relay-Instance). ' +
    'Breakers, key pools and the single cache are per replica: this is the one the answer describes or acted on.',
  example: 'cc-relay-7d9f8c6b5-x2k4q',
};

/** Body of GET /admin/providers/:name and of the reset and open actions: one provider, on the replica named. */
export class ProviderAnswerDto extends ProviderStatusDto {
  @ApiProperty(INSTANCE_DOC)
  instance!: string;

  @ApiPropertyOptional({
    type: [String],
    description:
      'cluster.mode: redis, after reset or open: the replicas that applied the action within 1 s (this one included).',
  })
  acknowledged_by?: string[];

  @ApiPropertyOptional({
    type: [String],
    description:
      'cluster.mode: redis, after reset or open: live replicas that did not acknowledge within 1 s.',
  })
  not_acknowledged?: string[];

  @ApiPropertyOptional({
    description:
      'cluster.mode: redis, after reset or open: false when Redis could not be reached (this replica only).',
  })
  shared?: boolean;
}

/** Body of GET /admin/providers. */
export class ProviderListDto {
  @ApiProperty(INSTANCE_DOC)
  instance!: string;

  @ApiProperty({
    type: [ProviderStatusDto],
    description: 'Every configured provider, in configuration order.',
  })
  providers!: ProviderStatusDto[];

  @ApiPropertyOptional({
    type: [String],
    nullable: true,
    description: 'cluster.mode: redis: the live replicas (null when Redis did not answer in time).',
  })
  replicas?: string[] | null;
}

/** Body of GET /admin/cache/stats; the backend adds its own numeric counters. */
export class CacheStatsDto {
  @ApiProperty(INSTANCE_DOC)
  instance!: string;

  @ApiProperty({
    example: 'single',
    description:
      'single, ha or disabled. The backend adds its counters (hits, misses, entries…) as numbers: counts are ' +
      "this replica's since it started; with ha, backend_key_count and backend_bytes_used describe the shared Redis.",
  })
  mode!: string;

  @ApiPropertyOptional({
    description:
      "cluster.mode: redis: every live replica's mode and counters (as of its last heartbeat), `replica` naming it.",
    type: 'array',
    items: { type: 'object' },
  })
  replicas?: Array<Record<string, string | number>>;

  @ApiPropertyOptional({
    description:
      "cluster.mode: redis: the replicas' counters added up (backend_* figures, the shared Redis's, once).",
    type: 'object',
    additionalProperties: { type: 'number' },
  })
  totals?: Record<string, number>;
}

/** Anthropic's error object inside an error body. */
export class ErrorDetailDto {
  @ApiProperty({ example: 'not_found_error' })
  type!: string;

  @ApiProperty()
  message!: string;
}

/** Every admin error, shaped like Anthropic's. */
export class ErrorBodyDto {
  @ApiProperty({ enum: ['error'] })
  type!: 'error';

  @ApiProperty({ type: ErrorDetailDto })
  error!: ErrorDetailDto;

  @ApiProperty()
  request_id!: string;
}

/** What POST /admin/providers/:name/reset cleared. */
export class ResetClearedDto {
  @ApiProperty({
    description: 'The circuit was open, half-open, forced or counting failures; it is CLOSED now.',
  })
  circuit!: boolean;

  @ApiProperty({
    type: 'integer',
    description: 'Keys that were out of rotation after a 401, back in rotation now.',
  })
  parked_keys!: number;

  @ApiProperty({ type: 'integer', description: 'Keys that were cooling down after a 429, available now.' })
  cooling_keys!: number;

  @ApiProperty({ description: 'The provider had a last error; it is cleared.' })
  last_error!: boolean;
}

/** Body of POST /admin/providers/:name/reset: the provider after the reset, and what the reset cleared. */
export class ResetAnswerDto extends ProviderAnswerDto {
  @ApiProperty({ type: ResetClearedDto })
  cleared!: ResetClearedDto;
}

/** One live replica (GET /admin/replicas). */
export class ReplicaDto {
  @ApiProperty({ example: 'cc-relay-7d9f8c6b5-x2k4q' })
  id!: string;

  @ApiProperty({ example: '0.1.0' })
  version!: string;

  @ApiProperty({ description: 'SHA-256 of the config file it runs.' })
  config_hash!: string;

  @ApiProperty()
  started_at!: string;

  @ApiProperty({ description: 'Its last heartbeat; a replica silent for 3 heartbeats is gone.' })
  last_seen!: string;

  @ApiProperty({ description: 'Requests in flight at its last heartbeat.' })
  in_flight!: number;

  @ApiProperty({
    description: 'Its config hash differs from the one most replicas run (a rollout in progress).',
  })
  config_differs!: boolean;
}

/** Body of GET /admin/replicas. */
export class ReplicaListDto {
  @ApiProperty({ type: [ReplicaDto] })
  replicas!: ReplicaDto[];
}
