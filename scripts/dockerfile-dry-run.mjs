// No Docker engine runs here, so this replays the Dockerfile's steps on the host: every stage gets its own root
// folder, WORKDIR/COPY/ENV/RUN are carried out there, and the final stage's CMD is started and must answer
// /health/live. It understands the small Dockerfile subset the project uses and fails on anything else, and it
// checks the rules the image must keep (multi-stage, non-root USER, EXPOSE 8787, production-only install).
import { execSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const repo = resolve(process.argv[2] ?? '.');
const text = readFileSync(join(repo, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
const work = mkdtempSync(join(tmpdir(), 'dockerfile-dry-run-'));
const stages = new Map();
let stage;
const problems = [];

function fail(msg) {
  console.error(`dockerfile-dry-run: ${msg}`);
  process.exitCode = 1;
  throw new Error(msg);
}
const inStage = (s, p) => join(s.root, p.startsWith('/') ? p : join(s.workdir, p));

try {
  for (const line of lines) {
    const [instr, ...restParts] = line.split(/\s+/);
    const rest = line.slice(instr.length).trim();
    switch (instr.toUpperCase()) {
      case 'FROM': {
        const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
        if (!m) fail(`cannot read FROM ${rest}`);
        if (!/^node:20/.test(m[1])) problems.push(`base image ${m[1]} is not node:20 (the machine runs Node 20)`);
        const name = m[2] ?? `stage${stages.size}`;
        stage = { name, root: join(work, name), workdir: '/', env: {}, user: 'root', expose: [], cmd: undefined, runs: [] };
        mkdirSync(stage.root, { recursive: true });
        stages.set(name, stage);
        break;
      }
      case 'WORKDIR':
        stage.workdir = rest;
        mkdirSync(join(stage.root, rest), { recursive: true });
        break;
      case 'ENV': {
        for (const m of rest.matchAll(/(\w+)=("[^"]*"|\S+)/g)) stage.env[m[1]] = m[2].replace(/^"|"$/g, '');
        break;
      }
      case 'COPY': {
        const parts = restParts.filter(Boolean);
        let from;
        if (parts[0]?.startsWith('--from=')) from = parts.shift().slice('--from='.length);
        const dest = parts.pop();
        for (const src of parts) {
          const srcPath = from ? inStage(stages.get(from) ?? fail(`unknown stage ${from}`), src) : join(repo, src);
          if (!existsSync(srcPath)) fail(`COPY source missing: ${src}${from ? ` (stage ${from})` : ''}`);
          const destPath = dest.endsWith('/') ? join(inStage(stage, dest), src.split('/').pop()) : inStage(stage, dest);
          mkdirSync(dirname(destPath), { recursive: true });
          cpSync(srcPath, destPath, { recursive: true });
        }
        break;
      }
      case 'RUN':
        stage.runs.push(rest);
        console.log(`dockerfile-dry-run [${stage.name}] RUN ${rest}`);
        execSync(rest, {
          cwd: inStage(stage, '.'),
          stdio: 'inherit',
          env: { ...process.env, ...stage.env, CI: 'true' },
          shell: '/bin/bash',
        });
        break;
      case 'USER':
        stage.user = rest;
        break;
      case 'EXPOSE':
        stage.expose.push(rest);
        break;
      case 'CMD':
        stage.cmd = JSON.parse(rest);
        break;
      default:
        fail(`unsupported instruction: ${line}`);
    }
  }
  const final = stage;
  if (stages.size < 2) problems.push('not a multi-stage build');
  if (final.user === 'root' || final.user === '0') problems.push('the runtime stage runs as root');
  if (!final.expose.includes('8787')) problems.push('the runtime stage does not EXPOSE 8787');
  if (!final.runs.some((r) => /npm ci[^&]*--omit=dev/.test(r))) problems.push('the runtime stage does not npm ci --omit=dev');
  if (!final.cmd) problems.push('no CMD');
  if (existsSync(join(inStage(final, '.'), 'node_modules', 'typescript'))) problems.push('dev dependencies ended up in the runtime image');
  if (problems.length) fail(problems.join('; '));

  // Start the image's command as the container would (it listens on 8787) and ask for liveness.
  const env = { ...process.env, ...final.env, CC_RELAY_CONFIG: inStage(final, final.env.CC_RELAY_CONFIG ?? 'config/cc-relay.yaml') };
  const child = spawn(final.cmd[0], [...final.cmd.slice(1), '--config', env.CC_RELAY_CONFIG], {
    cwd: inStage(final, '.'),
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const deadline = Date.now() + 20_000;
  let ok = false;
  while (Date.now() < deadline && !ok) {
    await new Promise((r) => setTimeout(r, 300));
    try {
      const res = await fetch('http://127.0.0.1:8787/health/live');
      ok = res.status === 200;
    } catch {
      /* not up yet */
    }
  }
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  if (!ok) fail(`the image's CMD did not serve /health/live on 8787:\n${out.slice(-2000)}`);
  console.log('dockerfile-dry-run: OK (stages built, runtime non-root, CMD serves /health/live)');
} finally {
  rmSync(work, { recursive: true, force: true });
}
