#!/usr/bin/env bash
# Refreshes the console's vendored Leaflet (services/console/static/vendor/leaflet/) from the npm registry: the
# ES-module build, its stylesheet and its licence. The slippy map loads it from the project, never from a CDN.
#   deploy/local/vendor-leaflet.sh 1.9.4
set -euo pipefail
version="${1:?the Leaflet version, e.g. 1.9.4}"
out="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/services/console/static/vendor/leaflet"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm init -y >/dev/null && npm install --no-audit --no-fund --loglevel=error "leaflet@$version")
mkdir -p "$out"
cp "$work/node_modules/leaflet/dist/leaflet-src.esm.js" "$work/node_modules/leaflet/dist/leaflet.css" "$out/"
cp "$work/node_modules/leaflet/LICENSE" "$out/"
echo "$version" > "$out/VERSION"
echo "vendored leaflet $version into $out"
