import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';

/** Longest forced outage an operator can ask for: a drill, not a way to retire a provider (use `enabled`). */
export const FORCE_OPEN_MAX_MS = 86_400_000;
/** Shortest forced outage: anything shorter ends before a drill could be observed. */
export const FORCE_OPEN_MIN_MS = 1_000;

/** Said for any bad duration_ms (missing, not an integer, out of range): one sentence, not one per rule. */
export const DURATION_MS_MESSAGE = `duration_ms must be an integer number of milliseconds from ${FORCE_OPEN_MIN_MS} to ${FORCE_OPEN_MAX_MS}`;
const REASON_MESSAGE = 'reason, when given, must be a string of at most 200 characters';

/** Body of POST /admin/providers/:name/open. */
export class ForceOpenDto {
  @ApiProperty({
    type: 'integer',
    description:
      'How long the circuit stays OPEN before it goes HALF_OPEN as usual; health probes do not shorten it.',
    minimum: FORCE_OPEN_MIN_MS,
    maximum: FORCE_OPEN_MAX_MS,
    example: 60_000,
  })
  @IsInt({ message: DURATION_MS_MESSAGE })
  @Min(FORCE_OPEN_MIN_MS, { message: DURATION_MS_MESSAGE })
  @Max(FORCE_OPEN_MAX_MS, { message: DURATION_MS_MESSAGE })
  duration_ms!: number;

  @ApiPropertyOptional({ description: 'Why, for the log line.', maxLength: 200, example: 'failover drill' })
  @IsOptional()
  @IsString({ message: REASON_MESSAGE })
  @MaxLength(200, { message: REASON_MESSAGE })
  reason?: string;
}
