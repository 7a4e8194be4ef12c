import { Module } from '@nestjs/common';
import { RoutingModule } from '../routing/routing.module';
import { MessagesController } from './messages.controller';
import { ModelsController } from './models.controller';
import { ProxyService } from './proxy.service';
import { UpstreamClient } from './upstream-client';

/** The Messages API surface: controllers, the attempt loop and the pooled upstream client. */
@Module({
  imports: [RoutingModule],
  controllers: [MessagesController, ModelsController],
  providers: [ProxyService, UpstreamClient],
  exports: [ProxyService],
})
export class ProxyModule {}
