/**
 * A value built from a config section and rebuilt when the section is replaced (a config reload swaps whole
 * sections of the shared RelayConfig, so identity tells a new config from the old). Reading it costs one compare.
 */
export class Derived<S extends object, T> {
  private source: S | undefined;
  private value: T | undefined;

  constructor(private readonly build: (source: S) => T) {}

  of(source: S): T {
    if (source !== this.source) {
      this.value = this.build(source);
      this.source = source;
    }
    return this.value as T;
  }
}
