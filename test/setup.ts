// Nest and class-validator decorators read design-time metadata; load the polyfill once for every test file.
import 'reflect-metadata';
