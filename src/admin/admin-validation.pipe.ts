import { Injectable, ValidationPipe, type ValidationError } from '@nestjs/common';
import { RelayError, RelayErrorCode } from '../protocol/relay-error';

function describe(errors: ValidationError[], parent = ''): string[] {
  return errors.flatMap((e) => {
    const path = parent ? `${parent}.${e.property}` : e.property;
    // A property breaking several rules at once (a missing duration fails "integer", "min" and "max") whose rules
    // share one message is said once.
    const own = [...new Set(Object.values(e.constraints ?? {}))];
    return [...own, ...describe(e.children ?? [], path)];
  });
}

/**
 * Validates admin request bodies against their DTO class and answers 400 invalid_request_error listing every
 * problem at once. Unknown properties are rejected rather than ignored: a typo such as `duration` must not
 * silently fall back to nothing.
 */
@Injectable()
export class AdminValidationPipe extends ValidationPipe {
  constructor() {
    super({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      exceptionFactory: (errors) => {
        const problems = describe(errors);
        return new RelayError(
          RelayErrorCode.InvalidRequest,
          `invalid request body: ${problems.length > 0 ? problems.join('; ') : 'expected a JSON object'}`,
        );
      },
    });
  }
}
