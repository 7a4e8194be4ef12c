import { Module } from '@nestjs/common';
import { RoutingModule } from '../routing/routing.module';
import { AdminCacheController } from './admin-cache.controller';
import { AdminProvidersController } from './admin-providers.controller';
import { AdminProvidersService } from './admin-providers.service';

/**
 * The /admin/* REST API. It reads the other modules only through their exported services; its controllers are
 * marked @AdminAuth(), which puts the admin token guard on them. The cache module fills in CACHE_ADMIN (see
 * cache-admin.port.ts).
 */
@Module({
  imports: [RoutingModule],
  controllers: [AdminProvidersController, AdminCacheController],
  providers: [AdminProvidersService],
})
export class AdminModule {}
