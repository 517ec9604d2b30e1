# The runbook worker (and CLI) image. glibc base: the Temporal native bridge has no musl build.
FROM node:20.19-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20.19-bookworm-slim
# openssh-server and openssl: `runbook drill` restores a backup into a throwaway lab on the worker (sshd per node,
# certificates made with openssl); the worker never listens for SSH itself.
RUN apt-get update && apt-get install -y --no-install-recommends openssh-client openssh-server openssl ca-certificates \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/bin ./bin
ENV NODE_ENV=production \
    RUNBOOK_STATE_DIR=/var/lib/microk8s-runbooks \
    RUNBOOK_TASK_QUEUE=microk8s-runbooks
RUN mkdir -p /var/lib/microk8s-runbooks /run/sshd && chown node:node /var/lib/microk8s-runbooks
USER node
# SSH keys and known_hosts are mounted read-only (see docker-compose.yml); inventories name them by path.
# The image is the CLI: `runbook worker` by default, any other command with arguments (`docker run IMAGE list`).
EXPOSE 9464
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["worker"]
