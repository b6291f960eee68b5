#!/usr/bin/env bash
# `npm run demo`: wardwatch with a simulated Bình Ngọc ward (40 cameras, 60 street lights).
# Installs npm dependencies and InfluxDB if needed, starts InfluxDB, the service and the device
# simulator, and prints how to break a device and watch the alert. Ctrl-C stops everything.
#
# Extra arguments go to the simulator, e.g. `npm run demo -- --count 20 --speed 60`.
# Environment: WARDWATCH_* as for the service (config/README.md); WARDWATCH_SIM_* for the
# simulator (devices/README.md). Ports default to 8080 (HTTP), 1883 (MQTT) and 8090 (fault
# control); a busy default is replaced by a free port unless set explicitly.
set -euo pipefail
cd "$(dirname "$0")/.."
WW_SCRIPT_NAME=demo
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

[ "${1:-}" = -- ] && shift
ww_install_traps
ww_raise_nofile # issue #13: the broker's connection cap follows `ulimit -n`
ensure_node_modules
# The web app served at / (services/web); a no-op when the build is newer than its sources.
npm run --silent build:web
# Issue #15: the service, the simulator and the receiver run compiled (dist/); a no-op when fresh.
ensure_build

data_dir=$(ww_abs_dir "${WARDWATCH_DATA_DIR:-./data}")
export WARDWATCH_DATA_DIR=$data_dir
pids_file=$data_dir/.demo.pids
ww_stop_stale "$pids_file"
ensure_influx

# --- admin password: chosen by the caller, or generated once and kept for later runs ----------
password_file=$data_dir/demo-admin-password
if [ -n "${WARDWATCH_ADMIN_PASSWORD:-}" ]; then
  password=$WARDWATCH_ADMIN_PASSWORD
  password_origin="from WARDWATCH_ADMIN_PASSWORD"
else
  if [ ! -s "$password_file" ]; then
    (
      umask 077
      node -e 'console.log(require("crypto").randomBytes(12).toString("base64url"))' >"$password_file"
    )
  fi
  chmod 600 "$password_file"
  password=$(cat "$password_file")
  password_origin="stored in $password_file"
fi
# The service uses it only when it creates `admin` (first start with this data directory).
export WARDWATCH_ADMIN_PASSWORD=$password

# --- ports -------------------------------------------------------------------------------------
pick_port() {
  local name=$1 default=$2
  if [ -n "${!name:-}" ]; then
    echo "${!name}"
  elif ww_port_free "$default"; then
    echo "$default"
  else
    local port
    port=$(ww_free_port)
    ww_info "port $default is busy; using $port ($name)"
    echo "$port"
  fi
}
http_port=$(pick_port WARDWATCH_HTTP_PORT 8080)
mqtt_port=$(pick_port WARDWATCH_MQTT_PORT 1883)
control_port=$(pick_port WARDWATCH_SIM_CONTROL_PORT 8090)
receiver_port=$(pick_port WARDWATCH_DEMO_RECEIVER_PORT 8091)
export WARDWATCH_HTTP_PORT=$http_port WARDWATCH_MQTT_PORT=$mqtt_port
# A demo with a printed admin password listens on this machine only, unless told otherwise.
export WARDWATCH_HOST=${WARDWATCH_HOST:-127.0.0.1}
api=http://127.0.0.1:$http_port
control=http://127.0.0.1:$control_port

service_log=$data_dir/wardwatch.log
simulator_log=$data_dir/simulator.log
receiver_log=$data_dir/webhook-receiver.log
receiver=http://127.0.0.1:$receiver_port
stamp="--- demo started $(date -u +%Y-%m-%dT%H:%M:%SZ) ---"
echo "$stamp" >>"$service_log"
echo "$stamp" >>"$simulator_log"

