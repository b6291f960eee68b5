# wardwatch: the service, and the device simulator (same image, another command; see
# docker-compose.yml). TypeScript runs directly through tsx; only the web app is built (stage `web`).
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
# Runtime dependencies only. tsx, which runs the service, is in "dependencies" (not dev), so
# --omit=dev keeps it; the type checker, linter and test runner are not needed to run.
RUN npm ci --omit=dev --no-audit --no-fund

# The web app (services/web) is built with Vite, a dev dependency: a stage with every dependency
# builds it, and only its output (dist/web) goes into the image.
FROM deps AS web
RUN npm ci --no-audit --no-fund
COPY services ./services
RUN npm run build:web

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    WARDWATCH_HOST=0.0.0.0 \
    WARDWATCH_DATA_DIR=/data
COPY --from=deps /app/node_modules ./node_modules
# Everything else the service reads at run time; .dockerignore keeps out the rest.
COPY . .
COPY --from=web /app/dist/web ./dist/web
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME /data
# HTTP API, web app and MQTT over WebSocket (/mqtt); MQTT over TCP.
EXPOSE 8080 1883
# `node --import tsx` is `npx tsx` without the extra processes: node itself gets SIGTERM from
# `docker stop` and shuts down gracefully.
CMD ["node", "--import", "tsx", "services/main.ts"]
