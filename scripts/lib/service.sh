# shellcheck shell=bash
# Issue #15: how the compiled service's node process runs wherever it runs in production
# (`npm start`, `npm run demo`; the Dockerfile's ENV and CMD carry the same settings, and
# bench/lib/systems.ts reads them from here). Measured on the ward scenario (bench/README.md):
#
#   --max-semi-space-size=1  V8's young generation at 1 MiB a semi-space instead of growing to
#                            16: the idle service's RSS drops by ~20–27 MiB, for more frequent
#                            (each smaller) scavenges. 2 and 4 MiB measured against it
#                            (bench/results/2026-12-03-cost15.md): no CPU gain in the storm or
#                            at 19,400 devices, 4 MiB +27 MiB there; 1 MiB kept
#   MALLOC_ARENA_MAX=2       glibc malloc keeps 2 arenas instead of one per thread that mallocs
#                            (libuv's pool, V8's platform workers): 3–10 MiB less at idle
#                            (median ~4 over five starts each)
#
# A caller's own MALLOC_ARENA_MAX wins.
#
#   WW_SERVICE_NODE_FLAGS    node's flags for dist/services/main.js
#   WW_SERVICE_CMD           the whole command: "${WW_SERVICE_CMD[@]}" [service arguments]

WW_SERVICE_NODE_FLAGS=(--max-semi-space-size=1)
WW_SERVICE_MALLOC_ARENA_MAX=2
WW_SERVICE_CMD=(env "MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-$WW_SERVICE_MALLOC_ARENA_MAX}" node "${WW_SERVICE_NODE_FLAGS[@]}" dist/services/main.js)
