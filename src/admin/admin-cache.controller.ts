import { Controller, Delete, Get, HttpCode, Inject, Optional, Req, UseInterceptors } from '@nestjs/common';
import { ClusterState } from './cluster-state.service';
import {
  ApiBearerAuth,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiServiceUnavailableResponse,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { RelayError, RelayErrorCode } from '../protocol/relay-error';
import { maskUrlPasswords } from '../config/mask';
import type { FastifyRequest } from 'fastify';
import { AdminAuth } from './admin-auth.guard';
import { adminLog } from './admin-log';
import { AdminResponseInterceptor } from './admin-response.interceptor';
import { CACHE_ADMIN, type CacheAdminPort } from '../cache/cache-admin.port';
import { CacheStatsDto, ErrorBodyDto } from './provider-status.dto';
import { RelayInstance } from './relay-instance';

/**
 * The response cache for operators. Without a cache admin port (no cache wired) it reports `disabled`. With
 * `single` each replica has its own cache: stats and flush concern the replica that answers.
 */
@ApiTags('cache')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ type: ErrorBodyDto, description: 'Missing or wrong admin token.' })
@AdminAuth()
@UseInterceptors(AdminResponseInterceptor)
@Controller('admin/cache')
export class AdminCacheController {
  constructor(
    private readonly instance: RelayInstance,
    @Optional() @Inject(CACHE_ADMIN) private readonly cache?: CacheAdminPort,
    @Optional() private readonly cluster?: ClusterState,
  ) {}

  @Get('stats')
  @ApiOperation({ summary: 'Cache mode and counters of the replica that answers.' })
  @ApiOkResponse({ type: CacheStatsDto, description: 'The replica, the mode, plus the backend counters.' })
  async stats(): Promise<CacheStatsDto> {
    const instance = this.instance.name;
    const own: CacheStatsDto = this.cache
      ? { instance, mode: this.cache.mode, ...this.cache.stats() }
      : { instance, mode: 'disabled' };
    if (!this.cluster?.active) return own;
    // cluster.mode: redis: every live replica's counters (from its heartbeat) and their totals.
    const beats = (await this.cluster.beats()) ?? [];
    const replicas = beats.map((b) => ({
      replica: b.id,
      mode: b.cache?.mode ?? 'disabled',
      ...b.cache?.stats,
    }));
    return { ...own, replicas, totals: cacheTotals(beats.map((b) => b.cache?.stats ?? {})) };
  }

  @Delete()
  @HttpCode(204)
  @ApiOperation({
    summary:
      "Drop every cached answer: the answering replica's own cache with `single`, the shared Redis with `ha`.",
  })
  @ApiNoContentResponse({
    description: 'Flushed (or nothing to flush); X-CC-Relay-Instance names the replica that did it.',
  })
  @ApiServiceUnavailableResponse({
    type: ErrorBodyDto,
    description: 'The backend (Redis, with `ha`) could not be reached: nothing, or only part, was flushed.',
  })
  async flush(@Req() req: FastifyRequest): Promise<void> {
    if (!this.cache) return;
    try {
      await this.cache.flush();
    } catch (err) {
      // Redis down or unreachable is the operator's next thing to fix, not an internal error of the relay.
      const why = maskUrlPasswords(err instanceof Error ? err.message : String(err));
      throw new RelayError(RelayErrorCode.CacheUnavailable, `cache not flushed (entries may remain): ${why}`);
    }
    adminLog(req).warn(`response cache (${this.cache.mode}) flushed by the admin API`);
  }
}

/**
 * Sums the replicas' counters. `backend_*` figures describe the one shared Redis (the same for every replica), so
 * they are taken once (the largest), not added up; `connected` is how many replicas are connected.
 */
export function cacheTotals(stats: Array<Record<string, number>>): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const one of stats) {
    for (const [key, value] of Object.entries(one)) {
      if (typeof value !== 'number') continue;
      totals[key] = key.startsWith('backend_')
        ? Math.max(totals[key] ?? 0, value)
        : (totals[key] ?? 0) + value;
    }
  }
  return totals;
}
