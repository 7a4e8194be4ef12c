import { DynamicModule, Global, Module } from '@nestjs/common';
import { CLOCK, systemClock, type Clock } from './clock';
import { mathRandom, RNG, type Rng } from './rng';

/**
 * The relay's clock and randomness, one injection token each (CLOCK, RNG): what routing, key pools, breakers, the
 * probe job and key checks read time and jitter from. Tests hand their own (test/fakes/fake-clock.ts) to skip
 * cooldowns instead of waiting them out. Timers that bound a request in real time (timeouts, stalls, the deadline)
 * keep reading Date.now(): they measure how long something really took.
 */
@Global()
@Module({})
export class TimeModule {
  static forRoot(clock: Clock = systemClock, rng: Rng = mathRandom): DynamicModule {
    return {
      module: TimeModule,
      providers: [
        { provide: CLOCK, useValue: clock },
        { provide: RNG, useValue: rng },
      ],
      exports: [CLOCK, RNG],
    };
  }
}
