# shellcheck shell=bash
# ensure_node_modules: install npm dependencies when node_modules is missing or older than
# package-lock.json (npm writes node_modules/.package-lock.json on every install, so that file's
# time is when node_modules was last brought in line with the lock file). Run from the repo root.

ensure_node_modules() {
  command -v node >/dev/null 2>&1 || ww_die "node is not installed (Node.js 20 or 22 is needed)"
  command -v npm >/dev/null 2>&1 || ww_die "npm is not installed"
  local stamp=node_modules/.package-lock.json
  if [ -f package-lock.json ]; then
    if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
      ww_info "installing npm dependencies (npm ci)"
      npm ci --no-audit --no-fund || ww_die "npm ci failed"
    fi
  elif [ ! -d node_modules ] || [ package.json -nt "$stamp" ]; then
    ww_info "installing npm dependencies (npm install; no package-lock.json)"
    npm install --no-audit --no-fund || ww_die "npm install failed"
  fi
}
