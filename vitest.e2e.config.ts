import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

// e2e: boots the real app through createApp() on real sockets against the fake upstream (and real Redis).
export default defineConfig({
  plugins: [swc.vite({ module: { type: 'es6' } })],
  test: {
    include: ['test/e2e/**/*.e2e-spec.ts'],
    environment: 'node',
    setupFiles: ['test/setup.ts'],
    // In CI a JSON report lets .ci/run fail on any skipped test (CI_REPORTS_DIR: one folder per Node.js run).
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    outputFile: { json: `${process.env.CI_REPORTS_DIR ?? '.ci/reports'}/e2e.json` },
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    fileParallelism: true,
    maxWorkers: 2,
  },
});
