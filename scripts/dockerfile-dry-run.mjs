// No Docker engine runs here, so this replays the Dockerfile's steps on the host: every stage gets its own root
// folder, WORKDIR/COPY/ENV/RUN are carried out there (COPY honours .dockerignore), and the final stage's CMD is
// started exactly as written, with the image's ENV, as the image's USER; it must load the config CC_RELAY_CONFIG
// names, answer /health/live itself and exit 0 on SIGTERM. It understands the small Dockerfile subset the project
// uses and fails on anything else, and it checks the rules the image must keep (multi-stage, non-root USER,
// EXPOSE 8787, production-only install, ENV CC_RELAY_CONFIG, exec-form CMD, base images node:24).
//
// The steps run on the Node.js major the base image names (node:24-... -> Node.js 24): the machine's node when its
// major matches, else the one in the folder DOCKERFILE_DRY_RUN_NODE_BIN names (scripts/check-dockerfile.sh sets it
// from scripts/node-binary.sh); a run on another major fails instead of proving nothing.
//
// usage: node scripts/dockerfile-dry-run.mjs [CONTEXT] [--dockerfile PATH]
//   CONTEXT defaults to '.', the Dockerfile to CONTEXT/Dockerfile (or $DOCKERFILE_DRY_RUN_FILE). Like BuildKit,
//   PATH.dockerignore beside the Dockerfile is used when it exists, else CONTEXT/.dockerignore.
import { execFileSync, execSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join, posix, resolve } from 'node:path';

const START_TIMEOUT_MS = 30_000;
/** The Node.js major of the image: the current LTS (README, "Node.js versions"). */
const IMAGE_NODE_MAJOR = 24;
const STOP_TIMEOUT_MS = 5_000;
/** Users of base images that the host may not have: the numeric ids the image gives them. */
const BASE_IMAGE_USERS = { node: { uid: 1000, gid: 1000, home: '/home/node' } };

class DryRunError extends Error {}
const fail = (msg) => {
  throw new DryRunError(msg);
};
const say = (msg) => console.log(`dockerfile-dry-run: ${msg}`);
const warn = (msg) => console.error(`dockerfile-dry-run: WARNING: ${msg}`);

function parseArgs(argv) {
  let context;
  let dockerfile = process.env.DOCKERFILE_DRY_RUN_FILE || undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--dockerfile' || a === '-f') {
      dockerfile = argv[++i] ?? fail(`${a} needs a path`);
    } else if (a.startsWith('--dockerfile=')) dockerfile = a.slice('--dockerfile='.length);
    else if (a.startsWith('-')) fail(`unknown option ${a}`);
    else if (context === undefined) context = a;
    else fail(`unexpected argument ${a}`);
  }
  context = resolve(context ?? '.');
  return { context, dockerfile: resolve(dockerfile ?? join(context, 'Dockerfile')) };
}

// ---------- .dockerignore (Docker's rules: anchored at the context root, last match wins, `!` re-includes,
// a pattern that matches a directory excludes everything under it, `**` spans directories) ----------

