#!/usr/bin/env bash
# Instructions per proxied request, counted by valgrind's callgrind: the relay (dist/main.js) against the
# reference pass-through (bench/reference-proxy.ts), both in front of the fake upstream on 127.0.0.1.
#
# Unlike CPU time on this shared 2-vCPU machine (±10-20% between runs), an instruction count repeats to within
# ~3-5% for JSON (more for SSE), so it can tell a ~5% change from noise. It counts user-space instructions only (no syscalls, no cache
# misses): a measure of how much work the relay's code does, not of its speed. Each target first serves
# WARM requests without instrumentation (so the JIT settles), then N requests are counted.
#
#   npm run build && bench/instructions.sh            # ~4 min; WARM=4000 N=1000 MODE=json|sse
#
# Results: bench/results/instructions-<mode>.json. Needs valgrind (Debian package `valgrind`).
# For A/B work on the relay alone: ONLY=relay skips the reference and writes no results file; KEEP=DIR keeps the
# callgrind outputs there (`callgrind_annotate DIR/relay.out.1-01` names V8's builtins and runtime functions,
# though not JIT-compiled JavaScript).
# MODE=sse DELTAS=N: every stream has N content_block_delta events (N+5 events in all) instead of the fake's 3,
# for the cost per event of a long answer (fewer requests then: WARM=400 N=200 keep the run short).
set -euo pipefail
cd "$(dirname "$0")/.."
WARM=${WARM:-4000}
N=${N:-1000}
MODE=${MODE:-json}
# The flags npm start and the Dockerfile run the relay with; both targets get them.
NODE_FLAGS=${NODE_FLAGS:---no-memory-reducer}
OUT=$(mktemp -d)
ONLY=${ONLY:-}
# Another build to count instead of dist/ (a copy of dist/ from before a change, for an A/B).
RELAY_ENTRY=${RELAY_ENTRY:-dist/main.js}
KEEP=${KEEP:-}
trap 'kill $(jobs -p) 2>/dev/null || true; if [ -n "$KEEP" ]; then mkdir -p "$KEEP"; cp "$OUT"/*.out* "$KEEP"/; fi; rm -rf "$OUT"' EXIT

free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
FAKE_PORT=$(free_port)
DELTAS=${DELTAS:-}
FAKE_ARGS=()
if [ -n "$DELTAS" ]; then FAKE_ARGS=(--sse-deltas "$DELTAS"); fi
node -r @swc-node/register test/fakes/fake-upstream.main.ts --port "$FAKE_PORT" "${FAKE_ARGS[@]}" >/dev/null 2>&1 &
sleep 2

# Sends $1 requests over 4 connections to port $2 and fails unless every one was answered 200.
load() {
  node -e "
const {Pool}=require('undici');
const body=JSON.stringify({model:'claude-sonnet-4-6',max_tokens:256,stream:'$MODE'==='sse',
  messages:[{role:'user',content:'Benchmark me: a short prompt of realistic size for a chat turn.'}]});
const pool=new Pool('http://127.0.0.1:$2',{connections:4});
(async()=>{let ok=0;await Promise.all([0,1,2,3].map(async()=>{for(let i=0;i<$1/4;i++){
  const r=await pool.request({path:'/v1/messages',method:'POST',body,headers:{'content-type':'application/json',
    'x-api-key':'bench-client-key-0001','anthropic-version':'2023-06-01'}});
  for await(const _ of r.body);if(r.statusCode===200)ok++;}}));
  await pool.close();if(ok!==$1){console.error('only',ok,'of',$1,'answered 200');process.exit(1);}})();"
}

# Runs one target under callgrind; prints "main all" instructions per request.
count() {
  local name=$1 port=$2
  shift 2
  NODE_ENV=production valgrind --tool=callgrind --instr-atstart=no --separate-threads=yes \
    --callgrind-out-file="$OUT/$name.out" "$@" >"$OUT/$name.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 300); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && break
    sleep 0.5
  done
  load "$WARM" "$port"
  callgrind_control --instr=on "$pid" >/dev/null
  load "$N" "$port"
  callgrind_control --dump "$pid" >/dev/null
  sleep 1
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  local main all
  main=$(grep -h '^summary' "$OUT/$name.out.1-01" | awk '{print $2}')
  all=$(cat "$OUT/$name.out.1-"* | grep -h '^summary' | awk '{s+=$2} END {print s}')
  echo "$((main / N)) $((all / N))"
}

if [ "$ONLY" != relay ]; then
  REF_PORT=$(free_port)
  read -r REF_MAIN REF_ALL < <(count reference "$REF_PORT" \
    node $NODE_FLAGS -r @swc-node/register bench/reference-proxy.ts "$REF_PORT" "http://127.0.0.1:$FAKE_PORT")
fi
RELAY_PORT=$(free_port)
node -r @swc-node/register -e "process.stdout.write(require('./bench/processes.ts')
  .benchRelayConfig($RELAY_PORT, 'http://127.0.0.1:$FAKE_PORT'))" >"$OUT/relay.yaml"
read -r RELAY_MAIN RELAY_ALL < <(count relay "$RELAY_PORT" node $NODE_FLAGS "$RELAY_ENTRY" --config "$OUT/relay.yaml")
if [ "$ONLY" = relay ]; then
  echo "relay $MODE${DELTAS:+ deltas=$DELTAS}: main thread $RELAY_MAIN, all threads $RELAY_ALL instructions per request"
  exit 0
fi

node -e "
const r={date:new Date().toISOString(),mode:'$MODE',deltas:'$DELTAS'||undefined,warm:$WARM,counted:$N,
  reference:{main_thread:$REF_MAIN,all_threads:$REF_ALL},relay:{main_thread:$RELAY_MAIN,all_threads:$RELAY_ALL}};
r.ratio_main_thread=+(r.relay.main_thread/r.reference.main_thread).toFixed(3);
r.ratio_all_threads=+(r.relay.all_threads/r.reference.all_threads).toFixed(3);
require('fs').mkdirSync('bench/results',{recursive:true});
require('fs').writeFileSync('bench/results/instructions-$MODE${DELTAS:+-$DELTAS}.json',JSON.stringify(r,null,2)+'\n');
console.log(JSON.stringify(r,null,2));"
