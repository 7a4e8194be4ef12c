import { Body, Controller, Get, HttpCode, Param, Post, Req, UseInterceptors } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { AdminAuth } from './admin-auth.guard';
import { adminLog } from './admin-log';
import { AdminProvidersService } from './admin-providers.service';
import { AdminResponseInterceptor } from './admin-response.interceptor';
import { AdminValidationPipe } from './admin-validation.pipe';
import { ForceOpenDto } from './force-open.dto';
import { ErrorBodyDto, ProviderAnswerDto, ProviderListDto, ResetAnswerDto } from './provider-status.dto';

/** Provider health for operators, and the two manual breaker actions (recovery and the failover drill). */
@ApiTags('providers')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ type: ErrorBodyDto, description: 'Missing or wrong admin token.' })
@AdminAuth()
@UseInterceptors(AdminResponseInterceptor)
@Controller('admin/providers')
export class AdminProvidersController {
  constructor(private readonly providers: AdminProvidersService) {}

  @Get()
  @ApiOperation({ summary: 'Every configured provider: breaker state, last error, load and keys (masked).' })
  @ApiOkResponse({ type: ProviderListDto, description: 'Every configured provider, in configuration order.' })
  async list(): Promise<ProviderListDto> {
    return this.providers.listAll();
  }

  @Get(':name')
  @ApiOperation({ summary: 'One provider.' })
  @ApiParam({ name: 'name', description: 'Provider name from the config file.' })
  @ApiOkResponse({ type: ProviderAnswerDto, description: 'The provider.' })
  @ApiNotFoundResponse({ type: ErrorBodyDto, description: 'No provider with that name.' })
  async get(@Param('name') name: string): Promise<ProviderAnswerDto> {
    return this.providers.getOne(name);
  }

  @Post(':name/reset')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Manual recovery: the circuit CLOSED, every key back in rotation (401 parking, 429 cooldowns) and the last error cleared.',
  })
  @ApiParam({ name: 'name', description: 'Provider name from the config file.' })
  @ApiOkResponse({
    type: ResetAnswerDto,
    description: 'The provider, now CLOSED, and what the reset cleared.',
  })
  @ApiNotFoundResponse({ type: ErrorBodyDto, description: 'No provider with that name.' })
  async reset(@Param('name') name: string, @Req() req: FastifyRequest): Promise<ResetAnswerDto> {
    return this.providers.resetAll(name, adminLog(req));
  }

  @Post(':name/open')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Force the circuit OPEN for a while (failover drill): traffic moves to the next provider.',
  })
  @ApiParam({ name: 'name', description: 'Provider name from the config file.' })
  @ApiOkResponse({ type: ProviderAnswerDto, description: 'The provider, now OPEN and forced.' })
  @ApiBadRequestResponse({
    type: ErrorBodyDto,
    description: 'The body is invalid; the message lists every problem.',
  })
  @ApiNotFoundResponse({ type: ErrorBodyDto, description: 'No provider with that name.' })
  open(
    @Param('name') name: string,
    @Body(AdminValidationPipe) body: ForceOpenDto,
    @Req() req: FastifyRequest,
  ): Promise<ProviderAnswerDto> {
    return this.providers.forceOpenAll(name, body.duration_ms, body.reason, adminLog(req));
  }
}
