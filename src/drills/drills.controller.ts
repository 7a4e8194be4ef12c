import { Controller, Get, Header, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminAuth } from '../admin/admin-auth.guard';
import { AvailabilityService } from './availability.service';
import { DrillService } from './drill.service';

/** Failover drills and delivered availability (issue 24; docs/sla.md). */
@ApiTags('drills')
@ApiBearerAuth()
@AdminAuth()
@Controller('admin')
export class DrillsController {
  constructor(
    private readonly drills: DrillService,
    private readonly availability: AvailabilityService,
  ) {}

  @Get('drills')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Every configured drill: schedule, next run, history with verdicts.' })
  list(): Record<string, unknown> {
    return this.drills.list();
  }

  @Get('drills/:name/runs/:id')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'One drill run with its numbers and the baseline window before it.' })
  run(@Param('name') name: string, @Param('id') id: string): Record<string, unknown> {
    return { ...this.drills.run(name, id) };
  }

  @Post('drills/:name/run')
  @HttpCode(200)
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Starts the drill now.' })
  async runNow(@Param('name') name: string): Promise<Record<string, unknown>> {
    return { ...(await this.drills.runNow(name)) };
  }

  @Post('drills/:name/abort')
  @HttpCode(200)
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Ends the running drill now (verdict aborted) and restores the provider.' })
  async abort(@Param('name') name: string): Promise<Record<string, unknown>> {
    return { ...(await this.drills.abort(name)) };
  }

  @Get('availability')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Delivered availability per UTC day and provider, the last 30 days.' })
  report(): Promise<Record<string, unknown>> {
    return this.availability.report();
  }
}