function globToRegExp(glob) {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      i++;
      if (glob[i + 1] === '/') {
        i++;
        re += '(?:.*/)?';
      } else re += '.*';
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) fail(`.dockerignore: unterminated [ in ${glob}`);
      let cls = glob.slice(i + 1, end);
      if (cls.startsWith('!') || cls.startsWith('^')) cls = '^' + cls.slice(1);
      re += `[${cls.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else if (c === '\\' && i + 1 < glob.length) re += glob[++i].replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function loadDockerignore(context, dockerfile) {
  const beside = `${dockerfile}.dockerignore`;
  const file = existsSync(beside) ? beside : join(context, '.dockerignore');
  if (!existsSync(file)) return { file: undefined, rules: [] };
  const rules = [];
  for (let line of readFileSync(file, 'utf8').split('\n')) {
    line = line.trim();
    if (!line || line.startsWith('#')) continue;
    const negate = line.startsWith('!');
    if (negate) line = line.slice(1).trim();
    let pattern = posix.normalize(line.replace(/^\/+/, '')).replace(/\/+$/, '');
    if (pattern === '.' || pattern === '') continue;
    rules.push({ negate, pattern, re: globToRegExp(pattern) });
  }
  return { file, rules };
}

/** Whether the context path `rel` (posix, relative to the context root) is excluded from the build context. */
function isIgnored(ignore, rel) {
  const parts = rel.split('/');
  let excluded = false;
  for (const rule of ignore.rules) {
    let hit = false;
    for (let n = 1; n <= parts.length && !hit; n++) hit = rule.re.test(parts.slice(0, n).join('/'));
    if (hit) excluded = !rule.negate;
  }
  return excluded;
}

/** Whether some `!` rule could re-include a path under the excluded directory `rel`. */
function mayReinclude(ignore, rel) {
  return ignore.rules.some((r) => {
    if (!r.negate) return false;
    const literal = r.pattern.split(/[*?[\\]/)[0];
    return literal === '' || literal.startsWith(rel + '/') || rel.startsWith(literal);
  });
}

/** Copies the context path `rel` to `dest`, leaving out what .dockerignore excludes. Returns the files copied. */
function copyFromContext(context, ignore, rel, dest) {
  const src = join(context, rel);
  const st = lstatSync(src);
  const excluded = isIgnored(ignore, rel);
  if (!st.isDirectory()) {
    if (excluded) return 0;
    mkdirSync(dirname(dest), { recursive: true });
    cpSync(src, dest, { verbatimSymlinks: true, preserveTimestamps: true });
    return 1;
  }
  if (excluded && !mayReinclude(ignore, rel)) return 0;
  if (!excluded) mkdirSync(dest, { recursive: true });
  let n = 0;
  for (const name of readdirSync(src))
    n += copyFromContext(context, ignore, `${rel}/${name}`, join(dest, name));
  return n;
}

// ---------- RUN lines as shell commands ----------

/** Splits a shell command line into simple commands (on && || ; | & and newlines), each a list of unquoted words. */
function shellCommands(line) {
  const commands = [];
  let words = [];
  let word = null;
  let quote = null;
  const endWord = () => {
    if (word !== null) words.push(word);
    word = null;
  };
  const endCommand = () => {
    endWord();
    while (words.length && /^[({!]$/.test(words[0])) words.shift();
    if (words.length) commands.push(words);
    words = [];
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote === "'") {
      if (c === "'") quote = null;
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === '\\' && i + 1 < line.length && '"\\$`'.includes(line[i + 1])) word += line[++i];
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      word ??= '';
    } else if (c === '\\' && i + 1 < line.length) {
      word = (word ?? '') + line[++i];
    } else if (c === '&' || c === '|' || c === ';' || c === '\n') {
      if ((c === '&' || c === '|') && line[i + 1] === c) i++;
      endCommand();
    } else if (/\s/.test(c)) endWord();
    else word = (word ?? '') + c;
  }
  if (quote) fail(`RUN has an unterminated ${quote} quote: ${line}`);
  endCommand();
  return commands;
}

/** Whether one simple command is `npm ci ... --omit=dev` itself (not an argument of echo, a comment, ...). */
function isProductionNpmCi(words) {
  let i = 0;
  while (i < words.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[i])) i++; // VAR=value prefixes
  if (words[i] === 'exec') i++;
  if (basename(words[i] ?? '') !== 'npm') return false;
  const args = words.slice(i + 1);
  const sub = args.find((a) => !a.startsWith('-'));
  if (!['ci', 'clean-install', 'install-clean', 'ic'].includes(sub)) return false;
  return args.some((a, k) => a === '--omit=dev' || (a === '--omit' && args[k + 1] === 'dev'));
}

// ---------- users ----------

