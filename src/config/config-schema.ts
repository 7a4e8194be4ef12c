import { plainToInstance } from 'class-transformer';
import { getMetadataStorage } from 'class-validator';
import { IS_STRING_LIST_RECORD, IS_STRING_RECORD } from './record-validators';

/** One decorator's record in class-validator's metadata storage (the class itself is not exported). */
type ValidationMetadata = ReturnType<
  ReturnType<typeof getMetadataStorage>['getTargetValidationMetadatas']
>[number];

/** A config section class: its field initialisers are the defaults. */
export type SectionClass = new () => object;

/** What the decorators of one config key say about it. */
export interface FieldSchema {
  name: string;
  /** The value checks (class-validator "custom" validations such as isInt, min, matches). */
  rules: ValidationMetadata[];
  /** @IsOptional(): the key may be left out, and has no default. */
  optional: boolean;
  /** Set for a nested section (`server.auth`) or a list of them (`providers`, `keys`). */
  nested?: { cls: SectionClass; list: boolean };
}

const schemas = new Map<SectionClass, Map<string, FieldSchema>>();

/** The known keys of a section class, read from its class-validator / class-transformer decorators. */
export function schemaOf(cls: SectionClass): Map<string, FieldSchema> {
  const cached = schemas.get(cls);
  if (cached !== undefined) return cached;
  const fields = new Map<string, FieldSchema>();
  for (const meta of getMetadataStorage().getTargetValidationMetadatas(cls, '', true, false)) {
    const field = fields.get(meta.propertyName) ?? { name: meta.propertyName, rules: [], optional: false };
    fields.set(meta.propertyName, field);
    if (meta.type === 'conditionalValidation') field.optional = true;
    else if (meta.type === 'nestedValidation')
      field.nested = nestedSection(cls, meta.propertyName, meta.each);
    else field.rules.push(meta);
  }
  schemas.set(cls, fields);
  return fields;
}

/** Finds the @Type() class of a nested key through class-transformer's public API instead of its private storage. */
function nestedSection(cls: SectionClass, name: string, list: boolean): FieldSchema['nested'] {
  const probe = plainToInstance(cls, { [name]: list ? [{}] : {} }) as Record<string, unknown>;
  const made = probe[name];
  const instance: unknown = list && Array.isArray(made) ? made[0] : made;
  if (typeof instance !== 'object' || instance === null || instance.constructor === Object) return undefined;
  return { cls: instance.constructor as SectionClass, list };
}

function rule(field: FieldSchema, name: string, each = false): ValidationMetadata | undefined {
  return field.rules.find((r) => r.name === name && Boolean(r.each) === each);
}

function customText(meta: ValidationMetadata | undefined): string | undefined {
  return typeof meta?.message === 'string' ? meta.message.replace(/^expected /, '') : undefined;
}

function constraint(meta: ValidationMetadata | undefined): unknown {
  return meta?.constraints?.[0];
}

/** What one list element must be, for keys validated with `{ each: true }`. */
export function describeElement(field: FieldSchema): string {
  const pattern = customText(rule(field, 'matches', true));
  if (pattern !== undefined) return pattern;
  const min = constraint(rule(field, 'minLength', true));
  if (typeof min === 'number')
    return min === 1 ? 'a non-empty string' : `a string of at least ${min} characters`;
  return 'a string';
}

/** What a key expects, in words, e.g. "an integer >= 0" or "one of failover, round_robin". */
export function describeExpected(field: FieldSchema): string {
  if (field.nested !== undefined) return field.nested.list ? 'a list of mappings' : 'a mapping';
  const allowed = constraint(rule(field, 'isIn'));
  if (Array.isArray(allowed)) return `one of ${allowed.map(String).join(', ')}`;
  if (rule(field, IS_STRING_RECORD) !== undefined) return 'a mapping of string to string';
  if (rule(field, IS_STRING_LIST_RECORD) !== undefined) return 'a mapping of string to a list of strings';
  if (rule(field, 'isBoolean') !== undefined) return 'true or false';
  if (rule(field, 'isArray') !== undefined) {
    const element = describeElement(field);
    return element === 'a string' ? 'a list of strings' : `a list of strings, each ${element}`;
  }
  const isInt = rule(field, 'isInt') !== undefined;
  if (isInt || rule(field, 'isNumber') !== undefined) {
    const kind = isInt ? 'an integer' : 'a number';
    const min = constraint(rule(field, 'min'));
    const max = constraint(rule(field, 'max'));
    if (typeof min === 'number' && typeof max === 'number') return `${kind} from ${min} to ${max}`;
    if (typeof min === 'number') return `${kind} >= ${min}`;
    if (typeof max === 'number') return `${kind} <= ${max}`;
    return kind;
  }
  const pattern = customText(rule(field, 'matches'));
  if (pattern !== undefined) return pattern;
  const minLength = constraint(rule(field, 'minLength'));
  if (typeof minLength === 'number') {
    return minLength === 1 ? 'a non-empty string' : `a string of at least ${minLength} characters`;
  }
  return 'a string';
}

/** True when the key holds a number (so a value that came wholly from `${VAR}` may be read as one). */
export function expectsNumber(field: FieldSchema): boolean {
  return rule(field, 'isInt') !== undefined || rule(field, 'isNumber') !== undefined;
}

/** True when the key holds a boolean. */
export function expectsBoolean(field: FieldSchema): boolean {
  return rule(field, 'isBoolean') !== undefined;
}

const ELEMENT_CHECKS: Record<string, (value: unknown, constraints: unknown[]) => boolean> = {
  isString: (value) => typeof value === 'string',
  minLength: (value, c) => typeof value === 'string' && typeof c[0] === 'number' && value.length >= c[0],
  matches: (value, c) => typeof value === 'string' && c[0] instanceof RegExp && c[0].test(value),
};

/** Indices of list elements that break one of the key's `{ each: true }` rules. */
export function badElements(field: FieldSchema, list: readonly unknown[]): number[] {
  const eachRules = field.rules.filter((r) => r.each && r.name !== undefined && r.name in ELEMENT_CHECKS);
  const bad: number[] = [];
  list.forEach((item, i) => {
    if (eachRules.some((r) => !ELEMENT_CHECKS[r.name ?? '']?.(item, r.constraints ?? []))) bad.push(i);
  });
  return bad;
}
