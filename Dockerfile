# syntax=docker/dockerfile:1
# clawbridge in a container. Build: `docker build -t clawbridge .`; run it with compose.yaml.
# docs/deployment.md explains the volumes, the config inside the container and the SMB mount;
# test/integration/docker/ checks this file's parts outside a container.

# ---- build: every dependency, then tsc → dist/ ------------------------------------------------
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# --ignore-scripts: `prepare` would build before the sources are copied (they come after, so
# that editing src/ does not throw away this layer's node_modules).
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies and dist/ only, as a non-root user ---------------------
FROM node:24-slim AS runtime
ENV NODE_ENV=production \
    CLAWBRIDGE_CONFIG=/config/clawbridge.json5 \
    CLAWBRIDGE_HEALTHCHECK_URL=http://127.0.0.1:8787/healthz
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# --ignore-scripts: `prepare` runs the build, which needs the dev dependencies left out here.
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY --from=build /app/dist ./dist
COPY config/clawbridge.example.json5 ./config/
# `clawbridge …` on the PATH for `docker compose exec`; the volumes' mount points belong to
# the user the bridge runs as (uid 1000, the image's `node` user): a CIFS mount must map
# its files to the same uid/gid (uid=1000,gid=1000).
RUN chmod 0755 dist/cli/main.js \
 && ln -s /app/dist/cli/main.js /usr/local/bin/clawbridge \
 && mkdir -p /config /state /mnt/openclaw-shared \
 && chown 1000:1000 /state /mnt/openclaw-shared
USER 1000:1000
# /config: clawbridge.json5 (read-only is fine); /state: state.dir (cursors, outboxes, the
# device key — keep it); /mnt/openclaw-shared: mailbox.root, the shared folder.
VOLUME ["/config", "/state", "/mnt/openclaw-shared"]
# http.port (Feishu webhooks, /healthz); publish it only in webhook mode, with http.host "0.0.0.0".
EXPOSE 8787
# No curl in the slim image: Node's own fetch. Set CLAWBRIDGE_HEALTHCHECK_URL when http.port is not 8787.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.CLAWBRIDGE_HEALTHCHECK_URL||'http://127.0.0.1:8787/healthz',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["start", "--config", "/config/clawbridge.json5"]
