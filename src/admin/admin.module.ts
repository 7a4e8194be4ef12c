import { Module } from '@nestjs/common';
import { hostname } from 'node:os';
import { ClusterStateModule } from './cluster-state.module';
import { RoutingModule } from '../routing/routing.module';
import { AdminCacheController } from './admin-cache.controller';
import { AdminConfigController } from './admin-config.controller';
import { AdminProvidersController } from './admin-providers.controller';
import { AdminProvidersService } from './admin-providers.service';
import { AdminReplicasController } from './admin-replicas.controller';
import { AdminResponseInterceptor } from './admin-response.interceptor';
import { AdminStatsController } from './admin-stats.controller';
import { instanceName, RelayInstance } from './relay-instance';

/**
 * The /admin/* REST API. It reads the other modules only through their exported services; its controllers are
 * marked @AdminAuth(), which puts the admin token guard on them. The cache module fills in CACHE_ADMIN (see
 * cache-admin.port.ts).
 */
@Module({
  imports: [RoutingModule, ClusterStateModule],
  controllers: [
    AdminProvidersController,
    AdminCacheController,
    AdminConfigController,
    AdminStatsController,
    AdminReplicasController,
  ],
  providers: [
    AdminProvidersService,
    AdminResponseInterceptor,
    {
      provide: RelayInstance,
      // The replica's identity comes from the pod, not the config file, so it is read here once at boot.
      useFactory: () => new RelayInstance(instanceName(process.env, hostname())),
    },
  ],
})
export class AdminModule {}
