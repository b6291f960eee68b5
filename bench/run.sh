#!/usr/bin/env bash
# `npm run bench` (issue #6): make sure mosquitto and influxd are installed (apt-get when root, like
# scripts/lib/influxd.sh does for influxdb), start a private influxd in a temp dir (stopped and
# removed at exit), compile the service into dist/ when stale (scripts/lib/build.sh), then run the
# orchestrator: node --import tsx bench/run.ts "$@".
# Options are bench/run.ts's (--quick, --scenario, --devices, --duration …; see bench/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
WW_SCRIPT_NAME=bench
# shellcheck source=scripts/lib/common.sh
. scripts/lib/common.sh
# shellcheck source=scripts/lib/deps.sh
. scripts/lib/deps.sh
# shellcheck source=scripts/lib/influxd.sh
. scripts/lib/influxd.sh
# shellcheck source=scripts/lib/build.sh
. scripts/lib/build.sh

ww_install_traps
ensure_node_modules
# Issue #15: the service under test runs compiled (dist/services/main.js), as `npm start` runs it.
ensure_build

mosquitto_bin=$(command -v mosquitto || true)
[ -z "$mosquitto_bin" ] && [ -x /usr/sbin/mosquitto ] && mosquitto_bin=/usr/sbin/mosquitto
if [ -z "$mosquitto_bin" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    ww_info "installing the Debian package mosquitto (the benchmark's baseline broker)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto >/dev/null) ||
      ww_die "apt-get install mosquitto failed"
    # The package starts a system-wide mosquitto on 1883; the benchmark runs its own.
    if command -v systemctl >/dev/null 2>&1; then systemctl disable --now mosquitto >/dev/null 2>&1 || true; fi
  fi
  mosquitto_bin=$(command -v mosquitto || echo /usr/sbin/mosquitto)
  [ -x "$mosquitto_bin" ] || ww_die "mosquitto is not installed (sudo apt-get install -y mosquitto)"
fi
export BENCH_MOSQUITTO=$mosquitto_bin
BENCH_MOSQUITTO_VERSION=$("$mosquitto_bin" -h 2>&1 | sed -n 's/^mosquitto version \([^ ]*\).*/\1/p' | head -n 1 || true)
export BENCH_MOSQUITTO_VERSION

# A private influxd: never the one ./data/influxdb of `npm start` / `npm run demo` may be using.
# WARDWATCH_INFLUX_URL set by the caller is used instead (its path is ignored: each run creates and
# drops its own databases).
if [ -z "${WARDWATCH_INFLUX_URL:-}" ]; then
  bench_dir=$(mktemp -d "${TMPDIR:-/tmp}/ww-bench-influxd.XXXXXX")
  ww_on_exit "rm -rf '$bench_dir'"
  WARDWATCH_DATA_DIR=$bench_dir ensure_influx
  [ -n "${WARDWATCH_INFLUX_URL:-}" ] || ww_die "no InfluxDB: install the Debian package influxdb"
  BENCH_INFLUXD_PID=$(cat "$bench_dir/influxdb/influxd.pid" 2>/dev/null || true)
  export BENCH_INFLUXD_PID
fi
BENCH_INFLUX_URL=$(node -e 'const u = new URL(process.argv[1]); console.log(u.origin)' "$WARDWATCH_INFLUX_URL")
export BENCH_INFLUX_URL
BENCH_INFLUXD_VERSION=$(influxd version 2>/dev/null | sed -n 's/^InfluxDB v\([^ ]*\).*/\1/p' || true)
export BENCH_INFLUXD_VERSION
unset WARDWATCH_INFLUX_URL WARDWATCH_DATA_DIR

# One socket per device in each process: try to raise the soft limit (the hard one caps the fleet).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
BENCH_NOFILE=$(ulimit -n)
export BENCH_NOFILE

# Not exec: this shell stops influxd after the run.
node --import tsx bench/run.ts "$@" &
run=$!
trap 'kill -INT $run 2>/dev/null || true' INT
trap 'kill -TERM $run 2>/dev/null || true' TERM
status=0
while :; do
  if wait "$run"; then status=0; else status=$?; fi
  kill -0 "$run" 2>/dev/null || break
done
exit "$status"
