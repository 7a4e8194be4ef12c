import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { describe, expect, it } from 'vitest';
import { validateConfig } from './config-validation';
import { ConfigModule } from './config.module';
import { RelayConfig } from './relay-config';

@Injectable()
class NeedsConfig {
  constructor(readonly config: RelayConfig) {}
}

describe('ConfigModule', () => {
  it('injects the one validated RelayConfig by its class', async () => {
    const { config } = validateConfig({ providers: [{ name: 'a' }], logging: { level: 'debug' } });
    const moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(config)],
      providers: [NeedsConfig],
    }).compile();
    expect(moduleRef.get(NeedsConfig).config).toBe(config);
    expect(moduleRef.get(RelayConfig).logging.level).toBe('debug');
  });
});
