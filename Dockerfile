# syntax=docker/dockerfile:1
# One image for the API and the workers (the compose file picks the command).

# ---- deps: production node_modules only --------------------------------------
FROM node:20-bookworm-slim AS deps
WORKDIR /app
# postinstall (scripts/install-temporal.sh) installs nothing when TEMPORAL_ADDRESS is
# set: containers talk to a real cluster and never run the embedded dev server.
ENV TEMPORAL_ADDRESS=temporal:7233
COPY package.json package-lock.json ./
COPY scripts/install-temporal.sh scripts/install-temporal.sh
# tsx is a runtime dependency (the processes run TypeScript through it), so
# --omit=dev keeps everything the API and the worker import.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# ---- runtime -----------------------------------------------------------------
FROM node:20-bookworm-slim AS runtime
# fonts-dejavu-core: the renderer's fallback when the npm font package is missing;
# ca-certificates: TLS to providers, S3 and Temporal Cloud.
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-dejavu-core ca-certificates \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    DATA_DIR=/var/lib/ebooks \
    PORT=3000
WORKDIR /app
COPY --from=deps --chown=node:node /app/node_modules ./node_modules
COPY --chown=node:node . .
# Created in the image so a fresh named volume mounted here inherits the owner.
RUN mkdir -p /var/lib/ebooks/files /var/lib/ebooks/keys /var/lib/ebooks/cache \
 && chown -R node:node /var/lib/ebooks
USER node
EXPOSE 3000
CMD ["npm", "run", "api"]
