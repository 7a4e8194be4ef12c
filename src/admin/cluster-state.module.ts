import { Module } from '@nestjs/common';
import { HealthModule } from '../health/health.module';
import { ClusterState } from './cluster-state.service';

/** Shared circuits, heartbeats and the cluster-wide admin answers (inert with `cluster.mode: local`). */
@Module({
  imports: [HealthModule],
  providers: [ClusterState],
  exports: [ClusterState],
})
export class ClusterStateModule {}
