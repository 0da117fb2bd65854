# The official devopsellence-backup image: the agent that runs inside the
# backup service, a pinned restic, and the database clients it drives.
# The release workflow (.github/workflows/image.yml) builds it for
# linux/amd64 and linux/arm64 and tags it with the tool's version, so that
# `devopsellence-backup init` of a release writes the matching image.
# A test (reconcile/operate/image_test.go) checks the pins and paths below.
#
# It is built from the release's binaries, as release tools do: build them
# first, then the image from the repository's root:
#
#   TARGETS=linux/amd64 .ci/release-build v1.2.3 "$(git rev-parse HEAD)" dist
#   docker build -t devopsellence-backup:v1.2.3 .
#
# What it pulls are build arguments, so that the same file builds where
# Docker Hub or apt.postgresql.org cannot be reached (the end-to-end suite,
# fixtures/realnode, builds it from a debootstrap base and a local restic):
#   BASE_IMAGE      the Debian 12 base
#   RESTIC_IMAGE    an image with restic at /usr/bin/restic
#   POSTGRES_APT    the apt repository of postgresql-client-${POSTGRES_CLIENT};
#                   empty installs Debian 12's postgresql-client (15) instead
# The legacy builder (no BuildKit) also needs --build-arg TARGETARCH=amd64.

ARG RESTIC_VERSION=0.18.1
# pg_dump must be at least the server's major version: 18 dumps every
# server from 9.2 to 18 (postgres:latest is 18).
ARG POSTGRES_CLIENT=18
ARG BASE_IMAGE=debian:bookworm-slim
ARG RESTIC_IMAGE=restic/restic:${RESTIC_VERSION}

FROM ${RESTIC_IMAGE} AS restic

FROM ${BASE_IMAGE}
ARG TARGETARCH
ARG POSTGRES_CLIENT
ARG POSTGRES_APT=https://apt.postgresql.org/pub/repos/apt
ARG POSTGRES_APT_KEY=https://www.postgresql.org/media/keys/ACCC4CF8.asc
RUN set -eu; \
    pg=postgresql-client; \
    apt-get update; \
    if [ -n "$POSTGRES_APT" ]; then \
      apt-get install -y --no-install-recommends ca-certificates curl; \
      install -d /usr/share/postgresql-common/pgdg; \
      curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc "$POSTGRES_APT_KEY"; \
      echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] $POSTGRES_APT bookworm-pgdg main" >/etc/apt/sources.list.d/pgdg.list; \
      apt-get update; \
      pg=postgresql-client-${POSTGRES_CLIENT}; \
    fi; \
    apt-get install -y --no-install-recommends ca-certificates $pg mariadb-client sqlite3 redis-tools redis-server tini; \
    if [ -n "$POSTGRES_APT" ]; then apt-get purge -y curl; apt-get autoremove -y; fi; \
    rm -rf /var/lib/apt/lists/*
COPY --from=restic /usr/bin/restic /usr/local/bin/restic
COPY dist/devopsellence-backup-linux-${TARGETARCH} /usr/local/bin/devopsellence-backup
# restic's cache (spec.cacheDir); mount a volume there to keep it across deploys.
RUN mkdir -p /var/cache/restic
# devopsellence makes the service's command the entrypoint, and the agent
# then acts as process 1 itself (it forwards signals and reaps); tini
# serves `docker run` of the image as is.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["devopsellence-backup", "agent", "run"]
