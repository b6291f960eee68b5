# wardwatch: the service, and the device simulator (same image, another command; see
# docker-compose.yml). Issue #15: the image runs compiled JavaScript (`node dist/services/main.js`),
# not TypeScript through tsx: a `build` stage with every dependency compiles the service and the
# device programs (tsc → dist/services, dist/devices) and builds the web app (Vite → dist/web);
# that output goes into the image with the runtime dependencies.
#
#   docker build -t wardwatch .
#   docker run -p 8080:8080 -p 1883:1883 -v wardwatch-data:/data \
#     -e WARDWATCH_INFLUX_URL=http://influxdb:8086/wardwatch -e WARDWATCH_ADMIN_PASSWORD=... wardwatch

FROM node:20-bookworm-slim AS deps
WORKDIR /app
# better-sqlite3 is a native addon: npm fetches a prebuilt binary when one exists for this
# platform and compiles it otherwise, which needs these.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# Issue #15: dependency fixes (patch-package, a regular dependency) are applied by postinstall.
COPY patches ./patches
# Runtime dependencies only; the type checker, linter, bundler and test runner are not needed to run.
RUN npm ci --omit=dev --no-audit --no-fund

# `npm run build` (scripts/build.sh): tsc -p tsconfig.build.json and the web app, with the dev
# dependencies (TypeScript, Vite) of this stage.
FROM deps AS build
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY services ./services
COPY devices ./devices
RUN npm run build

FROM node:20-bookworm-slim
WORKDIR /app
# MALLOC_ARENA_MAX and the CMD's node flag: scripts/lib/service.sh (issue #15, the same settings as
# `npm start`; test/unit/ops/service-runtime.test.ts keeps them equal).
ENV NODE_ENV=production \
    WARDWATCH_HOST=0.0.0.0 \
    WARDWATCH_DATA_DIR=/data \
    MALLOC_ARENA_MAX=2
COPY --from=deps /app/node_modules ./node_modules
# The checkout (.dockerignore keeps out the rest): the compiled service reads package.json ("type":
# "module"; it also marks the root config/default.yaml, the ward outlines and dist/web are found
# from) and config/; the sources stay for `npm run backup` (scripts/backup.ts, through tsx).
COPY . .
COPY --from=build /app/dist ./dist
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME /data
# HTTP API, web app and MQTT over WebSocket (/mqtt); MQTT over TCP.
EXPOSE 8080 1883
# node itself is PID 1's child under `init: true` (docker-compose.yml) and gets SIGTERM from
# `docker stop`, so it shuts down gracefully.
CMD ["node", "--max-semi-space-size=1", "dist/services/main.js"]
