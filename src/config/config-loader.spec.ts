import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from './config-error';
import {
  DEFAULT_CONFIG_PATH,
  loadConfig,
  loadConfigFile,
  parseConfigText,
  resolveConfigPath,
} from './config-loader';
import { validateConfig } from './config-validation';
import { ProviderConfig, RelayConfig } from './relay-config';

const ROOT = resolve(__dirname, '../..');
const FIXTURES = join(ROOT, 'test/fixtures/config');
const FULL_ENV = {
  RELAY_CLIENT_KEY: 'relay-client-key-1',
  PRIMARY_KEY: 'sk-ant-primary-from-env-1111',
  REDIS_PASSWORD: 'hunter2hunter2',
};

/** Runs fn, which must throw a ConfigError, and returns it. */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError, but the config was accepted');
}

function yaml(text: string, env: Record<string, string> = {}) {
  return parseConfigText(text, 'yaml', env);
}

/** A minimal valid config in block style, so tests can append keys to the provider (4 spaces) or its key (8). */
const ONE_PROVIDER = 'providers:\n  - name: a\n    keys:\n      - key: sk-ant-test-key-000000\n';

describe('YAML and TOML', () => {
  it('give the same typed config for the same settings', () => {
    const fromYaml = loadConfigFile(join(FIXTURES, 'full.yaml'), FULL_ENV);
    const fromToml = loadConfigFile(join(FIXTURES, 'full.toml'), FULL_ENV);
    expect(fromToml.config).toEqual(fromYaml.config);
    expect(fromToml.config).toBeInstanceOf(RelayConfig);
    expect(fromToml.config.providers[0]).toBeInstanceOf(ProviderConfig);
    expect(fromToml.warnings).toEqual(fromYaml.warnings);
  });

  it('applies what the file says and defaults for the rest', () => {
    const { config } = loadConfigFile(join(FIXTURES, 'full.toml'), FULL_ENV);
    expect(config.server.listen).toBe('127.0.0.1:9000');
    expect(config.server.auth).toEqual({
      api_keys: ['relay-client-key-1'],
      allow_bearer: false,
      allow_open: false,
    });
    expect(config.server.max_body_bytes).toBe(32 * 1024 * 1024);
    const [primary, glm] = config.providers;
    expect(primary?.keys.map((k) => [k.key, k.rpm_limit, k.weight])).toEqual([
      ['sk-ant-primary-from-env-1111', 50, 1],
      ['sk-ant-literal-second-key-0000', 0, 2.5],
    ]);
    expect(glm).toMatchObject({ type: 'zai', enabled: true, priority: 0 });
    expect(glm?.keys[0]?.key).toBe('glm-default-key-123456');
    expect(config.routing.model_routes).toEqual({
      'claude-sonnet': ['primary', 'glm'],
      'claude-haiku': ['primary'],
    });
    expect(config.routing.retry).toMatchObject({ max_attempts: 4, budget_ratio: 0.1, base_delay_ms: 250 });
    expect(config.health.circuit_breaker).toMatchObject({ failure_threshold: 3, open_duration_ms: 30_000 });
    expect(config.cache.redis.url).toBe('redis://:hunter2hunter2@redis.internal:6379');
    expect(config.admin.token).toBeUndefined();
  });

  it('chooses the syntax by extension and rejects any other', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-relay-config-'));
    writeFileSync(join(dir, 'relay.yml'), ONE_PROVIDER);
    expect(loadConfigFile(join(dir, 'relay.yml'), {}).config.providers[0]?.name).toBe('a');
    writeFileSync(join(dir, 'relay.json'), '{}');
    const err = configError(() => loadConfigFile(join(dir, 'relay.json'), {}));
    expect(err.message).toContain('a .yaml, .yml or .toml file');
  });

  it('accepts YAML anchors and merge keys, so providers can share settings', () => {
    const { config } = yaml(
      [
        'x-common: &common { priority: 5, weight: 2 }',
        'providers:',
        '  - { name: a, <<: *common }',
        '  - { name: b, <<: *common, weight: 0 }',
      ].join('\n'),
    );
    expect(config.providers.map((p) => [p.priority, p.weight])).toEqual([
      [5, 2],
      [5, 0],
    ]);
  });

  it('reports a syntax error with its line, without quoting the line (it may hold a key)', () => {
    const err = configError(() =>
      parseConfigText('[server]\nlisten = "x:1"\nkey = sk-ant-api03-LEAKED-000000\n', 'toml', {}),
    );
    expect(err.problems[0]?.path).toBe('line 3, column 7');
    expect(err.message).not.toContain('LEAKED');
    const yamlErr = configError(() => yaml('providers:\n  - key: sk-ant-api03-LEAKED-1: x\n'));
    expect(yamlErr.problems[0]?.path).toMatch(/^line 2, column \d+$/);
    expect(yamlErr.message).not.toContain('LEAKED');
    // An alias whose anchor is missing (or comes later) fails after parsing: it still has its line and column.
    const alias = configError(() =>
      yaml('x-a: &a { priority: 1 }\nproviders:\n  - { name: a, priority: *b }\n'),
    );
    expect(alias.problems).toEqual([
      {
        path: 'line 3, column 26',
        expected: 'valid YAML: Unresolved alias (the anchor must be set before the alias): b',
      },
    ]);
  });
});

