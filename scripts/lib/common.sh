# shellcheck shell=bash
# Shared helpers for scripts/*.sh (sourced, not run). Needs bash 4.3+ and node on PATH.
#
#   ww_info / ww_warn / ww_die     messages on stderr, prefixed with the script name
#   ww_on_exit 'command'           run at exit (also on Ctrl-C / SIGTERM), last registered first
#   ww_port_free PORT              is 127.0.0.1:PORT free to listen on?
#   ww_free_port                   print a port the OS considers free
#   ww_http_status URL             print the HTTP status of a GET (000 when nothing answers)
#   ww_start_detached LOG CMD...   start CMD in its own session (Ctrl-C reaches only us, and we
#                                  stop it in order); its pid in WW_PID
#   ww_stop_pid PID NAME [GRACE_S] SIGTERM (its process group if it leads one), wait, SIGKILL
#                                  after GRACE_S (default 15)
#   ww_track_pid / ww_stop_stale   record detached pids; stop those a killed earlier run left

WW_SCRIPT_NAME=${WW_SCRIPT_NAME:-$(basename "${0:-wardwatch}" .sh)}

ww_info() { printf '%s: %s\n' "$WW_SCRIPT_NAME" "$*" >&2; }
ww_warn() { printf '%s: warning: %s\n' "$WW_SCRIPT_NAME" "$*" >&2; }
ww_die() {
  printf '%s: error: %s\n' "$WW_SCRIPT_NAME" "$*" >&2
  exit 1
}

# --- exit handlers ---------------------------------------------------------------------------
WW_CLEANUP=()
WW_CLEANING=0

ww_on_exit() { WW_CLEANUP+=("$1"); }

ww_run_cleanup() {
  [ "$WW_CLEANING" = 1 ] && return 0
  WW_CLEANING=1
  local i
  for ((i = ${#WW_CLEANUP[@]} - 1; i >= 0; i--)); do
    eval "${WW_CLEANUP[$i]}" || true
  done
}

ww_install_traps() {
  trap 'ww_run_cleanup' EXIT
  trap 'ww_run_cleanup; trap - INT; exit 130' INT
  trap 'ww_run_cleanup; trap - TERM; exit 143' TERM
}

# --- ports and HTTP (node is always there: the project needs it) ------------------------------
ww_port_free() {
  node -e '
    const s = require("net").createServer();
    s.once("error", () => process.exit(1));
    s.listen(Number(process.argv[1]), "127.0.0.1", () => s.close(() => process.exit(0)));
  ' "$1" 2>/dev/null
}

ww_free_port() {
  node -e '
    const s = require("net").createServer();
    s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => console.log(p)); });
  '
}

ww_http_status() {
  node -e '
    fetch(process.argv[1], { signal: AbortSignal.timeout(2000) })
      .then(async (r) => { await r.arrayBuffer(); console.log(r.status); })
      .catch(() => console.log("000"));
  ' "$1" 2>/dev/null || echo 000
}

# --- processes --------------------------------------------------------------------------------
# shellcheck disable=SC2034 # read by the scripts that source this file
WW_PID=

ww_start_detached() {
  local log=$1
  shift
  if command -v setsid >/dev/null 2>&1; then
    # A background job of a non-interactive shell is not a group leader, so setsid execs in
    # place: $! is the program itself, in its own process group.
    setsid "$@" >>"$log" 2>&1 </dev/null &
  else
    "$@" >>"$log" 2>&1 </dev/null &
  fi
  # shellcheck disable=SC2034 # read by the caller
  WW_PID=$!
}

ww_stop_pid() {
  local pid=$1 name=$2 grace=${3:-15} target=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  # A process we started with setsid leads its own group: stop the whole group (pipelines).
  [ "$(ww_pgid "$pid")" = "$pid" ] && target=-$pid
  kill -TERM -- "$target" 2>/dev/null || return 0
  for ((i = 0; i < grace * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  ww_warn "$name (pid $pid) did not stop within ${grace}s; killing it"
  kill -KILL -- "$target" 2>/dev/null || true
}

# Process group of PID, from /proc (procps may be missing): the fields after "(comm) ".
ww_pgid() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  stat=${stat##*) }
  # shellcheck disable=SC2086 # split into fields on purpose
  set -- $stat
  echo "${3:-}"
}

# Processes a script started detached survive it when it is killed with SIGKILL (no trap runs).
# Each is recorded as "PID MARKER" in a file under the data directory; the next run stops the
# ones still alive whose command line still contains MARKER (so a reused pid is left alone),
# instead of starting a second service on the same data.
ww_track_pid() {
  echo "$2 $3" >>"$1"
}

ww_stop_stale() {
  local file=$1 pid marker i
  [ -f "$file" ] || return 0
  local -a lines=()
  mapfile -t lines <"$file"
  # Last started first, as the exit handlers would have done (simulator before service).
  for ((i = ${#lines[@]} - 1; i >= 0; i--)); do
    read -r pid marker <<<"${lines[$i]}"
    if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then continue; fi
    if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$marker"; then
      ww_warn "stopping $marker (pid $pid) left running by an earlier run that was killed"
      ww_stop_pid "$pid" "$marker" 20
    fi
  done
  rm -f "$file"
}

# Absolute path of a directory (created if missing).
ww_abs_dir() {
  mkdir -p "$1" && (cd "$1" && pwd)
}

# --- open-file limit (issue #13) ----------------------------------------------------------------
# The broker caps its sockets at `ulimit -n` minus broker.limits.fdReserve, read when it starts:
# raise the soft limit to the hard one so that cap is as high as the system allows. Never fails:
# where the hard limit is "unlimited" or cannot be set, the current soft limit stays.
ww_raise_nofile() {
  local hard
  hard=$(ulimit -Hn 2>/dev/null) || return 0
  [ "$hard" = unlimited ] && hard=1048576
  ulimit -n "$hard" 2>/dev/null || ww_warn "could not raise the open-file limit to $hard (now $(ulimit -n))"
}
