import { buildMessage, ValidateBy, type ValidationOptions } from 'class-validator';

/** class-validator name of the IsStringRecord constraint (the loader reads it to describe what was expected). */
export const IS_STRING_RECORD = 'isStringRecord';

/** class-validator name of the IsStringListRecord constraint. */
export const IS_STRING_LIST_RECORD = 'isStringListRecord';

/** True for a mapping (not null, not a list) — the only shape a config-file table can have. */
export function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** True for a mapping whose every value is a string, e.g. `model_mapping`. */
export function isStringRecord(value: unknown): value is Record<string, string> {
  return isPlainRecord(value) && Object.values(value).every((v) => typeof v === 'string');
}

/** True for a mapping whose every value is a list of strings, e.g. `routing.model_routes`. */
export function isStringListRecord(value: unknown): value is Record<string, string[]> {
  return (
    isPlainRecord(value) &&
    Object.values(value).every((v) => Array.isArray(v) && v.every((item) => typeof item === 'string'))
  );
}

/** Property decorator: the value must be a mapping of string to string. */
export function IsStringRecord(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: IS_STRING_RECORD,
      validator: {
        validate: (value): boolean => isStringRecord(value),
        defaultMessage: buildMessage(
          (each) => `${each}$property must be a mapping of string to string`,
          options,
        ),
      },
    },
    options,
  );
}

/** Property decorator: the value must be a mapping of string to a list of strings. */
export function IsStringListRecord(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: IS_STRING_LIST_RECORD,
      validator: {
        validate: (value): boolean => isStringListRecord(value),
        defaultMessage: buildMessage(
          (each) => `${each}$property must be a mapping of string to a list of strings`,
          options,
        ),
      },
    },
    options,
  );
}
