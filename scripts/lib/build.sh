# shellcheck shell=bash
# Issue #15: the service and the device programs run as JavaScript compiled into dist/ (tsc -p
# tsconfig.build.json), not as TypeScript through tsx. Needs common.sh. Run from the repo root.
#
#   ww_build_is_fresh    is dist/ newer than every source it is built from?
#   ww_build             compile now: into a temp dir, then swapped in (so no file of a deleted
#                        source survives, and a failed build leaves the previous one)
#   ensure_build         ww_build unless fresh (what `npm start` and `npm run demo` call, like
#                        build:web); without TypeScript (an --omit=dev install) an existing build
#                        is kept

WW_BUILD_STAMP=dist/.build-stamp

ww_build_is_fresh() {
  [ -f "$WW_BUILD_STAMP" ] && [ -f dist/services/main.js ] || return 1
  # Any TypeScript source, build setting or dependency change newer than the stamp makes it stale
  # (a README edit does not). The web app's sources are Vite's (build:web), not tsc's.
  local newer
  newer=$(find services devices -path services/web/src -prune -o -type f -name '*.ts' -newer "$WW_BUILD_STAMP" -print -quit)
  [ -z "$newer" ] || return 1
  local f
  for f in tsconfig.json tsconfig.build.json package.json package-lock.json; do
    [ ! -f "$f" ] || [ ! "$f" -nt "$WW_BUILD_STAMP" ] || return 1
  done
  return 0
}

ww_build() {
  [ -x node_modules/.bin/tsc ] || ww_die "TypeScript is not installed (npm ci without --omit=dev builds dist/)"
  mkdir -p dist
  local tmp
  tmp=$(mktemp -d dist/.build-XXXXXX)
  # A stamp taken before compiling: a source saved during the build makes the next start rebuild.
  touch "$tmp/.build-stamp"
  if ! node_modules/.bin/tsc -p tsconfig.build.json --outDir "$tmp"; then
    rm -rf "$tmp"
    ww_die "tsc -p tsconfig.build.json failed"
  fi
  (
    # Two builds at once (a test and `npm start`): one swaps at a time.
    if command -v flock >/dev/null 2>&1; then
      exec 9>dist/.build.lock
      flock 9
    fi
    rm -rf dist/services dist/devices
    mv "$tmp/services" "$tmp/devices" dist/
    mv "$tmp/.build-stamp" "$WW_BUILD_STAMP"
  )
  rm -rf "$tmp"
}

ensure_build() {
  ww_build_is_fresh && return 0
  if [ ! -x node_modules/.bin/tsc ] && [ -f dist/services/main.js ]; then
    ww_warn "TypeScript is not installed; running the existing build in dist/ (it may be older than the sources)"
    return 0
  fi
  ww_info "compiling the service into dist/ (npm run build)"
  ww_build
}