describe('environment expansion', () => {
  it('expands string values, never keys or comments', () => {
    const { config } = yaml(
      [
        '# ${IN_COMMENT} must not be looked up',
        'providers:',
        '  - name: a',
        '    keys: [{ key: "${KEY}" }]',
        '    model_mapping:',
        '      "${IN_KEY}": "x-${MODEL:-fallback-model}"',
      ].join('\n'),
      { KEY: 'sk-ant-from-env-0000000' },
    );
    expect(config.providers[0]?.keys[0]?.key).toBe('sk-ant-from-env-0000000');
    expect(config.providers[0]?.model_mapping).toEqual({ '${IN_KEY}': 'x-fallback-model' });
  });

  it('turns a value made wholly by ${VAR} into the number or boolean the key expects', () => {
    const { config } = yaml(
      `${ONE_PROVIDER}        rpm_limit: \${RPM}\n        weight: \${W}\n    enabled: \${ON}\nrouting:\n  debug: \${DEBUG:-TRUE}\n`,
      { RPM: '120', W: '0.5', ON: 'true' },
    );
    expect(config.providers[0]?.keys[0]).toMatchObject({ rpm_limit: 120, weight: 0.5 });
    expect(config.providers[0]?.enabled).toBe(true);
    expect(config.routing.debug).toBe(true);
  });

  it('shows what a variable held, masked where it is (or looks like) a secret, never a secret in full', () => {
    const SK = 'sk-ant-api03-SECRETSECRET-wxyz';
    const text =
      'providers:\n  - name: a\n    base_url: ${SK}\n    models: ${SK}\n    keys:\n      - key: k-000000000000\n' +
      '        rpm_limit: ${SK}\n  - ${SK}\nadmin: ${SK}\ncache:\n  redis: ${SK}\n' +
      'routing:\n  fallbacks:\n    x: ${SK}\n';
    const err = configError(() => yaml(text, { SK }));
    expect(err.problems.length).toBeGreaterThanOrEqual(6);
    expect(err.message).not.toContain('SECRETSECRET');
    expect(err.message).toContain('providers[0].keys[0].rpm_limit: got "sk-ant-…wxyz" (from ${SK})');
    // Text written beside a reference, and defaults, are masked like any value.
    const beside = configError(() =>
      yaml(
        `${ONE_PROVIDER}cache:\n  redis:\n    url: "http://admin:S3cretPw@\${H}:6379"\n` +
          `routing:\n  strategy: \${STRATEGY:-sk-ant-DEFAULTSECRET-0000}\n`,
        { H: 'h' },
      ),
    );
    expect(beside.message).not.toContain('S3cretPw');
    expect(beside.message).not.toContain('DEFAULTSECRET');
    expect(beside.message).toContain('routing.strategy: got "sk-ant-…0000" (from ${STRATEGY})');
    // An ordinary value is shown as the variable held it, not as the reference.
    const plain = configError(() =>
      yaml(`${ONE_PROVIDER}routing:\n  strategy: \${STRATEGY:-failover}\n`, { STRATEGY: 'fail-over' }),
    );
    expect(plain.message).toContain(
      '- routing.strategy: got "fail-over" (from ${STRATEGY}), expected one of',
    );
    const token = configError(() =>
      yaml(`${ONE_PROVIDER}        rpm_limit: \${MY_TOKEN}\n`, { MY_TOKEN: 'plain-looking-token-9876' }),
    );
    expect(token.message).toContain('rpm_limit: got "pl…9876" (from ${MY_TOKEN})');
    // A malformed reference names only the variable, never the default written after it.
    const malformed = configError(() =>
      yaml(`${ONE_PROVIDER}admin:\n  token: \${SK-sk-ant-DEFAULTLEAK-0000}\n`),
    );
    expect(malformed.message).not.toContain('DEFAULTLEAK');
    expect(malformed.message).toContain('malformed reference ${SK…}');
  });

  it('shows a string where a section belongs only by its length (a TOML file read as YAML is one)', () => {
    const err = configError(() => yaml('key = "sk-ant-api03-TOMLSECRET-0000"\n'));
    expect(err.message).not.toContain('TOMLSECRET');
    expect(err.message).toContain('a string of');
  });

  it('does not coerce a quoted number written in the file, nor a partly expanded value', () => {
    const err = configError(() =>
      yaml(`${ONE_PROVIDER}        rpm_limit: "5"\n        otpm_limit: 1\${ZERO}\n`, { ZERO: '0' }),
    );
    expect(err.problems).toEqual([
      { path: 'providers[0].keys[0].rpm_limit', value: '"5"', expected: 'an integer >= 0' },
      {
        path: 'providers[0].keys[0].otpm_limit',
        value: '"10" (from ${ZERO})',
        expected: 'an integer >= 0',
      },
    ]);
  });

  it('names an unset variable and its path, together with unrelated problems', () => {
    const err = configError(() =>
      yaml('providers:\n  - name: a\n    keys: [{ key: "${MISSING_KEY}" }]\nlogging:\n  level: loud\n'),
    );
    expect(err.problems).toHaveLength(2);
    expect(err.message).toContain('- providers[0].keys[0].key: environment variable MISSING_KEY is not set');
    expect(err.message).toContain('- logging.level: got "loud", expected one of trace, debug, info, warn');
  });

  it('warns that a keyless provider of another vendor never gets a client’s Anthropic key', () => {
    const { warnings } = yaml('providers:\n  - name: glm\n    type: zai\n    keys: []\n');
    expect(warnings).toContain(
      `provider "glm" has no keys: it forwards each client's own credentials (pass-through), ` +
        `except an Anthropic key (sk-ant-…), which never leaves for zai`,
    );
  });

  it('warns about a base_url ending in /v1 (requests would go to /v1/v1/messages), not about other paths', () => {
    const { warnings } = yaml(
      'providers:\n' +
        '  - name: a\n    base_url: https://gw.example/v1/\n    keys: [{ key: k1 }]\n' +
        '  - name: b\n    base_url: https://gw.example/v1/anthropic\n    keys: [{ key: k2 }]\n',
    );
    expect(warnings.filter((w) => w.includes('/v1/v1/messages'))).toEqual([
      "providers[0].base_url ends in /v1: the relay appends the client's path (/v1/messages), so requests would " +
        'go to …/v1/v1/messages; leave the /v1 out',
    ]);
  });

  it('drops a key that expands to nothing, with a warning that the provider passes client credentials through', () => {
    const { config, warnings } = yaml(
      'providers:\n  - name: solo\n    keys:\n      - key: ${ANTHROPIC_API_KEY:-}\n        rpm_limit: 5\n',
    );
    expect(config.providers[0]?.keys).toEqual([]);
    expect(warnings).toContain(
      'providers[0].keys[0]: dropped, its key ${ANTHROPIC_API_KEY:-} expanded to an empty string',
    );
    expect(warnings).toContain(
      `provider "solo" has no keys: it forwards each client's own credentials (pass-through)`,
    );
  });

  it('keeps the other keys of the provider when one is dropped', () => {
    const { config, warnings } = yaml(
      'providers:\n  - name: p\n    keys:\n      - key: ${UNSET:-}\n      - key: sk-ant-kept-key-00000\n',
    );
    expect(config.providers[0]?.keys.map((k) => k.key)).toEqual(['sk-ant-kept-key-00000']);
    expect(warnings.some((w) => w.includes('pass-through'))).toBe(false);
  });

  it('treats an empty admin token as no token: admin off, not an error', () => {
    const { config } = yaml(`${ONE_PROVIDER}admin:\n  token: \${CC_RELAY_ADMIN_TOKEN:-}\n`);
    expect(config.admin.token).toBeUndefined();
    const on = yaml(`${ONE_PROVIDER}admin:\n  token: \${T}\n`, { T: 'a-long-admin-token-123' });
    expect(on.config.admin.token).toBe('a-long-admin-token-123');
  });
});

