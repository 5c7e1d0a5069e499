#!/usr/bin/env bash
# Refreshes the console's vendored Apache ECharts (services/console/static/vendor/echarts/) from the npm registry:
# the ES-module build, renamed .js (served as JavaScript everywhere), with the licences of ECharts and of what
# its build bundles (zrender, tslib). The console loads it from the project itself, never from a CDN.
#   deploy/local/vendor-echarts.sh 6.1.0
set -euo pipefail
version="${1:?the ECharts version, e.g. 6.1.0}"
out="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/services/console/static/vendor/echarts"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm init -y >/dev/null && npm install --no-audit --no-fund --loglevel=error "echarts@$version")
mkdir -p "$out"
cp "$work/node_modules/echarts/dist/echarts.esm.min.mjs" "$out/echarts.esm.min.js"
cp "$work/node_modules/echarts/LICENSE" "$work/node_modules/echarts/NOTICE" "$out/"
cp "$work/node_modules/zrender/LICENSE" "$out/LICENSE-zrender"
cp "$work/node_modules/tslib/LICENSE.txt" "$out/LICENSE-tslib"
echo "$version" > "$out/VERSION"
echo "vendored echarts $version into $out"
