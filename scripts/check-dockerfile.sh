#!/usr/bin/env bash
# Replays the Dockerfile's steps on this machine (no Docker engine here) and checks the image would serve, on the
# Node.js major of its base image (node:24-... -> the npm registry's Node.js 24 binary when the machine's is another).
set -euo pipefail
cd "$(dirname "$0")/.."
major="$(sed -n 's/^FROM node:\([0-9][0-9]*\).*/\1/p' Dockerfile | head -1)"
if [ -n "$major" ]; then
  DOCKERFILE_DRY_RUN_NODE_BIN="$(bash scripts/node-binary.sh "$major")"
  export DOCKERFILE_DRY_RUN_NODE_BIN
fi
node scripts/dockerfile-dry-run.mjs .