# --- warnings and alerts from the service log, on the terminal ---------------------------------
# shellcheck disable=SC2016 # JavaScript, not shell
log_filter='
  const names = { 10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL" };
  const keys = ["deviceId", "alertId", "type", "severity", "state", "reason", "signal", "err"];
  require("readline").createInterface({ input: process.stdin }).on("line", (line) => {
    let o;
    try { o = JSON.parse(line); } catch { return; }
    const alert = /alert/i.test(String(o.msg ?? ""));
    if (!(o.level >= 40 || (alert && o.level >= 30))) return;
    const extra = keys.filter((k) => o[k] !== undefined)
      .map((k) => `${k}=${typeof o[k] === "object" ? (o[k].message ?? JSON.stringify(o[k])) : o[k]}`).join(" ");
    const time = String(o.time ?? "").slice(11, 19);
    console.log(`  [wardwatch ${time}Z] ${names[o.level] ?? o.level} ${o.msg ?? ""} ${extra}`);
  });
'
if command -v setsid >/dev/null 2>&1; then
  # shellcheck disable=SC2016 # $1 and $2 expand in the inner bash
  setsid bash -c 'tail -n 0 -F "$1" 2>/dev/null | node -e "$2"' _ "$service_log" "$log_filter" &
  tail_pid=$!
  ww_track_pid "$pids_file" "$tail_pid" "tail -n 0 -F"
  ww_on_exit "ww_stop_pid $tail_pid 'log tail' 5"
fi

# --- the webhook receiver (issue #12): what a technician would get, on a page --------------------
# A fresh shared secret each run; setup-channel.ts gives it to the demo-webhook channel.
WARDWATCH_DEMO_WEBHOOK_SECRET=$(node -e 'console.log(require("crypto").randomBytes(24).toString("base64url"))')
export WARDWATCH_DEMO_WEBHOOK_SECRET
ww_info "starting the webhook receiver (log: $receiver_log)"
ww_start_detached "$receiver_log" node dist/devices/webhook-receiver/cli.js --port "$receiver_port"
receiver_pid=$WW_PID
ww_track_pid "$pids_file" "$receiver_pid" dist/devices/webhook-receiver/cli.js
ww_on_exit "ww_stop_pid $receiver_pid webhook-receiver 5"
for ((i = 0; ; i++)); do
  [ "$(ww_http_status "$receiver/")" = 200 ] && break
  kill -0 "$receiver_pid" 2>/dev/null || ww_die "the webhook receiver exited (log: $receiver_log)"
  [ "$i" -lt 120 ] || ww_die "the webhook receiver did not answer within 30s (log: $receiver_log)"
  sleep 0.25
done

# --- the service -------------------------------------------------------------------------------
ww_info "starting wardwatch (log: $service_log)"
# Issue #15: node's flags and malloc setting of production (scripts/lib/service.sh).
ww_start_detached "$service_log" "${WW_SERVICE_CMD[@]}"
service_pid=$WW_PID
ww_track_pid "$pids_file" "$service_pid" dist/services/main.js
ww_on_exit "ww_stop_pid $service_pid wardwatch 20"
for ((i = 0; ; i++)); do
  [ "$(ww_http_status "$api/healthz")" = 200 ] && break
  if ! kill -0 "$service_pid" 2>/dev/null; then
    tail -n 30 "$service_log" >&2
    ww_die "wardwatch exited during start-up (log: $service_log)"
  fi
  [ "$i" -lt 240 ] || ww_die "wardwatch did not answer $api/healthz within 60s (log: $service_log)"
  sleep 0.25
done

# --- the simulator -----------------------------------------------------------------------------
ward=config/demo/binh-ngoc.json
ww_info "starting the device simulator (log: $simulator_log)"
ww_start_detached "$simulator_log" node dist/devices/simulator/cli.js \
  --ward "$ward" --api "$api" --mqtt "mqtt://127.0.0.1:$mqtt_port" --control-port "$control_port" "$@"
simulator_pid=$WW_PID
ww_track_pid "$pids_file" "$simulator_pid" dist/devices/simulator/cli.js
# Registered last, so stopped first: devices disconnect cleanly before the service goes.
ww_on_exit "ww_stop_pid $simulator_pid simulator 15; rm -f '$pids_file'"
for ((i = 0; ; i++)); do
  [ "$(ww_http_status "$control/devices")" = 200 ] && break
  if ! kill -0 "$simulator_pid" 2>/dev/null; then
    tail -n 30 "$simulator_log" >&2
    if grep -q 'WW_ERR_API_UNAUTHORIZED' "$simulator_log"; then
      ww_warn "the simulator could not log in as admin: this data directory's admin user has another" \
        "password. Set WARDWATCH_ADMIN_PASSWORD to it, or use a fresh WARDWATCH_DATA_DIR."
    fi
    ww_die "the simulator exited (log: $simulator_log)"
  fi
  [ "$i" -lt 480 ] || ww_die "the simulator's control API did not answer within 120s (log: $simulator_log)"
  sleep 0.25
done

# A token for the copy-paste commands below (valid for auth.tokenTtlS, 12 h by default).
token=$(node -e '
  fetch(process.argv[1] + "/api/v1/auth/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: "admin", password: process.argv[2] }),
  }).then((r) => r.json()).then((b) => console.log(b.token ?? "")).catch(() => console.log(""));
' "$api" "$password")
[ -n "$token" ] || token='<token from POST /api/v1/auth/login>'
# The demo-webhook channel and its route, made through the API as an admin would in the app.
if ! WARDWATCH_DEMO_TOKEN=$token node dist/devices/webhook-receiver/setup-channel.js \
  --api "$api" --hook "$receiver/hook" --ward binh-ngoc >>"$receiver_log" 2>&1; then
  ww_warn "could not set up the demo webhook channel (log: $receiver_log)"
fi
devices=$(node -e '
  fetch(process.argv[1]).then((r) => r.json()).then((l) => console.log(l.length)).catch(() => console.log("the"));
' "$control/devices")

cat <<EOF

  ============================================================================================
   wardwatch demo: Phường Bình Ngọc, Móng Cái ($devices simulated cameras and street lights)
  ============================================================================================
   Web app           http://localhost:$http_port/   (user admin, password below)
   API docs          http://localhost:$http_port/docs
   API               http://localhost:$http_port/api/v1
   MQTT              mqtt://localhost:$mqtt_port   (WebSocket: ws://localhost:$http_port/mqtt)
   Admin user        admin
   Admin password    $password   ($password_origin)

   Break a camera (drops its connection; the broker publishes its last will):
     curl -s -XPOST $control/faults -H 'content-type: application/json' \\
          -d '{"type":"disconnect","target":"bn-cam-003"}'
   Other faults (type: silence, disconnect, power_cut, lamp_failure, not_recording, bad_payload,
   storage_high, video_loss, tamper, clock_skew, day_burning, voltage, restore;
   target: device id, power zone tram-bn-1…4, random, all). A power cut of a zone opens one
   area_outage incident (GET /api/v1/incidents) instead of a flood of alerts:
     curl -s -XPOST $control/faults -H 'content-type: application/json' \\
          -d '{"type":"power_cut","target":"tram-bn-3"}'
     curl -s $control/devices
   See the alert:
     curl -s -H "Authorization: Bearer $token" \\
          '$api/api/v1/alerts?state=open'
   Notifications a technician would get (webhook channel demo-webhook, after notify.notifyDelayS,
   60 s by default; a power cut sends one incident message, not one per device):
     $receiver/                       (the receiver's page; signatures checked)
     http://localhost:$http_port/#/channels   (channels, routes and the delivery log in the app)
   Silence a camera (it stops reporting; one message about a minute after it is found offline):
     curl -s -XPOST $control/faults -H 'content-type: application/json' \\
          -d '{"type":"silence","target":"bn-cam-007"}'
   Bring everything back:
     curl -s -XPOST $control/faults -H 'content-type: application/json' \\
          -d '{"type":"restore","target":"all"}'

   Logs: $service_log
         $simulator_log
         $receiver_log
   Warnings and alerts from the service appear below. Ctrl-C stops everything.
  ============================================================================================

EOF

# Until Ctrl-C, or until the service or the simulator exits on its own.
while kill -0 "$service_pid" 2>/dev/null && kill -0 "$simulator_pid" 2>/dev/null; do
  sleep 1 &
  wait $! || true
done
if ! kill -0 "$service_pid" 2>/dev/null; then
  tail -n 20 "$service_log" >&2
  ww_die "wardwatch exited (log: $service_log)"
fi
tail -n 20 "$simulator_log" >&2
ww_die "the simulator exited (log: $simulator_log)"
