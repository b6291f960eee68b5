#!/usr/bin/env bash
# `npm start`: install npm dependencies if needed, compile the service into dist/ when it is
# missing or older than the sources (issue #15), make sure an InfluxDB runs (a project-local
# influxd unless WARDWATCH_INFLUX_URL is set), then run `node dist/services/main.js` in the foreground
# (with scripts/lib/service.sh's node flags and malloc setting).
# Configuration: WARDWATCH_* environment variables (config/README.md). Ctrl-C stops the service,
# then the influxd this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
WW_SCRIPT_NAME=start
# shellcheck source=scripts/lib/common.sh
. scripts/lib/common.sh
# shellcheck source=scripts/lib/deps.sh
. scripts/lib/deps.sh
# shellcheck source=scripts/lib/influxd.sh
. scripts/lib/influxd.sh
# shellcheck source=scripts/lib/build.sh
. scripts/lib/build.sh
# shellcheck source=scripts/lib/service.sh
. scripts/lib/service.sh

ww_install_traps
# Issue #13: the broker's connection cap follows the open-file limit (docs/operations.md).
ww_raise_nofile
ensure_node_modules
# The web app served at / (services/web); a no-op when the build is newer than its sources.
npm run --silent build:web
# Issue #15: the service runs compiled (dist/services/main.js); a no-op when dist/ is up to date.
ensure_build
# Issue #13: everything created from here on (data dir, influxd's files, the database) is ours
# alone. The service sets its own modes too (services/core/private-files.ts); this covers influxd.
umask 077
data_dir=$(ww_abs_dir "${WARDWATCH_DATA_DIR:-./data}")
export WARDWATCH_DATA_DIR=$data_dir
pids_file=$data_dir/.start.pids
ww_stop_stale "$pids_file"
ensure_influx

# Not `exec`: this shell must outlive the service to stop influxd afterwards. The service gets
# its own process group, so a Ctrl-C reaches it once, forwarded here, not twice.
if command -v setsid >/dev/null 2>&1; then
  setsid "${WW_SERVICE_CMD[@]}" "$@" &
else
  "${WW_SERVICE_CMD[@]}" "$@" &
fi
service=$!
ww_track_pid "$pids_file" "$service" dist/services/main.js
ww_on_exit "rm -f '$pids_file'"
# shellcheck disable=SC2317 # called from the traps below
forward() {
  kill "-$1" "$service" 2>/dev/null || true
}
trap 'forward INT' INT
trap 'forward TERM' TERM
# `wait` returns early when a trapped signal arrives; keep waiting until the service has exited.
status=0
while :; do
  if wait "$service"; then status=0; else status=$?; fi
  kill -0 "$service" 2>/dev/null || break
done
exit "$status"
