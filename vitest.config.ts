import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

// Unit tests: pure logic beside the code (src/**/*.spec.ts). swc keeps Nest's decorator metadata.
export default defineConfig({
  plugins: [swc.vite({ module: { type: 'es6' } })],
  test: {
    include: ['src/**/*.spec.ts', 'test/unit/**/*.spec.ts'],
    environment: 'node',
    setupFiles: ['test/setup.ts'],
    pool: 'threads',
  },
});
