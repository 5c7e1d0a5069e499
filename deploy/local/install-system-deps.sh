#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks to run griddispatch locally: PostgreSQL's server, Java 17, Maven;
# Node.js and npm for the local OIDC provider of the single sign-on tests and for the AsyncAPI parser; promtool;
# for the console's browser tests, Chromium and a CJK font (its Chinese text would render as boxes without one).
# Idempotent: installs nothing that is already there. Needs root (or sudo) only when something is missing.
set -euo pipefail

missing=()
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || command -v postgres >/dev/null 2>&1 || missing+=(postgresql)
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
[ -x /usr/bin/chromium ] || missing+=(chromium)
ls /usr/share/fonts/opentype/noto/NotoSansCJK-* >/dev/null 2>&1 || missing+=(fonts-noto-cjk)
# For the local OpenID Connect provider of the single sign-on tests (deploy/local/install-oidc-provider.sh).
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
# promtool, which checks deploy/prometheus/rules.yml in the tests, comes only with Debian's prometheus package.
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "installing from Debian's packages: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "need root to apt-get install ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
# Debian's postgresql package starts a system cluster on 5432; ours is separate, so that one may stay or go.
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
