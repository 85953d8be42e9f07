# shellcheck shell=bash
# Stand-ins for the base images that cannot be pulled here (no public
# registry): alpine from Alpine's official minirootfs tarballs, a Go builder
# (that Alpine plus the host's Go toolchain) and the Dockerfile frontend the
# Dockerfile's syntax line names (docker/dockerfile:1.26), built from the
# BuildKit source of that frontend release (scripts/tools/frontend). They are pushed to a local registry under their real names
# (library/alpine:3.23, ...), and BuildKit uses that registry as its docker.io
# mirror, so the Dockerfile and docker-bake.hcl build unchanged.
# Functions only (no traps, no globals). Needs daemon.sh, buildkit.sh;
# skopeo, jq, go.

# alpine_rootfs DIR: checks Alpine's SHA512SUMS in DIR and prints the newest
# minirootfs tarball for each architecture as "amd64 PATH" and "arm64 PATH".
alpine_rootfs() {
	local dir="$1" arch f
	[[ -f "$dir/SHA512SUMS" ]] ||
		{
			fail "no Alpine minirootfs in $dir (set ALPINE_ROOTFS_DIR to a folder with Alpine's minirootfs tarballs and SHA512SUMS)"
			return
		}
	(cd "$dir" && sha512sum --quiet -c SHA512SUMS) >&2 ||
		{
			fail "Alpine minirootfs checksum mismatch in $dir"
			return
		}
	for arch in amd64:x86_64 arm64:aarch64; do
		f="$(find "$dir" -maxdepth 1 -name "alpine-minirootfs-*-${arch#*:}.tar.gz" | sort -V | tail -n1)"
		[[ -n "$f" ]] || {
			fail "no ${arch#*:} minirootfs in $dir"
			return
		}
		echo "${arch%%:*} $f"
	done
}

# standin_build BIN_DIR BUILDKIT_ADDR CACHE_DIR NAME KEY CONTEXT [buildctl args...]:
# builds CONTEXT's Dockerfile into the OCI layout CACHE_DIR/standins/NAME-KEY
# unless it is there already, and prints that directory. Built with a fixed
# SOURCE_DATE_EPOCH, so the same inputs give the same digests everywhere.
standin_build() {
	local bin="$1" addr="$2" cache="$3" name="$4" key="$5" ctx="$6" dir
	shift 6
	dir="$cache/standins/$name-$key"
	if [[ ! -f "$dir/index.json" ]]; then
		rm -rf "$dir"
		log "building stand-in image $name"
		build_into "$dir" "the stand-in $name" standin_buildctl "$bin" "$addr" "$ctx" "$@" || return
	fi
	echo "$dir"
}

# standin_buildctl BIN_DIR BUILDKIT_ADDR CONTEXT [buildctl args...] OUT_DIR:
# the build of standin_build, into the OCI layout OUT_DIR.
standin_buildctl() {
	local bin="$1" addr="$2" ctx="$3" out="${!#}"
	"$bin/buildctl" --addr "$addr" build --progress=plain --frontend dockerfile.v0 \
		--local context="$ctx" --local dockerfile="$ctx" \
		--opt build-arg:SOURCE_DATE_EPOCH=1700000000 \
		--output "type=oci,dest=$out,tar=false,rewrite-timestamp=true" "${@:4:$#-4}"
}

# standin_push LAYOUT REGISTRY NAME: pushes an OCI layout (all its platforms)
# to REGISTRY (host:port, plain HTTP) as NAME, digests unchanged.
standin_push() {
	skopeo copy --quiet --all --preserve-digests --dest-tls-verify=false \
		"oci:$1" "docker://$2/$3" >&2 ||
		fail "pushing the stand-in $3 to $2 failed"
}

# go_standin_dockerfile: the Dockerfile of a Go builder stand-in: the Alpine
# rootfs-$TARGETARCH.tar.gz of its context, a Go toolchain from the named
# context "goroot", and the host's CA bundle (the module proxy is reached over
# HTTPS through a proxy whose CA only the host knows).
go_standin_dockerfile() {
	cat <<'DOCKERFILE'
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
DOCKERFILE
}

# standins_push BIN_DIR BUILDKIT_ADDR CACHE_DIR ALPINE_DIR REGISTRY GO_VERSION ALPINE_VERSION:
# builds (once) and pushes the three stand-ins to REGISTRY as
# library/alpine:ALPINE_VERSION (amd64+arm64),
# library/golang:GO_VERSION-alpineALPINE_VERSION (the host platform: the
# Dockerfile runs it on the build platform) and the frontend of the
# Dockerfile's syntax line (docker/dockerfile:1.26).
standins_push() {
	local work rc=0
	work="$(mktemp -d /tmp/fiber-standins.XXXXXX)"
	standins_push_from "$work" "$@" || rc=$?
	rm -rf "$work"
	return "$rc"
}

# standins_push_from WORK_DIR ARGS...: standins_push, with its scratch in WORK_DIR.
standins_push_from() {
	local work="$1" bin="$2" addr="$3" cache="$4" alpine_dir="$5" reg="$6" go_version="$7" alpine_version="$8"
	local rootfs arch f key layout host_arch goroot
	rootfs="$(alpine_rootfs "$alpine_dir")" || return
	mkdir -p "$work/alpine" "$work/golang" "$work/frontend"
	while read -r arch f; do cp "$f" "$work/alpine/rootfs-$arch.tar.gz"; done <<<"$rootfs"
	cat >"$work/alpine/Dockerfile" <<'DOCKERFILE'
FROM scratch
ARG TARGETARCH
ADD rootfs-${TARGETARCH}.tar.gz /
CMD ["/bin/sh"]
DOCKERFILE
	key="$(cat "$work/alpine/Dockerfile" "$alpine_dir/SHA512SUMS" | sha256sum | cut -c1-16)"
	layout="$(standin_build "$bin" "$addr" "$cache" alpine "$key" "$work/alpine" \
		--opt platform=linux/amd64,linux/arm64)" || return
	standin_push "$layout" "$reg" "library/alpine:$alpine_version" || return

	goroot="$(go env GOROOT)"
	host_arch="$(go env GOARCH)"
	cp "$work/alpine/rootfs-$host_arch.tar.gz" /etc/ssl/certs/ca-certificates.crt "$work/golang/"
	go_standin_dockerfile >"$work/golang/Dockerfile"
	key="$({
		cat "$work/golang/Dockerfile" "$alpine_dir/SHA512SUMS" /etc/ssl/certs/ca-certificates.crt
		echo "$goroot $(go version) ${GOPROXY:-} ${GOFLAGS:-}"
	} | sha256sum | cut -c1-16)"
	layout="$(standin_build "$bin" "$addr" "$cache" golang "$key" "$work/golang" \
		--opt "platform=linux/$host_arch" --local "goroot=$goroot" --opt context:goroot=local:goroot \
		--opt "build-arg:GOPROXY=${GOPROXY:-}" --opt "build-arg:GOFLAGS=${GOFLAGS:-}")" || return
	standin_push "$layout" "$reg" "library/golang:$go_version-alpine$alpine_version" || return

	# The frontend that the Dockerfile's `# syntax=docker/dockerfile:1.N`
	# asks for, built from the source of that release, in an image made as
	# BuildKit's own release Dockerfile makes it (its labels are what the
	# gateway reads).
	local lib frontend syntax
	lib="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
	frontend="$(dockerfile_frontend_tool "$lib/../tools/frontend" "$cache")" || return
	syntax="$(sed -n '1s/^# syntax=//p' "$lib/../../Dockerfile")"
	[[ "$syntax" == "docker/dockerfile:${frontend%% *}" ]] || {
		fail "the Dockerfile's syntax line names ${syntax:-no frontend}, but scripts/tools/frontend pins the frontend release ${frontend%% *}: change them together (docs/release.md, \"Pinned inputs, and how they move\")"
		return
	}
	cp "${frontend#* }" "$work/frontend/"
	cat >"$work/frontend/Dockerfile" <<'DOCKERFILE'
FROM scratch
LABEL moby.buildkit.frontend.network.none="true"
LABEL moby.buildkit.frontend.caps="moby.buildkit.frontend.inputs,moby.buildkit.frontend.subrequests,moby.buildkit.frontend.contexts,moby.buildkit.frontend.gitquerystring"
COPY dockerfile-frontend /bin/dockerfile-frontend
ENTRYPOINT ["/bin/dockerfile-frontend"]
DOCKERFILE
	key="$({
		cat "$work/frontend/Dockerfile"
		echo "$frontend"
	} | sha256sum | cut -c1-16)"
	layout="$(standin_build "$bin" "$addr" "$cache" dockerfile-frontend "$key" "$work/frontend" \
		--opt "platform=linux/$host_arch")" || return
	standin_push "$layout" "$reg" "$syntax" || return
	# Also as docker/dockerfile:1, which a 1.N release is too, for
	# Dockerfiles that float (scripts/bench/Dockerfile.emulated).
	standin_push "$layout" "$reg" docker/dockerfile:1
}
