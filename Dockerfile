# Basket: the relay serving the built web app and sync on one port.
#   docker build -t basket .
#   docker run -p 8080:8080 -v basket-data:/data --stop-timeout 30 --ulimit nofile=65536:65536 basket
# Or: docker compose up -d   (see docker-compose.yml)

FROM node:20-bookworm-slim AS build
WORKDIR /app
# The pnpm the lockfile was written and tested with: a later 10.x could resolve or deploy differently.
RUN npm install -g pnpm@10.34.9
# Manifests first, so the dependency layer is cached across source edits.
COPY package.json pnpm-workspace.yaml pnpm-lock.yaml .npmrc ./
COPY packages/list-core/package.json packages/list-core/
COPY apps/relay/package.json apps/relay/
COPY apps/web/package.json apps/web/
COPY e2e/package.json e2e/
RUN pnpm install --frozen-lockfile
COPY . .
RUN pnpm run build
# The relay with production dependencies only (ws, yjs, y-protocols, lib0).
RUN pnpm --filter @basket/relay deploy --prod --legacy /out/relay

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    PORT=8080 \
    HOST=0.0.0.0 \
    DATA_DIR=/data \
    UV_THREADPOOL_SIZE=64
WORKDIR /app
# Same layout as the repository, so the relay finds the web app at apps/web/dist by itself.
COPY --from=build /out/relay/package.json apps/relay/package.json
COPY --from=build /out/relay/node_modules apps/relay/node_modules
COPY --from=build /out/relay/dist apps/relay/dist
COPY --from=build /app/apps/web/dist apps/web/dist
# The relay locks DATA_DIR with util-linux's `flock` (Essential in Debian, so in this image).
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8080
# SIGTERM makes the relay stop accepting, flush every list, and close sockets with 1012.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# A 64 MB young generation: see "Node flags" in apps/relay/README.md.
CMD ["node", "--max-semi-space-size=64", "--min-semi-space-size=64", "apps/relay/dist/main.js"]
