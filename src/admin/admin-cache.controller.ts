import { Controller, Delete, Get, HttpCode, Inject, Optional, Req, UseInterceptors } from '@nestjs/common';
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
  ) {}

  @Get('stats')
  @ApiOperation({ summary: 'Cache mode and counters of the replica that answers.' })
  @ApiOkResponse({ type: CacheStatsDto, description: 'The replica, the mode, plus the backend counters.' })
  stats(): CacheStatsDto {
    const instance = this.instance.name;
    if (!this.cache) return { instance, mode: 'disabled' };
    return { instance, mode: this.cache.mode, ...this.cache.stats() };
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