describe('validation', () => {
  it('reports every problem at once, in file order, with exact paths, values and expectations', () => {
    const err = configError(() => loadConfigFile(join(FIXTURES, 'many-errors.yaml'), {}));
    expect(err.problems.map((p) => p.path)).toEqual([
      'server.listen',
      'providers[1].type',
      'providers[1].prioritty',
      'providers[1].keys[0].rpm_limit',
      'routing.strategy',
      'cache.olric',
    ]);
    expect(err.message).toContain('- providers[1].keys[0].rpm_limit: got "abc", expected an integer >= 0');
    expect(err.message).toContain('- providers[1].prioritty: unknown key, did you mean priority?');
    expect(err.message).toContain(
      '- providers[1].type: got "gemini", expected one of anthropic, zai, minimax, ollama, azure, vertex, bedrock, openai',
    );
    expect(err.message).toContain('- server.listen: got "nowhere", expected host:port, e.g. 0.0.0.0:8787');
    expect(err.message).toContain(join(FIXTURES, 'many-errors.yaml'));
  });

  it('points cache.olric at the Redis section', () => {
    const err = configError(() =>
      yaml(`${ONE_PROVIDER}cache:\n  mode: ha\n  olric:\n    dmap_name: cc-relay\n`),
    );
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]?.path).toBe('cache.olric');
    expect(err.problems[0]?.expected).toMatch(/Redis.*use cache\.redis \(url or cluster_nodes, key_prefix\)/);
  });

  it('never shows a secret in full', () => {
    const secrets = ['sk-ant-api03-TOPSECRET-xyz123', 'relay-client-TOPSECRET', 'redispassTOPSECRET'];
    const err = configError(() =>
      yaml(
        [
          'server:',
          '  auth:',
          `    api_keys: ["${secrets[1]}", ""]`,
          'providers:',
          '  - name: a',
          `    keys: ["${secrets[0]}"]`,
          '  - name: b',
          `    keys: [{ key: 12345678901 }, { key: "${secrets[0]}", rpm_limit: -1 }]`,
          'admin:',
          '  token: short-TOPSECRET',
          'cache:',
          `  redis: { url: "http://user:${secrets[2]}@host:1" }`,
        ].join('\n'),
      ),
    );
    expect(err.message).not.toContain('TOPSECRET');
    expect(err.message).not.toContain('12345678901');
    expect(err.message).toContain('- providers[0].keys[0]: got "sk-ant-…z123", expected a mapping with key,');
    expect(err.message).toContain('- server.auth.api_keys[1]: got "****", expected a non-empty string');
    expect(err.message).toContain('- providers[1].keys[1].rpm_limit: got -1, expected an integer >= 0');
    expect(err.message).toContain(
      '- admin.token: got "sh…CRET", expected a string of at least 16 characters',
    );
    expect(err.message).toContain('http://user:re…CRET@host:1');
  });

  it('refuses a Redis URL the client could not parse at start, and never shows its password', () => {
    // A generated password with a raw "/" (or "?", "#", a stray "%") once passed `config validate` and then
    // stopped the relay at start, printing the whole URL, password included.
    const urls = [
      'redis://:pa/ss-TOPSECRET@redis.internal:6379',
      'redis://:pa#ss-TOPSECRET@redis.internal:6379',
      'redis://:pa%zzTOPSECRET@redis.internal:6379',
      'redis://:TOPSECRET-pw@redis.internal:99999',
      'redis://:TOPSECRET-pw@redis.internal:6379/cache',
    ];
    for (const url of urls) {
      const err = configError(() => yaml(`${ONE_PROVIDER}cache:\n  mode: ha\n  redis:\n    url: "${url}"\n`));
      expect(err.problems.map((p) => p.path)).toEqual(['cache.redis.url']);
      expect(err.problems[0]?.expected).toMatch(/^a URL /);
      expect(err.message).not.toContain('TOPSECRET');
    }
    for (const url of ['redis://:p@ss:w%2Frd@h:6379', 'rediss://u:pw@[::1]:6380/2', 'redis://h']) {
      const { config } = yaml(`${ONE_PROVIDER}cache:\n  redis:\n    url: "${url}"\n`);
      expect(config.cache.redis.url).toBe(url);
    }
  });

  it('suggests the nearest known key, or lists the known keys when nothing is close', () => {
    const err = configError(() => yaml(`${ONE_PROVIDER}    prioritty: 1\nroutng: {}\nserver:\n  zzz: 1\n`));
    expect(err.message).toContain('- providers[0].prioritty: unknown key, did you mean priority?');
    expect(err.message).toContain('- routng: unknown key, did you mean routing?');
    expect(err.message).toContain('- server.zzz: unknown key (known keys here: listen, timeout_ms,');
  });

  it('requires at least one enabled provider', () => {
    expect(configError(() => yaml('logging: { level: info }\n')).message).toContain(
      '- providers: at least one enabled provider is required, and none is configured',
    );
    expect(configError(() => yaml('providers: [{ name: a, enabled: false }]\n')).message).toContain(
      'all 1 are disabled',
    );
  });

  it('rejects model routes to unknown providers and model_based without routes', () => {
    const routed = configError(() =>
      yaml(`${ONE_PROVIDER}routing:\n  model_routes:\n    claude-3.5: [a, b]\n`),
    );
    expect(routed.problems).toEqual([
      {
        path: 'routing.model_routes["claude-3.5"][1]',
        value: '"b"',
        expected: 'the name of a configured provider (a)',
      },
    ]);
    const empty = configError(() => yaml(`${ONE_PROVIDER}routing:\n  strategy: model_based\n`));
    expect(empty.problems[0]?.path).toBe('routing.model_routes');
  });

  it('rejects duplicate provider names, pointing at the second one', () => {
    const err = configError(() => yaml('providers: [{ name: a }, { name: a }]\n'));
    expect(err.problems).toEqual([
      {
        path: 'providers[1].name',
        value: '"a"',
        expected: 'a unique provider name (providers[0] has it too)',
      },
    ]);
  });

  it('pinpoints bad entries of mappings and lists', () => {
    const err = configError(() =>
      yaml(
        `${ONE_PROVIDER}    model_mapping: { x: 5 }\nrouting:\n  fallbacks:\n    m: n\n    o: [p, 1]\ncache:\n  redis: { cluster_nodes: ["h:1", "nope"] }\n`,
      ),
    );
    expect(err.problems.map((p) => `${p.path} ${p.expected}`)).toEqual([
      'providers[0].model_mapping.x a string',
      'routing.fallbacks.m a list of strings',
      'routing.fallbacks.o[1] a string',
      'cache.redis.cluster_nodes[1] host:port or redis[s]://[user[:password]@]host:port',
    ]);
  });

  it('reports a section of the wrong shape once, and treats an empty section as defaults', () => {
    const err = configError(() => yaml(`${ONE_PROVIDER}server: 8787\nhealth: [1]\n`));
    expect(err.problems).toEqual([
      { path: 'server', value: '8787', expected: 'a mapping' },
      { path: 'health', value: 'a list', expected: 'a mapping' },
    ]);
    const { config } = yaml(`${ONE_PROVIDER}metrics:\n  # enabled: false\n`);
    expect(config.metrics).toEqual({ enabled: true, path: '/metrics' });
  });

  it('uses the documented defaults for everything left out', () => {
    const { config } = validateConfig({ providers: [{ name: 'only' }] });
    expect(config.server).toEqual({
      listen: '127.0.0.1:8787',
      timeout_ms: 600_000,
      max_body_bytes: 33_554_432,
      max_connections_per_provider: 4096,
      body_timeout_ms: 30_000,
      body_min_bytes_per_s: 1024,
      max_connections_per_ip: 0,
      max_inflight_body_bytes: 268_435_456,
      auth: { api_keys: [], allow_bearer: true, allow_open: false },
      shutdown: { delay_ms: 0, grace_ms: 30_000 },
    });
    expect(config.providers[0]).toMatchObject({
      type: 'anthropic',
      enabled: true,
      priority: 0,
      weight: 1,
      keys: [],
      models: [],
      model_mapping: {},
    });
    expect(config.providers[0]?.base_url).toBeUndefined();
    expect(config.providers[0]?.max_connections).toBeUndefined();
    expect(config.routing).toEqual({
      strategy: 'failover',
      debug: false,
      model_routes: {},
      fallbacks: {},
      retry: {
        max_attempts: 3,
        base_delay_ms: 250,
        max_delay_ms: 4_000,
        max_retry_after_ms: 10_000,
        budget_ratio: 0.2,
      },
      deadline_ms: 120_000,
      ttft_timeout_ms: 30_000,
      stall_timeout_ms: 60_000,
      client_stall_timeout_ms: 300_000,
      commit: 'content',
    });
    expect(config.health).toEqual({
      health_check: { enabled: true, interval_ms: 10_000, timeout_ms: 5_000, probe: 'models' },
      circuit_breaker: {
        failure_threshold: 5,
        open_duration_ms: 30_000,
        max_open_duration_ms: 0,
        half_open_probes: 3,
      },
    });
    expect(config.providers[0]?.health_check.probe).toBeUndefined();
    expect(config.cache).toEqual({
      mode: 'single',
      ttl_ms: 3_600_000,
      stream: false,
      shared_across_clients: false,
      ristretto: { num_counters: 1_000_000, max_cost: 104_857_600, buffer_items: 64 },
      redis: { url: 'redis://127.0.0.1:6379', cluster_nodes: [], key_prefix: 'cc-relay:', timeout_ms: 50 },
    });
    expect(config.cluster).toEqual({
      mode: 'local',
      redis: {
        url: 'redis://127.0.0.1:6379',
        cluster_nodes: [],
        key_prefix: 'cc-relay:cluster:',
        timeout_ms: 50,
      },
      heartbeat_ms: 2_000,
    });
    expect(config.logging).toEqual({ level: 'info', format: 'json' });
    expect(config.admin.token).toBeUndefined();
    expect(config.metrics).toEqual({ enabled: true, path: '/metrics' });
  });

  it('connects cluster.redis where cache.redis does when it names no connection of its own', () => {
    const inherited = validateConfig({
      providers: [{ name: 'a' }],
      cache: { mode: 'single', redis: { cluster_nodes: ['10.0.0.1:7000'], url: 'redis://cache:6379' } },
      cluster: { mode: 'redis', redis: { key_prefix: 'p:', timeout_ms: 20 } },
    }).config.cluster;
    expect(inherited).toEqual({
      mode: 'redis',
      redis: {
        url: 'redis://cache:6379',
        cluster_nodes: ['10.0.0.1:7000'],
        key_prefix: 'p:',
        timeout_ms: 20,
      },
      heartbeat_ms: 2_000,
    });
    const own = validateConfig({
      providers: [{ name: 'a' }],
      cache: { redis: { cluster_nodes: ['10.0.0.1:7000'] } },
      cluster: { mode: 'redis', redis: { url: 'redis://state:6380' } },
    }).config.cluster.redis;
    expect(own).toMatchObject({ url: 'redis://state:6380', cluster_nodes: [] });
  });

  it('warns when the cluster state would sit under the ha cache prefix on the same Redis (a flush takes it along)', () => {
    const shared = validateConfig({
      providers: [{ name: 'a' }],
      cache: { mode: 'ha' },
      cluster: { mode: 'redis' },
    });
    expect(shared.warnings.filter((w) => w.includes('cluster.redis.key_prefix'))).toEqual([
      expect.stringContaining('"cc-relay:cluster:" and cache.redis.key_prefix "cc-relay:" overlap'),
    ]);
    const apart = validateConfig({
      providers: [{ name: 'a' }],
      cache: { mode: 'ha' },
      cluster: { mode: 'redis', redis: { key_prefix: 'cc-relay-cluster:' } },
    });
    expect(apart.warnings.filter((w) => w.includes('cluster.redis.key_prefix'))).toEqual([]);
  });

  it('lists every bad cluster value with its path', () => {
    const err = configError(() =>
      validateConfig({
        providers: [{ name: 'a' }],
        cluster: {
          mode: 'olric',
          redis: { url: 'http://x', cluster_nodes: ['nope'], key_prefix: '', timeout_ms: 0 },
          heartbeat_ms: 5,
          heartbeat: 1,
        },
      }),
    );
    expect(err.problems.map((p) => p.path)).toEqual([
      'cluster.mode',
      'cluster.redis.url',
      'cluster.redis.cluster_nodes[0]',
      'cluster.redis.key_prefix',
      'cluster.redis.timeout_ms',
      'cluster.heartbeat_ms',
      'cluster.heartbeat',
    ]);
    expect(err.problems.find((p) => p.path === 'cluster.mode')?.expected).toBe('one of local, redis');
  });

  it('takes upstream connection limits of at least one, per provider or as the default', () => {
    const { config } = validateConfig({
      server: { max_connections_per_provider: 64 },
      providers: [{ name: 'a', max_connections: 2 }],
    });
    expect(config.server.max_connections_per_provider).toBe(64);
    expect(config.providers[0]?.max_connections).toBe(2);
    expect(() => validateConfig({ providers: [{ name: 'a', max_connections: 0 }] })).toThrow(
      /providers\[0\]\.max_connections/,
    );
    expect(() =>
      validateConfig({ server: { max_connections_per_provider: 1.5 }, providers: [{ name: 'a' }] }),
    ).toThrow(/server\.max_connections_per_provider/);
  });

  it('takes a per-provider health_check.probe and rejects an unknown probe kind', () => {
    const { config } = validateConfig({
      providers: [{ name: 'a', health_check: { probe: 'count_tokens' } }],
      health: { health_check: { probe: 'models' } },
    });
    expect(config.providers[0]?.health_check.probe).toBe('count_tokens');
    expect(config.health.health_check.probe).toBe('models');
    let err: unknown;
    try {
      validateConfig({ providers: [{ name: 'a', health_check: { probe: 'ping' } }] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toContainEqual(
      expect.objectContaining({
        path: 'providers[0].health_check.probe',
        expected: 'one of messages, count_tokens, models',
      }),
    );
  });

  it('takes routing.commit: headers and names the two commit points when it is anything else', () => {
    expect(
      validateConfig({ providers: [{ name: 'a' }], routing: { commit: 'headers' } }).config.routing.commit,
    ).toBe('headers');
    let err: unknown;
    try {
      validateConfig({ providers: [{ name: 'a' }], routing: { commit: 'first_byte' } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toContainEqual(
      expect.objectContaining({ path: 'routing.commit', expected: 'one of content, headers' }),
    );
  });

  it('rejects a duration no timer can wait (over 2^31 - 1 ms a Node timer fires after 1 ms)', () => {
    let err: unknown;
    try {
      validateConfig({
        providers: [{ name: 'a' }],
        routing: { ttft_timeout_ms: 3_000_000_000 },
        server: { shutdown: { grace_ms: 9_999_999_999 } },
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems.map((p) => `${p.path}: ${p.expected}`)).toEqual([
      'routing.ttft_timeout_ms: an integer from 1 to 2147483647',
      'server.shutdown.grace_ms: an integer from 0 to 2147483647',
    ]);
  });

  it('warns about an open relay', () => {
    expect(validateConfig({ providers: [{ name: 'a' }] }).warnings).toContain(
      'server.auth.api_keys is empty: anyone who can reach 127.0.0.1:8787 can use the relay',
    );
  });
});

describe('an open relay (no client keys)', () => {
  const open = (server: Record<string, unknown>) => validateConfig({ providers: [{ name: 'a' }], server });

  it('listens on loopback by default, and on every interface once client keys are set', () => {
    expect(open({}).config.server.listen).toBe('127.0.0.1:8787');
    expect(open({ auth: { api_keys: ['client-key-0000'] } }).config.server.listen).toBe('0.0.0.0:8787');
  });

  it('refuses a non-loopback listen without client keys, listed with the other problems', () => {
    const err = configError(() =>
      validateConfig({
        providers: [{ name: 'a' }],
        server: { listen: '0.0.0.0:8787' },
        logging: { level: 'x' },
      }),
    );
    expect(err.problems.map((p) => p.path)).toEqual(['server.listen', 'logging.level']);
    expect(err.message).toContain(
      '- server.listen: got "0.0.0.0:8787", expected a loopback address such as 127.0.0.1:8787 while ' +
        'server.auth.api_keys is empty',
    );
    expect(err.message).toContain('set server.auth.allow_open: true if an open relay is meant');
    expect(configError(() => open({ listen: '[::]:8787' })).problems[0]?.path).toBe('server.listen');
    expect(configError(() => open({ listen: '10.0.0.5:80' })).problems[0]?.path).toBe('server.listen');
  });

  it('accepts it with allow_open, with client keys, or on a loopback address', () => {
    expect(open({ listen: '0.0.0.0:8787', auth: { allow_open: true } }).config.server.listen).toBe(
      '0.0.0.0:8787',
    );
    expect(open({ listen: '0.0.0.0:1', auth: { api_keys: ['client-key-0000'] } }).config.server.listen).toBe(
      '0.0.0.0:1',
    );
    for (const listen of ['127.0.0.1:1', '127.1.2.3:1', 'localhost:1', '[::1]:1']) {
      expect(open({ listen }).config.server.listen).toBe(listen);
    }
  });
});

describe('the bundled configs', () => {
  const bundled = join(ROOT, 'config/cc-relay.yaml');
  const example = join(ROOT, 'config/cc-relay.example.toml');

  it('validate with ANTHROPIC_API_KEY set', () => {
    const env = { ANTHROPIC_API_KEY: 'sk-ant-real-looking-key-0000' };
    const { config, warnings } = loadConfigFile(bundled, env);
    expect(config.server.listen).toBe('127.0.0.1:8787');
    expect(config.providers.map((p) => [p.name, p.keys.map((k) => k.key)])).toEqual([
      ['anthropic', ['sk-ant-real-looking-key-0000']],
    ]);
    expect(config.admin.token).toBeUndefined();
    expect(warnings.some((w) => w.includes('pass-through'))).toBe(false);
    expect(loadConfigFile(example, env).config.providers.map((p) => p.name)).toEqual(['anthropic', 'zai']);
  });

  it('validate without it, passing client credentials through', () => {
    const { config, warnings } = loadConfigFile(bundled, {});
    expect(config.providers[0]?.keys).toEqual([]);
    expect(warnings).toContain(
      `provider "anthropic" has no keys: it forwards each client's own credentials (pass-through)`,
    );
    expect(loadConfigFile(example, {}).config.providers[0]?.keys).toEqual([]);
  });

  it('refuse to serve the network as an open relay unless told it is meant (as the Docker image does)', () => {
    const container = { CC_RELAY_LISTEN: '0.0.0.0:8787' };
    expect(configError(() => loadConfigFile(bundled, container)).problems.map((p) => p.path)).toEqual([
      'server.listen',
    ]);
    const meant = loadConfigFile(bundled, { ...container, CC_RELAY_ALLOW_OPEN: 'true' }).config.server;
    expect(meant).toMatchObject({ listen: '0.0.0.0:8787', auth: { allow_open: true } });
  });

  it('write out exactly the built-in defaults (apart from the provider itself)', () => {
    const { config } = loadConfigFile(bundled, {});
    const defaults = validateConfig({ providers: [{ name: 'anthropic' }] }).config;
    expect(config).toEqual(defaults);
    const toml = loadConfigFile(example, {}).config;
    expect({ ...toml, providers: [] }).toEqual({ ...defaults, providers: [] });
  });
});

describe('resolveConfigPath', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'cc-relay-cwd-'));

  it('prefers --config, then CC_RELAY_CONFIG, then config/cc-relay.yaml', () => {
    const env = { CC_RELAY_CONFIG: 'from-env.toml' };
    expect(resolveConfigPath(['--config', 'a.yaml'], env, cwd)).toBe(join(cwd, 'a.yaml'));
    expect(resolveConfigPath(['serve', '--config=/etc/b.toml'], env, cwd)).toBe('/etc/b.toml');
    expect(resolveConfigPath([], env, cwd)).toBe(join(cwd, 'from-env.toml'));
    mkdirSync(join(cwd, 'config'), { recursive: true });
    writeFileSync(join(cwd, DEFAULT_CONFIG_PATH), ONE_PROVIDER);
    expect(resolveConfigPath([], {}, cwd)).toBe(join(cwd, DEFAULT_CONFIG_PATH));
  });

  it('falls back to the config shipped with the package when the working directory has none', () => {
    const elsewhere = mkdtempSync(join(tmpdir(), 'cc-relay-empty-'));
    expect(resolveConfigPath([], {}, elsewhere)).toBe(join(ROOT, DEFAULT_CONFIG_PATH));
  });

  it('rejects --config without a path', () => {
    expect(configError(() => resolveConfigPath(['--config'], {}, cwd)).problems[0]?.path).toBe('--config');
  });

  it('is what loadConfig uses', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-relay-load-'));
    writeFileSync(join(dir, 'relay.toml'), '[[providers]]\nname = "t"\n');
    const loaded = loadConfig({ argv: ['--config', 'relay.toml'], env: {}, cwd: dir });
    expect(loaded.path).toBe(join(dir, 'relay.toml'));
    expect(loaded.config.providers[0]?.name).toBe('t');
  });
});
