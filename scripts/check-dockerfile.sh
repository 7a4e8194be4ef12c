#!/usr/bin/env bash
# Replays the Dockerfile's steps on this machine (no Docker engine here) and checks the image would serve.
set -euo pipefail
cd "$(dirname "$0")/.."
node scripts/dockerfile-dry-run.mjs .
