# The official devopsellence-backup image: the agent that runs inside the
# backup service, a pinned restic, and the database clients it drives.
# The release workflow (.github/workflows/image.yml) builds it for
# linux/amd64 and linux/arm64 and tags it with the tool's version, so that
# `devopsellence-backup init` of a release writes the matching image.
# A test (reconcile/operate/image_test.go) checks the pins and paths below.

ARG GO_VERSION=1.26.8
ARG RESTIC_VERSION=0.18.1
# pg_dump must be at least the server's major version: 18 dumps every
# server from 9.2 to 18 (postgres:latest is 18).
ARG POSTGRES_CLIENT=18

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
ARG COMMIT=unknown
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath \
      -ldflags "-s -w -X github.com/devopsellence/devopsellence-backup/cmd/internal/buildinfo.version=${VERSION} -X github.com/devopsellence/devopsellence-backup/cmd/internal/buildinfo.commit=${COMMIT}" \
      -o /out/devopsellence-backup ./cmd/devopsellence-backup

FROM restic/restic:${RESTIC_VERSION} AS restic

FROM debian:bookworm-slim
ARG POSTGRES_CLIENT
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl gnupg \
 && install -d /usr/share/postgresql-common/pgdg \
 && curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc https://www.postgresql.org/media/keys/ACCC4CF8.asc \
 && echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt bookworm-pgdg main" >/etc/apt/sources.list.d/pgdg.list \
 && apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client-${POSTGRES_CLIENT} mariadb-client sqlite3 redis-tools redis-server tini \
 && apt-get purge -y curl gnupg && apt-get autoremove -y \
 && rm -rf /var/lib/apt/lists/*
COPY --from=restic /usr/bin/restic /usr/local/bin/restic
COPY --from=build /out/devopsellence-backup /usr/local/bin/devopsellence-backup
# restic's cache (spec.cacheDir); mount a volume there to keep it across deploys.
RUN mkdir -p /var/cache/restic
# devopsellence makes the service's command the entrypoint, and the agent
# then acts as process 1 itself (it forwards signals and reaps); tini
# serves `docker run` of the image as is.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["devopsellence-backup", "agent", "run"]
