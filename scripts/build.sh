#!/usr/bin/env bash
# `npm run build` (issue #15): compile the service and the device programs (services/, devices/)
# into dist/ with tsc -p tsconfig.build.json, and build the web app (dist/web; skipped when it is
# newer than its sources). `npm start` and `npm run demo` do this themselves when dist/ is missing
# or older than the sources. `--if-stale` skips the compile too when dist/ is up to date.
set -euo pipefail
cd "$(dirname "$0")/.."
WW_SCRIPT_NAME=build
# shellcheck source=scripts/lib/common.sh
. scripts/lib/common.sh
# shellcheck source=scripts/lib/build.sh
. scripts/lib/build.sh

if [ "${1:-}" = --if-stale ]; then
  ensure_build
else
  ww_build
fi
npm run --silent build:web
