# syntax=docker/dockerfile:1.26
# check=error=true

# Multi-platform image for the fiber service. Build it with `docker buildx bake`
# (see docker-bake.hcl); the Go code is cross-compiled on the build host, so the
# arm64 image needs no QEMU: no stage that runs for the target platform has RUN.
#
#   golang (BUILDPLATFORM) -> deps -> build --------> binaries (scratch, /server)
#                                \-> test             \
#   alpine (TARGETPLATFORM) -> runtime-$TARGETARCH ----> image (final)

ARG GO_VERSION=1.26
ARG ALPINE_VERSION=3.23

# Build environment. Always the build host's platform: Go cross-compiles.
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-alpine${ALPINE_VERSION} AS base
WORKDIR /src
# Static binary, no libc dependency, so it runs on any base image.
ENV CGO_ENABLED=0

# Module download is its own step keyed only on go.mod/go.sum, so a code change
# does not refetch modules. The cache mount keeps them across builds.
FROM base AS deps
RUN --mount=type=bind,source=go.mod,target=go.mod \
    --mount=type=bind,source=go.sum,target=go.sum \
    --mount=type=cache,target=/go/pkg/mod \
    go mod download

# Sources arrive by bind mount (not COPY): nothing but the binary lands in a
# layer, and the step reruns only when the context files change.
FROM deps AS build
ARG TARGETOS
ARG TARGETARCH
ARG TARGETVARIANT
ARG VERSION=dev
ARG COMMIT=unknown
# Set for reproducible builds; buildTime is then derived from it, not the clock.
ARG SOURCE_DATE_EPOCH
RUN --mount=type=bind,target=. \
    --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    <<EOF
set -eu
build_time="$(date -u -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}" +%Y-%m-%dT%H:%M:%SZ)"
# linux/arm/v7 -> GOARM=7, linux/arm/v6 -> GOARM=6.
if [ "$TARGETARCH" = arm ]; then export GOARM="${TARGETVARIANT#v}"; fi
pkg=github.com/example/fiber-service/app
GOOS="$TARGETOS" GOARCH="$TARGETARCH" go build -trimpath \
    -ldflags "-s -w -X ${pkg}.version=${VERSION} -X ${pkg}.commit=${COMMIT} -X ${pkg}.buildTime=${build_time}" \
    -o /out/server ./app/cmd/server
EOF

# Unit tests in the same toolchain as the release build (no cgo, so no -race).
FROM deps AS test
RUN --mount=type=bind,target=. \
    --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go test ./...

# Just the binary: `--output type=local` writes dist/<os>_<arch>/server.
FROM scratch AS binaries
COPY --from=build /out/server /server

# One runtime stage per architecture, so a platform can get its own base or
# tweaks without touching the others. No RUN here: nothing executes for the
# target platform, so building arm64 on x86 needs no emulation.
FROM alpine:${ALPINE_VERSION} AS runtime-amd64
FROM alpine:${ALPINE_VERSION} AS runtime-arm64
FROM alpine:${ALPINE_VERSION} AS runtime-arm

FROM runtime-${TARGETARCH} AS image
ARG VERSION=dev
ARG COMMIT=unknown
# RFC 3339 creation time; docker-bake.hcl derives it from SOURCE_DATE_EPOCH.
ARG BUILD_TIME
ARG SOURCE_URL=https://github.com/example/fiber-service
# --link: the layer does not depend on the base, so a base bump reuses it.
COPY --link --from=build --chown=0:0 --chmod=0555 /out/server /usr/local/bin/server
LABEL org.opencontainers.image.title="fiber-service" \
      org.opencontainers.image.description="Small HTTP service built with Go Fiber" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.url="${SOURCE_URL}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}" \
      org.opencontainers.image.created="${BUILD_TIME}"
ENV PORT=8080
# Numeric so Kubernetes runAsNonRoot can verify it without /etc/passwd.
USER 65532:65532
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/server", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/server"]
