import { Controller, Get, HttpCode, Post, UseInterceptors } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RelayError, RelayErrorCode } from '../protocol/relay-error';
import { maskedConfig } from '../config/config-diff';
import { ConfigHolder } from '../config/config-holder';
import { AdminAuth } from './admin-auth.guard';
import { AdminResponseInterceptor } from './admin-response.interceptor';

/** The running config (secrets masked) and the reload an operator asks for after editing the file. */
@ApiTags('config')
@ApiBearerAuth()
@AdminAuth()
@UseInterceptors(AdminResponseInterceptor)
@Controller('admin/config')
export class AdminConfigController {
  constructor(private readonly holder: ConfigHolder) {}

  @Get()
  @ApiOperation({
    summary: 'The running config (secrets masked), its file hash, and when and how it was loaded.',
  })
  show() {
    const h = this.holder;
    return {
      path: h.path ?? null,
      hash: h.hash,
      loaded_at: h.loadedAt.toISOString(),
      source: h.source,
      restart_pending: h.restartPending,
      config: maskedConfig(h.config),
    };
  }

  @Post('reload')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Loads and validates the config file and applies it; 400 with every problem when it is invalid.',
  })
  reload() {
    const outcome = this.holder.reload('admin');
    if (outcome.result === 'invalid') {
      throw new RelayError(
        RelayErrorCode.InvalidRequest,
        `config reload refused, the relay keeps running on its current config: ${outcome.problems.join('; ')}`,
      );
    }
    return {
      result: outcome.result,
      hash: this.holder.hash,
      changed: outcome.changed,
      restart_required: outcome.restart,
    };
  }
}
