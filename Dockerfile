# Multi-stage build of the identity server, production mode, non-root.
# The runtime is Node 24 (oidc-provider 9 needs Node 22+); sources run as TypeScript by type stripping.

FROM node:24-bookworm-slim AS deps
WORKDIR /app
# argon2 builds a native addon when no prebuilt binary matches.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# The npm package `node` is a devDependency (the Node 24 runtime for npm scripts); the base image is Node 24 already.
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY src ./src
COPY migrations ./migrations
COPY config ./config
COPY scripts ./scripts
USER node
EXPOSE 3000
# /healthz checks PostgreSQL and Redis (or the PostgreSQL hot-state tables when REDIS_URL is unset).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# Production refuses to start without: an https ISSUER, COOKIE_SECRETS, DATA_ENCRYPTION_KEYS, LOOKUP_HMAC_KEY,
# PAIRWISE_SALT, real SMS and population-register connectors, and with DEMO_DATA on (see README).
CMD ["node", "src/server.ts"]
