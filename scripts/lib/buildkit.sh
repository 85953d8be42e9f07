# shellcheck shell=bash
# BuildKit built from the pinned tools module (scripts/tools) and a private
# rootful buildkitd. Functions only (no traps, no globals); callers own their
# cleanup. Needs scripts/lib/daemon.sh.

# build_into DEST WHAT CMD...: builds a directory of tools once. Unless DEST
# holds one already, runs CMD... with a fresh directory beside DEST as its
# last argument (for CMD to fill), then moves it to DEST. On failure it shows
# the tail of CMD's output and fails naming WHAT, leaving nothing behind.
build_into() {
	local dest="$1" what="$2" tmp
	shift 2
	[[ ! -d "$dest" ]] || return 0
	mkdir -p "$(dirname "$dest")"
	tmp="$(mktemp -d "$(dirname "$dest")/.build.XXXXXX")"
	if ! "$@" "$tmp" >"$tmp.log" 2>&1; then
		tail -n 30 "$tmp.log" >&2
		rm -rf "$tmp" "$tmp.log"
		fail "building $what failed"
		return
	fi
	rm -rf "$tmp.log" "$dest"
	mv "$tmp" "$dest"
}

# buildkit_tools TOOLS_DIR CACHE_DIR: prints the directory that holds
# buildkitd, buildctl and buildx, built from the tools module TOOLS_DIR into
# CACHE_DIR/bin on first use (~5 min on 2 cores). The directory name carries
# the versions and a hash of the module and the Go version, so a changed pin
# or Go builds anew.
buildkit_tools() {
	local tools="$1" cache="$2" bk_ver bx_ver key bin
	bk_ver="$(awk '$1 == "github.com/moby/buildkit" { print $2; exit }' "$tools/go.mod")"
	bx_ver="$(awk '$1 == "github.com/docker/buildx" { print $2; exit }' "$tools/go.mod")"
	key="$(cat "$tools/go.mod" "$tools/go.sum" <(go version) | sha256sum | cut -c1-12)"
	bin="$cache/bin/buildkit-${bk_ver}_buildx-${bx_ver}_$key"
	if [[ ! -x "$bin/buildkitd" || ! -x "$bin/buildctl" || ! -x "$bin/buildx" ]]; then
		rm -rf "$bin"
		log "building buildkit $bk_ver and buildx $bx_ver (first run only, ~5 min on 2 cores)"
		build_into "$bin" "BuildKit from $tools" buildkit_go_build "$tools" "$bk_ver" "$bx_ver" || return
	fi
	echo "$bin"
}

# buildkit_go_build TOOLS_DIR BUILDKIT_VERSION BUILDX_VERSION OUT_DIR: the
# build of buildkit_tools.
buildkit_go_build() {
	(cd "$1" && CGO_ENABLED=0 go build -o "$4/" -ldflags "-s -w \
		-X github.com/moby/buildkit/version.Version=$2 \
		-X github.com/docker/buildx/version.Version=$3" \
		github.com/moby/buildkit/cmd/buildkitd \
		github.com/moby/buildkit/cmd/buildctl \
		github.com/docker/buildx/cmd/buildx)
}

# dockerfile_frontend_tool FRONTEND_DIR CACHE_DIR: prints "RELEASE PATH":
# the Dockerfile frontend release (e.g. 1.26) that the module FRONTEND_DIR
# (scripts/tools/frontend) pins, read from that source's own
# frontend/dockerfile/version, and the frontend binary built from it into
# CACHE_DIR/bin on first use, as BuildKit's release Dockerfile builds it
# (static; build tags netgo static_build osusergo).
dockerfile_frontend_tool() {
	local mod="$1" cache="$2" src bk_ver release key bin
	if ! read -r src bk_ver < <(cd "$mod" && go list -m -f '{{.Dir}} {{.Version}}' github.com/moby/buildkit); then
		fail "reading the frontend's BuildKit module in $mod failed"
		return
	fi
	release="$(sed -n 's/^const version = "\(.*\)"$/\1/p' "$src/frontend/dockerfile/version/version.go")"
	[[ -n "$release" ]] || {
		fail "no frontend release in $src/frontend/dockerfile/version/version.go"
		return
	}
	key="$(cat "$mod/go.mod" "$mod/go.sum" <(go version) | sha256sum | cut -c1-12)"
	bin="$cache/bin/dockerfile-frontend-${release}_$key"
	if [[ ! -x "$bin/dockerfile-frontend" ]]; then
		rm -rf "$bin"
		log "building the Dockerfile frontend $release (BuildKit $bk_ver; first run only, ~5 min on 2 cores)"
		build_into "$bin" "the Dockerfile frontend from $mod" frontend_go_build "$mod" "$release" "$bk_ver" || return
	fi
	echo "$release $bin/dockerfile-frontend"
}

# frontend_go_build FRONTEND_DIR RELEASE BUILDKIT_VERSION OUT_DIR: the build
# of dockerfile_frontend_tool.
frontend_go_build() {
	(cd "$1" && CGO_ENABLED=0 go build -o "$4/" -tags "netgo static_build osusergo" -ldflags "-s -w \
		-X main.Version=$2 -X main.Revision=$3 \
		-X main.Package=github.com/moby/buildkit/frontend/dockerfile/cmd/dockerfile-frontend" \
		github.com/moby/buildkit/frontend/dockerfile/cmd/dockerfile-frontend)
}

# buildkitd_config FILE MIRROR [HTTP_REGISTRY...]: writes a buildkitd.toml
# that pulls docker.io images through the registry MIRROR (host:port, plain
# HTTP) and speaks plain HTTP to each HTTP_REGISTRY (host:port) too.
buildkitd_config() {
	local file="$1" mirror="$2" reg
	shift 2
	{
		echo '# Written by scripts/lib/buildkit.sh buildkitd_config.'
		echo '[registry."docker.io"]'
		echo "  mirrors = [\"$mirror\"]"
		for reg in $(printf '%s\n' "$mirror" "$@" | sort -u); do
			echo "[registry.\"$reg\"]"
			echo '  http = true'
		done
	} >"$file"
}

# buildkitd_start BIN_DIR ROOT STATE_DIR CONFIG: starts a rootful buildkitd
# (OCI worker, runc, host network so RUN steps reach the Go module proxy) with
# its state in ROOT, socket STATE_DIR/buildkitd.sock and log
# STATE_DIR/buildkitd.log. Prints its PID once it answers.
buildkitd_start() {
	local bin="$1" root="$2" state="$3" config="$4" pid sock
	sock="$state/buildkitd.sock"
	mkdir -p "$root" "$state"
	"$bin/buildkitd" --config "$config" --oci-worker=true --containerd-worker=false \
		--oci-worker-net=host --root "$root" --addr "unix://$sock" \
		>"$state/buildkitd.log" 2>&1 &
	pid=$!
	if ! daemon_wait_ready "$pid" "$state/buildkitd.log" 240 \
		"$bin/buildctl" --addr "unix://$sock" debug workers; then
		grep -q 'could not lock' "$state/buildkitd.log" &&
			fail "another buildkitd is using $root; wait for it to finish"
		return 1
	fi
	echo "$pid"
}

# buildkit_rm_root DIR: removes a buildkitd root once its daemon has stopped.
# A daemon stopped mid-build can leave mounts behind: unmount them (deepest
# first) and never let rm cross into a mount.
buildkit_rm_root() {
	local dir="$1" m
	awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done
	rm -rf --one-file-system "$dir"
}
