import { Controller, Get, Inject, UseInterceptors } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { RelayError, RelayErrorCode } from '../protocol/relay-error';
import { InFlightService } from '../common/in-flight.service';
import { ConfigHolder } from '../config/config-holder';
import { ClusterState } from './cluster-state.service';
import { REPLICA_ID } from '../cluster/cluster.tokens';
import type { ReplicaView } from '../cluster/replica-heartbeat';
import { AdminAuth } from './admin-auth.guard';
import { AdminResponseInterceptor } from './admin-response.interceptor';
import { ErrorBodyDto, ReplicaListDto } from './provider-status.dto';

/**
 * The relay's replicas: with `cluster.mode: redis` every live one (from the heartbeats in Redis), flagging those
 * running a config hash other than most (a rollout in progress); with `local`, the one that answers.
 */
@ApiTags('cluster')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ type: ErrorBodyDto, description: 'Missing or wrong admin token.' })
@AdminAuth()
@UseInterceptors(AdminResponseInterceptor)
@Controller('admin/replicas')
export class AdminReplicasController {
  private readonly startedAt = new Date().toISOString();

  constructor(
    private readonly cluster: ClusterState,
    @Inject(REPLICA_ID) private readonly replicaId: string,
    private readonly holder: ConfigHolder,
    private readonly inFlight: InFlightService,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'Live replicas (heartbeats) with version, config hash, start, last heartbeat and load.',
  })
  @ApiOkResponse({ type: ReplicaListDto })
  async list(): Promise<{ replicas: ReplicaView[] }> {
    if (!this.cluster.active) {
      const now = new Date().toISOString();
      return {
        replicas: [
          {
            id: this.replicaId,
            version: this.cluster.version,
            config_hash: this.holder.hash,
            started_at: this.startedAt,
            last_seen: now,
            in_flight: this.inFlight.count,
            config_differs: false,
          },
        ],
      };
    }
    const replicas = await this.cluster.replicas();
    if (replicas === undefined) {
      throw new RelayError(
        RelayErrorCode.CacheUnavailable,
        'the cluster Redis did not answer: replicas unknown',
      );
    }
    return { replicas };
  }
}
