import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

// Unit tests: pure logic beside the code (src/**/*.spec.ts). swc keeps Nest's decorator metadata.
export default defineConfig({
  plugins: [swc.vite({ module: { type: 'es6' } })],
  test: {
    include: ['src/**/*.spec.ts', 'test/unit/**/*.spec.ts'],
    environment: 'node',
    setupFiles: ['test/setup.ts'],
    // In CI a JSON report lets .ci/run fail on any skipped test (CI_REPORTS_DIR: one folder per Node.js run).
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    outputFile: { json: `${process.env.CI_REPORTS_DIR ?? '.ci/reports'}/unit.json` },
    pool: 'threads',
  },
});
