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
#   MALLOC_MMAP_THRESHOLD_=32768
#                            glibc serves blocks of 32 KiB and more with their own mmap, returned
#                            to the kernel on free, instead of from the arena, where freed ones
#                            stayed resident between live small blocks (V8's compiler zones, the
#                            64 KiB socket read buffers cut down to each read): the ward's peak
#                            RSS ~10–17 MiB lower at 1,000 devices, ~3 MiB at start; a fixed
#                            value also turns off glibc's raising of the threshold (up to 32 MiB)
#                            after the first such free (bench/results/2026-12-03-ward15.md)
#
# A caller's own MALLOC_ARENA_MAX or MALLOC_MMAP_THRESHOLD_ wins.
#
#   WW_SERVICE_NODE_FLAGS    node's flags for dist/services/main.js
#   WW_SERVICE_CMD           the whole command: "${WW_SERVICE_CMD[@]}" [service arguments]

WW_SERVICE_NODE_FLAGS=(--max-semi-space-size=1)
WW_SERVICE_MALLOC_ARENA_MAX=2
WW_SERVICE_MALLOC_MMAP_THRESHOLD=32768
WW_SERVICE_CMD=(env "MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-$WW_SERVICE_MALLOC_ARENA_MAX}"
  "MALLOC_MMAP_THRESHOLD_=${MALLOC_MMAP_THRESHOLD_:-$WW_SERVICE_MALLOC_MMAP_THRESHOLD}" node "${WW_SERVICE_NODE_FLAGS[@]}" dist/services/main.js)
