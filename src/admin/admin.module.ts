import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { RoutingModule } from '../routing/routing.module';
import { AdminAuthGuard } from './admin-auth.guard';
import { AdminCacheController } from './admin-cache.controller';
import { AdminProvidersController } from './admin-providers.controller';
import { AdminProvidersService } from './admin-providers.service';

/**
 * The /admin/* REST API. It reads the other modules only through their exported services; the guard is global
 * but checks only routes marked @AdminAuth(). The cache module fills in CACHE_ADMIN (see cache-admin.port.ts).
 */
@Module({
  imports: [RoutingModule],
  controllers: [AdminProvidersController, AdminCacheController],
  providers: [{ provide: APP_GUARD, useClass: AdminAuthGuard }, AdminProvidersService],
})
export class AdminModule {}
