import { Controller, Get, Query, UseInterceptors } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { RelayError, RelayErrorCode } from '../protocol/relay-error';
import { RelayMetrics } from '../metrics/relay-metrics.service';
import type { ActivitySnapshot } from '../metrics/relay-activity';
import { AdminAuth } from './admin-auth.guard';
import { AdminResponseInterceptor } from './admin-response.interceptor';
import { ErrorBodyDto } from './provider-status.dto';
import { RelayInstance } from './relay-instance';

/** Bins the page asks for by default: 180 points of 5 s over 15 minutes. */
const DEFAULT_STEP_S = 5;
const MAX_STEP_S = 60;

/** `step` as a whole number of seconds in 1..60; throws the 400 the admin API answers otherwise. */
export function parseStep(raw: string | undefined): number {
  if (raw === undefined || raw === '') return DEFAULT_STEP_S;
  const step = /^\d{1,3}$/.test(raw) ? Number(raw) : NaN;
  if (!(step >= 1 && step <= MAX_STEP_S)) {
    throw new RelayError(
      RelayErrorCode.InvalidRequest,
      `step: expected whole seconds from 1 to ${MAX_STEP_S}, got ${JSON.stringify(raw.slice(0, 20))}`,
    );
  }
  return step;
}

/**
 * The last 15 minutes of this replica's traffic, per provider, from memory (the ops page's charts). Nothing here
 * survives a restart, and with several replicas each one answers for itself (see X-CC-Relay-Instance).
 */
@ApiTags('stats')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ type: ErrorBodyDto, description: 'Missing or wrong admin token.' })
@AdminAuth()
@UseInterceptors(AdminResponseInterceptor)
@Controller('admin/stats')
export class AdminStatsController {
  constructor(
    private readonly metrics: RelayMetrics,
    private readonly instance: RelayInstance,
  ) {}

  @Get('timeseries')
  @ApiOperation({
    summary:
      'Upstream attempts, failed attempts and fallback answers per provider and in total over the last 15 minutes ' +
      'in bins of `step` seconds (oldest first, the last one under way), attempt latency p50/p95 (a stream ' +
      'counts to its end), cache hits and misses, and when each circuit last changed state (null: not since start).',
  })
  @ApiQuery({ name: 'step', required: false, description: 'Bin width in seconds, 1 to 60 (default 5).' })
  @ApiOkResponse({ description: 'The series of the replica that answers.' })
  @ApiBadRequestResponse({ type: ErrorBodyDto, description: 'step is not a whole number from 1 to 60.' })
  timeseries(@Query('step') step?: string): ActivitySnapshot & { instance: string } {
    const snapshot = this.metrics.activity.snapshot(Date.now(), parseStep(step));
    return { instance: this.instance.name, ...snapshot };
  }
}
