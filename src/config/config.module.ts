import { type DynamicModule, Global, Module } from '@nestjs/common';
import { ConfigHolder } from './config-holder';
import { RelayConfig } from './relay-config';

/**
 * Makes the one validated RelayConfig injectable everywhere (`constructor(private readonly config: RelayConfig)`).
 * The config is loaded before Nest starts, so a bad file fails fast with every problem and no half-built app.
 */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: RelayConfig, holder: ConfigHolder = new ConfigHolder(config)): DynamicModule {
    return {
      module: ConfigModule,
      providers: [
        { provide: RelayConfig, useValue: config },
        { provide: ConfigHolder, useValue: holder },
      ],
      exports: [RelayConfig, ConfigHolder],
    };
  }
}
