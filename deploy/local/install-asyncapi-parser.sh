#!/usr/bin/env bash
# Installs the AsyncAPI Initiative's parser (deploy/local/asyncapi-parser: @asyncapi/parser, pinned by its
# package-lock.json), which tests/unit/test_asyncapi_parser.py runs on docs/asyncapi.yaml. Idempotent and fast:
# `npm ci` runs only when node_modules is missing or was installed from another lock file. Needs Node.js >= 20.19.
set -euo pipefail

dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/asyncapi-parser" && pwd)"
stamp="$dir/node_modules/.installed-from-lock"

if [ -f "$stamp" ] && cmp -s "$dir/package-lock.json" "$stamp"; then
  exit 0
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "the AsyncAPI check needs Node.js (>= 20.19) and npm: install them (deploy/local/install-system-deps.sh)" >&2
  exit 1
fi
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then
  echo "the AsyncAPI parser needs Node.js >= 20.19; this is $(node --version)" >&2
  exit 1
fi
echo "installing the AsyncAPI parser (npm ci in $dir)"
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
cp "$dir/package-lock.json" "$stamp"
