# syntax=docker/dockerfile:1

# One image for the gateway and the four subgraphs; docker-compose.yml picks the process to run
# with each service's `command` (the default runs the gateway).

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app

# Dependencies first, from the manifests alone, so that source changes reuse this layer.
COPY package.json package-lock.json .npmrc ./
COPY packages/service-kit/package.json packages/service-kit/
COPY packages/request-signing/package.json packages/request-signing/
COPY packages/outbox/package.json packages/outbox/
COPY packages/launcher/package.json packages/launcher/
COPY subgraphs/aaa/package.json subgraphs/aaa/
COPY subgraphs/devices/package.json subgraphs/devices/
COPY subgraphs/billing/package.json subgraphs/billing/
COPY subgraphs/audit/package.json subgraphs/audit/
COPY gateway/package.json gateway/
RUN npm ci --no-audit --no-fund

COPY tsconfig.base.json tsconfig.json ./
COPY packages packages
COPY subgraphs subgraphs
COPY gateway gateway
RUN npm run build \
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
COPY --from=build /app/packages/outbox/package.json packages/outbox/
COPY --from=build /app/packages/outbox/dist packages/outbox/dist
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

USER node
EXPOSE 4000 4101 4102 4103 4104
CMD ["node", "gateway/dist/main.js"]
