import { Controller, Delete, Get, HttpCode, Inject, Logger, Optional } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { AdminAuth } from './admin-auth.guard';
import { CACHE_ADMIN, type CacheAdminPort } from './cache-admin.port';
import { CacheStatsDto, ErrorBodyDto } from './provider-status.dto';

/** The response cache for operators. Without a cache admin port (no cache wired) it reports `disabled`. */
@ApiTags('cache')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ type: ErrorBodyDto, description: 'Missing or wrong admin token.' })
@AdminAuth()
@Controller('admin/cache')
export class AdminCacheController {
  private readonly logger = new Logger('Admin');

  constructor(@Optional() @Inject(CACHE_ADMIN) private readonly cache?: CacheAdminPort) {}

  @Get('stats')
  @ApiOperation({ summary: 'Cache mode and counters.' })
  @ApiOkResponse({ type: CacheStatsDto, description: 'The mode, plus the backend counters.' })
  stats(): CacheStatsDto {
    if (!this.cache) return { mode: 'disabled' };
    return { mode: this.cache.mode, ...this.cache.stats() };
  }

  @Delete()
  @HttpCode(204)
  @ApiOperation({ summary: 'Drop every cached answer.' })
  @ApiNoContentResponse({ description: 'Flushed (or nothing to flush).' })
  async flush(): Promise<void> {
    if (!this.cache) return;
    await this.cache.flush();
    this.logger.warn('response cache flushed by the admin API');
  }
}
