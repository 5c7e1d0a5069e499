#!/usr/bin/env bash
# Installs the local OpenID Connect provider's npm packages (deploy/local/oidc-provider: panva's oidc-provider,
# pinned by its package-lock.json) for the single sign-on tests and demo. Idempotent and fast: `npm ci` runs only
# when node_modules is missing or was installed from another lock file. Needs Node.js >= 20.19 and npm.
set -euo pipefail

dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/oidc-provider" && pwd)"
stamp="$dir/node_modules/.installed-from-lock"

if [ -f "$stamp" ] && cmp -s "$dir/package-lock.json" "$stamp"; then
  exit 0
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "the single sign-on tests need Node.js (>= 20.19) and npm: install them (deploy/local/install-system-deps.sh)" >&2
  exit 1
fi
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then
  echo "oidc-provider needs Node.js >= 20.19; this is $(node --version)" >&2
  exit 1
fi
echo "installing the local OIDC provider (npm ci in $dir)"
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
cp "$dir/package-lock.json" "$stamp"