function hostLookup(db, key) {
  try {
    const line = execFileSync('getent', [db, key], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return line.trim().split('\n')[0].split(':');
  } catch {
    return undefined;
  }
}

/** The uid/gid the image's USER stands for: numeric as written, else the host's user, else the base image's. */
function resolveUser(spec, baseImage) {
  const [user, group] = spec.split(':');
  let uid;
  let gid;
  let home = '/';
  let source;
  if (/^\d+$/.test(user)) {
    uid = Number(user);
    const pw = hostLookup('passwd', user);
    gid = pw ? Number(pw[3]) : uid;
    source = 'numeric USER';
  } else {
    const pw = hostLookup('passwd', user);
    const known = /^node(:|$)/.test(baseImage) ? BASE_IMAGE_USERS[user] : undefined;
    if (pw) {
      [uid, gid, home] = [Number(pw[2]), Number(pw[3]), pw[5]];
      source = 'this host';
    } else if (known) {
      ({ uid, gid, home } = known);
      source = `${baseImage} (not on this host)`;
    } else fail(`USER ${spec}: no such user on this host, and ${baseImage} is not known to define it`);
  }
  if (group !== undefined) {
    if (/^\d+$/.test(group)) gid = Number(group);
    else
      gid = Number((hostLookup('group', group) ?? fail(`USER ${spec}: no group ${group} on this host`))[2]);
  }
  return { name: user, uid, gid, home, source };
}

/** How to start a command as `user`: setpriv (it execs, so the CMD keeps the pid), else runuser, else nothing. */
function userWrapper(user) {
  const myUid = process.getuid();
  if (myUid === user.uid) return { prefix: [], note: `as uid ${myUid}` };
  if (myUid !== 0) {
    warn(`not running as root: the CMD runs as uid ${myUid}, not as USER ${user.name} (uid ${user.uid})`);
    return { prefix: [], note: `as uid ${myUid} (NOT the image's USER)`, fallback: true };
  }
  const has = (tool) => {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  if (has('setpriv')) {
    return {
      prefix: ['setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--'],
      note: `as uid ${user.uid} gid ${user.gid} (USER ${user.name}, ids from ${user.source}) via setpriv`,
    };
  }
  if (has('runuser') && hostLookup('passwd', user.name)) {
    warn('setpriv is missing: using runuser, which forks, so the pid checked is runuser, not the CMD');
    return {
      prefix: ['runuser', '-u', user.name, '--'],
      note: `as USER ${user.name} via runuser`,
      forks: true,
    };
  }
  warn(`neither setpriv nor runuser can switch to USER ${user.name} (uid ${user.uid}): the CMD runs as ROOT`);
  return { prefix: [], note: "as root (NOT the image's USER)", fallback: true };
}

/** Files under `dir` that uid/gid could not read (directories: list and enter). */
function unreadableBy(dir, uid, gid, out = []) {
  const st = lstatSync(dir);
  if (st.isSymbolicLink() || out.length >= 10) return out;
  const need = st.isDirectory() ? 5 : 4;
  const bits = st.uid === uid ? (st.mode >> 6) & 7 : st.gid === gid ? (st.mode >> 3) & 7 : st.mode & 7;
  if (uid !== 0 && (bits & need) !== need) out.push(`${dir} (mode ${(st.mode & 0o777).toString(8)})`);
  else if (st.isDirectory()) for (const n of readdirSync(dir)) unreadableBy(join(dir, n), uid, gid, out);
  return out;
}

// ---------- the base image's Node.js ----------

const nodeMajorOf = (bin) => {
  try {
    const v = execFileSync(bin ? join(bin, 'node') : 'node', ['-p', 'process.versions.node'], {
      encoding: 'utf8',
      env: { ...process.env, ...(bin ? { PATH: `${bin}:${process.env.PATH}` } : {}) },
    });
    return Number(v.trim().split('.')[0]);
  } catch {
    return undefined;
  }
};

/** The PATH a stage's RUN steps and CMD get: the base image's Node.js major first (see the header). */
function pathForImage(image) {
  const m = /^node:(\d+)/.exec(image);
  if (!m) return process.env.PATH; // not a node image: checkRules refuses it
  const major = Number(m[1]);
  const hostMajor = Number(process.versions.node.split('.')[0]);
  if (hostMajor === major) return process.env.PATH;
  const bin = process.env.DOCKERFILE_DRY_RUN_NODE_BIN;
  if (!bin)
    fail(
      `FROM ${image} is Node.js ${major}, this machine's node is ${process.versions.node}: set ` +
        `DOCKERFILE_DRY_RUN_NODE_BIN to the bin folder of a Node.js ${major} (bash scripts/node-binary.sh ${major})`,
    );
  const got = nodeMajorOf(bin);
  if (got !== major)
    fail(
      `DOCKERFILE_DRY_RUN_NODE_BIN=${bin} holds Node.js ${got ?? '(none)'}, not ${major} as FROM ${image}`,
    );
  return `${resolve(bin)}:${process.env.PATH}`;
}

// ---------- the build ----------

function build(context, dockerfile, ignore, work) {
  const text = readFileSync(dockerfile, 'utf8').replace(/\\\r?\n/g, ' ');
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages = new Map();
  let stage;
  const inStage = (s, p) => join(s.root, p.startsWith('/') ? p : join(s.workdir, p));
  for (const line of lines) {
    const [instr] = line.split(/\s+/);
    const rest = line.slice(instr.length).trim();
    const kw = instr.toUpperCase();
    if (kw !== 'FROM' && !stage) fail(`${kw} before the first FROM`);
    switch (kw) {
      case 'FROM': {
        const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
        if (!m) fail(`cannot read FROM ${rest}`);
        const name = m[2] ?? `stage${stages.size}`;
        stage = {
          name,
          image: m[1],
          root: join(work, name),
          workdir: '/',
          env: {},
          user: 'root',
          expose: [],
          runs: [],
          path: pathForImage(m[1]),
        };
        say(
          `[${name}] FROM ${m[1]}: node ${execFileSync('node', ['-v'], { encoding: 'utf8', env: { ...process.env, PATH: stage.path } }).trim()}`,
        );
        stage.inStage = (p) => inStage(stage, p);
        mkdirSync(stage.root, { recursive: true });
        stages.set(name, stage);
        break;
      }
      case 'WORKDIR':
        stage.workdir = posix.resolve(stage.workdir, rest);
        mkdirSync(join(stage.root, stage.workdir), { recursive: true });
        break;
      case 'ENV': {
        if (rest.includes('$')) fail(`ENV with variable substitution is not simulated: ${line}`);
        if (!rest.includes('=')) {
          const [k, ...v] = rest.split(/\s+/);
          stage.env[k] = v.join(' ');
        } else {
          const kv = [...rest.matchAll(/(\w+)=("[^"]*"|'[^']*'|\S*)/g)];
          if (rest.replace(/(\w+)=("[^"]*"|'[^']*'|\S*)/g, '').trim()) fail(`cannot read ENV ${rest}`);
          for (const m of kv) stage.env[m[1]] = m[2].replace(/^(["'])(.*)\1$/, '$2');
        }
        break;
      }
      case 'COPY': {
        const parts = rest.split(/\s+/);
        let from;
        while (parts[0]?.startsWith('--')) {
          const flag = parts.shift();
          if (flag.startsWith('--from=')) from = flag.slice('--from='.length);
          else fail(`unsupported COPY flag ${flag}`);
        }
        if (parts[0]?.startsWith('[')) fail(`JSON-form COPY is not simulated: ${line}`);
        if (parts.length < 2) fail(`COPY needs a source and a destination: ${line}`);
        const dest = parts.pop();
        if (parts.length > 1 && !dest.endsWith('/'))
          fail(`COPY with several sources needs a destination ending in /: ${line}`);
        const fromStage = from && (stages.get(from) ?? fail(`COPY --from=${from}: unknown stage`));
        for (const src of parts) {
          if (/[*?[]/.test(src)) fail(`COPY wildcards are not simulated: ${src}`);
          const rel = posix.normalize(src.replace(/^\/+/, '')).replace(/\/+$/, '');
          if (!fromStage && (rel === '..' || rel.startsWith('../')))
            fail(`COPY source outside the context: ${src}`);
          const srcPath = fromStage ? join(fromStage.root, posix.resolve('/', src)) : join(context, rel);
          if (!existsSync(srcPath))
            fail(`COPY source missing: ${src}${from ? ` (stage ${from})` : ' (in the build context)'}`);
          const isDir = statSync(srcPath).isDirectory();
          const destBase = stage.inStage(dest);
          // A directory's contents go into dest; a file goes into dest/ or becomes dest.
          const destPath =
            isDir || !(dest.endsWith('/') || (existsSync(destBase) && statSync(destBase).isDirectory()))
              ? destBase
              : join(destBase, basename(rel));
          if (fromStage) {
            mkdirSync(dirname(destPath), { recursive: true });
            cpSync(srcPath, destPath, { recursive: true, verbatimSymlinks: true });
          } else {
            if (rel !== '.' && isIgnored(ignore, rel) && !(isDir && mayReinclude(ignore, rel))) {
              fail(`COPY source ${src} is excluded by ${ignore.file} (the real build would fail: not found)`);
            }
            const n =
              rel === '.'
                ? readdirSync(context).reduce(
                    (a, name) => a + copyFromContext(context, ignore, name, join(destPath, name)),
                    0,
                  )
                : copyFromContext(context, ignore, rel, destPath);
            if (isDir && n === 0) warn(`COPY ${src}: .dockerignore leaves nothing of it`);
          }
        }
        break;
      }
      case 'RUN': {
        if (rest.startsWith('[')) fail(`exec-form RUN is not simulated: ${line}`);
        if (stage.user !== 'root' && stage.user !== '0')
          fail(`RUN after USER ${stage.user} is not simulated: ${line}`);
        stage.runs.push(rest);
        say(`[${stage.name}] RUN ${rest}`);
        try {
          execSync(rest, {
            cwd: stage.inStage('.'),
            stdio: 'inherit',
            env: { ...process.env, ...stage.env, PATH: stage.path, CI: 'true' },
            shell: '/bin/bash',
          });
        } catch (err) {
          fail(
            `[${stage.name}] RUN failed (${err.status !== null ? `exit ${err.status}` : err.signal}): ${rest}`,
          );
        }
        break;
      }
      case 'USER':
        stage.user = rest;
        break;
      case 'EXPOSE':
        stage.expose.push(...rest.split(/\s+/));
        break;
      case 'CMD':
        try {
          stage.cmd = JSON.parse(rest);
        } catch {
          stage.cmd = rest; // shell form: rejected below
        }
        break;
      default:
        fail(`unsupported instruction: ${line}`);
    }
  }
  if (!stage) fail(`${dockerfile} has no FROM`);
  return { stages, final: stage };
}

function checkRules(stages, final) {
  const problems = [];
  if (stages.size < 2) problems.push('not a multi-stage build');
  for (const s of stages.values()) {
    if (!new RegExp(`^node:${IMAGE_NODE_MAJOR}(?![0-9])`).test(s.image))
      problems.push(
        `base image ${s.image} is not node:${IMAGE_NODE_MAJOR} (Node.js ${IMAGE_NODE_MAJOR} LTS)`,
      );
  }
  if (/^(root|0)(:|$)/.test(final.user)) problems.push('the runtime stage runs as root (no USER)');
  if (!final.expose.includes('8787') && !final.expose.includes('8787/tcp'))
    problems.push('the runtime stage does not EXPOSE 8787');
  const ci = final.runs.some((r) => shellCommands(r).some(isProductionNpmCi));
  if (!ci) problems.push('no RUN of the runtime stage runs `npm ci` with --omit=dev as a command of its own');
  if (!final.env.CC_RELAY_CONFIG)
    problems.push('the runtime stage sets no ENV CC_RELAY_CONFIG (the documented way to choose the config)');
  if (!final.cmd) problems.push('no CMD');
  else if (!Array.isArray(final.cmd) || !final.cmd.every((a) => typeof a === 'string') || !final.cmd.length) {
    problems.push(
      `CMD ${JSON.stringify(final.cmd)} is not exec form (a JSON array), so node would not get SIGTERM as PID 1`,
    );
  }
  if (existsSync(final.inStage('node_modules/typescript')))
    problems.push('dev dependencies ended up in the runtime image');
  if (problems.length) fail(`the Dockerfile breaks the image's rules:\n  - ${problems.join('\n  - ')}`);
}

// ---------- start the CMD ----------

function freePort() {
  return new Promise((ok, ko) => {
    const srv = createServer();
    srv.once('error', ko);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

function getLive(port, requestId) {
  return new Promise((ok) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/health/live',
        agent: false,
        headers: { 'x-request-id': requestId, connection: 'close' },
        timeout: 2000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => ok({ status: res.statusCode, headers: res.headers, body }));
        res.on('error', () => ok(undefined));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => ok(undefined));
    req.end();
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The running CMD, so that cleanup can stop it whatever happened. */
let running;

function startChild(argv, opts) {
  const child = spawn(argv[0], argv.slice(1), { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
  const state = { child, out: '', exit: undefined };
  const keep = (d) => {
    state.out += d;
    if (state.out.length > 256_000) state.out = state.out.slice(-128_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  state.exited = new Promise((r) => {
    child.once('error', (err) => {
      state.exit ??= { error: err.message };
      r(state.exit);
    });
    child.once('close', (code, signal) => {
      state.exit ??= { code, signal };
      r(state.exit);
    });
  });
  return state;
}

const exitText = (e) =>
  e.error
    ? `could not start: ${e.error}`
    : e.signal
      ? `was killed by ${e.signal}`
      : `exited with code ${e.code}`;
const tail = (s) => {
  const lines = s.out.trimEnd().split('\n').slice(-40).join('\n');
  return lines
    ? `\n--- the CMD's output (last lines) ---\n${lines.slice(-6000)}\n---`
    : '\n(the CMD printed nothing)';
};

/** Log records (JSON lines, else raw text lines) of the child's output. */
const records = (s) =>
  s.out.split('\n').map((l) => {
    try {
      return JSON.parse(l);
    } catch {
      return { msg: l, raw: true };
    }
  });

async function startAndProbe(final) {
  const user = resolveUser(final.user, final.image);
  const wrap = userWrapper(user);
  const cwd = final.inStage('.');

  // The image's own config, found as CC_RELAY_CONFIG names it, listens on a free port instead of 8787.
  const cfgInImage = final.env.CC_RELAY_CONFIG;
  const cfgOnHost = cfgInImage.startsWith('/') ? join(final.root, cfgInImage) : resolve(cwd, cfgInImage);
  if (!existsSync(cfgOnHost))
    fail(`ENV CC_RELAY_CONFIG=${cfgInImage} names no file in the image (looked at ${cfgOnHost})`);
  const port = await freePort();
  const original = readFileSync(cfgOnHost, 'utf8');
  const listenRe = /^(\s*listen\s*[:=]\s*)("[^"]*"|'[^']*'|[^\s#]+)/gm;
  const hits = original.match(listenRe) ?? [];
  if (hits.length !== 1)
    fail(`${cfgInImage}: expected exactly one server listen setting to redirect, found ${hits.length}`);
  writeFileSync(cfgOnHost, original.replace(listenRe, `$1"127.0.0.1:${port}"`));
  say(`${cfgInImage} (the image's config, as ENV CC_RELAY_CONFIG names it) now listens on 127.0.0.1:${port}`);

  if (!wrap.fallback && user.uid !== 0) {
    chmodSync(dirname(final.root), 0o755); // mkdtemp made the scratch folder 0700; the image root itself is /
    const bad = unreadableBy(final.root, user.uid, user.gid);
    if (bad.length)
      fail(`files of the image USER ${user.name} (uid ${user.uid}) cannot read:\n  ${bad.join('\n  ')}`);
  }
  const home = join(final.root, user.home);
  mkdirSync(home, { recursive: true });
  if (process.getuid() === 0) chownSync(home, user.uid, user.gid);

  // The container's environment: the image's ENV on a bare PATH/HOME, nothing from this shell. Only the config path
  // is moved into the simulated root (there is no /app here).
  const env = { PATH: final.path, HOME: home, ...final.env };
  if (cfgInImage.startsWith('/')) env.CC_RELAY_CONFIG = cfgOnHost;
  const cmd = final.cmd.map((a, i) => {
    if (i > 0 && a.startsWith('/') && existsSync(join(final.root, a))) return join(final.root, a);
    return a;
  });
  say(`starting CMD ${JSON.stringify(final.cmd)} in ${final.workdir} ${wrap.note}`);
  running = startChild([...wrap.prefix, ...cmd], { cwd, env });
  const state = running;
  const dead = (what) => fail(`the CMD ${exitText(state.exit)} ${what}${tail(state)}`);

  const requestId = `dry-run-${randomUUID()}`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  let answer;
  let lastSeen = 'no answer yet';
  for (;;) {
    if (state.exit) dead(`before answering /health/live on 127.0.0.1:${port}`);
    if (Date.now() > deadline) {
      fail(
        `the CMD did not answer /health/live on 127.0.0.1:${port} within ${START_TIMEOUT_MS / 1000} s (last: ${lastSeen})${tail(state)}`,
      );
    }
    const res = await getLive(port, requestId);
    if (res) {
      lastSeen = `HTTP ${res.status} ${res.body.slice(0, 200)}`;
      if (res.status === 200) {
        answer = res;
        break;
      }
    }
    await sleep(250);
  }
  await sleep(200); // the relay writes its log in batches of up to 100 ms
  if (state.exit) dead('right after answering');

  // The answer must be this child's: the relay's body, our request id echoed, and the child's own log saying that it
  // loaded the config we wrote and listens on this port.
  let body;
  try {
    body = JSON.parse(answer.body);
  } catch {
    /* checked below */
  }
  const problems = [];
  if (body?.status !== 'ok' || !body.info || !body.details)
    problems.push(`/health/live answered ${answer.body.slice(0, 200)}`);
  if (answer.headers['x-request-id'] !== requestId)
    problems.push(`x-request-id came back as ${answer.headers['x-request-id']}, not ${requestId}`);
  const logs = records(state);
  const loaded = logs.find((r) => typeof r.msg === 'string' && r.msg.includes('configuration loaded'));
  const loadedPath = loaded?.raw ? (loaded.msg.includes(cfgOnHost) ? cfgOnHost : loaded.msg) : loaded?.config;
  if (!loaded) problems.push('its log has no "configuration loaded" line');
  else if (loadedPath !== cfgOnHost)
    problems.push(`it loaded ${loadedPath}, not ${cfgOnHost} (ENV CC_RELAY_CONFIG=${cfgInImage})`);
  if (!logs.some((r) => typeof r.msg === 'string' && /listening/.test(r.msg) && r.msg.includes(`:${port}`))) {
    problems.push(`its log does not say it listens on port ${port}`);
  }
  try {
    const status = readFileSync(`/proc/${state.child.pid}/status`, 'utf8');
    const uid = Number(/^Uid:\s+(\d+)/m.exec(status)[1]);
    if (!wrap.fallback && uid !== user.uid)
      problems.push(`it runs as uid ${uid}, not USER ${user.name} (uid ${user.uid})`);
    const exe = basename(readlinkSync(`/proc/${state.child.pid}/exe`));
    if (!wrap.forks && exe !== basename(cmd[0]))
      problems.push(`the started process is ${exe}, not ${cmd[0]} (the CMD must be what gets signals)`);
  } catch (err) {
    warn(`cannot inspect /proc/${state.child.pid}: ${err.message}`);
  }
  if (problems.length)
    fail(
      `the answer on 127.0.0.1:${port} does not prove the image works:\n  - ${problems.join('\n  - ')}${tail(state)}`,
    );
  say(
    `CMD serves /health/live on 127.0.0.1:${port} (pid ${state.child.pid}, ${wrap.note}), config ${cfgInImage}`,
  );

  // A container stop is SIGTERM to PID 1 (the CMD itself, exec form): it must drain and exit 0 promptly.
  state.child.kill('SIGTERM');
  const stopped = await Promise.race([state.exited, sleep(STOP_TIMEOUT_MS).then(() => undefined)]);
  if (!stopped) fail(`the CMD did not exit within ${STOP_TIMEOUT_MS / 1000} s of SIGTERM${tail(state)}`);
  if (stopped.code !== 0)
    fail(`after SIGTERM the CMD ${exitText(stopped)}, not a clean exit 0${tail(state)}`);
  say('SIGTERM: the CMD exited 0');
  return wrap;
}

async function stopRunning() {
  const state = running;
  if (!state || state.exit) return;
  state.child.kill('SIGKILL');
  await Promise.race([state.exited, sleep(3000)]);
}

async function main() {
  const { context, dockerfile } = parseArgs(process.argv.slice(2));
  if (!existsSync(dockerfile)) fail(`no Dockerfile at ${dockerfile}`);
  process.umask(0o022); // Docker builds with umask 022
  const work = mkdtempSync(join(tmpdir(), 'dockerfile-dry-run-'));
  const onSignal = (sig) => {
    if (running && !running.exit) running.child.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
    console.error(`dockerfile-dry-run: interrupted by ${sig}`);
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    say(`Dockerfile ${dockerfile}, context ${context}`);
    const ignore = loadDockerignore(context, dockerfile);
    say(ignore.file ? `.dockerignore: ${ignore.file} (${ignore.rules.length} rules)` : 'no .dockerignore');
    const { stages, final } = build(context, dockerfile, ignore, work);
    checkRules(stages, final);
    const wrap = await startAndProbe(final);
    say(`OK (stages built, rules kept, CMD served /health/live ${wrap.note} and stopped cleanly on SIGTERM)`);
    return 0;
  } finally {
    await stopRunning();
    rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(
      `dockerfile-dry-run: FAILED: ${err instanceof DryRunError ? err.message : (err?.stack ?? err)}`,
    );
    process.exit(1);
  },
);
