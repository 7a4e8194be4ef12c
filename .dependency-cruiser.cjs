/**
 * The floors of src/ (docs/architecture.md), checked by `npm run deps` in CI: a folder imports only from the
 * floors below its own, never from a floor above nor from a sibling on its own floor, and no two modules import
 * each other, however far round. Bottom first; the files at the root of src/ (main, app.module, app.factory, cli)
 * wire everything and stand above all floors.
 *
 * To move a folder, move it here and in the doc; to break a rule, move the piece both sides need one floor down.
 */
/** @type {readonly (readonly string[])[]} */
const FLOORS = [
  ['config'], // the config's types, defaults, loading and validation; secret masking
  ['protocol'], // Anthropic's wire: error bodies and their status table, SSE, the request carrier, outcomes
  ['common'], // Nest and Fastify plumbing every feature shares: guards, filters, hooks, logging, drain state
  ['providers'], // one adapter per vendor: a request in Anthropic's shape to theirs and back
  ['cluster'], // cluster mode: the shared Redis connection, replica id, heartbeats, the probe lock
  ['health'], // circuit breakers and the probe job
  ['routing', 'metrics'], // route plans, key pools, retry policy / counters and the /metrics page
  ['cache'], // the response cache and its interceptor
  ['proxy'], // the attempt loop and the stream relay: POST /v1/messages
  ['admin'], // the /admin API and the status page
  ['drills', 'admin-cli'], // scheduled failure drills / the admin command line
];

const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
const folders = (names) => `^src/(${names.map(escapeRe).join('|')})/`;

/** One rule per folder: what it must not import (every floor at or above its own, its own folder excepted). */
const floorRules = FLOORS.flatMap((floor, i) =>
  floor.map((folder) => {
    const above = FLOORS.slice(i)
      .flat()
      .filter((other) => other !== folder);
    return {
      name: `floor-${folder}`,
      comment: `src/${folder}/ is on floor ${i}: it imports only from ${
        FLOORS.slice(0, i).flat().join(', ') || 'no other folder of src/'
      }`,
      severity: 'error',
      from: { path: folders([folder]) },
      to: { path: folders(above) },
    };
  }),
);

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    ...floorRules,
    {
      name: 'no-cycle',
      comment: 'Two modules that import each other (directly or round a loop) are one module: untie them.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'protocol-without-nest',
      comment:
        'src/protocol/ is plain TypeScript: no Nest, so every floor (and every test) can use it as it is.',
      severity: 'error',
      from: { path: '^src/protocol/' },
      to: { path: '@nestjs/' },
    },
    {
      name: 'declared-packages',
      comment:
        'Every package src/ imports is in package.json: one reached only through another package is gone as soon as ' +
        'that one stops depending on it (the image installs what package.json names, nothing else).',
      severity: 'error',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'no-dev-packages-at-run-time',
      comment:
        'The image installs dependencies only (npm ci --omit=dev): src/ code run in it cannot load a devDependency.',
      severity: 'error',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'folders-known',
      comment: 'Every folder of src/ has a floor: add a new one to FLOORS in .dependency-cruiser.cjs.',
      severity: 'error',
      from: { path: '^src/[^/]+/', pathNot: folders(FLOORS.flat()) },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // `import type` counts: a type from a floor above ties the floors together all the same.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '\\.spec\\.ts$' },
  },
};
