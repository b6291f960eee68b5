#!/usr/bin/env bash
# `npm test`: type check, lint, then every vitest suite (unit, integration over real sockets with a
# real influxd, e2e). Installs what it can when missing so it works from a fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  echo "test: installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi

missing=()
command -v influxd >/dev/null 2>&1 || missing+=(influxdb)
command -v mosquitto_pub >/dev/null 2>&1 || missing+=(mosquitto-clients)
# The browser tests (test/e2e) drive Debian's Chromium through playwright-core.
[ -x /usr/lib/chromium/chromium ] || missing+=(chromium)
# Cluster mode (issue #14): repository tests run against a real PostgreSQL, cluster tests Redis too.
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "test: installing Debian packages: ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "test: missing Debian packages: ${missing[*]} (the integration tests run a real InfluxDB, PostgreSQL, Redis and mosquitto clients, the browser tests Chromium)." >&2
    echo "      install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

echo "test: type check"
npx tsc --noEmit
# The web app's browser code has its own tsconfig (DOM types, bundler resolution).
npx tsc --noEmit -p services/web
echo "test: lint"
npx biome check .
echo "test: web build (skipped when dist/web is newer than the sources)"
npm run --silent build:web
echo "test: vitest"
npx vitest run "$@"
