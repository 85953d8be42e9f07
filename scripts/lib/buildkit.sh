# shellcheck shell=bash
# Offline BuildKit for this repository: sourced by scripts/build-image and
# scripts/e2e-image. It builds buildkitd/buildctl/buildx/the Dockerfile frontend
# from scripts/tools, runs a private rootful buildkitd, and makes local stand-in
# images for the bases that cannot be pulled here (no registry is reachable).
# The stand-ins reach the build ONLY as bake named contexts, so the Dockerfile
# and docker-bake.hcl stay exactly what users run.
#
# Needs: bash, Go, root (for apt-get, buildkitd, runc). Callers set ROOT to the
# repository root before sourcing.

: "${ROOT:?ROOT must be set to the repository root}"
FIBER_CACHE_DIR="${FIBER_CACHE_DIR:-/var/cache/fiber-service}"
ALPINE_ROOTFS_DIR="${ALPINE_ROOTFS_DIR:-$ROOT/../shared/alpine}"

bk_log() { printf '==> %s\n' "$*" >&2; }
bk_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# --- exit hooks: one EXIT trap runs every registered cleanup, newest first ---
BK_EXIT_HOOKS=()
bk_on_exit() { BK_EXIT_HOOKS+=("$*"); }
bk_run_exit_hooks() {
  local i
  for ((i = ${#BK_EXIT_HOOKS[@]} - 1; i >= 0; i--)); do
    eval "${BK_EXIT_HOOKS[i]}" || true
  done
  BK_EXIT_HOOKS=()
}
trap bk_run_exit_hooks EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- apt packages --------------------------------------------------------------
# shellcheck source=scripts/lib/deps.sh
. "$ROOT/scripts/lib/deps.sh"
# command -> Debian package
BK_APT_DEPS=(runc:runc skopeo:skopeo umoci:umoci jq:jq
  qemu-aarch64-static:qemu-user-static file:file curl:curl)

bk_apt_deps() { need_commands "${BK_APT_DEPS[@]}"; }

# --- tools (buildkitd, buildctl, buildx, dockerfile-frontend) ------------------
# Sets BK_BIN. The directory name carries the pinned versions plus a hash of
# go.sum and the Go version, so a warm run skips the ~5 minute build.
bk_tools() {
  local tools="$ROOT/scripts/tools" bk_ver bx_ver key tmp
  bk_ver="$(awk '$1 == "github.com/moby/buildkit" { print $2; exit }' "$tools/go.mod")"
  bx_ver="$(awk '$1 == "github.com/docker/buildx" { print $2; exit }' "$tools/go.mod")"
  key="$(cat "$tools/go.mod" "$tools/go.sum" <(go version) | sha256sum | cut -c1-12)"
  BK_BIN="$FIBER_CACHE_DIR/bin/buildkit-${bk_ver}_buildx-${bx_ver}_$key"
  if [ -x "$BK_BIN/buildkitd" ] && [ -x "$BK_BIN/buildctl" ] &&
    [ -x "$BK_BIN/buildx" ] && [ -x "$BK_BIN/dockerfile-frontend" ]; then
    return 0
  fi
  bk_log "building buildkit $bk_ver and buildx $bx_ver (first run only, ~5 min on 2 cores)"
  mkdir -p "$FIBER_CACHE_DIR/bin"
  tmp="$(mktemp -d "$FIBER_CACHE_DIR/bin/.build.XXXXXX")"
  bk_on_exit "rm -rf '$tmp' '$tmp.log'"
  # Static binaries: the frontend runs inside a FROM scratch image.
  (cd "$tools" && CGO_ENABLED=0 go build -o "$tmp/" -ldflags "-s -w \
    -X github.com/moby/buildkit/version.Version=$bk_ver \
    -X github.com/docker/buildx/version.Version=$bx_ver" \
    github.com/moby/buildkit/cmd/buildkitd \
    github.com/moby/buildkit/cmd/buildctl \
    github.com/moby/buildkit/frontend/dockerfile/cmd/dockerfile-frontend \
    github.com/docker/buildx/cmd/buildx) >"$tmp.log" 2>&1 ||
    { tail -n 30 "$tmp.log" >&2; rm -rf "$tmp" "$tmp.log"; bk_die "tool build failed"; }
  rm -f "$tmp.log"
  rm -rf "$BK_BIN"
  mv "$tmp" "$BK_BIN"
}

buildx() { "$BK_BIN/buildx" "$@"; }
buildctl() { "$BK_BIN/buildctl" --addr "unix://$BK_SOCK" "$@"; }

# --- buildkitd -----------------------------------------------------------------
# bk_start: start a private buildkitd with state in BK_DAEMON_ROOT (default
# keeps its cache between runs) and a buildx "remote" builder for it in a
# private BUILDX_CONFIG.
bk_start() {
  local root="${BK_DAEMON_ROOT:-$FIBER_CACHE_DIR/buildkit}" i
  BK_STATE="$(mktemp -d /tmp/fiber-buildkit.XXXXXX)"
  bk_on_exit "rm -rf '$BK_STATE'"
  BK_SOCK="$BK_STATE/buildkitd.sock"
  mkdir -p "$root"
  # Host networking: `go mod download` in a RUN step needs the module proxy,
  # and no CNI setup is needed.
  "$BK_BIN/buildkitd" --oci-worker=true --containerd-worker=false \
    --oci-worker-net=host --root "$root" --addr "unix://$BK_SOCK" \
    >"$BK_STATE/buildkitd.log" 2>&1 &
  BK_PID=$!
  bk_on_exit bk_stop
  for ((i = 0; i < 120; i++)); do
    if ! kill -0 "$BK_PID" 2>/dev/null; then
      if grep -q 'could not lock' "$BK_STATE/buildkitd.log"; then
        bk_die "another buildkitd is using $root; wait for it or set BK_DAEMON_ROOT to another directory"
      fi
      cat "$BK_STATE/buildkitd.log" >&2
      bk_die "buildkitd exited during startup"
    fi
    buildctl debug workers >/dev/null 2>&1 && break
    sleep 0.5
  done
  buildctl debug workers >/dev/null 2>&1 || bk_die "buildkitd did not answer on $BK_SOCK"
  export BUILDX_CONFIG="$BK_STATE/buildx"
  export BUILDX_BUILDER=fiber-offline
  buildx create --name fiber-offline --driver remote "unix://$BK_SOCK" >/dev/null
  bk_log "buildkitd running (pid $BK_PID, root $root)"
}

bk_stop() {
  local i
  [ -n "${BK_PID:-}" ] || return 0
  kill -TERM "$BK_PID" 2>/dev/null || true
  for ((i = 0; i < 40; i++)); do
    kill -0 "$BK_PID" 2>/dev/null || break
    sleep 0.5
  done
  kill -KILL "$BK_PID" 2>/dev/null || true
  wait "$BK_PID" 2>/dev/null || true
  BK_PID=
}

# --- stand-in base images ------------------------------------------------------
# bk_standin NAME KEYFILE CONTEXTDIR [buildctl args...]: build CONTEXTDIR's
# Dockerfile into the OCI layout $FIBER_CACHE_DIR/standins/NAME-<hash of
# KEYFILE and args>, unless it exists. Prints "DIR@DIGEST".
# Built with a fixed SOURCE_DATE_EPOCH and rewrite-timestamp, so the same
# inputs give the same digests on every machine, and so do the images built
# on top of them.
BK_STANDIN_EPOCH=1700000000
bk_standin() {
  local name="$1" keyfile="$2" ctx="$3" key dir tmp
  shift 3
  key="$({ cat "$keyfile"; echo "$* epoch=$BK_STANDIN_EPOCH"; } | sha256sum | cut -c1-16)"
  dir="$FIBER_CACHE_DIR/standins/$name-$key"
  if [ ! -f "$dir/index.json" ]; then
    bk_log "building stand-in image $name"
    mkdir -p "$FIBER_CACHE_DIR/standins"
    tmp="$(mktemp -d "$FIBER_CACHE_DIR/standins/.build.XXXXXX")"
    buildctl build --progress=plain --frontend dockerfile.v0 \
      --local context="$ctx" --local dockerfile="$ctx" \
      --opt "build-arg:SOURCE_DATE_EPOCH=$BK_STANDIN_EPOCH" \
      --output "type=oci,dest=$tmp,tar=false,rewrite-timestamp=true" "$@" >"$tmp.log" 2>&1 ||
      { cat "$tmp.log" >&2; rm -rf "$tmp" "$tmp.log"; bk_die "stand-in $name failed"; }
    rm -f "$tmp.log"
    rm -rf "$dir"
    mv "$tmp" "$dir"
  fi
  printf '%s@%s\n' "$dir" "$(jq -r '.manifests[0].digest' "$dir/index.json")"
}

# bk_go_standin_dockerfile: the Dockerfile of a Go builder stand-in: the
# Alpine rootfs-$TARGETARCH.tar.gz of its context, a Go toolchain from the
# named context "goroot", and the host CA bundle.
bk_go_standin_dockerfile() {
  cat <<'EOF'
FROM scratch
ARG TARGETARCH
ADD rootfs-${TARGETARCH}.tar.gz /
COPY --from=goroot / /usr/local/go
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ARG GOPROXY GOFLAGS
ENV GOPATH=/go GOTOOLCHAIN=local GOPROXY=${GOPROXY} GOFLAGS=${GOFLAGS} \
    PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
WORKDIR /go
CMD ["/bin/sh"]
EOF
}

# bk_standins: makes the alpine, golang and docker/dockerfile stand-ins and sets
# BK_BAKE_ARGS to the bake flags that map the Dockerfile's real image names to
# them. The names come from the bake file (so env overrides are honoured).
bk_standins() {
  local work vars go_version alpine_version f arch alpine golang frontend
  work="$(mktemp -d /tmp/fiber-standins.XXXXXX)"
  bk_on_exit "rm -rf '$work'"

  vars="$(cd "$ROOT" && buildx bake --print validate 2>/dev/null)"
  go_version="$(jq -r '.target.validate.args.GO_VERSION' <<<"$vars")"
  alpine_version="$(jq -r '.target.validate.args.ALPINE_VERSION' <<<"$vars")"

  # Alpine: the official minirootfs tarballs, checked against Alpine's sums.
  [ -f "$ALPINE_ROOTFS_DIR/SHA512SUMS" ] || bk_die "no Alpine rootfs in $ALPINE_ROOTFS_DIR (set ALPINE_ROOTFS_DIR)"
  (cd "$ALPINE_ROOTFS_DIR" && sha512sum --quiet -c SHA512SUMS) || bk_die "Alpine rootfs checksum mismatch"
  mkdir -p "$work/alpine" "$work/golang" "$work/frontend"
  for arch in amd64:x86_64 arm64:aarch64; do
    f="$(find "$ALPINE_ROOTFS_DIR" -maxdepth 1 -name "alpine-minirootfs-*-${arch#*:}.tar.gz" | sort | tail -n1)"
    [ -n "$f" ] || bk_die "no ${arch#*:} minirootfs in $ALPINE_ROOTFS_DIR"
    cp "$f" "$work/alpine/rootfs-${arch%%:*}.tar.gz"
  done
  cat >"$work/alpine/Dockerfile" <<'EOF'
FROM scratch
ARG TARGETARCH
ADD rootfs-${TARGETARCH}.tar.gz /
CMD ["/bin/sh"]
EOF
  (cat "$work/alpine/Dockerfile" "$ALPINE_ROOTFS_DIR/SHA512SUMS") >"$work/alpine.key"
  alpine="$(bk_standin alpine "$work/alpine.key" "$work/alpine" \
    --opt platform=linux/amd64,linux/arm64)"

  # Go builder: that Alpine plus the host's Go toolchain (static, runs on musl)
  # and CA bundle (the module proxy is reached over HTTPS). Host platform only:
  # the Dockerfile runs it with --platform=$BUILDPLATFORM.
  local goroot host_arch
  goroot="$(go env GOROOT)"
  host_arch="$(go env GOARCH)"
  cp "$work/alpine/rootfs-$host_arch.tar.gz" "$work/golang/"
  cp /etc/ssl/certs/ca-certificates.crt "$work/golang/"
  bk_go_standin_dockerfile >"$work/golang/Dockerfile"
  {
    cat "$work/golang/Dockerfile" "$work/alpine.key" /etc/ssl/certs/ca-certificates.crt
    echo "$goroot $(go version) ${GOPROXY:-} ${GOFLAGS:-}"
  } >"$work/golang.key"
  golang="$(bk_standin golang "$work/golang.key" "$work/golang" \
    --opt "platform=linux/$host_arch" --local "goroot=$goroot" --opt context:goroot=local:goroot \
    --opt "build-arg:GOPROXY=${GOPROXY:-}" --opt "build-arg:GOFLAGS=${GOFLAGS:-}")"

  # Dockerfile frontend for `# syntax=docker/dockerfile:1` (see shared/README.md).
  cp "$BK_BIN/dockerfile-frontend" "$work/frontend/"
  cat >"$work/frontend/Dockerfile" <<'EOF'
FROM scratch
COPY dockerfile-frontend /bin/dockerfile-frontend
LABEL moby.buildkit.frontend.network.none="true"
LABEL moby.buildkit.frontend.caps="moby.buildkit.frontend.inputs,moby.buildkit.frontend.subrequests,moby.buildkit.frontend.contexts,moby.buildkit.frontend.gitquerystring,moby.buildkit.frontend.contexts.zstd"
ENTRYPOINT ["/bin/dockerfile-frontend"]
EOF
  { cat "$work/frontend/Dockerfile"; echo "$BK_BIN"; } >"$work/frontend.key"
  frontend="$(bk_standin dockerfile-frontend "$work/frontend.key" "$work/frontend" \
    --opt "platform=linux/$host_arch")"

  # shellcheck disable=SC2034 # used by the scripts that source this file
  BK_BAKE_ARGS=(
    --allow "fs.read=$FIBER_CACHE_DIR"
    --set "*.contexts.alpine:$alpine_version=oci-layout://$alpine"
    --set "*.contexts.golang:$go_version-alpine$alpine_version=oci-layout://$golang"
    --set "*.contexts.docker/dockerfile:1=oci-layout://$frontend"
  )
}

# --- OCI archive inspection ----------------------------------------------------
# bk_oci_manifests FILE: one line per image manifest of the archive's index
# (attestation manifests, platform unknown/unknown, skipped):
#   os/arch[/variant] manifest-digest
bk_oci_manifests() {
  local file="$1" index
  index="$(tar -xOf "$file" index.json | jq -r '.manifests[0].digest')"
  tar -xOf "$file" "blobs/${index/://}" |
    jq -r '.manifests[] | select(.platform.os != "unknown")
      | "\(.platform.os)/\(.platform.architecture)\(if .platform.variant then "/" + .platform.variant else "" end) \(.digest)"'
}

# bk_oci_uncompressed FILE DIGEST: the size of a gzip layer once unpacked.
bk_oci_uncompressed() {
  tar -xOf "$1" "blobs/${2/://}" | gzip -dc | wc -c
}

# bk_oci_platforms FILE: one line per image manifest (attestations skipped):
#   os/arch[/variant] manifest-digest compressed-bytes uncompressed-bytes
bk_oci_platforms() {
  local file="$1" digest platform manifest layer comp uncomp
  bk_oci_manifests "$file" |
    while read -r platform digest; do
      manifest="$(tar -xOf "$file" "blobs/${digest/://}")"
      comp="$(jq '[.config.size] + [.layers[].size] | add' <<<"$manifest")"
      uncomp=0
      for layer in $(jq -r '.layers[].digest' <<<"$manifest"); do
        uncomp=$((uncomp + $(bk_oci_uncompressed "$file" "$layer")))
      done
      printf '%s %s %s %s\n' "$platform" "$digest" "$comp" "$uncomp"
    done
}

# Human-readable size, e.g. 7.9 MB (10^6 bytes).
bk_mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1000000 }'; }
