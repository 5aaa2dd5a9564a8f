# syntax=docker/dockerfile:1

# One image for the gateway, the four subgraphs and the pki service; docker-compose.yml picks the
# process to run with each service's `command` (the default runs the gateway).

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app

# Dependencies first, from the manifests alone, so that source changes reuse this layer. Every
# workspace's manifest, as package-lock.json lists them all.
COPY package.json package-lock.json .npmrc ./
COPY packages/service-kit/package.json packages/service-kit/
COPY packages/request-signing/package.json packages/request-signing/
COPY packages/routeros-wire/package.json packages/routeros-wire/
COPY packages/routeros-sim/package.json packages/routeros-sim/
COPY packages/router-api/package.json packages/router-api/
COPY packages/outbox/package.json packages/outbox/
COPY packages/audit-chain/package.json packages/audit-chain/
COPY packages/kms-sim/package.json packages/kms-sim/
COPY packages/stripe-sim/package.json packages/stripe-sim/
COPY packages/envelope/package.json packages/envelope/
COPY packages/access-tokens/package.json packages/access-tokens/
COPY packages/internal-pki/package.json packages/internal-pki/
COPY packages/launcher/package.json packages/launcher/
COPY subgraphs/aaa/package.json subgraphs/aaa/
COPY subgraphs/devices/package.json subgraphs/devices/
COPY subgraphs/billing/package.json subgraphs/billing/
COPY subgraphs/audit/package.json subgraphs/audit/
COPY gateway/package.json gateway/
COPY bench/package.json bench/
RUN npm ci --no-audit --no-fund

# The launcher's build takes in every service (the benchmarks are not part of the image).
COPY tsconfig.base.json tsconfig.json ./
COPY packages packages
COPY subgraphs subgraphs
COPY gateway gateway
RUN npx tsc -b packages/launcher \
  && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app

# Everything stays owned by root: the `node` user can read the code but not change it.
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/packages/service-kit/package.json packages/service-kit/
COPY --from=build /app/packages/service-kit/dist packages/service-kit/dist
COPY --from=build /app/packages/request-signing/package.json packages/request-signing/
COPY --from=build /app/packages/request-signing/dist packages/request-signing/dist
COPY --from=build /app/packages/internal-pki/package.json packages/internal-pki/
COPY --from=build /app/packages/internal-pki/dist packages/internal-pki/dist
COPY --from=build /app/packages/access-tokens/package.json packages/access-tokens/
COPY --from=build /app/packages/access-tokens/dist packages/access-tokens/dist
COPY --from=build /app/packages/envelope/package.json packages/envelope/
COPY --from=build /app/packages/envelope/dist packages/envelope/dist
COPY --from=build /app/packages/outbox/package.json packages/outbox/
COPY --from=build /app/packages/outbox/dist packages/outbox/dist
COPY --from=build /app/packages/audit-chain/package.json packages/audit-chain/
COPY --from=build /app/packages/audit-chain/dist packages/audit-chain/dist
COPY --from=build /app/packages/routeros-wire/package.json packages/routeros-wire/
COPY --from=build /app/packages/routeros-wire/dist packages/routeros-wire/dist
COPY --from=build /app/packages/router-api/package.json packages/router-api/
COPY --from=build /app/packages/router-api/dist packages/router-api/dist
# Each subgraph reads its schema.graphql at run time, next to its dist/ folder.
COPY --from=build /app/subgraphs/aaa/package.json /app/subgraphs/aaa/schema.graphql subgraphs/aaa/
COPY --from=build /app/subgraphs/aaa/dist subgraphs/aaa/dist
COPY --from=build /app/subgraphs/devices/package.json /app/subgraphs/devices/schema.graphql subgraphs/devices/
COPY --from=build /app/subgraphs/devices/dist subgraphs/devices/dist
COPY --from=build /app/subgraphs/billing/package.json /app/subgraphs/billing/schema.graphql subgraphs/billing/
COPY --from=build /app/subgraphs/billing/dist subgraphs/billing/dist
COPY --from=build /app/subgraphs/audit/package.json /app/subgraphs/audit/schema.graphql subgraphs/audit/
COPY --from=build /app/subgraphs/audit/dist subgraphs/audit/dist
# The gateway serves the committed supergraph, read (and watched) next to its dist/ folder.
COPY --from=build /app/gateway/package.json /app/gateway/supergraph.graphql gateway/
COPY --from=build /app/gateway/dist gateway/dist

# The pki service (the launcher's pki-cli) keeps and publishes the federation's certificates.
COPY --from=build /app/packages/launcher/package.json packages/launcher/
COPY --from=build /app/packages/launcher/dist packages/launcher/dist

# Where the named volumes are mounted: a new volume takes the owner of the directory it is mounted
# on, and the services, running as `node`, write there.
RUN mkdir -p /var/lib/fleet/aaa /var/lib/fleet/devices /var/lib/fleet/audit /var/lib/fleet/pki \
    /var/lib/fleet/pki-state \
  && chown node:node /var/lib/fleet/aaa /var/lib/fleet/devices /var/lib/fleet/audit \
    /var/lib/fleet/pki /var/lib/fleet/pki-state

USER node
EXPOSE 4000 4101 4102 4103 4104
CMD ["node", "--max-semi-space-size=64", "gateway/dist/main.js"]
