# syntax=docker/dockerfile:1
# Build stage: full install (TypeScript, Nest CLI), compile to dist/.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY src ./src
RUN npm run build

# Runtime stage: production dependencies only, non-root user.
FROM node:24-bookworm-slim AS runtime
# A container must listen on every interface to be reachable; the bundled config then refuses to start an open
# relay (no server.auth.api_keys) unless CC_RELAY_ALLOW_OPEN=true says it is meant (README, "Docker").
ENV NODE_ENV=production \
    CC_RELAY_CONFIG=/app/config/cc-relay.yaml \
    CC_RELAY_LISTEN=0.0.0.0:8787
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=optional too: npm keeps a dev dependency that a production package names as an optional peer (TypeScript,
# for @nestjs/swagger's compiler plugin), and the only optional production packages are @redis/client's xxhash
# binaries for a digest() the relay never calls.
RUN npm ci --omit=dev --omit=optional --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY config ./config
USER node
EXPOSE 8787
# CC_RELAY_CONFIG selects the config file (mount your own and point it there).
# No V8 heap flags: --max-semi-space-size=64 no longer changed CPU per request in an A/B (2026-12-07) and cost
# ~6 KB of RSS per open stream and ~27 MiB idle (docs/benchmarks.md, "Many long streams").
CMD ["node", "--no-memory-reducer", "dist/main.js"]
